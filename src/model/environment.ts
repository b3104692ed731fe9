import {
  composeReplicas,
  defaultRolloutStrategy,
  dependencyOrder,
  healthcheckTimings,
  healthVerdictBudgetMs,
  imageHealthcheckTimings,
} from '../compose/analyze.js';
import { compareStrings } from '../compose/canonical.js';
import type { ComposeLocator } from '../compose/locate.js';
import type { ComposeProject } from '../compose/types.js';
import { type ProviderCatalog, selectedProvider } from '../config/catalog.js';
import type { LoadedConfig } from '../config/load.js';
import {
  type Config,
  type EnvironmentConfig,
  type HostEntry,
  type ServiceConfig,
  splitRouteDomain,
} from '../config/schema.js';
import { sameImage } from '../docker/image.js';
import { gatewayName } from '../ingress/gateway-name.js';
import type { AppProvider } from '../providers/app.js';
import { parseByteSize } from '../util/byte-size.js';
import { didYouMean } from '../util/did-you-mean.js';
import { formatDurationSetting, parseDuration } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { hostTarget, type MeshModel, magicDnsName, meshModel, meshTags } from './mesh.js';
import { type MigrationsModel, migrationsModel } from './migrations.js';
import { ingressTlsModel } from './project.js';
import { swarmProblems } from './swarm.js';
import { crossServiceFindings } from './validate.js';

export interface HostModel {
  name: string;
  /** What ssh connects to: the address, or the name (an ssh_config alias or DNS name). */
  target: string;
  user: string | undefined;
  port: number | undefined;
  roles: string[];
  /**
   * With the mesh on: where `setup` connects before the host has joined (the environment's or the cloud's
   * address, else the name), when it differs from `target`.
   */
  setupTarget?: string;
  /** With the mesh on: the host's MagicDNS name and the tags it advertises. */
  mesh?: { name: string; tags: string[] };
}

export interface BuildSpec {
  /** True for a compose `build:` section: built with `docker compose build`, every build key kept. */
  fromCompose: boolean;
  context: string;
  dockerfile: string | undefined;
  target: string | undefined;
  args: Record<string, string>;
  /**
   * The built services whose images this build uses (it depends_on them, or its Dockerfile builds
   * FROM their compose image name), sorted: they are built first. Absent when none.
   */
  after?: string[];
  /**
   * A provider's build (not compose's): the compose service's `platform`, which the image is built
   * for (`docker build --platform`), as `docker compose build` does. Compose builds keep their own.
   */
  platform?: string;
}

/** One of a service's `routes`: another container port, with its own domains and route settings. */
export interface ExtraRouteModel {
  port: number;
  domains: string[];
  path?: string;
  stripPath?: boolean;
  maxBodyBytes?: number;
}

export interface ServiceModel {
  name: string;
  role: string;
  hosts: string[];
  /** Set when Stagecraft builds this service's image. */
  build: BuildSpec | undefined;
  /** Image repository for built services (`<registry>/<project>-<service>`), else the compose image. */
  image: string;
  /**
   * The built service whose image this one runs: its compose `image:` is the one that service's
   * `build` tags (`web: {build: ., image: acme/shop}` and `worker: {image: acme/shop}`), so it runs
   * what the release built, as compose does. Set only on services without `build`.
   */
  imageFrom?: string;
  strategy: 'start-first' | 'stop-first' | 'recreate';
  replicas: number;
  port: number | undefined;
  /** Host names the gateway routes to the service (`*`: every other request), without path prefixes. */
  domains: string[];
  /** The path prefix of its route (`/api`), from `path` or domains written as `example.com/api`. */
  path?: string;
  /** With `path`: whether the gateway strips the prefix before the service sees the request (default true). */
  stripPath?: boolean;
  /** `max_body` in bytes: the gateway answers 413 to a larger request body. */
  maxBodyBytes?: number;
  /** `basic_auth`: the user and the name of the secret holding the password (never the value). */
  basicAuth?: { user: string; passwordSecret: string };
  /** `routes`: more routes to other container ports of the service, besides `port` and `domains`. */
  extraRoutes: ExtraRouteModel[];
  hasHealthcheck: boolean;
  /**
   * A one-shot service (a migration or seed job): `restart: "no"` in the compose file, or another
   * service waits for it with `condition: service_completed_successfully`. It runs to completion on
   * every deploy (exit 0 = success) instead of being rolled out.
   */
  job: boolean;
  /**
   * How long the rollout waits for new containers to be healthy: rollout.health_timeout when set,
   * else the longer of 2 minutes and what the compose health check allows (healthVerdictBudgetMs).
   */
  healthTimeoutMs: number;
  stableForMs: number;
  /** Names of the secrets the service declares (`services.<name>.secrets`): they go to its 0600 env file. */
  secrets: string[];
  /**
   * `services.<name>.environment` of stagecraft.yml (the environment's block over the project's, key
   * by key): set on top of the compose file's environment; secret ones go to the 0600 env file.
   */
  environment?: Record<string, string>;
  /** `stop_timeout` of stagecraft.yml: the containers' stop_grace_period. */
  stopTimeout?: string;
}

/** `ingress.tls` as configured (files not read: paths relative to the project folder). */
export type IngressTlsModel =
  | { mode: 'off' }
  | {
      mode: 'acme';
      emailEnv: string | undefined;
      /** The ACME directory URL; undefined: Caddy's default (Let's Encrypt, ZeroSSL as fallback). */
      ca: string | undefined;
      /** PEM file of the CA behind the directory's HTTPS (a private ACME CA), relative to the project. */
      caRootFile: string | undefined;
    }
  | { mode: 'custom'; certFile: string; keyFile: string };

export interface EnvironmentModel {
  project: string;
  environment: string;
  /** local: this machine; ssh: each host over SSH; swarm: a Docker Swarm of the hosts, through its manager. */
  driver: 'local' | 'ssh' | 'swarm';
  composeProject: string;
  /** Prefix of built images (`ghcr.io/acme`); undefined without one (unset or `none`): driver ssh sends images over SSH. */
  registry: string | undefined;
  /** `project.registry_cache`: builds read and refresh `<image>:buildcache` (default with a registry and remote hosts). */
  registryCache: boolean;
  hosts: HostModel[];
  /** Services in dependency order. */
  services: ServiceModel[];
  lockHost: string;
  /**
   * driver swarm: the manager host (reached over SSH; it holds the lock and the ledger) and the stack
   * name (`<project>-<env>`, as the compose project). Undefined for the other drivers.
   */
  swarm: { manager: string; stack: string } | undefined;
  /** How runners reach the hosts: the driver, the environment's `ssh:` block, the project root (for relative key paths). */
  connection: {
    driver: 'local' | 'ssh';
    ssh: EnvironmentConfig['ssh'];
    rootDir: string;
  };
  /**
   * The gateway: `container` and `network` are the names it runs under on every host, shared by every
   * app and environment that listens on the same ports there (`gatewayName`). `legacy` names the
   * gateway of one app and environment that versions before the shared gateway ran.
   */
  ingress: {
    provider: string;
    image: string;
    httpPort: number;
    httpsPort: number;
    container: string;
    network: string;
    legacy: { container: string; network: string };
    tls: IngressTlsModel;
  };
  rollout: {
    parallelHosts: number;
    /** Steps (service rollouts, uploads) run at once on one host when the dependency graph allows. */
    parallelServices: number;
    canary: boolean;
    autoRollback: boolean;
    drainMs: number;
  };
  lockExpiryMs: number;
  /** `releases`: how many releases stay on the hosts, and how old unused build cache may get (ms). */
  releases: { retain: number; buildCacheMaxAgeMs: number };
  /** `require_confirmation`: deploys to this environment ask first (unless --yes). */
  requireConfirmation: boolean;
  /** The environment's migrations: settings and one target per database with a `migrations` block. */
  migrations: MigrationsModel;
  /** The mesh hosts join (network.provider tailscale or headscale); undefined without one or for driver local. */
  mesh?: MeshModel;
  /** Things plan shows but that do not stop it (e.g. a health_timeout shorter than the health check needs). */
  warnings: string[];
}

const LOCAL_HOST = 'local';
/**
 * Services rolled out at once on one host by default. Services that roll out together share their
 * reads and their `compose up` (rollout/host-batch.ts); the SSH runner runs at most SSH_SESSIONS
 * commands at once over the host's connection (sshd's MaxSessions is 10), whatever this says.
 */
const DEFAULT_PARALLEL_SERVICES = 16;
/** The rollout's health wait when neither rollout.health_timeout nor a longer health check says otherwise. */
const DEFAULT_HEALTH_TIMEOUT_MS = 120_000;

/** A host `infra up` made (state/infra.ts), for environments that list no hosts of their own. */
export interface CloudHostEntry {
  name: string;
  role: string;
  address: string;
}

function hostsOf(
  env: EnvironmentConfig,
  cloudHosts: CloudHostEntry[] | undefined,
  mesh: MeshModel | undefined,
): HostModel[] {
  const byName = new Map<string, HostModel>();
  const roles: Record<string, HostEntry[]> = env.hosts ?? {};
  /** Cloud hosts' public addresses: setup's way in; with the mesh, deploys use the MagicDNS name. */
  const cloudAddress = new Map<string, string>();
  if (env.hosts === undefined) {
    for (const host of cloudHosts ?? []) {
      cloudAddress.set(host.name, host.address);
      roles[host.role] = [
        ...(roles[host.role] ?? []),
        mesh === undefined ? { name: host.name, address: host.address } : { name: host.name },
      ];
    }
  }
  for (const [role, entries] of Object.entries(roles)) {
    for (const entry of entries as HostEntry[]) {
      const spec = typeof entry === 'string' ? { name: entry } : entry;
      const existing = byName.get(spec.name);
      if (existing) {
        if (!existing.roles.includes(role)) existing.roles.push(role);
        continue;
      }
      const target = hostTarget(spec, mesh);
      const setupTarget = spec.address ?? cloudAddress.get(spec.name) ?? spec.name;
      byName.set(spec.name, {
        name: spec.name,
        target,
        user: spec.user ?? env.ssh?.user,
        port: spec.port ?? env.ssh?.port,
        roles: [role],
        ...(mesh === undefined
          ? {}
          : {
              mesh: { name: magicDnsName(spec.name, mesh.tailnetDomain), tags: [] },
              ...(setupTarget !== target ? { setupTarget } : {}),
            }),
      });
    }
  }
  const all = [...byName.values()];
  if (mesh !== undefined) for (const host of all) host.mesh!.tags = meshTags(mesh, host.roles);
  return all;
}

/** A service's settings: the project's `services.<name>` with the environment's block over it (shallow). */
export function serviceSettings(
  config: Config,
  env: EnvironmentConfig | undefined,
  name: string,
): ServiceConfig {
  return { ...config.services?.[name], ...env?.services?.[name] };
}

/** `services.<name>.environment` of the project's block with the environment's block over it, if any. */
function configuredEnvironment(
  config: Config,
  env: EnvironmentConfig | undefined,
  name: string,
): { environment?: Record<string, string> } {
  const environment = { ...config.services?.[name]?.environment, ...env?.services?.[name]?.environment };
  return Object.keys(environment).length === 0 ? {} : { environment };
}

/**
 * A service's route beyond its port (issue 15.4), from its merged settings: the domains without path
 * prefixes, the one prefix they take (or `path`), strip_path, max_body in bytes and basic_auth. The
 * problems name the keys (a prefix that differs between the project's block and the environment's).
 */
export function routeSettings(
  name: string,
  settings: ServiceConfig,
): {
  domains: string[];
  options: Pick<ServiceModel, 'path' | 'stripPath' | 'maxBodyBytes' | 'basicAuth'>;
  problems: string[];
} {
  const problems: string[] = [];
  const entries = (settings.domains ?? []).map(splitRouteDomain);
  const prefixes = [...new Set(entries.map((entry) => entry.path ?? ''))];
  const path = settings.path ?? entries[0]?.path;
  const conflicting =
    settings.path !== undefined &&
    entries.some((entry) => entry.path !== undefined && entry.path !== settings.path);
  if (settings.path === undefined ? prefixes.length > 1 : conflicting) {
    problems.push(
      `service ${name}: its domains (${(settings.domains ?? []).join(', ')})${settings.path === undefined ? '' : ` and path ${settings.path}`} do not take one path prefix: a service has one (route another prefix to another service)`,
    );
  }
  if (settings.strip_path !== undefined && path === undefined) {
    problems.push(
      `service ${name}: strip_path applies to a path prefix: set services.${name}.path (or write its domains as example.com/api), or remove strip_path`,
    );
  }
  const options: Pick<ServiceModel, 'path' | 'stripPath' | 'maxBodyBytes' | 'basicAuth'> = {};
  if (path !== undefined) {
    options.path = path;
    options.stripPath = settings.strip_path ?? true;
  }
  if (settings.max_body !== undefined) options.maxBodyBytes = parseByteSize(settings.max_body);
  if (settings.basic_auth !== undefined) {
    options.basicAuth = {
      user: settings.basic_auth.user,
      passwordSecret: settings.basic_auth.password_secret,
    };
  }
  return { domains: [...new Set(entries.map((entry) => entry.host))], options, problems };
}

/** The build of a service: its compose `build:`, or a backend/frontend provider's build section. */
function buildSpecOf(
  config: Config,
  compose: ComposeProject,
  name: string,
  root: string,
  catalog: ProviderCatalog,
): BuildSpec | undefined {
  const composeBuild = compose.services[name]?.build;
  if (composeBuild !== undefined) {
    const args: Record<string, string> = {};
    for (const [key, value] of Object.entries(composeBuild.args ?? {})) if (value !== null) args[key] = value;
    const context = resolvePath(root, composeBuild.context);
    return {
      fromCompose: true,
      context,
      dockerfile:
        composeBuild.dockerfile === undefined ? undefined : resolvePath(context, composeBuild.dockerfile),
      target: composeBuild.target,
      args,
    };
  }
  for (const kind of ['backend', 'frontend'] as const) {
    const selected = selectedProvider(catalog, kind, config[kind]);
    const build = (selected?.entry as AppProvider | undefined)?.build?.(selected?.config, root);
    if (build?.service === name) {
      const { service: _service, ...spec } = build;
      const platform = compose.services[name]?.['platform'];
      return { ...spec, fromCompose: false, ...(typeof platform === 'string' ? { platform } : {}) };
    }
  }
  return undefined;
}

/** `project.registry` as the model uses it: undefined when unset or `none` (no registry). */
export function registryPrefix(value: string | undefined): string | undefined {
  return value === undefined || value === '' || value === 'none' ? undefined : value;
}

/**
 * Resolves one environment: which hosts run which services, how each rolls out, what is built.
 * Every reference between stagecraft.yml and the compose file is checked here, with all problems at once.
 * `baseImagesOf(service)` gives the images a built service's Dockerfile builds FROM (I/O kept out).
 */
export function buildEnvironmentModel(
  loaded: LoadedConfig,
  compose: ComposeProject,
  cloudHosts?: CloudHostEntry[],
  locateCompose?: ComposeLocator,
  baseImagesOf: (service: string) => string[] = () => [],
): EnvironmentModel {
  const { config } = loaded;
  const envName = loaded.envName;
  if (envName === undefined) throw new UserError('no environment selected', { hint: 'pass --env <name>' });
  const env = config.environments[envName]!;
  const registry = registryPrefix(config.project.registry);
  const composeNames = Object.keys(compose.services);
  const problems: string[] = [];
  const warnings: string[] = [];
  const configuredHealthTimeout =
    env.rollout?.health_timeout === undefined ? undefined : parseDuration(env.rollout.health_timeout);

  for (const name of Object.keys({ ...config.services, ...env.services })) {
    if (!composeNames.includes(name)) {
      // Written in the file but not in compose's model: a profile that is not enabled left it out.
      const written = locateCompose?.key(['services', name]);
      if (written !== undefined) {
        problems.push(
          `services.${name} is in the compose file (${written.replace(/ $/, '')}) but compose leaves it out: its profile is not enabled: list the profile under compose.profiles in stagecraft.yml, or remove services.${name}`,
        );
        continue;
      }
      const suggestion = didYouMean(name, composeNames);
      problems.push(
        `services.${name} is not a service of the compose file${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; compose services: ${composeNames.join(', ')}`,
      );
    }
  }

  const mesh = env.driver === 'local' ? undefined : meshModel(config);
  const hosts = env.driver === 'local' ? [] : hostsOf(env, cloudHosts, mesh);
  const roleNames =
    env.driver === 'local'
      ? undefined
      : env.hosts !== undefined
        ? Object.keys(env.hosts)
        : [...new Set(hosts.flatMap((host) => host.roles))];
  if (env.driver !== 'local' && hosts.length === 0) {
    throw new UserError(`environment ${envName} has no hosts yet`, {
      hint: `create them with \`stagecraft infra up -e ${envName}\`, or list them under environments.${envName}.hosts`,
    });
  }
  const order = dependencyOrder(compose, composeNames);
  const services: ServiceModel[] = [];
  const localRoles = new Set<string>();

  for (const name of order) {
    const settings = serviceSettings(config, env, name);
    const role = settings.role ?? roleNames?.[0] ?? 'app';
    if (roleNames !== undefined && !roleNames.includes(role)) {
      problems.push(
        `service ${name} has role "${role}", but environment ${envName} has no hosts with that role (roles: ${roleNames.join(', ')})`,
      );
      continue;
    }
    localRoles.add(role);
    const composeService = compose.services[name]!;
    const build = buildSpecOf(config, compose, name, loaded.root, loaded.catalog);
    const replicas = settings.replicas ?? composeReplicas(composeService);
    const timings = healthcheckTimings(composeService);
    const repository = `${registry ? `${registry}/` : ''}${config.project.name}-${name}`;
    if (build === undefined && composeService.image === undefined) {
      problems.push(`service ${name} has neither image nor build in the compose file`);
      continue;
    }
    if ((settings.domains?.length ?? 0) > 0 && settings.port === undefined) {
      problems.push(
        `service ${name} has domains but no port: set services.${name}.port to the container port to route to`,
      );
    }
    const routing = routeSettings(name, settings);
    problems.push(...routing.problems);
    const extraRoutes = (settings.routes ?? []).map((extra, index): ExtraRouteModel => {
      const extraRouting = routeSettings(`${name} (routes[${index}])`, extra);
      problems.push(...extraRouting.problems);
      return { port: extra.port, domains: extraRouting.domains, ...extraRouting.options };
    });
    if (extraRoutes.length > 0 && (settings.port === undefined || (settings.domains?.length ?? 0) === 0)) {
      problems.push(
        `service ${name} has routes but no main route: set services.${name}.port and domains (the port its health check probes), then add the other ports under routes`,
      );
    }
    const ports = [settings.port, ...extraRoutes.map((extra) => extra.port)];
    const repeated = ports.find((value, index) => value !== undefined && ports.indexOf(value) !== index);
    if (repeated !== undefined) {
      problems.push(
        `service ${name} routes port ${repeated} twice: give one route all of its domains (a route per container port)`,
      );
    }
    // Timings without a test apply to the image's own HEALTHCHECK: the wait covers them too.
    const budgetTimings = timings ?? imageHealthcheckTimings(composeService);
    const budget = budgetTimings === undefined ? 0 : healthVerdictBudgetMs(budgetTimings);
    if (configuredHealthTimeout !== undefined && configuredHealthTimeout < budget) {
      warnings.push(
        `rollout.health_timeout ${env.rollout?.health_timeout} is shorter than the ${formatDurationSetting(budget)} the health check of ${name} may take (start_period ${formatDurationSetting(budgetTimings!.startPeriodMs)} + interval ${formatDurationSetting(budgetTimings!.intervalMs)} + ${budgetTimings!.retries} × (interval + timeout ${formatDurationSetting(budgetTimings!.timeoutMs)})): a slow start fails the deploy`,
      );
    }
    // One-shot: never restarted (compose takes deploy.restart_policy where `restart` is not set).
    const restartPolicy = (composeService.deploy?.['restart_policy'] as { condition?: unknown } | undefined)
      ?.condition;
    const awaited = Object.values(compose.services).some(
      (other) => other.depends_on?.[name]?.condition === 'service_completed_successfully',
    );
    const neverRestarted =
      composeService['restart'] === 'no' ||
      (composeService['restart'] === undefined && restartPolicy === 'none');
    // `restart: "no"` is compose's default: alone it does not make a server a job. A server is routed,
    // publishes or exposes a port, has a health check, or is waited on until healthy. A service nothing
    // waits on is run as a job only with a warning the plan shows.
    const waitedHealthy = Object.values(compose.services).some(
      (other) => other.depends_on?.[name]?.condition === 'service_healthy',
    );
    const serves =
      settings.port !== undefined ||
      (composeService.ports ?? []).length > 0 ||
      (Array.isArray(composeService['expose']) && composeService['expose'].length > 0) ||
      timings !== undefined ||
      waitedHealthy;
    const job = awaited || (neverRestarted && !serves);
    if (job && !awaited) {
      warnings.push(
        `service ${name} runs as a one-shot job (restart: "no", no port, no health check): each deploy runs it to completion and waits for it to exit; if it is a long-running service, remove restart: "no" (compose's default is the same)`,
      );
    }
    services.push({
      name,
      role,
      job,
      hosts:
        env.driver === 'local'
          ? [LOCAL_HOST]
          : hosts.filter((host) => host.roles.includes(role)).map((host) => host.name),
      build,
      image: build === undefined ? composeService.image! : repository,
      strategy: settings.rollout ?? defaultRolloutStrategy(composeService, replicas, loaded.root),
      replicas,
      port: settings.port,
      domains: routing.domains,
      ...routing.options,
      extraRoutes,
      hasHealthcheck: timings !== undefined,
      healthTimeoutMs: configuredHealthTimeout ?? Math.max(DEFAULT_HEALTH_TIMEOUT_MS, budget),
      stableForMs: parseDuration(settings.health?.stable_for ?? env.rollout?.stable_for ?? '3s'),
      secrets: settings.secrets ?? [],
      ...configuredEnvironment(config, env, name),
      ...(settings.stop_timeout === undefined ? {} : { stopTimeout: settings.stop_timeout }),
    });
  }
  for (const service of services) {
    const image = compose.services[service.name]?.image;
    if (service.build !== undefined || image === undefined) continue;
    // `acme/shop`, `acme/shop:latest` and `docker.io/library/…` name one image, as for docker.
    const builder = services.find((other) => {
      const built = compose.services[other.name]?.image;
      return other.build !== undefined && built !== undefined && sameImage(built, image);
    });
    if (builder !== undefined) service.imageFrom = builder.name;
  }
  // A build that uses another service's built image (it depends_on that service, or its Dockerfile
  // builds FROM that service's compose image name) is built after it.
  for (const service of services) {
    if (service.build === undefined) continue;
    const dependsOn = Object.keys(compose.services[service.name]?.depends_on ?? {});
    const bases = baseImagesOf(service.name);
    const after = services
      .filter((other) => {
        if (other === service || other.build === undefined) return false;
        const built = compose.services[other.name]?.image;
        return (
          dependsOn.includes(other.name) ||
          (built !== undefined && bases.some((base) => sameImage(base, built)))
        );
      })
      .map((other) => other.name)
      .sort(compareStrings);
    if (after.length > 0) service.build.after = after;
  }
  {
    const findings = crossServiceFindings(services, compose, { overlay: env.driver === 'swarm' });
    // On one machine (driver local) every service is on the same host: no cross-host rule applies.
    problems.push(
      ...(env.driver === 'local'
        ? findings.problems.filter((problem) => !problem.includes(' on '))
        : findings.problems),
    );
    warnings.push(...findings.warnings);
  }
  // driver ssh without a registry sends built images over SSH (plan/deploy.ts transfer steps).
  if (env.driver === 'swarm' && registry === undefined && services.some((service) => service.build)) {
    problems.push(
      `environment ${envName} deploys to a swarm, whose nodes pull every image from a registry: set project.registry (registry: none works for driver ssh only)`,
    );
  }
  if (env.driver === 'swarm') problems.push(...swarmProblems(services, compose, hosts, locateCompose));
  if (problems.length > 0) {
    throw new UserError(
      `environment ${envName} cannot be deployed as configured (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
      {
        details: problems,
        hint: 'fix stagecraft.yml or the compose file as said above, then run `stagecraft plan` again',
      },
    );
  }

  const modelHosts =
    env.driver === 'local'
      ? [{ name: LOCAL_HOST, target: LOCAL_HOST, user: undefined, port: undefined, roles: [...localRoles] }]
      : hosts;
  const ingress = config.ingress;
  return {
    project: config.project.name,
    environment: envName,
    driver: env.driver,
    composeProject: composeProjectName(config.project.name, envName),
    registry,
    registryCache:
      registry !== undefined && env.driver !== 'local' && config.project.registry_cache !== false,
    hosts: modelHosts,
    services,
    lockHost: env.driver === 'swarm' ? (env.manager ?? modelHosts[0]!.name) : modelHosts[0]!.name,
    swarm:
      env.driver === 'swarm'
        ? { manager: env.manager ?? modelHosts[0]!.name, stack: `${config.project.name}-${envName}` }
        : undefined,
    // The swarm is driven over SSH through its manager: the same connection as driver ssh.
    connection: { driver: env.driver === 'local' ? 'local' : 'ssh', ssh: env.ssh, rootDir: loaded.root },
    ingress: {
      provider: ingress?.provider ?? 'caddy',
      image: ingress?.image ?? 'caddy:2',
      httpPort: ingress?.http_port ?? 80,
      httpsPort: ingress?.https_port ?? 443,
      container: gatewayName(ingress?.http_port ?? 80, ingress?.https_port ?? 443),
      network: gatewayName(ingress?.http_port ?? 80, ingress?.https_port ?? 443),
      legacy: {
        container: `${config.project.name}-${envName}-ingress`,
        network: `${config.project.name}-${envName}_ingress`,
      },
      tls: ingressTlsModel(ingress?.tls),
    },
    rollout: {
      parallelHosts: env.rollout?.parallel_hosts ?? 4,
      parallelServices: env.rollout?.parallel_services ?? DEFAULT_PARALLEL_SERVICES,
      canary: env.rollout?.canary ?? false,
      autoRollback: env.rollout?.auto_rollback ?? true,
      drainMs: parseDuration(env.rollout?.drain_timeout ?? '1s'),
    },
    lockExpiryMs: parseDuration(env.lock_expiry ?? '30m'),
    releases: {
      retain: env.releases?.retain ?? 5,
      buildCacheMaxAgeMs: parseDuration(env.releases?.build_cache ?? '168h'),
    },
    requireConfirmation: env.require_confirmation === true,
    migrations: migrationsModel({
      config,
      root: loaded.root,
      envName,
      engines: loaded.catalog.migrationEngines,
    }),
    ...(mesh === undefined ? {} : { mesh }),
    warnings,
  };
}

/**
 * The compose project an environment runs as, `<project.name>-<environment>` (`shop-production`): its
 * containers, default network and unpinned volumes carry it, and `${COMPOSE_PROJECT_NAME}` is it.
 */
export function composeProjectName(project: string, environment: string): string {
  return `${project}-${environment}`;
}
