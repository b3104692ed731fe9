// The project as the commands that need no compose file see it (setup, infra, secrets, ci, doctor,
// context, ssh): each environment's connection settings, the bootstrap of new hosts, the secrets, the
// CI, cloud and network providers' settings, the gateway's ports, the databases' migration folders and
// the compose settings. Pure: built from a validated config, no I/O (the compose file is found by
// compose/read.ts from `compose.file`). With model/environment.ts (one environment resolved against
// its compose file) this is everything past model/ reads of stagecraft.yml.
import { PROVIDER_KINDS, type ProviderKind } from '../config/catalog.js';
import type { LoadedConfig } from '../config/load.js';
import type { Config, EnvironmentConfig, HostEntry } from '../config/schema.js';
import { InternalError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import type { IngressTlsModel } from './environment.js';
import { type MeshModel, meshModel } from './mesh.js';

/** `<kind>.provider` and `<kind>.providers` of a provider section, as configured. */
export interface ProviderSelection {
  provider: string;
  providers?: Record<string, unknown> | undefined;
}

/** One environment's settings that need no compose file. */
export interface EnvironmentSettings {
  name: string;
  driver: EnvironmentConfig['driver'];
  /** `environments.<name>.hosts` by role as written; undefined when it lists none (`infra up` makes them). */
  hosts: Record<string, HostEntry[]> | undefined;
  /** driver swarm: `environments.<name>.manager` as written (the first host when absent). */
  manager: string | undefined;
  /** `environments.<name>.ssh` (paths relative to the project folder, as written). */
  ssh: EnvironmentConfig['ssh'];
  /** `environments.<name>.env_file` as written (a file or a list). */
  envFile: EnvironmentConfig['env_file'];
  /** The user `setup` creates: infra.bootstrap.deploy_user, else the environment's non-root ssh.user, else "deploy". */
  deployUser: string;
}

/** One entry of `secrets.keys`: its name and where its value comes from (`from_env` or `command`). */
export interface SecretKeyModel {
  name: string;
  fromEnv: string | undefined;
  command: string[] | undefined;
}

/** The `secrets` section. */
export interface SecretsModel {
  /** `secrets.provider` (envfile, encore, …). */
  provider: string;
  /** `secrets.providers.<provider>`, `{}` when not given. */
  providerConfig: Record<string, unknown>;
  keys: SecretKeyModel[];
  /** `secrets.providers.envfile.source_file` when the provider is envfile (relative to the project). */
  sourceFile: string | undefined;
  /** `secrets.providers.envfile.target_file`: the all-keys file on the hosts, when given. */
  targetFile: string | undefined;
}

/** `infra.bootstrap`: how `setup` (and a cloud host's first boot) prepares a host, with defaults applied. */
export interface BootstrapModel {
  /** `ssh_user`: who setup connects as (default root). */
  sshUser: string;
  /** `public_key_file`, absolute; undefined: the environment's identity_file + .pub, else ~/.ssh's keys. */
  publicKeyFile: string | undefined;
  /** json-file log rotation: `log_max_size` (default 10m) and `log_max_file` (default "3"). */
  logMaxSize: string;
  logMaxFile: string;
}

/** The `cloud` section: the selected provider, its settings, and their key path for messages. */
export interface CloudModel {
  provider: string;
  /** `cloud.providers.<provider>`, `{}` when not given. */
  config: Record<string, unknown>;
  /** `cloud.providers.<provider>`, as messages name it. */
  configPath: string;
}

export interface ProjectModel {
  /** `project.name`. */
  project: string;
  /** The folder of stagecraft.yml. */
  root: string;
  /** `compose.file` as written (undefined: compose's default names), `profiles`, `strict` (default false). */
  compose: { file: string | undefined; profiles: string[] | undefined; strict: boolean };
  /** Every environment, in the config's order. */
  environments: Record<string, EnvironmentSettings>;
  /** The `secrets` section; undefined when the project has none. */
  secrets: SecretsModel | undefined;
  /** `ci.provider` (undefined without a ci section) and `ci.providers` (`{}` when not given). */
  ci: { provider: string | undefined; providers: Record<string, Record<string, unknown>> };
  cloud: CloudModel | undefined;
  /** The mesh hosts join (network.provider tailscale or headscale), whatever the environment's driver. */
  mesh: MeshModel | undefined;
  bootstrap: BootstrapModel;
  /** The gateway's ports and TLS as configured (defaults 80, 443, tls off). */
  ingress: { httpPort: number; httpsPort: number; tls: IngressTlsModel };
  /** Each provider section the config has (`<kind>.provider`, `<kind>.providers`), by kind. */
  providers: Partial<Record<ProviderKind, ProviderSelection>>;
  /** `databases`, in the config's order, with the folder of their migrations (relative to the project). */
  databases: { name: string; migrationsPath: string | undefined }[];
}

/** The deploy user of an environment: `deploy_user`, else a non-root ssh user, else "deploy". */
function deployUser(config: Config, env: EnvironmentConfig): string {
  const configured = config.infra?.bootstrap?.deploy_user;
  if (configured) return configured;
  const sshUser = env.ssh?.user;
  return sshUser && sshUser !== 'root' ? sshUser : 'deploy';
}

/** `ingress.tls` as the model keeps it (the schema requires both files for mode custom). */
export function ingressTlsModel(tls: NonNullable<Config['ingress']>['tls']): IngressTlsModel {
  if (tls === undefined || tls.mode === 'off') return { mode: 'off' };
  if (tls.mode === 'acme') {
    return { mode: 'acme', emailEnv: tls.email_env, ca: tls.acme_ca, caRootFile: tls.acme_ca_root };
  }
  return { mode: 'custom', certFile: tls.cert_file!, keyFile: tls.key_file! };
}

function providerSelections(config: Config): Partial<Record<ProviderKind, ProviderSelection>> {
  const selections: Partial<Record<ProviderKind, ProviderSelection>> = {};
  for (const kind of PROVIDER_KINDS) {
    const section = config[kind] as ProviderSelection | undefined;
    if (section === undefined) continue;
    selections[kind] = {
      provider: section.provider,
      ...(section.providers === undefined ? {} : { providers: section.providers }),
    };
  }
  return selections;
}

function secretsModel(config: Config): SecretsModel | undefined {
  const secrets = config.secrets;
  if (secrets === undefined) return undefined;
  const providers = secrets.providers as Record<string, Record<string, unknown> | undefined> | undefined;
  const envfile = providers?.['envfile'] as { source_file?: string; target_file?: string } | undefined;
  return {
    provider: secrets.provider,
    providerConfig: providers?.[secrets.provider] ?? {},
    keys: (secrets.keys ?? []).map((key) =>
      typeof key === 'string'
        ? { name: key, fromEnv: undefined, command: undefined }
        : { name: key.name, fromEnv: key.from_env, command: key.command },
    ),
    sourceFile: secrets.provider === 'envfile' ? envfile?.source_file : undefined,
    targetFile: envfile?.target_file,
  };
}

function cloudModel(config: Config): CloudModel | undefined {
  const cloud = config.cloud;
  if (cloud === undefined) return undefined;
  const providers = cloud.providers as Record<string, Record<string, unknown> | undefined> | undefined;
  return {
    provider: cloud.provider,
    config: providers?.[cloud.provider] ?? {},
    configPath: `cloud.providers.${cloud.provider}`,
  };
}

/**
 * The project model of a loaded, validated config: `{config, root}` in, a new ProjectModel out (cheap:
 * no I/O). Cannot fail: the schema has checked every value it reads.
 */
export function projectModel(loaded: Pick<LoadedConfig, 'config' | 'root'>): ProjectModel {
  const { config, root } = loaded;
  const bootstrap = config.infra?.bootstrap;
  const environments: Record<string, EnvironmentSettings> = {};
  for (const [name, env] of Object.entries(config.environments)) {
    environments[name] = {
      name,
      driver: env.driver,
      hosts: env.hosts as Record<string, HostEntry[]> | undefined,
      manager: env.manager,
      ssh: env.ssh,
      envFile: env.env_file,
      deployUser: deployUser(config, env),
    };
  }
  return {
    project: config.project.name,
    root,
    compose: {
      file: config.compose?.file,
      profiles: config.compose?.profiles,
      strict: config.compose?.strict === true,
    },
    environments,
    secrets: secretsModel(config),
    ci: {
      provider: config.ci?.provider,
      providers: (config.ci?.providers as Record<string, Record<string, unknown>> | undefined) ?? {},
    },
    cloud: cloudModel(config),
    mesh: meshModel(config),
    bootstrap: {
      sshUser: bootstrap?.ssh_user ?? 'root',
      publicKeyFile: bootstrap?.public_key_file ? resolvePath(root, bootstrap.public_key_file) : undefined,
      logMaxSize: bootstrap?.log_max_size ?? '10m',
      logMaxFile: String(bootstrap?.log_max_file ?? 3),
    },
    ingress: {
      httpPort: config.ingress?.http_port ?? 80,
      httpsPort: config.ingress?.https_port ?? 443,
      tls: ingressTlsModel(config.ingress?.tls),
    },
    providers: providerSelections(config),
    databases: Object.entries(config.databases ?? {}).map(([name, database]) => ({
      name,
      migrationsPath: database.migrations?.path,
    })),
  };
}

/**
 * The settings of environment `name`. Throws an InternalError for a name the config does not have
 * (the loader refuses an unknown --env, so that is our bug).
 */
export function environmentSettings(project: ProjectModel, name: string): EnvironmentSettings {
  const settings = project.environments[name];
  if (settings === undefined) throw new InternalError(`environment ${name} is not in the config`);
  return settings;
}
