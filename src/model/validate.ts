import { fixedIdentity, publishesFixedHostPort } from '../compose/analyze.js';
import type { ComposeProject, ComposeService } from '../compose/types.js';
import type { ServiceModel } from './environment.js';

/**
 * Docker's image reference grammar (distribution/reference): [registry[:port]/]path[:tag][@digest],
 * lowercase path components. From https://github.com/distribution/reference/blob/main/regexp.go.
 */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** True when `ref` is a valid Docker image reference (what `docker pull` accepts). */
export function isImageReference(ref: string): boolean {
  return ref.length <= 255 && REFERENCE.test(ref);
}

export interface CrossServiceFindings {
  /** What cannot run: plan refuses (exit 1). */
  problems: string[];
  /** What runs but probably not as meant: plan shows it. */
  warnings: string[];
}

function publishedPorts(service: ComposeService, options: { reachable?: boolean } = {}): string[] {
  return (service.ports ?? [])
    .filter(
      (port) =>
        port.published !== undefined &&
        String(port.published) !== '' &&
        String(port.published) !== '0' &&
        !(options.reachable === true && isLoopback(port.host_ip)),
    )
    .map((port) => String(port.published));
}

/** A `host_ip` only the host itself reaches: 127.0.0.0/8, ::1, localhost. */
function isLoopback(hostIp: string | undefined): boolean {
  if (hostIp === undefined) return false;
  return /^127\./.test(hostIp) || hostIp === '::1' || hostIp === 'localhost';
}

/**
 * The services `spec` joins on its own Docker engine: `links` (`name` or `name:alias`), `volumes_from`
 * (`name` or `name:ro`; `container:` names are left out), and `network_mode`, `ipc` and `pid` written
 * `service:name`. Each as `{ key, target }`, key as written (`links: worker`), in that order.
 */
function sameEngineReferences(spec: ComposeService): { key: string; target: string }[] {
  const record = spec as Record<string, unknown>;
  const found: { key: string; target: string }[] = [];
  const list = (key: string) => (Array.isArray(record[key]) ? (record[key] as unknown[]) : []);
  for (const link of list('links'))
    if (typeof link === 'string') found.push({ key: `links: ${link}`, target: link.split(':')[0]! });
  for (const from of list('volumes_from'))
    if (typeof from === 'string' && !from.startsWith('container:'))
      found.push({ key: `volumes_from: ${from}`, target: from.split(':')[0]! });
  for (const key of ['network_mode', 'ipc', 'pid']) {
    const value = record[key];
    if (typeof value === 'string' && value.startsWith('service:'))
      found.push({ key: `${key}: ${value}`, target: value.slice('service:'.length) });
  }
  return found;
}

/** `name:1234` (or `name` followed by a non-name character) in a service's environment values. */
function referencedPorts(values: string[], host: string): { referenced: boolean; ports: string[] } {
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const name = new RegExp(`(^|[^A-Za-z0-9_.-])${escaped}($|[^A-Za-z0-9_.-])`);
  const withPort = new RegExp(`(?:^|[^A-Za-z0-9_.-])${escaped}:(\\d+)`, 'g');
  const ports: string[] = [];
  let referenced = false;
  for (const value of values) {
    if (name.test(value)) referenced = true;
    for (const match of value.matchAll(withPort)) ports.push(match[1]!);
  }
  return { referenced, ports };
}

/**
 * Stagecraft's rules across services, checked at plan time before anything changes:
 * - every image that runs is a valid image reference;
 * - no domain is claimed by two services;
 * - a routed service (domains) cannot be scaled to 0 replicas: its requests would all fail;
 * - `replicas` > 1 with a fixed `container_name` cannot run (names are unique), nor with a single
 *   fixed host port (one container binds it; a range `9000-9001` gives each its own) unless swarm;
 * - a service that publishes a fixed host port, uses `network_mode: host` or has a fixed container
 *   name, IP or MAC address cannot roll out start-first (the new container cannot take it while the
 *   old one holds it);
 * - a service reached from another host (its name in an environment value) should publish the port
 *   it is reached on: a warning, since only the app knows whether it really connects (a name in a
 *   value may be a label, and depends_on alone only orders start-up); none with `overlay` (driver
 *   swarm: the stack's overlay networks reach every service by name);
 * - a service with a `port` but no `domains` is never routed by the gateway: a warning;
 * - a routed service cannot use `network_mode: host`, `service:x` or `container:x` (the gateway
 *   joins it on no network);
 * - `links`, `volumes_from` and `network_mode`/`ipc`/`pid: service:x` need x on each of the service's
 *   hosts (they join containers on one Docker engine); none with `overlay`;
 * - a named volume mounted on more than one host is split: a warning (splitVolumes).
 */
export function crossServiceFindings(
  services: ServiceModel[],
  compose: ComposeProject,
  options: { overlay?: boolean } = {},
): CrossServiceFindings {
  const problems: string[] = [];
  const warnings: string[] = [];
  const domains = new Map<string, string>();
  for (const service of services) {
    const spec = compose.services[service.name] as ComposeService;
    if (service.build === undefined && !isImageReference(service.image)) {
      problems.push(
        `service ${service.name}: image "${service.image}" is not a valid image reference (lowercase name, optional registry, :tag or @digest)`,
      );
    } else if (service.build !== undefined && !isImageReference(`${service.image}:latest`)) {
      problems.push(
        `service ${service.name}: the image name Stagecraft builds, "${service.image}", is not a valid image reference: use a lowercase service name and project.registry`,
      );
    }
    // A domain may go to several services under different path prefixes (example.com, example.com/api).
    for (const routed of [service, ...service.extraRoutes]) {
      for (const domain of routed.domains) {
        const route = `${domain}${routed.path ?? ''}`;
        const other = domains.get(route);
        if (other !== undefined)
          problems.push(
            other === service.name
              ? `domain ${route} is claimed by two routes of service ${other}: give each domain (and path prefix) to one route`
              : `domain ${route} is claimed by services ${other} and ${service.name}: give each domain (and path prefix) to one service`,
          );
        else domains.set(route, service.name);
      }
    }
    // The gateway reaches a service on its network; a container on the host's own network (or another
    // container's) is on none it can join.
    const sharedNetwork =
      typeof spec.network_mode === 'string' &&
      (spec.network_mode === 'host' || /^(service|container):/.test(spec.network_mode));
    if (sharedNetwork && service.domains.length > 0 && options.overlay !== true) {
      problems.push(
        `service ${service.name} uses network_mode: ${spec.network_mode}, so the gateway cannot route ${service.domains.join(', ')} to it (its containers join no network the gateway is on): remove network_mode, or remove services.${service.name}.domains and reach it by a host port`,
      );
    }
    if (service.replicas === 0 && service.domains.length > 0) {
      problems.push(
        `service ${service.name}: 0 replicas (compose scale or deploy.replicas), but it is routed (${service.domains.join(', ')}): every request to it would fail: give it a replica, or remove services.${service.name}.domains to take it offline`,
      );
    }
    if (service.replicas > 1 && typeof spec.container_name === 'string' && spec.container_name !== '') {
      problems.push(
        `service ${service.name}: replicas ${service.replicas} with container_name ${spec.container_name} cannot run (container names are unique): remove container_name or run 1 replica`,
      );
    }
    // A range `a-b` gives each container one of its ports: fewer ports than replicas is a clash too.
    const single = publishedPorts(spec).filter((port) => {
      const [low = Number.NaN, high] = port.split('-').map(Number);
      return high === undefined || !(high - low + 1 >= service.replicas);
    });
    // Swarm's routing mesh spreads one published port over every task.
    if (service.replicas > 1 && single.length > 0 && options.overlay !== true) {
      problems.push(
        `service ${service.name}: replicas ${service.replicas} with host port ${single.join(', ')} cannot run (one container binds a host port): publish a range of ${service.replicas} ports (e.g. ${Number.parseInt(single[0]!, 10)}-${Number.parseInt(single[0]!, 10) + service.replicas - 1}), no host port, or run 1 replica`,
      );
    }
    if (service.strategy === 'start-first') {
      if (spec.network_mode === 'host') {
        problems.push(
          `service ${service.name} uses network_mode: host, so a new container cannot start beside the old one: set services.${service.name}.rollout: stop-first`,
        );
      } else if (publishesFixedHostPort(spec)) {
        problems.push(
          `service ${service.name} publishes host port ${publishedPorts(spec).join(', ')}, so a new container cannot start beside the old one: set services.${service.name}.rollout: stop-first, or publish no fixed host port`,
        );
      } else if (fixedIdentity(spec) !== undefined) {
        problems.push(
          `service ${service.name} has ${fixedIdentity(spec)}, which two containers cannot share, so a new container cannot start beside the old one: set services.${service.name}.rollout: stop-first, or remove it`,
        );
      }
    }
    // The gateway keeps serving through a start-first rollout only; stop-first leaves a gap.
    if (service.domains.length > 0 && service.strategy !== 'start-first' && (service.replicas ?? 1) > 0) {
      const why = publishesFixedHostPort(spec)
        ? `it publishes host port ${publishedPorts(spec).join(', ')}`
        : fixedIdentity(spec) !== undefined
          ? `it has ${fixedIdentity(spec)}`
          : `rollout ${service.strategy}`;
      warnings.push(
        `service ${service.name} is routed (${service.domains.join(', ')}) but rolls out ${service.strategy} (${why}): its requests fail while the new container starts; ${publishesFixedHostPort(spec) ? 'publish no fixed host port (the gateway reaches it without one)' : 'let it roll out start-first'} to deploy it without dropping requests`,
      );
    }
    if (service.port !== undefined && service.domains.length === 0) {
      warnings.push(
        `service ${service.name} has port ${service.port} but no domains, so the gateway routes no request to it: add services.${service.name}.domains, or remove port`,
      );
    }
  }
  // links, volumes_from and network_mode/ipc/pid `service:` join another service's containers on the
  // same Docker engine: that service must run on each host this one runs on.
  for (const service of options.overlay === true ? [] : services) {
    const spec = compose.services[service.name] as ComposeService;
    for (const { key, target } of sameEngineReferences(spec)) {
      const other = services.find((candidate) => candidate.name === target);
      if (other === undefined) continue;
      const missing = service.hosts.filter((host) => !other.hosts.includes(host));
      if (missing.length === 0) continue;
      problems.push(
        `service ${service.name} (on ${service.hosts.join(', ')}) has ${key}, but ${target} ${other.hosts.length === 0 ? 'runs on no host' : `runs on ${other.hosts.join(', ')}`}, not on ${missing.join(', ')}: ${key.split(':')[0]} joins containers on one Docker engine, so give both one role, or reach ${target} by a published port`,
      );
    }
  }
  // Reaching a service on another host goes through that host's published ports; on an overlay
  // network (driver swarm) every node reaches every service by its name, unpublished.
  for (const service of options.overlay === true ? [] : services) {
    const spec = compose.services[service.name] as ComposeService;
    const values = Object.values(spec.environment ?? {}).filter(
      (value): value is string => typeof value === 'string',
    );
    for (const other of services) {
      if (other.name === service.name || other.hosts.length === 0) continue;
      const remoteHosts = service.hosts.filter((host) => !other.hosts.includes(host));
      if (remoteHosts.length === 0) continue;
      const { referenced, ports } = referencedPorts(values, other.name);
      if (!referenced) continue;
      const otherSpec = compose.services[other.name] as ComposeService;
      const published = publishedPorts(otherSpec, { reachable: true });
      const unpublished = ports.filter((port) => !published.includes(port));
      const loopback = unpublished.filter((port) => publishedPorts(otherSpec).includes(port));
      if (loopback.length > 0) {
        warnings.push(
          `service ${service.name} on ${remoteHosts.join(', ')} reaches ${other.name}:${loopback.join(', ')} on ${other.hosts.join(', ')}, but ${other.name} publishes ${loopback.length === 1 ? 'that port' : 'those ports'} only on a loopback address (host_ip), which other hosts cannot reach: publish on the host's private address, or run both on one host`,
        );
      } else if (unpublished.length > 0) {
        warnings.push(
          `service ${service.name} on ${remoteHosts.join(', ')} reaches ${other.name}:${unpublished.join(', ')} on ${other.hosts.join(', ')}, but ${other.name} does not publish ${unpublished.length === 1 ? 'that port' : 'those ports'}: add ports: ["${unpublished[0]}:${unpublished[0]}"] to ${other.name}, or run both on one host`,
        );
      } else if (
        ports.length === 0 &&
        referenced &&
        published.length === 0 &&
        publishedPorts(otherSpec).length === 0
      ) {
        warnings.push(
          `service ${service.name} on ${remoteHosts.join(', ')} reaches ${other.name} on ${other.hosts.join(', ')}, but ${other.name} publishes no port: publish the port it is reached on, or run both on one host`,
        );
      }
    }
  }
  if (!options.overlay) warnings.push(...splitVolumes(services, compose));
  return { problems, warnings };
}

/**
 * A named volume (local driver, not external) that services on more than one host mount: compose
 * means one volume the services share, but each host gets its own, so what one writes the others do
 * not see. One warning per volume, naming who mounts it where.
 */
function splitVolumes(services: ServiceModel[], compose: ComposeProject): string[] {
  const users = new Map<string, { service: string; hosts: string[] }[]>();
  for (const service of services) {
    if (service.replicas === 0) continue;
    for (const mount of (compose.services[service.name] as ComposeService | undefined)?.volumes ?? []) {
      if (mount.type !== 'volume' || typeof mount.source !== 'string' || mount.source === '') continue;
      const declared = (compose.volumes?.[mount.source] ?? {}) as {
        external?: unknown;
        driver?: unknown;
        driver_opts?: unknown;
      };
      // External, another driver or driver options (an NFS mount): shared, or the user's to know.
      const local = declared.driver === undefined || declared.driver === 'local';
      if (declared.external === true || !local || declared.driver_opts !== undefined) continue;
      users.set(mount.source, [
        ...(users.get(mount.source) ?? []),
        { service: service.name, hosts: service.hosts },
      ]);
    }
  }
  const warnings: string[] = [];
  for (const [volume, mounts] of [...users].sort(([a], [b]) => a.localeCompare(b))) {
    const hosts = new Set(mounts.flatMap((mount) => mount.hosts));
    if (hosts.size < 2) continue;
    const who = mounts.map((mount) => `${mount.service} (${mount.hosts.join(', ')})`).join(', ');
    warnings.push(
      `volume ${volume} is mounted on ${hosts.size} hosts by ${who}: each host has its own ${volume}, so they do not share its files as compose's one volume would: run them on one host, or use a volume driver that shares (e.g. NFS)`,
    );
  }
  return warnings;
}
