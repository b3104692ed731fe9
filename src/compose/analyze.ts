import type { NetworkCreateOptions } from '../docker/network.js';
import { parseDuration } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { compareStrings } from './canonical.js';
import type { ComposeProject, ComposeService } from './types.js';

/** Facts the planners need about a service, read from the normalised compose model. No I/O. */

/**
 * Milliseconds in a compose/Go duration: "1m30s", "2s", "500ms", "1h0m0s", "1.5s". A bare number
 * is seconds (compose accepts `stop_grace_period: 10`). Throws UserError on anything else.
 */
/** True when the service publishes a port on a fixed host port ("8080:80"); ephemeral ports ("80") are not. */
export function publishesFixedHostPort(service: ComposeService): boolean {
  return (service.ports ?? []).some((port) => {
    const published = port.published === undefined ? '' : String(port.published).trim();
    return published !== '' && published !== '0';
  });
}

/** True when the service mounts a named volume (type volume with a source), e.g. a database's data. */
export function ownsNamedVolume(service: ComposeService): boolean {
  return (service.volumes ?? []).some(
    (mount) => mount.type === 'volume' && typeof mount.source === 'string' && mount.source !== '',
  );
}

/** The compose health check as Docker runs it, with Docker's defaults for the fields left out. */
export interface HealthcheckTimings {
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  startIntervalMs: number;
}

/**
 * The compose file's health check timings, or undefined when it defines none (no test) or disables
 * it (`disable: true`, test ["NONE"]). An image's own HEALTHCHECK is not visible in the compose
 * model: a container's inspect output (State.Health) is the final word. Docker's defaults: interval
 * 30s, timeout 30s, retries 3, start_period 0, start_interval 5s.
 */
export function healthcheckTimings(service: ComposeService): HealthcheckTimings | undefined {
  const check = service.healthcheck;
  const test = check?.test ?? [];
  if (check === undefined || check.disable === true || test.length === 0 || test[0] === 'NONE')
    return undefined;
  return {
    intervalMs: check.interval === undefined ? 30_000 : parseDuration(check.interval),
    timeoutMs: check.timeout === undefined ? 30_000 : parseDuration(check.timeout),
    retries: check.retries === undefined || check.retries === 0 ? 3 : check.retries,
    startPeriodMs: check.start_period === undefined ? 0 : parseDuration(check.start_period),
    startIntervalMs: check.start_interval === undefined ? 5_000 : parseDuration(check.start_interval),
  };
}

/**
 * The timings a service's health check runs with when the compose file sets timings but no test: the
 * image's own HEALTHCHECK test with the compose file's interval, timeout, retries and start period
 * (Docker merges them). Undefined without such timings, or with the check disabled.
 */
export function imageHealthcheckTimings(service: ComposeService): HealthcheckTimings | undefined {
  const check = service.healthcheck;
  if (check === undefined || check.disable === true || (check.test ?? []).length > 0) return undefined;
  const timed = [check.interval, check.timeout, check.retries, check.start_period, check.start_interval];
  if (timed.every((value) => value === undefined)) return undefined;
  return healthcheckTimings({ ...service, healthcheck: { ...check, test: ['CMD', 'image-healthcheck'] } });
}

/**
 * An upper bound on how long Docker can take to call a new container healthy or unhealthy: the start
 * period plus one interval and timeout per retry, plus one interval for the first probe.
 */
export function healthVerdictBudgetMs(timings: HealthcheckTimings): number {
  return (
    timings.startPeriodMs + timings.intervalMs + (timings.intervalMs + timings.timeoutMs) * timings.retries
  );
}

/** `stop_grace_period` in milliseconds; Docker's default is 10 s. */
export function stopGracePeriodMs(service: ComposeService): number {
  return service.stop_grace_period === undefined ? 10_000 : parseDuration(service.stop_grace_period);
}

/**
 * `services` ordered so that each comes after the services it depends on (depends_on); services not
 * in the list are ignored; ties are broken by name. A cycle is a UserError that names it.
 */
export function dependencyOrder(compose: ComposeProject, services: string[]): string[] {
  const wanted = [...new Set(services)].sort(compareStrings);
  for (const name of wanted) {
    if (compose.services[name] === undefined) {
      throw new UserError(`service "${name}" is not in the compose file`, {
        hint: `services in the compose file: ${Object.keys(compose.services).sort(compareStrings).join(', ')}`,
      });
    }
  }
  const included = new Set(wanted);
  const deps = new Map<string, string[]>();
  for (const name of wanted) {
    const dependsOn = Object.keys(compose.services[name]?.depends_on ?? {});
    deps.set(name, dependsOn.filter((dep) => included.has(dep) && dep !== name).sort(compareStrings));
    if (dependsOn.includes(name)) throw cycleError([name, name]);
  }
  const order: string[] = [];
  const done = new Set<string>();
  while (order.length < wanted.length) {
    const next = wanted.find(
      (name) => !done.has(name) && (deps.get(name) ?? []).every((dep) => done.has(dep)),
    );
    if (next === undefined)
      throw cycleError(
        findCycle(
          wanted.filter((name) => !done.has(name)),
          deps,
        ),
      );
    order.push(next);
    done.add(next);
  }
  return order;
}

function findCycle(remaining: string[], deps: Map<string, string[]>): string[] {
  const left = new Set(remaining);
  // Every remaining service has an unfinished dependency, so walking dependencies must revisit one.
  const path: string[] = [];
  let current = remaining[0] ?? '';
  while (!path.includes(current)) {
    path.push(current);
    current = (deps.get(current) ?? []).find((dep) => left.has(dep)) ?? current;
  }
  const cycle = path.slice(path.indexOf(current));
  return [...cycle, current];
}

function cycleError(cycle: string[]): UserError {
  return new UserError(`the compose services depend on each other in a cycle: ${cycle.join(' → ')}`, {
    hint: 'remove one of these depends_on entries',
  });
}

export type RolloutStrategy = 'start-first' | 'stop-first' | 'recreate';

/**
 * How many containers compose runs of `service`: deploy.replicas, else `scale` (compose's older key,
 * which `docker compose config` keeps), else 1.
 */
export function composeReplicas(service: ComposeService): number {
  return service.deploy?.replicas ?? service.scale ?? 1;
}

/**
 * The strategy when stagecraft.yml names none: stop-first for a service that publishes a fixed host
 * port (two containers cannot bind it), has a fixed container_name, IP or MAC address (two
 * containers cannot share it), or with one replica owns a named volume or writes to a folder of the
 * host (a single writer, e.g. a database on /srv/pgdata); start-first otherwise.
 * `replicas` defaults to the service's composeReplicas; `projectDir` is the local project folder
 * (bind mounts under it are uploaded with each release, not shared).
 */
export function defaultRolloutStrategy(
  service: ComposeService,
  replicas?: number,
  projectDir?: string,
): RolloutStrategy {
  const count = replicas ?? composeReplicas(service);
  if (publishesFixedHostPort(service)) return 'stop-first';
  if (fixedIdentity(service) !== undefined) return 'stop-first';
  if ((ownsNamedVolume(service) || writesHostFolder(service, projectDir)) && count <= 1) return 'stop-first';
  return 'start-first';
}

/**
 * What two containers of `service` cannot share, if it has one: `container_name X`, `ipv4_address X`,
 * `ipv6_address X` (of a network) or `mac_address X`.
 */
export function fixedIdentity(service: ComposeService): string | undefined {
  if (typeof service.container_name === 'string' && service.container_name !== '')
    return `container_name ${service.container_name}`;
  if (typeof service['mac_address'] === 'string') return `mac_address ${service['mac_address']}`;
  const networks = service.networks;
  if (networks !== null && typeof networks === 'object' && !Array.isArray(networks)) {
    for (const settings of Object.values(networks as Record<string, unknown>)) {
      if (settings === null || typeof settings !== 'object') continue;
      for (const key of ['ipv4_address', 'ipv6_address', 'mac_address']) {
        const value = (settings as Record<string, unknown>)[key];
        if (typeof value === 'string' && value !== '') return `${key} ${value}`;
      }
    }
  }
  return undefined;
}

/** Host folders that hold sockets and devices, not data: a bind of one makes no single writer. */
const SYSTEM_FOLDERS = /^\/(dev|proc|sys|run|var\/run|tmp)(\/|$)/;

/** A read-write bind mount of a host folder outside the project (data that outlives the container). */
function writesHostFolder(service: ComposeService, projectDir: string | undefined): boolean {
  return (service.volumes ?? []).some((mount) => {
    if (mount.type !== 'bind' || typeof mount.source !== 'string' || mount.read_only === true) return false;
    if (!mount.source.startsWith('/') || SYSTEM_FOLDERS.test(mount.source)) return false;
    return projectDir === undefined || !`${mount.source}/`.startsWith(`${projectDir}/`);
  });
}

/** A network a container Stagecraft starts beside a service's joins (see serviceNetwork). */
export interface ServiceNetwork {
  /** What `docker run --network` takes: a network's name, or `host` / `bridge` / `none`. */
  name: string;
  /**
   * How to create it when it does not exist yet, as compose would (its labels, driver and options);
   * undefined for one that is not Stagecraft's to create (external, or a network mode).
   */
  create?: NetworkCreateOptions;
}

/**
 * The network a one-off container of `service` (a migration) joins to reach what the service
 * reaches: its `network_mode` when that is host, bridge or none; else, of the service's networks,
 * the first (in name order) that a service in `near` (what it needs, e.g. the database) is on too,
 * or its first. Named as compose names it (`name:` in the normalised model, else
 * `<project>_<key>`). A `service:`/`container:` network mode gives the project's default network.
 * Pure; no I/O.
 */
export function serviceNetwork(
  compose: ComposeProject,
  service: string,
  near: readonly string[],
  project: string,
): ServiceNetwork {
  const spec = compose.services[service];
  const mode = spec?.['network_mode'];
  if (mode === 'host' || mode === 'bridge' || mode === 'none') return { name: mode };
  const keysOf = (name: string): string[] => {
    const networks = compose.services[name]?.['networks'];
    if (Array.isArray(networks)) return networks.filter((key): key is string => typeof key === 'string');
    return networks !== null && typeof networks === 'object' ? Object.keys(networks) : [];
  };
  const own = typeof mode === 'string' ? [] : keysOf(service).sort(compareStrings);
  const shared = own.find((key) => near.some((other) => keysOf(other).includes(key)));
  const key = shared ?? own[0] ?? 'default';
  const definitions = (compose.networks ?? {}) as Record<string, Record<string, unknown> | null>;
  const definition = definitions[key] ?? {};
  const name = typeof definition['name'] === 'string' ? definition['name'] : `${project}_${key}`;
  if (definition['external'] === true) return { name };
  const ipam = (definition['ipam'] ?? {}) as { driver?: unknown; config?: unknown };
  const subnets = (Array.isArray(ipam.config) ? ipam.config : []).map((entry) => {
    const record = (entry ?? {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const subnet = text(record['subnet']);
    const gateway = text(record['gateway']);
    const ipRange = text(record['ip_range']);
    return {
      ...(subnet === undefined ? {} : { subnet }),
      ...(gateway === undefined ? {} : { gateway }),
      ...(ipRange === undefined ? {} : { ipRange }),
    };
  });
  const strings = (value: unknown): Record<string, string> =>
    value !== null && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]))
      : {};
  return {
    name,
    create: {
      ...(typeof definition['driver'] === 'string' ? { driver: definition['driver'] } : {}),
      ...(definition['internal'] === true ? { internal: true } : {}),
      ...(definition['attachable'] === true ? { attachable: true } : {}),
      ...(definition['enable_ipv6'] === true ? { ipv6: true } : {}),
      ...(Object.keys(strings(definition['driver_opts'])).length > 0
        ? { opts: strings(definition['driver_opts']) }
        : {}),
      ...(typeof ipam.driver === 'string' ? { ipamDriver: ipam.driver } : {}),
      ...(subnets.length > 0 ? { subnets } : {}),
      labels: {
        ...strings(definition['labels']),
        'com.docker.compose.network': key,
        'com.docker.compose.project': project,
      },
    },
  };
}
