// `stagecraft secrets sync`: resolves the environment's secrets from local sources (env files, the
// process environment, commands such as `op read …`) and hands them to the selected provider: env
// files on every host (`envfile`) or a secret store (`encore`). Values only ever travel as Secret: on
// stdin, into 0600 files; output names keys, never values.
import { parse } from 'yaml';
import { renderEnvFile, SPEC_HASH_LABEL } from '../compose/project.js';
import type { ComposeProject } from '../compose/types.js';
import type { HostModel } from '../model/environment.js';
import { releaseDir } from '../plan/deploy.js';
import { selectedAppProvider } from '../providers/app.js';
import {
  type HostFiles,
  type HostOutcome,
  hasChanges,
  isSecretsProvider,
  type SecretFile,
  type SecretsProvider,
} from '../providers/secrets/types.js';
import { formatTable } from '../render/table.js';
import { rolloutService } from '../rollout/replace.js';
import type { Runner } from '../runners/types.js';
import { acquireLock, releaseLock } from '../state/lock.js';
import { readSpecKey } from '../state/spec-key.js';
import type { ReleaseRecord } from '../state/types.js';
import { systemClock } from '../util/clock.js';
import { ExternalError, PartialFailure, UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';
import { type LoadedEnvironment, loadEnvironment, refuseOnSwarm } from './environment.js';
import { HostRunners, hostsInScope, oneLine, readHistory } from './fleet.js';
import {
  allKeysPath,
  keySpecs,
  pairsForKeys,
  patchCompose,
  resolveSecretValues,
  selectKeys,
  serviceSecretPairs,
} from './secret-files.js';
import type { Session } from './session.js';

export interface SecretsSyncOptions {
  /** Only these keys (names from secrets.keys); undefined: every key. */
  keys: string[] | undefined;
  restart: boolean;
}

function secretsProvider(id: string, catalogEntries: readonly { id: string }[]): SecretsProvider {
  const entry = catalogEntries.find((candidate) => candidate.id === id);
  if (!isSecretsProvider(entry as SecretsProvider | undefined)) {
    throw new UserError(`secrets provider "${id}" cannot sync secrets`, {
      hint: 'use secrets.provider envfile or encore',
    });
  }
  return entry as SecretsProvider;
}

interface HostPlan extends HostFiles {
  model: HostModel;
  /** Service → every pair its env file holds after the sync (what its spec hash covers). */
  servicePairs: Record<string, Record<string, string>>;
}

function planHostFiles(
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  release: ReleaseRecord | undefined,
  compose: ComposeProject,
  values: ReadonlyMap<string, Secret>,
  keys: string[] | undefined,
): HostPlan[] {
  const merge = keys !== undefined;
  const allKeys = Object.fromEntries([...values].map(([name, value]) => [name, value.reveal()]));
  return hosts.map((host) => {
    const files: SecretFile[] = [
      { path: allKeysPath(env), service: undefined, content: new Secret(renderEnvFile(allKeys)), merge },
    ];
    const services = release?.hosts[host.name]?.services ?? [];
    let pairs: Record<string, Record<string, string>> = {};
    if (release !== undefined && services.length > 0) {
      pairs = serviceSecretPairs(env, compose, services, values, release.images);
      for (const service of Object.keys(pairs).sort()) {
        const wanted = merge ? pairsForKeys(pairs[service]!, keys, values) : pairs[service]!;
        if (Object.keys(wanted).length === 0) continue;
        files.push({
          path: `${releaseDir(env.model, release.id)}/secrets/${service}.env`,
          service,
          content: new Secret(renderEnvFile(wanted)),
          merge,
        });
      }
    }
    return { host: host.name, runner: runners.get(host.name), files, model: host, servicePairs: pairs };
  });
}

/**
 * After the files: the compose file of the release on the host, updated for the services whose file
 * changed (service → its pairs now), their spec hashes keyed as a deploy keys them.
 */
async function updateCompose(
  env: LoadedEnvironment,
  runner: Runner,
  file: string,
  changed: Record<string, Record<string, string>>,
  specHashKey: () => Promise<string>,
): Promise<void> {
  if (Object.keys(changed).length === 0) return;
  const text = await runner.read(file);
  if (text === undefined) return;
  const hashInputs = {
    compose: env.compose,
    variables: env.loaded.variables,
    specHashKey: await specHashKey(),
  };
  await runner.upload(file, patchCompose(text, changed, hashInputs), 0o644);
}

interface Restarted {
  host: string;
  service: string;
  status: 'completed' | 'unchanged';
  outcome: string;
}

async function restartServices(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  release: ReleaseRecord,
  targets: { host: string; services: string[] }[],
): Promise<{ restarted: Restarted[]; failed: { host: string; error: string }[] }> {
  const { model } = env;
  const composeFile = `${releaseDir(model, release.id)}/compose.yml`;
  const restarted: Restarted[] = [];
  const failed: { host: string; error: string }[] = [];
  const lockRunner = runners.get(model.lockHost);
  const held = await acquireLock(lockRunner, {
    project: model.project,
    env: model.environment,
    version: release.version,
    message: 'secrets sync --restart',
    expiryMs: model.lockExpiryMs,
    clock: systemClock,
    pid: process.pid,
  });
  try {
    for (const target of targets) {
      const runner = runners.get(target.host);
      try {
        const text = await runner.read(composeFile);
        const document = text === undefined ? undefined : (parse(text) as ComposeProject);
        for (const service of model.services.filter((candidate) =>
          target.services.includes(candidate.name),
        )) {
          const specHash = document?.services?.[service.name]?.labels?.[SPEC_HASH_LABEL];
          if (specHash === undefined) continue;
          const routed = service.port !== undefined && service.domains.length > 0;
          const outcome = await rolloutService(
            {
              runner,
              project: model.composeProject,
              ingress: routed
                ? {
                    runner,
                    project: model.composeProject,
                    container: model.ingress.container,
                    network: model.ingress.network,
                  }
                : undefined,
              drainMs: model.rollout.drainMs,
              log: (line) => context.output.info(`  ${target.host} ${line}`),
            },
            {
              kind: 'rollout',
              service: service.name,
              strategy: service.strategy,
              replicas: service.replicas,
              specHash,
              composeFile,
              health: { timeoutMs: service.healthTimeoutMs, stableForMs: service.stableForMs },
              ...(routed ? { route: { domains: service.domains, port: service.port! } } : {}),
            },
          );
          context.output.info(
            `${outcome.status === 'unchanged' ? '·' : '✓'} ${target.host} ${service.name}: ${outcome.detail}`,
          );
          restarted.push({
            host: target.host,
            service: service.name,
            status: outcome.status,
            outcome: outcome.detail,
          });
        }
      } catch (error) {
        failed.push({ host: target.host, error: oneLine(error) });
      }
    }
  } finally {
    await releaseLock(lockRunner, { project: model.project, env: model.environment, held }).catch(
      () => undefined,
    );
  }
  return { restarted, failed };
}

/** A host path as a person reads it: `~/.stagecraft/…` for paths relative to the home folder. */
function displayPath(path: string): string {
  return path.startsWith('/') || path.startsWith('~') ? path : `~/${path}`;
}

function describeChanges(outcome: HostOutcome['files'][number]): string {
  const { added, changed, removed, unchanged } = outcome.changes;
  const parts = [
    ...(added.length > 0 ? [`added ${added.join(', ')}`] : []),
    ...(changed.length > 0 ? [`changed ${changed.join(', ')}`] : []),
    ...(removed.length > 0 ? [`removed ${removed.join(', ')}`] : []),
  ];
  if (parts.length === 0) return `unchanged (${unchanged.length} key${unchanged.length === 1 ? '' : 's'})`;
  return parts.join('; ');
}

/** Runs the sync; returns the exit code (throws PartialFailure / ExternalError when hosts failed). */
export async function syncSecrets(context: Session, options: SecretsSyncOptions): Promise<number> {
  let selected: string[] = [];
  let values = new Map<string, Secret>();
  const env = await loadEnvironment(context, 'deploy', async (loaded) => {
    if (loaded.config.secrets === undefined || (loaded.config.secrets.keys ?? []).length === 0) {
      throw new UserError('this project declares no secrets', {
        hint: 'list them under secrets.keys in stagecraft.yml (with secrets.provider: envfile or encore)',
      });
    }
    selected = selectKeys(
      keySpecs(loaded).map((spec) => spec.name),
      options.keys,
    );
    values = await resolveSecretValues(loaded, selected, context.env);
    return Object.fromEntries([...values].map(([name, value]) => [name, value.reveal()]));
  });
  refuseOnSwarm(env, 'secrets sync', 'a deploy writes the secrets into the stack: run `stagecraft deploy`');
  const { model, loaded } = env;
  const secrets = loaded.config.secrets!;
  const provider = secretsProvider(secrets.provider, loaded.catalog.providers.secrets);
  const providerConfig =
    (secrets.providers as Record<string, Record<string, unknown> | undefined> | undefined)?.[
      secrets.provider
    ] ?? {};
  // A store's CLI runs in the backend's app folder when the backend provider has one (Encore's).
  const backend = selectedAppProvider(loaded.catalog, 'backend', loaded.config.backend);
  const appDir = backend?.provider.appDir?.(backend.config, loaded.root);
  const request = {
    environment: model.environment,
    root: loaded.root,
    defaultWorkdir: appDir ?? loaded.root,
    config: providerConfig,
    values,
    hosts: [] as HostFiles[],
    parallelHosts: model.rollout.parallelHosts,
    dryRun: context.globals.dryRun,
    log: (line: string) => context.output.debug(line),
  };

  const dryRun = context.globals.dryRun;
  if (provider.destination === 'store') {
    if (options.restart)
      context.output.warn('--restart applies to the envfile provider only; nothing restarted');
    const outcome = await provider.sync(request);
    if (outcome.destination !== 'store') throw new Error('secrets provider returned host outcomes');
    if (context.globals.json) {
      context.output.json({
        provider: provider.id,
        environment: model.environment,
        store: outcome.store,
        dry_run: dryRun,
        set: outcome.set,
      });
    } else {
      context.output.result(
        `${dryRun ? 'Dry run: would set' : 'Set'} ${outcome.set.length} secret${outcome.set.length === 1 ? '' : 's'} in ${outcome.store}: ${outcome.set.join(', ')}`,
      );
    }
    return 0;
  }

  const hosts = hostsInScope(model, context.globals);
  const runners = new HostRunners(env);
  try {
    const history = await readHistory(context, env, runners);
    if (history.remoteError !== undefined) {
      context.output.warn(
        `release history from this machine only: could not read the ledger on ${model.lockHost}: ${history.remoteError}`,
      );
    }
    const release = history.current;
    if (release === undefined) {
      context.output.warn(
        `no completed release of ${model.environment} yet: writing ${allKeysPath(env)} only`,
      );
    }
    const plans = planHostFiles(
      env,
      runners,
      hosts,
      release,
      env.compose,
      values,
      options.keys === undefined ? undefined : selected,
    );
    const outcome = await provider.sync({ ...request, hosts: plans });
    if (outcome.destination !== 'hosts') throw new Error('secrets provider returned a store outcome');

    // The release's compose file follows the new env files (spec hash, env_file), host by host.
    let specKey: Promise<string> | undefined;
    const specHashKey = () =>
      (specKey ??= readSpecKey(runners.get(model.lockHost), model.project, model.environment));
    const failed = new Map<string, string>();
    const toRestart: { host: string; services: string[] }[] = [];
    for (const result of outcome.hosts) {
      if (result.error !== undefined) failed.set(result.host, result.error);
      const pairs = plans.find((plan) => plan.host === result.host)?.servicePairs ?? {};
      const changed: Record<string, Record<string, string>> = {};
      for (const file of result.files) {
        if (file.service !== undefined && file.written && pairs[file.service] !== undefined)
          changed[file.service] = pairs[file.service]!;
      }
      if (release !== undefined) {
        try {
          await updateCompose(
            env,
            runners.get(result.host),
            `${releaseDir(model, release.id)}/compose.yml`,
            changed,
            specHashKey,
          );
        } catch (error) {
          failed.set(result.host, oneLine(error));
        }
        const services = result.files.flatMap((file) => (file.service === undefined ? [] : [file.service]));
        if (services.length > 0 && !failed.has(result.host)) toRestart.push({ host: result.host, services });
      }
    }

    let restarted: Restarted[] = [];
    let restartError: unknown;
    if (options.restart && !dryRun && release !== undefined && toRestart.length > 0) {
      try {
        const done = await restartServices(context, env, runners, release, toRestart);
        restarted = done.restarted;
        for (const failure of done.failed) failed.set(failure.host, failure.error);
      } catch (error) {
        // The files are written; say what changed before reporting why nothing was restarted.
        restartError = error;
      }
    }

    if (context.globals.json) {
      context.output.json({
        provider: provider.id,
        environment: model.environment,
        release: release?.id ?? null,
        dry_run: dryRun,
        hosts: outcome.hosts.map((result) => ({
          host: result.host,
          ok: !failed.has(result.host),
          error: failed.get(result.host) ?? null,
          files: result.files.map((file) => ({
            path: file.path,
            service: file.service ?? null,
            written: file.written,
            ...file.changes,
          })),
        })),
        restarted,
      });
    } else {
      const rows = [['HOST', 'FOR', 'FILE', 'KEYS']];
      for (const result of outcome.hosts) {
        for (const file of result.files) {
          rows.push([result.host, file.service ?? 'all', displayPath(file.path), describeChanges(file)]);
        }
        if (failed.has(result.host)) rows.push([result.host, '-', '-', `FAILED: ${failed.get(result.host)}`]);
      }
      const written = outcome.hosts.flatMap((result) => result.files.filter((file) => file.written));
      const wouldWrite = outcome.hosts.flatMap((result) =>
        result.files.filter((file) => hasChanges(file.changes)),
      );
      const pending = outcome.hosts.flatMap((result) =>
        result.files
          .filter((file) => file.written && file.service !== undefined)
          .map((file) => `${result.host}/${file.service}`),
      );
      const lines = [
        `Secrets of ${model.project} ${model.environment} (envfile${release === undefined ? '' : `, release ${release.id}`}): ${selected.length} key${selected.length === 1 ? '' : 's'}`,
        '',
        formatTable(rows),
        '',
        dryRun
          ? `Dry run: ${wouldWrite.length} file${wouldWrite.length === 1 ? '' : 's'} would be written; nothing was changed.`
          : written.length === 0
            ? 'Nothing changed.'
            : `${written.length} file${written.length === 1 ? '' : 's'} written (0600).`,
      ];
      const replaced = restarted.filter((entry) => entry.status === 'completed');
      const current = restarted.filter((entry) => entry.status === 'unchanged');
      if (replaced.length > 0) {
        lines.push(
          `Restarted: ${replaced.map((entry) => `${entry.host}/${entry.service} (${entry.outcome})`).join(', ')}`,
        );
      }
      if (current.length > 0) {
        lines.push(
          `Already running these secrets: ${current.map((entry) => `${entry.host}/${entry.service}`).join(', ')}`,
        );
      }
      if (pending.length > 0 && (!options.restart || restartError !== undefined)) {
        lines.push(
          `Containers still run the old values: ${pending.join(', ')}; apply them with \`stagecraft secrets sync -e ${model.environment} --restart\` or the next deploy.`,
        );
      }
      context.output.result(lines.join('\n'));
    }

    if (restartError !== undefined) throw restartError;
    if (failed.size === 0) return 0;
    const message = `secrets sync failed on ${[...failed.keys()].join(', ')}: ${[...failed.values()][0]}`;
    const hint =
      'fix the host (see above) and run `stagecraft secrets sync` again; it only writes what differs';
    if (failed.size === hosts.length) throw new ExternalError(message, { hint });
    throw new PartialFailure(message, { hint });
  } finally {
    await runners.closeAll();
  }
}
