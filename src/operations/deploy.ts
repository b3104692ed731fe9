import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { CommandContext } from '../cli/context.js';
import { sha256Hex } from '../compose/canonical.js';
import { SPEC_HASH_LABEL } from '../compose/project.js';
import { stepHandler } from '../engine/handlers.js';
import { type RunResult, runPlan } from '../engine/run.js';
import {
  type DeployPlanInput,
  HOOKS,
  type HookName,
  imageRefs,
  planDeploy,
  type ReusedCompose,
  releaseDir,
} from '../plan/deploy.js';
import { allSteps, type Plan, type PlannedTls } from '../plan/types.js';
import { planToJson, planToText } from '../render/plan.js';
import { progressRenderer } from '../render/progress.js';
import { createRunner, resolveHostAddress } from '../runners/factory.js';
import { LocalRunner } from '../runners/local.js';
import type { Runner } from '../runners/types.js';
import { appendRemoteLedger, isCompletedRelease, Ledger } from '../state/ledger.js';
import { acquireLock, releaseLock } from '../state/lock.js';
import { PHASES, type PhaseName, type ReleaseRecord } from '../state/types.js';
import { systemClock } from '../util/clock.js';
import { ExternalError, PartialFailure, UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { redact, Secret } from '../util/secret.js';
import { type LoadedEnvironment, loadEnvironment, secretNames } from './environment.js';
import { migrationRunner, plannedMigrations } from './migrations.js';
import { resolveSecretValues } from './secret-files.js';
import { resolveVersion } from './version.js';

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
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** IPs of the hosts, for services that reach a service on another host (compose extra_hosts). */
async function hostAddresses(env: LoadedEnvironment): Promise<Record<string, string>> {
  const { model, loaded } = env;
  if (model.driver === 'local') return {};
  const ssh = loaded.config.environments[model.environment]?.ssh;
  const entries = await Promise.all(
    model.hosts.map(async (host) => {
      if (IPV4.test(host.target)) return [host.name, host.target] as const;
      const resolved = await resolveHostAddress(
        { name: host.name, address: host.target, user: host.user, port: host.port },
        { driver: 'ssh', ssh, rootDir: loaded.root },
      );
      return [host.name, resolved] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * A rollback deploys the target release's own compose files again: read back from each host, checked
 * against the sha256 recorded in the release. A host whose file is gone or changed gets a compose file
 * rendered from today's config with the target's images instead (said in a warning).
 */
async function reusedComposeFiles(
  context: CommandContext,
  env: LoadedEnvironment,
  target: ReleaseRecord,
  onlyHosts: string[] | undefined,
): Promise<Record<string, ReusedCompose>> {
  const { model, loaded } = env;
  const reused: Record<string, ReusedCompose> = {};
  const ssh = loaded.config.environments[model.environment]?.ssh;
  await Promise.all(
    Object.entries(target.hosts)
      .filter(([host]) => onlyHosts === undefined || onlyHosts.includes(host))
      .map(async ([host, recorded]) => {
        const spec = model.hosts.find((candidate) => candidate.name === host);
        if (spec === undefined) return;
        const runner = createRunner(
          { name: spec.name, address: spec.target, user: spec.user, port: spec.port },
          { driver: model.driver, ssh, rootDir: loaded.root },
        );
        try {
          const text = await runner.read(`${releaseDir(model, target.id)}/compose.yml`);
          if (text === undefined || sha256Hex(text) !== recorded.compose_sha256) {
            context.output.warn(
              `${host}: the compose file of ${target.id} is ${text === undefined ? 'gone' : 'changed'}; rendering one from the current config with its images`,
            );
            return;
          }
          const services =
            (parse(text) as { services?: Record<string, { labels?: Record<string, string> }> }).services ??
            {};
          const specHashes: Record<string, string> = {};
          for (const [name, service] of Object.entries(services)) {
            const hash = service.labels?.[SPEC_HASH_LABEL];
            if (hash !== undefined) specHashes[name] = hash;
          }
          reused[host] = { releaseId: target.id, text, sha256: recorded.compose_sha256, specHashes };
        } finally {
          await runner.close().catch(() => undefined);
        }
      }),
  );
  return reused;
}

/** The secrets each service declares in stagecraft.yml, with their values (env files, process env, or a command). */
async function declaredServiceSecrets(
  context: CommandContext,
  env: LoadedEnvironment,
): Promise<Record<string, Record<string, string>>> {
  const { loaded, model } = env;
  const declared: Record<string, string[]> = {};
  for (const service of model.services) {
    const names = {
      ...loaded.config.services?.[service.name],
      ...loaded.config.environments[model.environment]?.services?.[service.name],
    }.secrets;
    if (names !== undefined && names.length > 0) declared[service.name] = names;
  }
  const values = await resolveSecretValues(
    loaded,
    [...new Set(Object.values(declared).flat())].sort(),
    context.env,
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
function findHooks(context: CommandContext, root: string): Partial<Record<HookName, string>> {
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
function ingressTls(env: LoadedEnvironment): PlannedTls {
  const tls = env.loaded.config.ingress?.tls;
  if (tls === undefined || tls.mode === 'off') return { mode: 'off' };
  if (tls.mode === 'acme') {
    const email = tls.email_env === undefined ? undefined : env.loaded.variables[tls.email_env];
    return { mode: 'acme', ...(email ? { email } : {}) };
  }
  const read = (key: 'cert_file' | 'key_file') => {
    const path = resolvePath(env.loaded.root, tls[key]!);
    try {
      return readFileSync(path, 'utf8');
    } catch {
      throw new UserError(`ingress.tls.${key} ${tls[key]} cannot be read (${path})`, {
        hint: 'point it at a PEM file, relative to the project folder',
      });
    }
  };
  return { mode: 'custom', certificate: read('cert_file'), key: new Secret(read('key_file')) };
}

export interface PreparedDeploy {
  env: LoadedEnvironment;
  plan: Plan;
  commit: string;
  ledger: Ledger;
  hostAddresses: Record<string, string>;
}

/** Everything up to the plan: pure but for reading config, compose, git and the ledger. */
export async function prepareDeploy(
  context: CommandContext,
  options: DeployOptions,
): Promise<PreparedDeploy> {
  const target = options.rollbackOf;
  let resolved = { version: 'unknown', commit: '' };
  const env = await loadEnvironment(context, 'deploy', async (loaded) => {
    resolved = target
      ? { version: target.version, commit: target.commit_sha }
      : await resolveVersion(loaded.root, options.version);
    return { STAGECRAFT_VERSION: resolved.version };
  });
  const { version, commit } = resolved;
  const ledger = new Ledger({ projectRoot: env.loaded.root, env: context.env });
  const addresses = await hostAddresses(env);
  const input: DeployPlanInput = {
    model: env.model,
    compose: env.compose,
    version,
    releaseId: await ledger.newReleaseId(systemClock),
    kind: target ? 'rollback' : 'deploy',
    ...(target
      ? {
          images: target.images,
          reuse: await reusedComposeFiles(context, env, target, options.onlyHosts ?? context.globals.hosts),
        }
      : {}),
    skipBuild: target
      ? `rollback to ${target.id} reuses its images`
      : options.skipBuild
        ? '--skip-build'
        : undefined,
    hostAddresses: addresses,
    secretValues: env.secretValues,
    secretNames: secretNames(env.loaded),
    ...(target ? {} : { serviceSecrets: await declaredServiceSecrets(context, env) }),
    hooks: findHooks(context, env.loaded.root),
    ingressTls: ingressTls(env),
    projectDir: env.loaded.root,
    readProjectFile: (relative) => readFileSync(join(env.loaded.root, relative)),
    migrations: target || options.skipMigrations === true ? [] : plannedMigrations(env),
    message: options.message ?? (target ? `rollback to ${target.id}` : `deploy ${version}`),
    ...((options.onlyHosts ?? context.globals.hosts)
      ? { onlyHosts: options.onlyHosts ?? context.globals.hosts }
      : {}),
    ...(context.globals.services ? { onlyServices: context.globals.services } : {}),
  };
  return { env, plan: planDeploy(input), commit, ledger, hostAddresses: addresses };
}

export function printPlan(context: CommandContext, plan: Plan, format: 'text' | 'json'): void {
  if (format === 'json' || context.globals.json) context.output.json(planToJson(plan));
  else context.output.result(planToText(plan, context.output.colors));
}

function newRecord(
  prepared: PreparedDeploy,
  options: DeployOptions,
  previousId: string | undefined,
): ReleaseRecord {
  const { plan, env } = prepared;
  const hosts: ReleaseRecord['hosts'] = {};
  for (const step of allSteps(plan)) {
    if (step.action.kind === 'upload' && step.action.file === 'compose' && step.host) {
      hosts[step.host.name] = {
        compose_sha256: step.action.sha256 ?? '',
        services: env.model.services
          .filter((service) => service.hosts.includes(step.host!.name))
          .map((service) => service.name),
      };
    }
  }
  return {
    id: plan.releaseId,
    environment: plan.environment,
    version: plan.version,
    commit_sha: prepared.commit,
    timestamp: systemClock.now().toISOString(),
    phases: Object.fromEntries(PHASES.map((phase) => [phase, 'pending'])) as ReleaseRecord['phases'],
    ...(previousId ? { previous_id: previousId } : {}),
    kind: plan.kind,
    ...(options.rollbackOf ? { rollback_of: options.rollbackOf.id } : {}),
    images: options.rollbackOf?.images ?? imageRefs(env.model, plan.version),
    hosts,
    deployer: { user: userInfo().username, machine: hostname(), ci: process.env['CI'] === 'true' },
    message:
      options.message ??
      (options.rollbackOf ? `rollback to ${options.rollbackOf.id}` : `deploy ${plan.version}`),
  };
}

/** Runs a prepared plan and records the release; returns the exit code. */
export async function executeDeploy(
  context: CommandContext,
  prepared: PreparedDeploy,
  options: DeployOptions,
): Promise<number> {
  const { plan, env, ledger } = prepared;
  const { model, loaded } = env;
  const sshSettings = loaded.config.environments[model.environment]?.ssh;
  const runners = new Map<string, Runner>();
  const local = new LocalRunner({ cwd: loaded.root });
  const runnerFor = (host: string | undefined): Runner => {
    if (host === undefined) return local;
    let runner = runners.get(host);
    if (runner === undefined) {
      const spec = model.hosts.find((candidate) => candidate.name === host)!;
      runner = createRunner(
        { name: spec.name, address: spec.target, user: spec.user, port: spec.port },
        { driver: model.driver, ssh: sshSettings, rootDir: loaded.root },
      );
      runners.set(host, runner);
    }
    return runner;
  };

  const previous = (await ledger.list(model.environment))[0];
  const record = newRecord(prepared, options, previous?.id);
  await ledger.create(record);
  const started = Date.now();
  const pushed: Record<string, string> = {};
  const applied: Record<string, string[]> = {};
  const lockRunner = runnerFor(model.lockHost);
  const render = progressRenderer(context.output);
  const abort = new AbortController();
  const onSignal = () => abort.abort(new UserError('interrupted'));
  // `on`, not `once`: execa's signal-exit handler re-raises a signal when no other listener is left.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  context.output.info(
    `Deploying ${model.project} ${plan.version} to ${model.environment} (release ${plan.releaseId})`,
  );
  let result: RunResult;
  try {
    result = await runPlan(plan, {
      handle: stepHandler({
        model,
        runner: runnerFor,
        pushed,
        lock: {
          acquire: async (runner, message) => {
            await acquireLock(runner, {
              project: model.project,
              env: model.environment,
              version: plan.version,
              message,
              expiryMs: model.lockExpiryMs,
              waitMs: options.lockWaitMs ?? 0,
              clock: systemClock,
              pid: process.pid,
            });
          },
          release: async (runner) => {
            await releaseLock(runner, { project: model.project, env: model.environment });
          },
        },
        migrate: migrationRunner(env, plan, prepared.hostAddresses, applied),
        record: async () => {
          const images = { ...record.images, ...pushed };
          const migrations = Object.keys(applied).length > 0 ? { migrations: applied } : {};
          await ledger.update(record.id, { images, ...migrations });
          await appendRemoteLedger(lockRunner, model.project, model.environment, {
            ...record,
            images,
            ...migrations,
          }).catch((error: Error) =>
            context.output.warn(
              `could not append the release to the ledger on ${lockRunner.name}: ${error.message}`,
            ),
          );
        },
      }),
      emit: render,
      onPhase: async (phase: PhaseName, status) => {
        record.phases[phase] = status;
        await ledger.setPhase(record.id, phase, status);
      },
      parallelHosts: model.rollout.parallelHosts,
      canary: model.rollout.canary,
      signal: abort.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
  if (result.ok) {
    await appendRemoteLedger(lockRunner, model.project, model.environment, { ...record, ...final }).catch(
      () => undefined,
    );
  }
  await Promise.all([...runners.values()].map((runner) => runner.close().catch(() => undefined)));

  if (result.ok) {
    if (context.globals.json) {
      context.output.result(
        JSON.stringify({
          event: 'release',
          release: plan.releaseId,
          version: plan.version,
          status: 'completed',
        }),
      );
    } else {
      context.output.info(
        context.output.colors.green(
          `✓ ${plan.kind === 'rollback' ? 'Rolled back' : 'Deployed'} ${model.project} ${plan.version} to ${model.environment} in ${((Date.now() - started) / 1000).toFixed(1)}s (release ${plan.releaseId})`,
        ),
      );
    }
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
    const target = (await ledger.list(model.environment)).find(
      (release) => release.id !== plan.releaseId && isCompletedRelease(release),
    );
    if (target !== undefined) {
      context.output.warn(
        `rollout failed on ${result.hostsFailed.join(', ')}: returning ${result.hostsDone.join(', ')} to release ${target.id} (version ${target.version})`,
      );
      const back = {
        rollbackOf: target,
        onlyHosts: result.hostsDone,
        message: `automatic rollback of ${result.hostsDone.join(', ')} after ${plan.releaseId} failed`,
      };
      await executeDeploy(context, await prepareDeploy(context, back), back);
      throw new ExternalError(`deploy failed on ${result.hostsFailed.join(', ')}: ${reason}`, {
        details: [
          `${result.hostsDone.join(', ')} switched first and were rolled back to ${target.id} (version ${target.version})`,
        ],
        hint: 'every host serves the last good release again; fix the failure above and deploy again',
        cause: error,
      });
    }
  }
  if (result.hostsDone.length > 0 && result.hostsFailed.length > 0) {
    throw new PartialFailure(
      `${plan.kind} failed on ${result.hostsFailed.join(', ')} after completing on ${result.hostsDone.join(', ')}: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: 'the release is recorded as failed; run `stagecraft rollback --to-previous` to return every host to the last good release',
        cause: error,
      },
    );
  }
  if (error instanceof Error && 'exitCode' in error) throw error;
  throw new ExternalError(`${plan.kind} failed in phase ${result.failedPhase}: ${String(error)}`, {
    cause: error,
  });
}
