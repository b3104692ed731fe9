// `stagecraft secrets sync`: resolves the environment's secrets from local sources (env files, the
// process environment, commands such as `op read …`) and hands them to the selected provider: env
// files on every host (`envfile`) or a secret store (`encore`). Values only ever travel as Secret: on
// stdin, into 0600 files; output names keys, never values.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { CommandContext } from '../cli/context.js';
import { sha256Hex } from '../compose/canonical.js';
import { projectHostCompose, renderCompose, renderEnvFile, SPEC_HASH_LABEL } from '../compose/project.js';
import type { ComposeProject } from '../compose/types.js';
import { parseDotenv } from '../config/dotenv.js';
import type { LoadedConfig } from '../config/load.js';
import type { SecretKeyConfig } from '../config/schema.js';
import type { HostModel } from '../model/environment.js';
import { releaseDir, remoteDir } from '../plan/deploy.js';
import type { HostFiles, HostOutcome, SecretFile, SecretsProvider } from '../providers/secrets/types.js';
import { isSecretsProvider } from '../providers/secrets/types.js';
import { rolloutService } from '../rollout/replace.js';
import { runLocal } from '../runners/local.js';
import type { Runner } from '../runners/types.js';
import { acquireLock, releaseLock } from '../state/lock.js';
import type { ReleaseRecord } from '../state/types.js';
import { systemClock } from '../util/clock.js';
import { didYouMean } from '../util/did-you-mean.js';
import { ExternalError, PartialFailure, UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { Secret } from '../util/secret.js';
import { type LoadedEnvironment, loadEnvironment, secretNames } from './environment.js';
import { HostRunners, hostsInScope, oneLine, readHistory } from './fleet.js';
import { formatTable } from './status.js';

export interface SecretsSyncOptions {
  /** Only these keys (names from secrets.keys); undefined: every key. */
  keys: string[] | undefined;
  restart: boolean;
}

interface KeySpec {
  name: string;
  fromEnv: string | undefined;
  command: string[] | undefined;
}

function keySpecs(loaded: LoadedConfig): KeySpec[] {
  return (loaded.config.secrets?.keys ?? []).map((key: SecretKeyConfig) =>
    typeof key === 'string'
      ? { name: key, fromEnv: undefined, command: undefined }
      : { name: key.name, fromEnv: key.from_env, command: key.command },
  );
}

/** The keys to sync: every declared key, or those of --keys (each must be declared). */
export function selectKeys(declared: readonly string[], requested: readonly string[] | undefined): string[] {
  if (requested === undefined) return [...declared];
  const unknown = requested.filter((name) => !declared.includes(name));
  if (unknown.length > 0) {
    const suggestion = didYouMean(unknown[0]!, declared);
    throw new UserError(
      `not a secret of this project: ${unknown.join(', ')}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
      { hint: `secrets.keys in stagecraft.yml declares: ${declared.join(', ') || 'nothing'}` },
    );
  }
  return [...new Set(requested)];
}

/** A command's stdout as a secret value: without the final newline `op read` and friends print. */
export function commandValue(stdout: string): string {
  return stdout.replace(/\r?\n$/, '');
}

/**
 * The value of each key: from its command (run here, in the project folder), else the variable
 * `from_env` or its own name: the process environment first, then the provider's `source_file`, then
 * the environment's env_file. Every missing key is reported at once; no value is ever in a message.
 */
export async function resolveSecretValues(
  loaded: LoadedConfig,
  names: readonly string[],
  processEnv: Record<string, string | undefined>,
): Promise<Map<string, Secret>> {
  const specs = new Map(keySpecs(loaded).map((spec) => [spec.name, spec]));
  const sourceFile = (loaded.config.secrets?.providers as { envfile?: { source_file?: string } } | undefined)
    ?.envfile?.source_file;
  let source: Record<string, string> = {};
  if (loaded.config.secrets?.provider === 'envfile' && sourceFile !== undefined) {
    const path = resolvePath(loaded.root, sourceFile);
    try {
      source = parseDotenv(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new UserError(
        `cannot read secrets.providers.envfile.source_file ${path}: ${(error as Error).message}`,
        {
          hint: 'create the file or fix the path in stagecraft.yml',
        },
      );
    }
  }
  const values = new Map<string, Secret>();
  const missing: string[] = [];
  for (const name of names) {
    const spec = specs.get(name) ?? { name, fromEnv: undefined, command: undefined };
    if (spec.command !== undefined) {
      const result = await runLocal(spec.command, {
        cwd: loaded.root,
        allowFailure: true,
        timeoutMs: 120_000,
      });
      if (result.exitCode !== 0) {
        // stderr only: stdout would be the value.
        const why = result.stderr.trim().split('\n').at(-1);
        throw new ExternalError(
          `the command for secret ${name} (${spec.command[0]}) exited with code ${result.exitCode}${why ? `: ${why}` : ''}`,
          { hint: `run it by hand in ${loaded.root} to see what it needs (for \`op read\`: \`op signin\`)` },
        );
      }
      const value = commandValue(result.stdout);
      if (value === '') missing.push(`${name} (its command printed nothing)`);
      else values.set(name, new Secret(value));
      continue;
    }
    const variable = spec.fromEnv ?? name;
    const value = processEnv[variable] ?? source[variable] ?? loaded.variables[variable];
    if (value === undefined || value === '')
      missing.push(variable === name ? name : `${name} (from ${variable})`);
    else values.set(name, new Secret(value));
  }
  if (missing.length > 0) {
    const envFile = loaded.config.environments[loaded.envName ?? '']?.env_file;
    throw new UserError(`no value for ${missing.length === 1 ? 'secret' : 'secrets'} ${missing.join(', ')}`, {
      hint: `set ${missing.length === 1 ? 'it' : 'them'} in the environment${typeof envFile === 'string' ? ` or ${envFile}` : ''}, or give the key a command in secrets.keys`,
    });
  }
  return values;
}

/**
 * The secret env pairs each service of a host reads (its `secrets/<service>.env`), as a deploy would
 * write them now: secret variables and values of the compose environment (a URL that embeds a
 * password included), plus the keys `services.<name>.secrets` gives it.
 */
export function serviceSecretPairs(
  env: LoadedEnvironment,
  compose: ComposeProject,
  services: string[],
  values: ReadonlyMap<string, Secret>,
  images: Record<string, string>,
): Record<string, Record<string, string>> {
  const { loaded, model } = env;
  const known = services.filter((service) => compose.services[service] !== undefined);
  if (known.length === 0) return {};
  const stagecraftServices: Record<string, { environment: Record<string, string> }> = {};
  for (const service of known) {
    const names = {
      ...loaded.config.services?.[service],
      ...loaded.config.environments[model.environment]?.services?.[service],
    }.secrets;
    const environment: Record<string, string> = {};
    for (const name of names ?? []) {
      const value = values.get(name)?.reveal() ?? loaded.variables[name];
      if (value !== undefined) environment[name] = value;
    }
    stagecraftServices[service] = { environment };
  }
  const projected = projectHostCompose({
    compose,
    composeProjectName: model.composeProject,
    services: known,
    images,
    secretValues: [...env.secretValues, ...[...values.values()].map((value) => value.reveal())],
    secretNames: secretNames(loaded),
    remoteServices: {},
    releaseLabels: {},
    stagecraftServices,
  });
  return projected.secretEnv;
}

/** Of a service's pairs, those --keys touches: the keys themselves and values built from them. */
export function pairsForKeys(
  pairs: Record<string, string>,
  keys: readonly string[],
  values: ReadonlyMap<string, Secret>,
): Record<string, string> {
  const selected = keys.map((key) => values.get(key)?.reveal()).filter((value) => value !== undefined);
  return Object.fromEntries(
    Object.entries(pairs).filter(
      ([key, value]) =>
        keys.includes(key) || selected.some((secret) => secret.length >= 4 && value.includes(secret)),
    ),
  );
}

/** The all-keys file on every host: the provider's target_file, else `~/.stagecraft/<project>-<env>/secrets.env`. */
export function allKeysPath(env: LoadedEnvironment): string {
  const target = (env.loaded.config.secrets?.providers as { envfile?: { target_file?: string } } | undefined)
    ?.envfile?.target_file;
  return target ?? `${remoteDir(env.model)}/secrets.env`;
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

/** A service's label in compose.yml after its env file changed: a new spec hash, so it rolls out. */
export function nextSpecHash(previous: string | undefined, fileSha256: string): string {
  return sha256Hex(`${previous ?? ''}\n${fileSha256}`);
}

/**
 * Points the release's compose file at the new env files: each changed service reads
 * `secrets/<service>.env` and gets a new spec hash (its containers now run outdated secrets, which
 * `status` shows and `--restart` or the next deploy replaces).
 */
export function patchCompose(text: string, changed: Record<string, string>): string {
  const document = parse(text) as ComposeProject;
  for (const [service, fileSha] of Object.entries(changed)) {
    const spec = document.services?.[service];
    if (spec === undefined) continue;
    const envFile = `secrets/${service}.env`;
    const files = Array.isArray(spec.env_file) ? [...(spec.env_file as unknown[])] : [];
    const present = files.some(
      (entry) =>
        entry === envFile ||
        (typeof entry === 'object' && entry !== null && (entry as { path?: string }).path === envFile),
    );
    if (!present) spec.env_file = [...files, envFile];
    const labels = { ...(spec.labels ?? {}) };
    labels[SPEC_HASH_LABEL] = nextSpecHash(labels[SPEC_HASH_LABEL], fileSha);
    spec.labels = labels;
  }
  return renderCompose(document).text;
}

interface HostPlan extends HostFiles {
  model: HostModel;
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
    if (release !== undefined && services.length > 0) {
      const pairs = serviceSecretPairs(env, compose, services, values, release.images);
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
    return { host: host.name, runner: runners.get(host.name), files, model: host };
  });
}

/** After the files: the compose file of the release on the host, updated for the services whose file changed. */
async function updateCompose(runner: Runner, file: string, changed: Record<string, string>): Promise<void> {
  if (Object.keys(changed).length === 0) return;
  const text = await runner.read(file);
  if (text === undefined) return;
  await runner.upload(file, patchCompose(text, changed), 0o644);
}

interface Restarted {
  host: string;
  service: string;
  status: 'completed' | 'unchanged';
  outcome: string;
}

async function restartServices(
  context: CommandContext,
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
                    container: `${model.composeProject}-ingress`,
                    network: `${model.composeProject}_ingress`,
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
export async function syncSecrets(context: CommandContext, options: SecretsSyncOptions): Promise<number> {
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
  const { model, loaded } = env;
  const secrets = loaded.config.secrets!;
  const { builtinProviders } = await import('../providers/index.js');
  const provider = secretsProvider(secrets.provider, builtinProviders().catalog().providers.secrets);
  const providerConfig =
    (secrets.providers as Record<string, Record<string, unknown> | undefined> | undefined)?.[
      secrets.provider
    ] ?? {};
  const encoreBackend =
    loaded.config.backend?.provider === 'encore-ts'
      ? (
          loaded.config.backend.providers as
            | Record<string, { build?: { workdir?: string }; dev?: { workdir?: string } }>
            | undefined
        )?.['encore-ts']
      : undefined;
  const backendWorkdir = encoreBackend?.build?.workdir ?? encoreBackend?.dev?.workdir;
  const request = {
    environment: model.environment,
    root: loaded.root,
    defaultWorkdir: backendWorkdir === undefined ? loaded.root : resolvePath(loaded.root, backendWorkdir),
    config: providerConfig,
    values,
    hosts: [] as HostFiles[],
    parallelHosts: model.rollout.parallelHosts,
    log: (line: string) => context.output.debug(line),
  };

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
        set: outcome.set,
      });
    } else {
      context.output.result(
        `Set ${outcome.set.length} secret${outcome.set.length === 1 ? '' : 's'} in ${outcome.store}: ${outcome.set.join(', ')}`,
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
    const failed = new Map<string, string>();
    const toRestart: { host: string; services: string[] }[] = [];
    for (const result of outcome.hosts) {
      if (result.error !== undefined) failed.set(result.host, result.error);
      const changed: Record<string, string> = {};
      for (const file of result.files) {
        if (file.service !== undefined && file.written && file.sha256 !== undefined)
          changed[file.service] = file.sha256;
      }
      if (release !== undefined) {
        try {
          await updateCompose(
            runners.get(result.host),
            `${releaseDir(model, release.id)}/compose.yml`,
            changed,
          );
        } catch (error) {
          failed.set(result.host, oneLine(error));
        }
        const services = result.files.flatMap((file) => (file.service === undefined ? [] : [file.service]));
        if (services.length > 0 && !failed.has(result.host)) toRestart.push({ host: result.host, services });
      }
    }

    let restarted: Restarted[] = [];
    if (options.restart && release !== undefined && toRestart.length > 0) {
      const done = await restartServices(context, env, runners, release, toRestart);
      restarted = done.restarted;
      for (const failure of done.failed) failed.set(failure.host, failure.error);
    }

    if (context.globals.json) {
      context.output.json({
        provider: provider.id,
        environment: model.environment,
        release: release?.id ?? null,
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
        written.length === 0
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
      if (pending.length > 0 && !options.restart) {
        lines.push(
          `Containers still run the old values: ${pending.join(', ')}; apply them with \`stagecraft secrets sync -e ${model.environment} --restart\` or the next deploy.`,
        );
      }
      context.output.result(lines.join('\n'));
    }

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
