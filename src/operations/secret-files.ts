// The values and files of `stagecraft secrets sync`: where each secret's value comes from, which
// `KEY="value"` pairs each service's env file holds, and the compose file of the restart release that
// writes them.
import { parse } from 'yaml';
import { dependencyOrder } from '../compose/analyze.js';
import {
  projectHostCompose,
  renderCompose,
  renderedServiceSpecHash,
  SPEC_HASH_LABEL,
} from '../compose/project.js';
import type { ComposeProject } from '../compose/types.js';
import { readDotenvFiles } from '../config/dotenv.js';
import type { LoadedConfig } from '../config/load.js';
import { projectModel, type SecretKeyModel } from '../model/project.js';
import { remoteDir } from '../plan/deploy.js';
import { runLocal } from '../runners/local.js';
import { didYouMean } from '../util/did-you-mean.js';
import { ExternalError, UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { RESOLVED_AT_DEPLOY, Secret } from '../util/secret.js';
import { type LoadedEnvironment, secretNames } from './environment.js';

/** `secrets.keys` of the loaded config (the project model's): each name and where its value comes from. */
export function keySpecs(loaded: LoadedConfig): SecretKeyModel[] {
  return projectModel(loaded).secrets?.keys ?? [];
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
 * With `commands: 'placeholder'` (a plan) no command runs: such keys get the placeholder text as value.
 */
export async function resolveSecretValues(
  loaded: LoadedConfig,
  names: readonly string[],
  processEnv: Record<string, string | undefined>,
  options: { commands: 'run' | 'placeholder'; placeholder?: string } = { commands: 'run' },
): Promise<Map<string, Secret>> {
  const project = projectModel(loaded);
  const specs = new Map((project.secrets?.keys ?? []).map((spec) => [spec.name, spec]));
  const sourceFile = project.secrets?.sourceFile;
  let source: Record<string, string> = {};
  if (sourceFile !== undefined) {
    const path = resolvePath(loaded.root, sourceFile);
    source = readDotenvFiles(
      [{ path, display: sourceFile }],
      processEnv,
      () =>
        new UserError(`cannot read secrets.providers.envfile.source_file ${path}: it does not exist`, {
          hint: 'create the file or fix the path in stagecraft.yml',
        }),
    );
  }
  const values = new Map<string, Secret>();
  const missing: string[] = [];
  for (const name of names) {
    const spec = specs.get(name) ?? { name, fromEnv: undefined, command: undefined };
    if (spec.command !== undefined && options.commands === 'placeholder') {
      // A plan runs no user command: the value is shown as what it is, not resolved.
      values.set(name, Secret.placeholder(options.placeholder ?? RESOLVED_AT_DEPLOY));
      continue;
    }
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
  refusePublicValues(loaded, values);
  if (missing.length > 0) {
    const envFile = project.environments[loaded.envName ?? '']?.envFile;
    throw new UserError(`no value for ${missing.length === 1 ? 'secret' : 'secrets'} ${missing.join(', ')}`, {
      hint: `set ${missing.length === 1 ? 'it' : 'them'} in the environment${typeof envFile === 'string' ? ` or ${envFile}` : ''}, or give the key a command in secrets.keys`,
    });
  }
  return values;
}

/**
 * Refuses a secret whose value is a name stagecraft.yml shows in clear (the project, an environment, a
 * service, a host): Stagecraft hides a secret's value wherever it prints it, so that name would read
 * `[redacted]` everywhere, which tells the value. Throws UserError naming the secret and the kind of
 * name it equals, never the value (nor the name).
 */
function refusePublicValues(loaded: LoadedConfig, values: ReadonlyMap<string, Secret>): void {
  const { config } = loaded;
  const names = new Map<string, string>([[config.project.name, 'the project name (project.name)']]);
  for (const [service] of Object.entries(config.services ?? {}))
    if (!names.has(service)) names.set(service, 'the name of a service');
  for (const [env, settings] of Object.entries(config.environments)) {
    if (!names.has(env)) names.set(env, 'the name of an environment');
    for (const entries of Object.values((settings.hosts ?? {}) as Record<string, { name?: string }[]>))
      for (const host of entries)
        if (host.name !== undefined && !names.has(host.name)) names.set(host.name, 'the name of a host');
  }
  for (const [secret, value] of values) {
    const what = names.get(value.reveal());
    if (what === undefined) continue;
    throw new UserError(`the value of secret ${secret} is ${what}, which stagecraft.yml shows in clear`, {
      hint: `give ${secret} a value of its own, or, if it is no secret (a user name), stop declaring it one: Stagecraft hides a secret's value wherever it prints it, so that name would read [redacted] everywhere and tell the value`,
    });
  }
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
    const settings = model.services.find((candidate) => candidate.name === service);
    const names = settings?.secrets ?? [];
    const environment: Record<string, string> = { ...settings?.environment };
    for (const name of names) {
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
  return projectModel(env.loaded).secrets?.targetFile ?? `${remoteDir(env.model)}/secrets.env`;
}

/**
 * The compose file of a restart release: the current release's, with each changed service (service →
 * the pairs its env file holds now) reading `secrets/<service>.env` and given the spec hash a deploy of
 * this release with these values records (keyed with the environment's spec-hash key, never a plain
 * hash of the file), so its containers show as outdated until `--restart` or the next deploy replaces
 * them, and a deploy after `--restart` finds them current. Other services stay byte for byte.
 */
export function patchCompose(
  text: string,
  changed: Record<string, Record<string, string>>,
  hashInputs: { compose: ComposeProject; variables?: Record<string, string>; specHashKey: string },
): string {
  const document = parse(text) as ComposeProject;
  const labelOf = (name: string) => document.services?.[name]?.labels?.[SPEC_HASH_LABEL];
  // Dependencies first: a service restarted with one (depends_on restart: true) hashes its new hash in.
  const order = dependencyOrder(
    document,
    Object.keys(changed).filter((service) => document.services?.[service] !== undefined),
  );
  for (const service of order) {
    const pairs = changed[service] ?? {};
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
    spec.labels = {
      ...(spec.labels ?? {}),
      [SPEC_HASH_LABEL]: renderedServiceSpecHash(spec, pairs, {
        ...hashInputs,
        specHashes: Object.fromEntries(
          Object.keys(document.services ?? {}).flatMap((name) => {
            const label = labelOf(name);
            return name === service || label === undefined ? [] : [[name, label]];
          }),
        ),
      }),
    };
  }
  return renderCompose(document).text;
}
