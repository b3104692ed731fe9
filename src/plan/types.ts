import type { PlannedRoute } from '../ingress/basic-auth.js';
import type { PhaseName } from '../state/types.js';
import type { Secret } from '../util/secret.js';

export type { PhaseName };

/** How a step reaches its target: this machine, or a host of the environment. */
export interface StepHost {
  name: string;
}

export interface HealthSpec {
  /** How long new containers get to become healthy (or stable) before the rollout fails, in ms. */
  timeoutMs: number;
  /** Without a health check: how long a container must keep running to count as ready. */
  stableForMs: number;
  /** The compose health check's interval (none without one): the wait polls at it, capped at 1 s. */
  intervalMs?: number;
  /**
   * The compose health check's `start_interval` and `start_period`, when it sets `start_interval`:
   * Docker ≥ 25 probes that often while the container is in its start period (older engines ignore
   * it; the wait then looks more often than needed, which is harmless).
   */
  start?: { intervalMs: number; periodMs: number };
}

export interface RouteSpec {
  domains: string[];
  port: number;
}

/** TLS at the gateway, as planned: the private key stays a Secret until it is sent on stdin. */
export type PlannedTls =
  | { mode: 'off' }
  | { mode: 'custom'; certificate: string; key: Secret }
  | { mode: 'acme'; email?: string; ca?: string; caRoot?: string };

/** What an uploaded file is: the release's compose file, a project file beside it, or a 0600 secrets file. */
export type UploadedFile = 'compose' | 'project-file' | 'secrets';

export type Action =
  | {
      kind: 'build';
      service: string;
      image: string;
      argv: string[];
      /** Only for immutable tags: exit 0 = the image exists, the build is skipped. */
      existsArgv?: string[];
      /** Sent on stdin (the rendered build compose file of `docker compose -f - build`). */
      stdin?: string;
      /** Variables build secrets read, with their values; set in the build's environment only. */
      env?: Record<string, Secret>;
      /** The registry build cache the build reads and its push refreshes (`<repository>:buildcache`). */
      cacheRef?: string;
    }
  | {
      kind: 'push';
      service: string;
      image: string;
      argv: string[];
      digestArgv: string[];
      /** Run after the push: tag and push the image as the build cache of the next build. */
      cacheArgv?: string[][];
    }
  | {
      /**
       * No registry (driver ssh without project.registry): `docker save` of a built image on the
       * build machine, once, into a temporary archive the transfer steps read.
       */
      kind: 'image-save';
      service: string;
      image: string;
    }
  | {
      /**
       * No registry: the saved image of `service` sent to the step's host over SSH into `docker load`,
       * without the files of the layers the host has already (rollout/image-transfer.ts).
       */
      kind: 'image-transfer';
      service: string;
      image: string;
    }
  | { kind: 'lock-acquire'; message: string }
  | { kind: 'lock-release' }
  | {
      kind: 'migrate';
      database: string;
      strategy: 'pre_deploy' | 'post_deploy';
      engine: string;
      service?: string;
    }
  | {
      kind: 'upload';
      path: string;
      content: string | Buffer | Secret;
      mode: number;
      sha256?: string;
      /** What the file is: `compose` files are what a release records (their sha256, per host). */
      file: UploadedFile;
      /** A compose file: the services it runs on the host (what the release records for the host). */
      services?: string[];
      /** A compose file: service → its `stagecraft.files-hash` label, for those that mount project files. */
      filesHashes?: Record<string, string>;
    }
  | {
      kind: 'exec';
      argv: string[];
      env?: Record<string, string>;
      /** Sent on the command's stdin (lines of a secret env file): never in argv, plans or logs. */
      stdin?: Secret;
    }
  | {
      /** Takes the app's routes off a gateway other apps still use (`stagecraft remove`). */
      kind: 'unroute';
      container: string;
      network: string;
    }
  | {
      kind: 'ingress';
      image: string;
      httpPort: number;
      container: string;
      network: string;
      /** One per routed service; basic auth passwords are Secrets, hashed by the handler. */
      routes: PlannedRoute[];
      httpsPort: number;
      tls: PlannedTls;
    }
  | {
      kind: 'rollout';
      service: string;
      strategy: 'start-first' | 'stop-first' | 'recreate';
      replicas: number;
      specHash: string;
      composeFile: string;
      health: HealthSpec;
      route?: RouteSpec;
      /**
       * The image reference the service runs. A container created from another image than the one
       * it names on the host now (a floating tag such as `nginx:1.25` pulled anew) is replaced, as
       * `docker compose up` replaces it.
       */
      image?: string;
    }
  | {
      /** Runs a one-shot service to completion (`docker compose run --rm --no-deps -T svc`), its output shown. */
      kind: 'job';
      service: string;
      composeFile: string;
      argv: string[];
    }
  | {
      /** Stops and removes the project's containers of services this host no longer runs. */
      kind: 'prune';
      keep: string[];
    }
  | {
      /**
       * Retention on one host (or the build machine, no host): removes release folders, images and
       * stopped containers that no kept release and no container uses (plan/prune.ts decides).
       */
      kind: 'retain';
      keepReleases: string[];
      keepImages: string[];
      removeImages: string[];
      /** The environment's `releases/` folder; absent on the build machine. */
      releasesDir?: string;
      /** Remove the project's stopped containers. */
      containers: boolean;
      /** `docker builder prune --filter until=<N>h` (the build machine). */
      buildCacheUntilHours?: number;
      /** A deploy's last steps: failures are reported in the step's detail, not thrown. */
      bestEffort: boolean;
      /** Measure the space used before and after (`docker system df`, `du`). */
      measure: boolean;
    }
  | {
      /**
       * driver swarm, on the manager: puts the label `stagecraft.role.<role>=true` on the node of each
       * host (found by address, else hostname) for each of its roles, and removes stale role labels.
       */
      kind: 'swarm-labels';
      nodes: { host: string; address: string; roles: string[] }[];
    }
  | {
      /**
       * driver swarm, on the manager: `docker stack deploy` of a stack file, then polls the stack's
       * services (`docker service ps`) until every one runs its desired tasks of this spec, or fails
       * when an update pauses, a task keeps failing, or `timeoutMs` passes.
       */
      kind: 'stack-deploy';
      stack: string;
      file: string;
      argv: string[];
      /** The compose services the file deploys (the gateway included); the poll watches these. */
      services: string[];
      timeoutMs: number;
    }
  | {
      /**
       * driver swarm, on the manager: deploys a one-shot service as its own stack (`mode:
       * replicated-job`), polls its task until complete (success) or failed, shows its output, and
       * removes the job stack so the next release runs it again.
       */
      kind: 'swarm-job';
      service: string;
      stack: string;
      file: string;
      argv: string[];
      timeoutMs: number;
    }
  | {
      /**
       * driver swarm, on the manager (`stagecraft remove`): `docker stack rm` of each stack, then
       * waits until none of their services, networks, configs and secrets is left (removing what
       * `docker stack rm` could not yet), or fails after `timeoutMs`.
       */
      kind: 'stack-remove';
      stacks: string[];
      timeoutMs: number;
    }
  | {
      /**
       * driver swarm, on a node (`stagecraft remove`): waits until no container of the stacks runs
       * there (Swarm stops them with their grace period), then removes their stopped containers.
       */
      kind: 'stack-drain';
      stacks: string[];
      timeoutMs: number;
    }
  | { kind: 'record' };

export type ActionKind = Action['kind'];

/** One change to the world; the engine runs it, `plan` prints it. */
export interface Step {
  /** Stable id, e.g. `rollout:h1:api`. */
  id: string;
  phase: PhaseName;
  /** Undefined: runs on this machine. */
  host?: StepHost;
  /** What a person reads in plan and progress output. */
  title: string;
  action: Action;
  /** Ids of the steps that must have completed before this one runs (the engine checks it). */
  dependsOn: string[];
  /**
   * An `exec` whose command is the user's (a hook): a non-zero exit is reported as the user's error
   * (UserError, exit 1) with its last line, instead of as a failed command (ExternalError).
   */
  allowFailure?: boolean;
}

export interface PhasePlan {
  name: PhaseName;
  /** Why the whole phase is skipped (e.g. `--skip-build`, no migrations); no steps then. */
  skipped?: string;
  steps: Step[];
}

/**
 * What a plan does: a release (`deploy`, `rollback`, `restart`: lock, rollout, record), a `build`
 * (images only, no lock, no release), a `prune` (retention on demand: lock, retain steps), a `remove`
 * (the app taken off its hosts: lock, removals, a record) or a `maintenance` switch (lock, the
 * gateways' routes, the switch recorded).
 */
export type PlanKind = 'deploy' | 'rollback' | 'restart' | 'build' | 'prune' | 'remove' | 'maintenance';

export interface Plan {
  kind: PlanKind;
  project: string;
  environment: string;
  version: string;
  /** The release the plan records; empty for a build (which records none). */
  releaseId: string;
  hosts: { name: string; roles: string[] }[];
  phases: PhasePlan[];
}

export function allSteps(plan: Plan): Step[] {
  return plan.phases.flatMap((phase) => phase.steps);
}
