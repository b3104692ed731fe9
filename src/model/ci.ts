// What CI workflows need to know about a project, read from its validated stagecraft.yml by pure code:
// the environments CI deploys and their hosts, the variables secrets come from, the registry, the
// migrations. No I/O: the caller gives the config and where it sits in the repository.
import type { LoadedConfig } from '../config/load.js';
import type { Config, HostEntry } from '../config/schema.js';
import { isLoopbackRegistry } from '../docker/image.js';
import type {
  CiEnvironment,
  CiFacts,
  CiHost,
  CiMigration,
  CiRegistry,
  CiSecret,
} from '../providers/ci/types.js';
import { UserError } from '../util/errors.js';

export interface CiFactsInput {
  config: Config;
  stagecraftVersion: string;
  /** Folder of stagecraft.yml relative to the repository root (POSIX), `.` at the root. */
  workingDirectory: string;
  configFile: string;
  branch: string;
}

/**
 * The CI secret holding the content of an environment's `index`-th env file (0-based):
 * `STAGECRAFT_ENV_FILE_PRODUCTION`, then `…_2`, `…_3` for a list; other characters become `_`.
 */
export function envFileSecretName(environment: string, index: number): string {
  const base = `STAGECRAFT_ENV_FILE_${environment.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return index === 0 ? base : `${base}_${index + 1}`;
}

/** A variable name → the CI secret name that holds it: upper-cased, as GitHub stores secret names. */
export function secretNameFor(variable: string): string {
  return variable.toUpperCase();
}

/**
 * An environment's hosts, once each: a host listed under several roles counts once, and a bare name
 * (`db: [web1]`) is the host an entry with that name describes (`web: [{name: web1, address: …}]`),
 * as the environment model reads it.
 */
function hostsOf(config: Config, envName: string): CiHost[] {
  const env = config.environments[envName]!;
  const entries = Object.values(env.hosts ?? {}).flat() as HostEntry[];
  const described = new Map<string, Exclude<HostEntry, string>>();
  for (const entry of entries) if (typeof entry !== 'string') described.set(entry.name, entry);
  const byName = new Map<string, CiHost>();
  for (const entry of entries) {
    const spec = typeof entry === 'string' ? (described.get(entry) ?? { name: entry }) : entry;
    if (byName.has(spec.name)) continue;
    byName.set(spec.name, {
      name: spec.name,
      target: spec.address ?? spec.name,
      port: spec.port ?? env.ssh?.port ?? 22,
    });
  }
  return [...byName.values()];
}

function environmentsOf(config: Config, warnings: string[]): CiEnvironment[] {
  const result: CiEnvironment[] = [];
  for (const [name, env] of Object.entries(config.environments)) {
    if (env.driver !== 'ssh') continue;
    if (env.ssh?.proxy_jump !== undefined) {
      warnings.push(
        `environments.${name}.ssh.proxy_jump (${env.ssh.proxy_jump}): the runner must reach that jump host and have its key pinned too`,
      );
    }
    if (env.ssh?.config_file !== undefined) {
      warnings.push(
        `environments.${name}.ssh.config_file (${env.ssh.config_file}) is not on the CI runner unless it is in the repository`,
      );
    }
    const hosts = hostsOf(config, name);
    for (const host of hosts) {
      if (host.target === host.name && !/[.:]/.test(host.name) && host.name !== 'localhost') {
        warnings.push(
          `environments.${name}: host ${host.name} has no address and is not a DNS name; on the runner it must resolve (give it an address)`,
        );
      }
    }
    const envFiles = (
      env.env_file === undefined ? [] : Array.isArray(env.env_file) ? env.env_file : [env.env_file]
    ).map((path, index) => ({ path, secretName: envFileSecretName(name, index) }));
    result.push({ name, hosts, knownHostsFile: env.ssh?.known_hosts_file, envFiles });
  }
  return result;
}

function secretsOf(config: Config, warnings: string[]): CiSecret[] {
  const byVariable = new Map<string, CiSecret>();
  const add = (variable: string, source: string, key?: string) => {
    if (!byVariable.has(variable))
      byVariable.set(variable, { variable, secretName: secretNameFor(variable), source, key });
  };
  for (const [index, key] of (config.secrets?.keys ?? []).entries()) {
    const source = `secrets.keys[${index}]`;
    if (typeof key === 'string') add(key, source, key);
    else if (key.command !== undefined) {
      warnings.push(
        `secret ${key.name} takes its value from a command (${key.command[0]}); that command must work on the CI runner, or give the key from_env`,
      );
    } else add(key.from_env ?? key.name, source, key.name);
  }
  for (const [name, database] of Object.entries(config.databases ?? {})) {
    add(database.connection_env, `databases.${name}.connection_env`);
  }
  const secrets = [...byVariable.values()].sort((a, b) => a.secretName.localeCompare(b.secretName));
  const seen = new Map<string, string>();
  for (const secret of secrets) {
    if (secret.secretName.startsWith('GITHUB_')) {
      throw new UserError(
        `${secret.source}: ${secret.variable} cannot come from a CI secret: secret names must not start with GITHUB_`,
        { hint: `rename the variable, or give the key from_env with another variable name` },
      );
    }
    const other = seen.get(secret.secretName);
    if (other !== undefined) {
      throw new UserError(
        `${secret.source}: ${secret.variable} and ${other} differ only in case; CI secret names are case-insensitive`,
        { hint: 'rename one of them' },
      );
    }
    seen.set(secret.secretName, secret.variable);
  }
  return secrets;
}

/** `ghcr.io/acme/shop` → ghcr.io; `acme/shop` (no host part) → docker.io, as docker reads it. */
export function registryOf(registry: string | undefined): CiRegistry | undefined {
  if (registry === undefined || registry === '' || registry === 'none') return undefined;
  const first = registry.split('/')[0]!;
  const hasHost = registry.includes('/') && (/[.:]/.test(first) || first === 'localhost');
  const host = hasHost ? first : 'docker.io';
  return { host, loopback: isLoopbackRegistry(`${registry}/x`) };
}

function migrationsOf(config: Config): CiMigration[] {
  return Object.entries(config.databases ?? {})
    .filter(([, database]) => database.migrations !== undefined)
    .map(([name, database]) => ({
      database: name,
      engine: database.migrations!.engine,
      strategy: database.migrations!.strategy,
    }));
}

/**
 * The CI facts of a project. Throws UserError when the config has no environment CI can deploy
 * (driver ssh) or names a secret CI cannot hold.
 */
/**
 * The CI facts of a loaded config: `ciFacts` with the config taken from `loaded` (what operations
 * call: past model/ nothing reads the config itself). Throws as ciFacts does.
 */
export function ciFactsOf(
  loaded: Pick<LoadedConfig, 'config'>,
  input: Omit<CiFactsInput, 'config'>,
): CiFacts {
  return ciFacts({ ...input, config: loaded.config });
}

export function ciFacts(input: CiFactsInput): CiFacts {
  const { config } = input;
  const warnings: string[] = [];
  const environments = environmentsOf(config, warnings);
  if (environments.length === 0) {
    throw new UserError(
      'no environment for CI to deploy: every environment in stagecraft.yml uses driver local',
      {
        hint: 'add an environment with driver: ssh and its hosts (e.g. production), then run `stagecraft ci init` again',
      },
    );
  }
  const registry = registryOf(config.project.registry);
  if (registry?.loopback === true) {
    warnings.push(
      `project.registry ${config.project.registry} is on this machine; a CI runner cannot push there (set REGISTRY or use a real registry)`,
    );
  }
  return {
    project: config.project.name,
    stagecraftVersion: input.stagecraftVersion,
    workingDirectory: input.workingDirectory,
    configFile: input.configFile,
    branch: input.branch,
    environments,
    secrets: secretsOf(config, warnings),
    registry,
    migrations: migrationsOf(config),
    warnings,
  };
}
