// The plan of a restart release (`stagecraft secrets sync`): the current release's folder copied into a
// new release folder, its compose file with the changed services' new spec hashes, the new secret env
// files written there, and (with `--restart`) the services that read them rolled out again. The release
// it is based on is never touched, so a rollback to it returns to the values it ran with. Pure.
import type { EnvironmentModel } from '../model/environment.js';
import { PHASES, type PhaseName } from '../state/types.js';
import { sha256Hex } from '../util/hash.js';
import type { Secret } from '../util/secret.js';
import { phase, releaseDir } from './deploy.js';
import { lockAcquireStep, lockReleaseStep, recordStep } from './lock-steps.js';
import type { PhasePlan, Plan, Step } from './types.js';

/** One secret env file of the new release (`secrets/<service>.env`) that differs from the current one. */
export type RestartSecretFile =
  | {
      service: string;
      /** The whole file: rendered `KEY="value"` lines, written 0600. */
      write: 'replace';
      content: Secret;
    }
  | {
      service: string;
      /** Only these lines (`--keys`): `argv` sets them in the copied file, the lines on its stdin. */
      write: 'merge';
      content: Secret;
      /** The command that sets the lines on stdin in the file (the secrets provider's, for this path). */
      argv: string[];
    };

/** What one host of the new release gets. */
export interface RestartHost {
  name: string;
  /** The new release's compose file: the current one, with the changed services' spec hash and env_file. */
  composeText: string;
  /** Service → its spec hash in `composeText` (the `stagecraft.spec-hash` labels). */
  specHashes: Record<string, string>;
  /** The secret env files that change on this host, by service. */
  secretFiles: RestartSecretFile[];
  /** Services rolled out again on this host (`--restart`: those whose secret env file it holds). */
  restart: string[];
}

export interface RestartPlanInput {
  model: EnvironmentModel;
  /** The new release. */
  releaseId: string;
  /** The release it is based on: the current one, whose images, version and files it keeps. */
  basedOn: { id: string; version: string };
  /** Every host of the release based on, in rollout order. */
  hosts: RestartHost[];
  /** What the lock and the release record say. */
  message: string;
}

/** The path of a service's secret env file in a release folder (what its compose `env_file` names). */
export function secretEnvPath(model: EnvironmentModel, releaseId: string, service: string): string {
  return `${releaseDir(model, releaseId)}/secrets/${service}.env`;
}

function hostSteps(input: RestartPlanInput, host: RestartHost, lockId: string): Step[] {
  const { model } = input;
  const from = releaseDir(model, input.basedOn.id);
  const dir = releaseDir(model, input.releaseId);
  const composeFile = `${dir}/compose.yml`;
  const h = { name: host.name };
  const copy = `copy:${host.name}`;
  const prepare = `prepare:${host.name}`;
  const sha256 = sha256Hex(host.composeText);
  const changed = host.secretFiles.map((file) => file.service);
  const steps: Step[] = [
    {
      id: copy,
      phase: 'rollout',
      host: h,
      title: `copy the files of release ${input.basedOn.id} (compose.yml, secrets, project files)`,
      action: { kind: 'exec', argv: ['cp', '-a', `${from}/.`, `${dir}/`] },
      dependsOn: [lockId],
    },
    {
      id: prepare,
      phase: 'rollout',
      host: h,
      title:
        changed.length === 0
          ? `upload compose.yml (sha256 ${sha256.slice(0, 12)}, as in release ${input.basedOn.id})`
          : `upload compose.yml (sha256 ${sha256.slice(0, 12)}: new spec hash for ${changed.join(', ')})`,
      action: {
        kind: 'upload',
        path: composeFile,
        content: host.composeText,
        mode: 0o644,
        sha256,
        file: 'compose',
      },
      dependsOn: [copy],
    },
  ];
  const written: string[] = [];
  for (const file of [...host.secretFiles].sort((a, b) => a.service.localeCompare(b.service))) {
    written.push(`secrets:${host.name}:${file.service}`);
    const path = secretEnvPath(model, input.releaseId, file.service);
    steps.push({
      id: written.at(-1)!,
      phase: 'rollout',
      host: h,
      title:
        file.write === 'replace'
          ? `write secrets/${file.service}.env (0600)`
          : `set the --keys lines in secrets/${file.service}.env (0600)`,
      action:
        file.write === 'replace'
          ? { kind: 'upload', path, content: file.content, mode: 0o600, file: 'secrets' }
          : { kind: 'exec', argv: file.argv, stdin: file.content },
      dependsOn: [prepare],
    });
  }
  let after = [prepare, ...written];
  for (const service of model.services) {
    if (!host.restart.includes(service.name)) continue;
    const specHash = host.specHashes[service.name];
    if (specHash === undefined || service.job) continue;
    const id = `rollout:${host.name}:${service.name}`;
    const routed = service.port !== undefined && service.domains.length > 0;
    steps.push({
      id,
      phase: 'rollout',
      host: h,
      title: `restart ${service.name} with its new secrets (${service.strategy}, ${service.replicas} replica${service.replicas === 1 ? '' : 's'})`,
      action: {
        kind: 'rollout',
        service: service.name,
        strategy: service.strategy,
        replicas: service.replicas,
        specHash,
        composeFile,
        health: { timeoutMs: service.healthTimeoutMs, stableForMs: service.stableForMs },
        ...(routed ? { route: { domains: service.domains, port: service.port! } } : {}),
      },
      dependsOn: after,
    });
    after = [id];
  }
  return steps;
}

/**
 * The exact steps of a restart release: the lock; per host, the copy of the based-on release's folder,
 * the new compose file (recorded by its sha256), the secret env files that change, and the rollouts of
 * `restart`; the record; the lock released. No build, push, migration, hook or prune: the release runs
 * the images and services of the one it is based on. Pure.
 */
export function planRestart(input: RestartPlanInput): Plan {
  const { model } = input;
  const lockHost = { name: model.lockHost };
  const lock = lockAcquireStep(lockHost, model.composeProject, input.message);
  const rollout = input.hosts.flatMap((host) => hostSteps(input, host, lock.id));
  const reused = `a restart runs the images of release ${input.basedOn.id}`;
  const byPhase: Record<PhaseName, PhasePlan> = {
    build: phase('build', [], reused),
    push: phase('push', [], reused),
    migrate_pre: phase('migrate_pre', [lock]),
    rollout: phase('rollout', rollout),
    migrate_post: phase('migrate_post', [], 'a restart runs no migrations'),
    finalize: phase('finalize', [
      recordStep(
        `record release ${input.releaseId} (restart of ${input.basedOn.id}, version ${input.basedOn.version})`,
      ),
      lockReleaseStep(lockHost),
    ]),
  };
  return {
    kind: 'restart',
    project: model.project,
    environment: model.environment,
    version: input.basedOn.version,
    releaseId: input.releaseId,
    hosts: model.hosts.map((host) => ({ name: host.name, roles: host.roles })),
    phases: PHASES.map((name) => byPhase[name]),
  };
}
