import { accessSync, constants, existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { unreadableBuildInputs } from '../compose/build-file.js';
import { sha256Hex } from '../compose/canonical.js';
import { configuredEnvFiles } from '../config/load.js';
import { FILES_HASH_LABEL, SPEC_HASH_LABEL } from '../docker/labels.js';
import type { RunResult, StepHandler } from '../engine/run.js';
import {
  type DeployPlanInput,
  HOOKS,
  type HookName,
  imageRefs,
  inBuildScope,
  planDeploy,
  type ReusedCompose,
  releaseDir,
} from '../plan/deploy.js';
import { hostsNeverRun, refuseChangedFiles, releaseServicesOf } from '../plan/rollback-fidelity.js';
import { isRouted } from '../plan/routes.js';
import { planSwarmDeploy } from '../plan/swarm.js';
import { allSteps, type Plan, type PlannedTls, type Step } from '../plan/types.js';
import { applyVerb, planToJson, planToText, type RolloutDecisions } from '../render/plan.js';
import { resolveHostAddress, runnerFor, runnerHost } from '../runners/factory.js';
import { borrowRunner, RunnerPool } from '../runners/pool.js';
import type { Runner } from '../runners/types.js';
import {
  currentRelease,
  isCompletedRelease,
  Ledger,
  lastGoodRelease,
  mergeLedgers,
  pendingPhases,
  readRemoteLedger,
} from '../state/ledger.js';
import type { LeaseHeartbeat } from '../state/lock.js';
import { currentPidNamespace } from '../state/process-gone.js';
import { readExistingSpecKey, readSpecKey } from '../state/spec-key.js';
import type { PhaseName, ReleaseRecord } from '../state/types.js';
import { systemClock } from '../util/clock.js';
import { ExternalError, InternalError, PartialFailure, UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { RESOLVED_AT_DEPLOY, redact, Secret } from '../util/secret.js';
import { readUserFile } from '../util/user-file.js';
import {
  buildSecretHint,
  secretBuildArgError,
  secretBuildArgs,
  secretBuildLabels,
  secretInlineDockerfiles,
} from './build-args.js';
import { type LoadedEnvironment, secretNames } from './environment.js';
import { hostNamesInScope, serviceNamesInScope } from './fleet.js';
import { meshAddressOf } from './mesh.js';
import { plannedMigrations } from './migrations.js';
import { readProjectPath } from './project-files.js';
import { retentionFor } from './retention.js';
import {
  gatewayImageWarnings,
  maintenanceNotice,
  recordedMaintenance,
  routeInputs,
  routePasswords,
  runningGateways,
} from './routes.js';
import { resolveSecretValues } from './secret-files.js';
import type { Session } from './session.js';
import { validateRenderedCompose } from './validate-render.js';
import { loadVersioned, type Versioned } from './versioned.js';

export interface DeployOptions {
  version?: string;
  skipBuild?: boolean;
  skipMigrations?: boolean;
  message?: string;
  lockWaitMs?: number;
  autoRollback?: boolean;
  /** Limit the rollout to these hosts (automatic rollback of the hosts that switched). */
  onlyHosts?: string[];
  /** Rollback: the release whose images and compose it reuses. */
  rollbackOf?: ReleaseRecord;
  /**
   * Only show the plan (`plan`, `deploy --dry-run`): run no secret command, look up no address, read
   * nothing from hosts. Values that need one of those show as "(resolved at deploy)".
   */
  planOnly?: boolean;
  /** `deploy --dry-run` (with planOnly): what a deploy would refuse is refused here too. */
  dryRun?: boolean;
  /**
   * Read each host's gateway before planning even with `planOnly` (`plan --refresh`): a gateway that
   * runs another image than ingress.image shows as replaced. A deploy always reads them.
   */
  readGateways?: boolean;
  /**
   * Runs once the environment is loaded and before anything reaches a host (the spec-hash key, the
   * addresses): `deploy` confirms there, and sets up or checks the hosts. What it throws stops the deploy.
   */
  beforeHosts?: (env: LoadedEnvironment, version: string) => Promise<void>;
  /**
   * The environment and version, already being loaded (loadVersioned with purpose `plan` for a plan):
   * `plan` starts it before loading this module, so that compose reads the project while the rest of
   * the code compiles. Not for a rollback (it loads the target's version).
   */
  loading?: Promise<Versioned>;
  /**
   * Runs with the plan while compose checks its rendered files (subprocesses): `plan` renders its
   * output there, side by side with them. Nothing is shown before the checks pass.
   */
  whileChecking?: (plan: Plan) => void;
  /**
   * The command's runners: every read of the hosts and every step shares one connection per host
   * (the caller closes the pool). Without it each read opens and closes its own, and a release run
   * its own per host.
   */
  runners?: RunnerPool;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * IPs of the hosts, for services that reach a service on another host (compose extra_hosts): with the
 * mesh each host's mesh address (`tailscale ip -4` on the host), else the address or its DNS answer.
 */
async function hostAddresses(
  env: LoadedEnvironment,
  planOnly: boolean,
  runners: RunnerPool | undefined,
): Promise<Record<string, string>> {
  const { model } = env;
  if (model.driver === 'local') return {};
  const entries = await Promise.all(
    model.hosts.map(async (host) => {
      // With the mesh, services reach other hosts over it: each host's 100.64 address, asked of the host.
      if (model.mesh !== undefined) {
        if (planOnly) return [host.name, RESOLVED_AT_DEPLOY] as const;
        const runner = borrowRunner(runners, model, host.name);
        try {
          return [host.name, await meshAddressOf(runner)] as const;
        } finally {
          await runner.close().catch(() => undefined);
        }
      }
      if (IPV4.test(host.target)) return [host.name, host.target] as const;
      // A plan looks nothing up.
      if (planOnly) return [host.name, RESOLVED_AT_DEPLOY] as const;
      const resolved = await resolveHostAddress(runnerHost(host), model.connection);
      return [host.name, resolved] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * A rollback deploys the target release's own compose files (a swarm: its stack file on the manager)
 * again: read back from each host, checked against the sha256 recorded in the release. A host whose
 * file is gone or changed gets a compose file rendered from today's compose file with the target's
 * images and services instead (said in a warning; plan/rollback-fidelity.ts refuses what that cannot
 * bring back).
 */
async function reusedComposeFiles(
  context: Session,
  env: LoadedEnvironment,
  target: ReleaseRecord,
  onlyHosts: string[] | undefined,
  runners: RunnerPool | undefined,
): Promise<Record<string, ReusedCompose>> {
  const { model } = env;
  // A swarm release's file on the manager is its stack file.
  const file = model.driver === 'swarm' ? 'stack.yml' : 'compose.yml';
  const reused: Record<string, ReusedCompose> = {};
  await Promise.all(
    Object.entries(target.hosts)
      .filter(([host]) => onlyHosts === undefined || onlyHosts.includes(host))
      .map(async ([host, recorded]) => {
        if (!model.hosts.some((candidate) => candidate.name === host)) return;
        const runner = borrowRunner(runners, model, host);
        try {
          const text = await runner.read(`${releaseDir(model, target.id)}/${file}`);
          if (text === undefined || sha256Hex(text) !== recorded.compose_sha256) {
            context.output.warn(
              `${host}: the ${file} of ${target.id} is ${text === undefined ? 'gone' : 'changed'}; rendering one from today's compose file and secret values with its images and services`,
            );
            return;
          }
          const services =
            (parse(text) as { services?: Record<string, { labels?: Record<string, string> }> }).services ??
            {};
          const specHashes: Record<string, string> = {};
          const filesHashes: Record<string, string> = {};
          for (const [name, service] of Object.entries(services)) {
            const hash = service.labels?.[SPEC_HASH_LABEL];
            if (hash !== undefined) specHashes[name] = hash;
            const files = service.labels?.[FILES_HASH_LABEL];
            if (files !== undefined) filesHashes[name] = files;
          }
          reused[host] = {
            releaseId: target.id,
            text,
            sha256: recorded.compose_sha256,
            specHashes,
            filesHashes,
            services: Object.keys(services),
          };
        } finally {
          await runner.close().catch(() => undefined);
        }
      }),
  );
  return reused;
}

/** The secrets each service declares in stagecraft.yml, with their values (env files, process env, or a command). */
async function declaredServiceSecrets(
  context: Session,
  env: LoadedEnvironment,

  planOnly: boolean,
): Promise<Record<string, Record<string, string>>> {
  const { loaded, model } = env;
  const declared: Record<string, string[]> = {};
  for (const service of model.services) {
    if (service.secrets.length > 0) declared[service.name] = service.secrets;
  }
  const values = await resolveSecretValues(
    loaded,
    [...new Set(Object.values(declared).flat())].sort(),
    context.env,
    planOnly ? { commands: 'placeholder', placeholder: RESOLVED_AT_DEPLOY } : undefined,
  );
  return Object.fromEntries(
    Object.entries(declared).map(([service, names]) => [
      service,
      Object.fromEntries(
        names.flatMap((name) => {
          const value = values.get(name)?.reveal() ?? loaded.variables[name];
          return value === undefined ? [] : [[name, value]];
        }),
      ),
    ]),
  );
}

/** The executable hooks in `.stagecraft/hooks/`; a hook file that cannot be executed is a warning. */
export function findHooks(context: Session, root: string): Partial<Record<HookName, string>> {
  const found: Partial<Record<HookName, string>> = {};
  for (const name of HOOKS) {
    const path = join(root, '.stagecraft', 'hooks', name);
    if (!existsSync(path)) continue;
    try {
      accessSync(path, constants.X_OK);
      found[name] = path;
    } catch {
      context.output.warn(`.stagecraft/hooks/${name} is not executable and does not run (chmod +x it)`);
    }
  }
  return found;
}

/** `ingress.tls` with its files read: the certificate as text, the private key as a Secret. */
export function ingressTls(env: LoadedEnvironment): PlannedTls {
  const tls = env.model.ingress.tls;
  if (tls.mode === 'off') return { mode: 'off' };
  const read = (key: 'cert_file' | 'key_file' | 'acme_ca_root', file: string) => {
    const path = resolvePath(env.loaded.root, file);
    const hint = 'point it at a PEM file, relative to the project folder';
    const text = readUserFile(path, {
      display: `ingress.tls.${key} ${file} (${path})`,
      maxBytes: 1024 * 1024,
      hint,
    });
    if (text === undefined)
      throw new UserError(`ingress.tls.${key} ${file} does not exist (${path})`, { hint });
    return text;
  };
  if (tls.mode === 'acme') {
    const email = tls.emailEnv === undefined ? undefined : env.loaded.variables[tls.emailEnv];
    return {
      mode: 'acme',
      ...(email ? { email } : {}),
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.caRootFile === undefined ? {} : { caRoot: read('acme_ca_root', tls.caRootFile) }),
    };
  }
  return {
    mode: 'custom',
    certificate: read('cert_file', tls.certFile),
    key: new Secret(read('key_file', tls.keyFile)),
  };
}

/**
 * The environment's spec-hash key, from (or created on) the lock host; `existingOnly` (`plan
 * --refresh`): read only, undefined when there is none yet.
 */
async function lockHostSpecKey(
  env: LoadedEnvironment,
  runners: RunnerPool | undefined,
  existingOnly: boolean,
): Promise<string | undefined> {
  const { model } = env;
  const runner = borrowRunner(runners, model, model.lockHost);
  try {
    return existingOnly
      ? await readExistingSpecKey(runner, model.project, model.environment)
      : await readSpecKey(runner, model.project, model.environment);
  } finally {
    await runner.close().catch(() => undefined);
  }
}

export interface PreparedDeploy {
  env: LoadedEnvironment;
  plan: Plan;
  commit: string;
  ledger: Ledger;
  hostAddresses: Record<string, string>;
  /** Service → image the release runs: built refs for a deploy, the reused release's for a rollback or restart. */
  images: Record<string, string>;
  /** A rollback: the release it returns to; a restart: the release it restarts. */
  basedOn?: ReleaseRecord;
  /** What the release record says (`--message`, or a default per kind). */
  message: string;
  /** The hosts and services a scoped release covers (ReleaseRecord.scope); absent: all. */
  scope?: ReleaseRecord['scope'];
}

/** What a plan is made from once the environment is loaded: reused by an automatic rollback. */
interface ReleaseInputs {
  env: LoadedEnvironment;
  ledger: Ledger;
  hostAddresses: Record<string, string>;
  version: string;
  commit: string;
  /** The version names one state of the code (a clean commit): see ResolvedVersion.immutable. */
  immutable: boolean;
}

/**
 * Everything up to the plan: loads config, compose, git (the version) and the ledger, resolves host
 * addresses (`ssh -G`, DNS), runs the secret commands, and for a rollback reads the target's compose
 * files back from the hosts. Throws UserError for bad config, ExternalError for unreachable sources.
 */
export async function prepareDeploy(session: Session, options: DeployOptions): Promise<PreparedDeploy> {
  const target = options.rollbackOf;
  const loaded =
    options.loading !== undefined && target === undefined
      ? await options.loading
      : await loadVersioned(
          session,
          target ? { version: target.version, commit: target.commit_sha } : options.version,
          options.planOnly === true ? 'plan' : 'deploy',
        );
  const ledger = new Ledger({ projectRoot: loaded.env.loaded.root, env: session.env });
  await options.beforeHosts?.(loaded.env, loaded.version);
  return planRelease(
    session,
    {
      ...loaded,
      ledger,
      hostAddresses: await hostAddresses(loaded.env, options.planOnly === true, options.runners),
    },
    options,
  );
}

/**
 * The release that runs now (newest completed, none after a removal): from this machine's ledger
 * merged with the lock host's history for a deploy; from this machine's alone for a plan (it reads
 * no host) or when the lock host cannot be read (a warning says so).
 */
async function runningNow(
  session: Session,
  env: LoadedEnvironment,
  ledger: Ledger,
  planOnly: boolean,
  runners: RunnerPool | undefined,
): Promise<ReleaseRecord | undefined> {
  const local = await ledger.list();
  if (planOnly) return currentRelease(local, env.model.environment);
  const runner = borrowRunner(runners, env.model, env.model.lockHost);
  try {
    const remote = await readRemoteLedger(runner, env.model.project, env.model.environment);
    return currentRelease(mergeLedgers(local, remote), env.model.environment);
  } catch (error) {
    session.output.warn(
      `the release history on ${env.model.lockHost} could not be read (${(error as Error).message}): going by this machine's`,
    );
    return currentRelease(local, env.model.environment);
  } finally {
    await runner.close().catch(() => undefined);
  }
}

/**
 * The images `--services` keeps for the services it leaves out (see runningNow for `current`): those
 * that run a built image (their own build's, or another's through imageFrom), as `current` records
 * them. Throws UserError naming them when it records none (their new tag would name an image nobody
 * built); a plan (`planOnly`) warns instead and leaves them out of the answer.
 */
export function keptImages(
  session: Session,
  env: LoadedEnvironment,
  onlyServices: readonly string[],
  current: ReleaseRecord | undefined,
  planOnly: boolean,
): Record<string, string> {
  const built = env.model.services.filter((service) => {
    const builder = service.build !== undefined ? service.name : service.imageFrom;
    return builder !== undefined && !inBuildScope(env.model, onlyServices, builder);
  });
  const kept: Record<string, string> = {};
  const missing: string[] = [];
  for (const service of built) {
    const image = current?.images[service.name];
    if (image === undefined) missing.push(service.name);
    else kept[service.name] = image;
  }
  if (missing.length > 0 && planOnly) {
    // A plan reads no host: the lock host's history, which a deploy reads, may know them.
    session.output.warn(
      `--services ${onlyServices.join(',')}: ${missing.join(', ')} keep${missing.length === 1 ? 's' : ''} the image the running release has, which this machine's ledger does not record; the plan shows the new tag (a deploy reads the lock host's history)`,
    );
  } else if (missing.length > 0) {
    throw new UserError(
      `--services ${onlyServices.join(',')} leaves out ${missing.join(', ')}, which run${missing.length === 1 ? 's' : ''} a built image, and no completed release of ${env.model.environment} (in this machine's ledger or the lock host's history) records it`,
      {
        hint: `deploy without --services once (or add ${missing.join(',')} to --services), so their images are built and recorded`,
      },
    );
  }
  return kept;
}

/** The plan of a deploy or rollback from inputs already loaded (no second config or compose read). */
async function planRelease(
  session: Session,
  inputs: ReleaseInputs,
  options: DeployOptions,
): Promise<PreparedDeploy> {
  const { env, ledger } = inputs;
  const target = options.rollbackOf;
  const version = target ? target.version : inputs.version;
  const commit = target ? target.commit_sha : inputs.commit;
  const onlyHosts = options.onlyHosts ?? hostNamesInScope(env.model, session.globals);
  const onlyServices = serviceNamesInScope(env.model, session.globals.services);
  const message = options.message ?? (target ? `rollback to ${target.id}` : `deploy ${version}`);
  const planOnly = options.planOnly === true;
  const releaseId = await ledger.newReleaseId(systemClock);
  // `--services api` builds api only: every other service that runs a built image keeps the one the
  // current release runs (its tag at this version was never built).
  const kept =
    target === undefined && onlyServices !== undefined
      ? keptImages(
          session,
          env,
          onlyServices,
          await runningNow(session, env, ledger, planOnly, options.runners),
          planOnly,
        )
      : undefined;
  // Retention (the last steps) for whole-environment releases only; a scoped one leaves old releases be.
  const scoped = onlyHosts !== undefined || onlyServices !== undefined;
  // Reads of the lock host that do not depend on each other: side by side.
  const [specHashKey, retention, maintenance, passwords, gateways] = await Promise.all([
    // `plan --refresh` compares with the running containers' labels: their hashes are keyed.
    planOnly && options.readGateways !== true ? undefined : lockHostSpecKey(env, options.runners, planOnly),
    scoped
      ? undefined
      : retentionFor(
          session,
          env,
          { id: releaseId, images: target?.images ?? imageRefs(env.model, version) },
          { planOnly, ...(options.runners === undefined ? {} : { runners: options.runners }) },
        ),
    // A plan reads no host: it shows the routes as configured (a deploy says when maintenance is on).
    planOnly ? undefined : recordedMaintenance(session, env, false, options.runners),
    routePasswords(session, env, planOnly),
    // A plan reads no host unless refreshed; a gateway that must change its image shows in the plan.
    planOnly && options.readGateways !== true
      ? undefined
      : runningGateways(session, env, gatewayHosts(env, onlyHosts), options.runners),
  ]);
  if (maintenance?.state === 'on') session.output.warn(maintenanceNotice(env, maintenance));
  for (const warning of gatewayImageWarnings(env, gateways ?? {})) session.output.warn(warning);
  // The files that hold the environment's settings and secrets: named when a mounted folder holds one.
  const privateFiles = new Map<string, string>([
    ...configuredEnvFiles(env.loaded.root, env.loaded.config).map(
      (file) => [file, 'an env file stagecraft.yml names'] as const,
    ),
    ...env.composeEnvFiles.map((file) => [file, 'an env_file of the compose file'] as const),
    ...env.composeSecretFiles.map((file) => [file, "a compose secret's file"] as const),
  ]);
  const warnedPrivate = new Set<string>();
  const reuse = target
    ? await reusedComposeFiles(session, env, target, onlyHosts, options.runners)
    : undefined;
  if (target && env.model.driver !== 'swarm') {
    for (const host of hostsNeverRun(env.model, target, onlyHosts))
      session.output.warn(
        `${host}: ${target.id} never ran here; rendering a compose file from today's compose file and secret values with its images`,
      );
  }
  const input: DeployPlanInput = {
    model: env.model,
    compose: env.compose,
    version,
    immutableVersion: target ? true : inputs.immutable,
    releaseId,
    ...(retention === undefined ? {} : { retention }),
    kind: target ? 'rollback' : 'deploy',
    ...(target
      ? {
          images: target.images,
          reuse: reuse!,
          ...(env.model.driver === 'swarm'
            ? {}
            : { releaseServices: releaseServicesOf(env.model, target, reuse!, onlyHosts) }),
        }
      : kept === undefined
        ? {}
        : { images: kept }),
    skipBuild: target
      ? `rollback to ${target.id} reuses its images`
      : options.skipBuild
        ? '--skip-build'
        : undefined,
    hostAddresses: inputs.hostAddresses,
    secretValues: env.secretValues,
    variables: env.loaded.variables,
    secretNames: secretNames(env.loaded),
    // A rollback's reused files carry the release's own secret files; a re-rendered one takes today's.
    serviceSecrets: await declaredServiceSecrets(session, env, planOnly),
    ...(specHashKey === undefined ? {} : { specHashKey }),
    hooks: findHooks(session, env.loaded.root),
    ingressTls: ingressTls(env),
    routes: routeInputs(passwords, maintenance),
    ...(gateways === undefined ? {} : { gateways }),
    projectDir: env.loaded.root,
    readProjectPath: (relative) => {
      const files = readProjectPath(env.loaded.root, relative);
      for (const file of files ?? []) {
        // Only a file inside a mounted folder: one read on its own (a compose secret's file, uploaded
        // 0600, or a file mounted by name) is where its owner put it on purpose.
        const named = privateFiles.get(join(env.loaded.root, file.path));
        if (
          named === undefined ||
          file.path === relative.replace(/^\.\//, '') ||
          warnedPrivate.has(file.path)
        )
          continue;
        warnedPrivate.add(file.path);
        session.output.warn(
          `${file.path} (${named}) is inside ./${relative}, which a service mounts: it is uploaded to the hosts with the folder (mode ${file.mode.toString(8).padStart(4, '0')}) and the container can read it; move it out of the folder unless the app reads it there`,
        );
      }
      return files;
    },
    relativeBindSources: env.relativeBindSources,
    locateCompose: env.locateCompose,
    migrations: target || options.skipMigrations === true ? [] : plannedMigrations(env, !planOnly),
    message,
    ...(onlyHosts ? { onlyHosts } : {}),
    ...(onlyServices ? { onlyServices } : {}),
  };
  const knownSecrets = [
    ...env.secretValues,
    ...Object.values(input.serviceSecrets ?? {})
      .flatMap((pairs) => Object.values(pairs))
      .filter((value) => value !== RESOLVED_AT_DEPLOY),
  ];
  // A secret interpolated outside an environment would sit in clear in the hosts' compose file (the
  // value search of projectHostCompose misses values under 8 characters; this finds it by name).
  // Only services compose keeps (an inactive profile's are not deployed); the services of a file
  // reached through `extends` are templates of services with other names: they all count.
  const references = (target ? [] : env.locateCompose.secretReferences(input.secretNames ?? [])).filter(
    (reference) =>
      reference.keyPath[0] !== 'services' ||
      reference.extended === true ||
      env.compose.services[String(reference.keyPath[1])] !== undefined,
  );
  if (references.length > 0) {
    const first = references[0]!;
    throw new UserError(
      `${first.at} ${first.path} interpolates the secret ${first.name}: its value would be written in clear into the compose file on the hosts`,
      {
        details: references
          .slice(1)
          .map((reference) => `${reference.at} ${reference.path} interpolates ${reference.name}`),
        hint: `pass ${first.name} to the container through services.<name>.environment and read it there (e.g. "sh -c '… $$${first.name}'" in command or healthcheck)`,
      },
    );
  }
  // A rollback or --skip-build builds nothing.
  const secretLabels =
    target || options.skipBuild === true ? [] : secretBuildLabels(env.model, env.compose, knownSecrets);
  if (secretLabels.length > 0) {
    const [first, ...more] = secretLabels.map(({ service, label, path }) => {
      const at = env.locateCompose.nearest(path);
      return `${at === undefined ? '' : `${at} `}build label ${service}: ${label}`;
    });
    throw new UserError(
      `${first} would store a secret in the image (pushed to the registry, shown by docker inspect on every host)`,
      {
        details: more,
        hint: 'remove the secret from build.labels; a container gets a secret through its environment',
      },
    );
  }
  const inlineSecrets =
    target || options.skipBuild === true ? [] : secretInlineDockerfiles(env.model, env.compose, knownSecrets);
  if (inlineSecrets.length > 0) {
    const [first, ...more] = inlineSecrets.map(({ service, path }) => {
      const at = env.locateCompose.nearest(path);
      return `${at === undefined ? '' : `${at} `}services.${service}.build.dockerfile_inline`;
    });
    throw new UserError(
      `${first} holds a secret value: the image would store it (docker history; pushed to the registry, pulled by every host)`,
      {
        details: more,
        hint: 'read the secret in the Dockerfile through a BuildKit build secret (build.secrets and RUN --mount=type=secret), or give it to the container through its environment',
      },
    );
  }
  const building =
    target || options.skipBuild === true
      ? []
      : env.model.services.filter((service) => service.build !== undefined);
  const [unreadable] = unreadableBuildInputs(
    env.compose,
    building.map((service) => service.name),
  );
  if (unreadable !== undefined) {
    // compose prints `dockerfile: Dockerfile` also where the file does not say it.
    const at = env.locateCompose.nearest(unreadable.path);
    throw new UserError(
      unreadable.what === 'context'
        ? `${at === undefined ? '' : `${at} `}the build context of ${unreadable.service}, ${unreadable.file}, ${unreadable.why}: the build cannot start`
        : `${at === undefined ? '' : `${at} `}the build of ${unreadable.service} reads ${unreadable.file}, which ${unreadable.why}: the build would block on it or never end`,
      {
        hint:
          unreadable.what === 'context'
            ? 'point build.context at a folder of the project'
            : 'point the Dockerfile and build secrets at regular files',
      },
    );
  }
  const secretArgs = secretBuildArgs(env.model, input.secretNames, knownSecrets);
  if (
    secretArgs.length > 0 &&
    (!planOnly || options.dryRun === true) &&
    !target &&
    options.skipBuild !== true
  ) {
    throw secretBuildArgError(secretArgs);
  }
  for (const arg of secretArgs) {
    session.output.warn(
      `build arg ${arg.name} of ${arg.service} holds a secret: it is shown redacted here and a deploy refuses it; ${buildSecretHint(arg)}`,
    );
  }
  const plan = env.model.driver === 'swarm' ? planSwarmDeploy(input) : planDeploy(input);
  if (target && reuse !== undefined) refuseChangedFiles(plan, target, reuse);
  if (!target && options.skipBuild === true && (!planOnly || options.dryRun === true)) {
    const [{ LocalRunner }, { refuseUnbuiltImages }] = await Promise.all([
      import('../runners/local.js'),
      import('./unbuilt-images.js'),
    ]);
    await refuseUnbuiltImages(
      env.model,
      imageRefs(env.model, version, kept),
      onlyServices,
      new LocalRunner({ cwd: env.loaded.root }),
    );
  }
  // A rollback deploys the files of a release that was checked when it was planned.
  if (!target) {
    const checking = validateRenderedCompose(plan, env.model.composeProject);
    if (options.whileChecking !== undefined) {
      // The checks' compose processes start first (a turn of the event loop), then the caller's work
      // runs beside them. A failing check is still the error reported first.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        options.whileChecking(plan);
      } catch (error) {
        await checking;
        throw error;
      }
    }
    await checking;
  }
  return {
    env,
    plan,
    commit,
    ledger,
    hostAddresses: inputs.hostAddresses,
    images: target?.images ?? imageRefs(env.model, version),
    ...(target ? { basedOn: target } : {}),
    message,
    ...(onlyHosts === undefined && onlyServices === undefined
      ? {}
      : {
          scope: {
            ...(onlyHosts === undefined ? {} : { hosts: [...onlyHosts] }),
            ...(onlyServices === undefined ? {} : { services: [...onlyServices] }),
          },
        }),
  };
}

/** The hosts in scope (`onlyHosts`, as the plan filters them) that run a routed service: each has a gateway step. */
function gatewayHosts(env: LoadedEnvironment, onlyHosts: string[] | undefined): string[] {
  const { model } = env;
  return model.hosts
    .map((host) => host.name)
    .filter((host) => onlyHosts === undefined || onlyHosts.includes(host))
    .filter((host) => model.services.some((service) => isRouted(service) && service.hosts.includes(host)));
}

/** How to apply a printed plan: the command (default: its verb) and the flags that shaped the plan. */
export interface ApplyHint {
  /** The words after `stagecraft` before the flags, e.g. ['rollback']. */
  command?: string[];
  flags?: string[];
}

/**
 * The command that applies `plan` as the one printed: the config file and the targets (--hosts,
 * --roles, --services) given to this command, `-e` with the plan's environment, then `hint.flags`.
 */
export function applyCommand(session: Session, plan: Plan, hint: ApplyHint = {}): string[] {
  const { globals } = session;
  const targets: [string, string[] | undefined][] = [
    ['--hosts', globals.hosts],
    ['--roles', globals.roles],
    ['--services', globals.services],
  ];
  return [
    ...(hint.command ?? [applyVerb(plan)]),
    ...(globals.config === undefined ? [] : ['-c', globals.config]),
    '-e',
    plan.environment,
    ...targets.flatMap(([flag, list]) => (list === undefined ? [] : [flag, list.join(',')])),
    ...(hint.flags ?? []),
  ];
}

/** The flags of `plan` and `deploy` that change what a deploy does, as given: `--version v1`, … */
export function deployShapeFlags(options: {
  version?: string;
  skipBuild?: boolean;
  skipMigrations?: boolean;
}): string[] {
  return [
    ...(options.version === undefined ? [] : ['--version', options.version]),
    ...(options.skipBuild === true ? ['--skip-build'] : []),
    ...(options.skipMigrations === true ? ['--skip-migrations'] : []),
  ];
}

/**
 * Prints a plan: text (grouped by phase, then host; its last line the command that applies it, see
 * applyCommand) or the stable JSON form; with `decisions` (`plan --refresh`), the rollout operations
 * decided from the hosts instead of assumed ones.
 */
export function printPlan(
  session: Session,
  plan: Plan,
  format: 'text' | 'json',
  decisions?: RolloutDecisions,
  apply?: ApplyHint,
): void {
  renderPlan(session, plan, format, decisions, apply)();
}

/** The plan rendered as printPlan prints it; the function returned prints it. */
export function renderPlan(
  session: Session,
  plan: Plan,
  format: 'text' | 'json',
  decisions?: RolloutDecisions,
  apply?: ApplyHint,
): () => void {
  if (format === 'json' || session.globals.json) {
    const json = planToJson(plan, decisions);
    return () => session.output.json(json);
  }
  const text = planToText(plan, session.output.colors, decisions, applyCommand(session, plan, apply));
  return () => session.output.result(text);
}

/**
 * `plan --refresh`: reads each rollout step's containers from its host (`docker ps` and `docker
 * container inspect` only: nothing changes) and decides its operations. A host that cannot be read
 * is a warning; its steps stay assumed.
 */
export async function readRolloutDecisions(
  session: Session,
  prepared: PreparedDeploy,
): Promise<RolloutDecisions> {
  const [{ decideRollout }, { containersOf }] = await Promise.all([
    import('../rollout/decide.js'),
    import('../rollout/replace.js'),
  ]);
  const { model } = prepared.env;
  const decisions: RolloutDecisions = {};
  const byHost = new Map<string, Step[]>();
  for (const step of allSteps(prepared.plan)) {
    if (step.action.kind !== 'rollout' || step.host === undefined) continue;
    byHost.set(step.host.name, [...(byHost.get(step.host.name) ?? []), step]);
  }
  await Promise.all(
    [...byHost].map(async ([host, steps]) => {
      const runner = runnerFor(model, host);
      try {
        for (const step of steps) {
          if (step.action.kind !== 'rollout') continue;
          const existing = await containersOf(runner, model.composeProject, step.action.service);
          decisions[step.id] = decideRollout(existing, step.action, model.ingress.network);
        }
      } catch (error) {
        session.output.warn(`could not read the containers on ${host}: ${(error as Error).message}`);
      } finally {
        await runner.close().catch(() => undefined);
      }
    }),
  );
  return decisions;
}

/**
 * The ledger record a release plan starts with (phases pending): its kind, the release it is based on
 * (`rollback_of`, `restart_of`), images, and per host the sha256 of the compose file it uploads.
 * Throws InternalError for a build plan.
 */
export function newRecord(prepared: PreparedDeploy, previousId: string | undefined): ReleaseRecord {
  const { plan, env } = prepared;
  if (plan.kind === 'build' || plan.kind === 'prune' || plan.kind === 'maintenance')
    throw new InternalError(`a ${plan.kind} plan records no release`);
  const hosts: ReleaseRecord['hosts'] = {};
  for (const step of allSteps(plan)) {
    if (step.action.kind === 'upload' && step.action.file === 'compose' && step.host) {
      hosts[step.host.name] = {
        compose_sha256: step.action.sha256 ?? '',
        services:
          step.action.services ??
          env.model.services
            .filter((service) => service.hosts.includes(step.host!.name))
            .map((service) => service.name),
        // Always with the services: an empty map says "no service mounted project files".
        ...(step.action.services === undefined ? {} : { files_hashes: step.action.filesHashes ?? {} }),
      };
    }
  }
  return {
    id: plan.releaseId,
    environment: plan.environment,
    version: plan.version,
    commit_sha: prepared.commit,
    timestamp: systemClock.now().toISOString(),
    phases: pendingPhases(),
    ...(previousId ? { previous_id: previousId } : {}),
    kind: plan.kind,
    ...(prepared.scope === undefined ? {} : { scope: prepared.scope }),
    ...(plan.kind === 'rollback' && prepared.basedOn ? { rollback_of: prepared.basedOn.id } : {}),
    ...(plan.kind === 'restart' && prepared.basedOn ? { restart_of: prepared.basedOn.id } : {}),
    images: prepared.images,
    hosts,
    deployer: {
      user: userInfo().username,
      machine: hostname(),
      ci: process.env['CI'] === 'true',
      pid: process.pid,
      ...(currentPidNamespace() === undefined ? {} : { pid_namespace: currentPidNamespace() }),
    },
    message: prepared.message,
  };
}

/**
 * The newest completed release of `releases` (other than `id`) with `version` whose images differ
 * from `images` (service → reference): a `--version` given again for other code. Undefined when none.
 */
export function sameVersionOtherImages(
  releases: readonly ReleaseRecord[],
  id: string,
  version: string,
  images: Record<string, string>,
): ReleaseRecord | undefined {
  return releases.find(
    (release) =>
      release.id !== id &&
      release.version === version &&
      release.kind !== 'remove' &&
      isCompletedRelease(release) &&
      Object.entries(release.images).some(
        ([service, image]) => images[service] !== undefined && images[service] !== image,
      ),
  );
}

/** How a release ran: the engine's result and the record as written to the ledger. */
export interface ReleaseRun {
  result: RunResult;
  record: ReleaseRecord;
  durationMs: number;
}

/**
 * Runs a release plan (deploy, rollback, restart) through the engine: one runner per host (the
 * pool's shared ones when `options.runners` is given, else its own, closed when it returns), the
 * lock and the migrations and the record injected into the step handlers, SIGINT/SIGTERM cancelling,
 * the ledger updated phase by phase (here and, when done, on the lock host). Prints progress events
 * only; the caller reports the outcome. Never throws for a failed step: see `result.ok`.
 */
export async function runRelease(
  session: Session,
  prepared: PreparedDeploy,
  options: { lockWaitMs?: number; runners?: RunnerPool },
): Promise<ReleaseRun> {
  const own = options.runners === undefined ? new RunnerPool() : undefined;
  const runners = options.runners ?? own!;
  try {
    return await runReleaseWith(session, prepared, options, runners);
  } finally {
    await own?.close();
  }
}

async function runReleaseWith(
  session: Session,
  prepared: PreparedDeploy,
  options: { lockWaitMs?: number },
  runners: RunnerPool,
): Promise<ReleaseRun> {
  // What only running a release needs is loaded here, not with the module: `plan` never loads it.
  const [
    { stepHandler },
    { interruptOnSignals },
    { runPlan },
    { progressRenderer },
    { ImageArchives },
    { LocalRunner },
    { appendRemoteLedger },
    { acquireLock, releaseLock, startLeaseHeartbeat },
    { releaseLockRequest },
    { migrationRunner },
  ] = await Promise.all([
    import('../engine/handlers.js'),
    import('../engine/interrupt.js'),
    import('../engine/run.js'),
    import('../render/progress.js'),
    import('../rollout/image-transfer.js'),
    import('../runners/local.js'),
    import('../state/ledger.js'),
    import('../state/lock.js'),
    import('./lock-request.js'),
    import('./migrations.js'),
  ]);
  const { plan, env, ledger } = prepared;
  const { model, loaded } = env;
  const local = new LocalRunner({ cwd: loaded.root });
  const hostRunner = (host: string | undefined): Runner =>
    host === undefined ? local : runners.get(model, host);

  const previous = (await ledger.list(model.environment))[0];
  const record = newRecord(prepared, previous?.id);
  for (const release of await ledger.markLeftUnfinished(model.environment, record.id)) {
    session.output.warn(
      `release ${release.id} (version ${release.version}) was left unfinished by a deploy that ended before it finished: recorded as failed`,
    );
  }
  await ledger.create(record);
  const started = Date.now();
  const pushed: Record<string, string> = {};
  const archives = new ImageArchives();
  const applied: Record<string, string[]> = {};
  const lockRunner = hostRunner(model.lockHost);
  const interrupt = interruptOnSignals();

  let result: RunResult;
  let heartbeat: LeaseHeartbeat | undefined;
  let lockTaken = false;
  try {
    // While the plan runs, SIGINT/SIGTERM cancel it (interrupt), not the pool: the lock is released.
    result = await runners.handlingInterrupts(() =>
      runPlan(plan, {
        handle: leaseChecked(
          () => heartbeat,
          stepHandler({
            model,
            runner: hostRunner,
            pushed,
            archives,
            lock: {
              acquire: async (runner, message) => {
                const request = releaseLockRequest(session, model, {
                  version: plan.version,
                  message,
                  waitMs: options.lockWaitMs,
                  release: record.id,
                });
                // The release of a holder whose lock is taken over (its process gone, its lease
                // expired) ended without finishing.
                const takenOver: string[] = [];
                const lease = await acquireLock(runner, {
                  ...request,
                  onEvent: (event) => {
                    if (event.kind === 'broken' && event.previous?.release !== undefined)
                      takenOver.push(event.previous.release);
                    request.onEvent?.(event);
                  },
                });
                const abandoned = await ledger.markAbandoned(
                  takenOver,
                  `interrupted: its deploy ended before it finished (found when ${record.id} took the lock over)`,
                );
                for (const release of abandoned)
                  session.output.warn(
                    `release ${release.id} (version ${release.version}) was left unfinished by a deploy that ended before it finished: recorded as failed`,
                  );
                lockTaken = true;
                // Renewed while the deploy runs; a lost lease stops it before its next step.
                heartbeat = startLeaseHeartbeat(runner, lease, {
                  project: model.project,
                  env: model.environment,
                  expiryMs: model.lockExpiryMs,
                  onLost: (error) => {
                    session.output.error(error.message);
                    interrupt.abort(error);
                  },
                });
              },
              release: async (runner) => {
                heartbeat?.stop();
                heartbeat = undefined;
                await releaseLock(runner, { project: model.project, env: model.environment });
              },
            },
            migrate: migrationRunner(env, plan, prepared.hostAddresses, applied),
            record: async () => {
              const images = { ...record.images, ...pushed };
              const migrations = Object.keys(applied).length > 0 ? { migrations: applied } : {};
              if (plan.kind === 'deploy') {
                const reused = sameVersionOtherImages(
                  await ledger.list(model.environment),
                  record.id,
                  plan.version,
                  images,
                );
                if (reused !== undefined)
                  session.output.warn(
                    `version ${plan.version} also names ${reused.id}, which ran other images: \`rollback --to-version ${plan.version}\` now returns to this release, and \`rollback --to-release ${reused.id}\` to that one (its images are pinned by digest); give each change a version of its own`,
                  );
              }
              await ledger.update(record.id, { images, ...migrations });
              await appendRemoteLedger(lockRunner, model.project, model.environment, {
                ...record,
                images,
                ...migrations,
              }).catch((error: Error) =>
                session.output.warn(
                  `could not append the release to the ledger on ${lockRunner.name}: ${error.message}`,
                ),
              );
            },
          }),
        ),
        emit: progressRenderer(session.output),
        onPhase: async (phase: PhaseName, status) => {
          record.phases[phase] = status;
          await ledger.setPhase(record.id, phase, status);
        },
        parallelHosts: model.rollout.parallelHosts,
        parallelSteps: model.rollout.parallelServices,
        canary: model.rollout.canary,
        signal: interrupt.signal,
      }),
    );
  } finally {
    heartbeat?.stop();
    await archives.close().catch(() => undefined);
    interrupt.dispose();
  }

  const final: Partial<ReleaseRecord> = {
    phases: result.phases,
    images: { ...record.images, ...pushed },
    duration_ms: Date.now() - started,
    steps: result.steps.map((step) => ({ id: step.id, status: step.status })),
    ...(Object.keys(applied).length > 0 ? { migrations: applied } : {}),
    ...(result.ok
      ? {}
      : { error: redact(result.error instanceof Error ? result.error.message : String(result.error)) }),
  };
  await ledger.update(record.id, final);
  // A release that held the lock changed hosts, failed or not: the team's history on the lock host
  // shows how it ended. One that failed before (a build) changed nothing there.
  if (result.ok || lockTaken) {
    await appendRemoteLedger(lockRunner, model.project, model.environment, { ...record, ...final }).catch(
      (error: Error) =>
        session.output.debug(
          `could not append the release to the ledger on ${lockRunner.name}: ${error.message}`,
        ),
    );
  }
  return { result, record: { ...record, ...final }, durationMs: Date.now() - started };
}

/**
 * `handle`, with the deploy lock's lease renewed (LeaseHeartbeat.check) before each step that runs
 * under it: a lease released (`lock release`) or taken over stops the deploy before its next step.
 * The lock steps themselves, and steps before the lock is held (`heartbeat()` undefined), run as is.
 */
function leaseChecked(heartbeat: () => LeaseHeartbeat | undefined, handle: StepHandler): StepHandler {
  return async (step, log, signal) => {
    const lease = heartbeat();
    if (lease !== undefined && step.action.kind !== 'lock-release') await lease.check();
    return handle(step, log, signal);
  };
}

/**
 * Runs a prepared deploy or rollback and reports it; returns the exit code. When a deploy fails on
 * some hosts after others switched, those hosts are returned to the last completed release by a
 * planned rollback of just them (from the inputs already loaded), and the deploy's error is thrown:
 * ExternalError (rolled back), PartialFailure (hosts differ), or the failing step's error.
 */
export async function executeDeploy(
  session: Session,
  prepared: PreparedDeploy,
  options: DeployOptions,
): Promise<number> {
  const { plan, env, ledger } = prepared;
  const { model } = env;
  session.output.info(
    `Deploying ${model.project} ${plan.version} to ${model.environment} (release ${plan.releaseId})`,
  );
  const { result, durationMs } = await runRelease(session, prepared, options);

  if (result.ok) {
    reportDone(session, prepared, durationMs);
    return 0;
  }
  const error = result.error;
  const reason = error instanceof Error ? error.message : String(error);
  if (
    result.hostsDone.length > 0 &&
    result.hostsFailed.length > 0 &&
    plan.kind === 'deploy' &&
    options.autoRollback !== false &&
    model.rollout.autoRollback
  ) {
    // What the switched hosts ran before: a whole release, or a scoped one that ran on each of them.
    const target = lastGoodRelease(await ledger.list(model.environment), plan.releaseId, result.hostsDone);
    if (target !== undefined) {
      session.output.warn(
        `rollout failed on ${result.hostsFailed.join(', ')}: returning ${result.hostsDone.join(', ')} to release ${target.id} (version ${target.version})`,
      );
      await rollBackSwitched(session, prepared, target, result.hostsDone, options);
      throw new ExternalError(`deploy failed on ${result.hostsFailed.join(', ')}: ${reason}`, {
        details: [
          `${result.hostsDone.join(', ')} switched first and were rolled back to ${target.id} (version ${target.version})`,
        ],
        hint: 'every host serves the last good release again; fix the failure above and deploy again',
        cause: error,
      });
    }
  }
  // The last good release is what the hosts go back to; `--to-previous` from it would go one further.
  // A release of the whole environment: one limited to some hosts would leave the others as they are.
  const good = lastGoodRelease(await ledger.list(model.environment), plan.releaseId);
  throw releaseError(plan, result, good === undefined ? undefined : returnTo(good));
}

/** The recovery of a failed release: the command that returns every host to `good`. */
export function returnTo(good: ReleaseRecord): string {
  return `run \`stagecraft rollback --to-release ${good.id}\` to return every host to the last good release (version ${good.version})`;
}

/** The success line of a release (or its JSON event). */
function reportDone(session: Session, prepared: PreparedDeploy, durationMs: number): void {
  const { plan, env } = prepared;
  if (session.globals.json) {
    session.output.result(
      JSON.stringify({
        event: 'release',
        release: plan.releaseId,
        version: plan.version,
        status: 'completed',
      }),
    );
  } else {
    session.output.info(
      session.output.colors.green(
        `✓ ${plan.kind === 'rollback' ? 'Rolled back' : 'Deployed'} ${env.model.project} ${plan.version} to ${env.model.environment} in ${(durationMs / 1000).toFixed(1)}s (release ${plan.releaseId})`,
      ),
    );
  }
}

/**
 * The error a failed release run is reported with: PartialFailure (exit 10) when hosts now differ,
 * its hint ending with `recovery` (what returns every host to one release); the step's own error
 * when it carries an exit code; else ExternalError.
 */
export function releaseError(
  plan: Plan,
  result: RunResult,
  recovery = 'run `stagecraft rollback --to-previous` to return every host to the last good release',
): Error {
  const error = result.error;
  if (result.hostsDone.length > 0 && result.hostsFailed.length > 0) {
    return new PartialFailure(
      `${plan.kind} failed on ${result.hostsFailed.join(', ')} after completing on ${result.hostsDone.join(', ')}: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: `the release is recorded as failed; ${recovery}`,
        cause: error,
      },
    );
  }
  if (error instanceof Error && 'exitCode' in error) return error;
  return new ExternalError(`${plan.kind} failed in phase ${result.failedPhase}: ${String(error)}`, {
    cause: error,
  });
}

/**
 * The automatic rollback: a rollback plan for the hosts that switched, made from the failed deploy's
 * inputs (no second config, compose or address resolution), run like any release. Its own failure is
 * thrown (the hosts then differ).
 */
async function rollBackSwitched(
  session: Session,
  failed: PreparedDeploy,
  target: ReleaseRecord,
  hosts: string[],
  options: DeployOptions,
): Promise<void> {
  const back: DeployOptions = {
    rollbackOf: target,
    onlyHosts: hosts,
    message: `automatic rollback of ${hosts.join(', ')} after ${failed.plan.releaseId} failed`,
    ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
    ...(options.runners !== undefined ? { runners: options.runners } : {}),
  };
  const prepared = await planRelease(
    session,
    {
      env: failed.env,
      ledger: failed.ledger,
      hostAddresses: failed.hostAddresses,
      version: target.version,
      commit: target.commit_sha,
      immutable: true,
    },
    back,
  );
  session.output.info(
    `Deploying ${failed.env.model.project} ${prepared.plan.version} to ${failed.env.model.environment} (release ${prepared.plan.releaseId})`,
  );
  const { result, durationMs } = await runRelease(session, prepared, back);
  if (!result.ok) throw releaseError(prepared.plan, result, returnTo(target));
  reportDone(session, prepared, durationMs);
}
