// What `stagecraft dev` takes from the compose file (read through compose/read.ts like every other
// command): the services, the ports they publish and expose, the well-known ports of infrastructure
// images. Pure: plan/dev.ts plans the dev stack from it.
import type { ComposeProject } from './types.js';

/** What `stagecraft dev` needs to know about one compose service. */
export interface DevComposeService {
  name: string;
  image: string | undefined;
  /** Absolute build context, when the service is built from source. */
  buildContext: string | undefined;
  /** Ports the compose file already publishes. */
  published: { target: number; published: number; hostIp: string | undefined }[];
  /** `expose:` container ports. */
  expose: number[];
}

export interface DevComposeModel {
  file: string;
  services: DevComposeService[];
}

function numberList(values: unknown): number[] {
  if (!Array.isArray(values)) return [];
  return values.map((value) => Number.parseInt(String(value), 10)).filter((value) => Number.isInteger(value));
}

/**
 * The services dev cares about, from the normalised compose model (compose/read.ts `readCompose`,
 * i.e. `docker compose config --format json`), sorted by name.
 */
export function devComposeModel(file: string, project: ComposeProject): DevComposeModel {
  const services = Object.entries(project.services ?? {})
    .map(([name, service]): DevComposeService => {
      const ports = Array.isArray(service.ports) ? service.ports : [];
      return {
        name,
        image: typeof service.image === 'string' ? service.image : undefined,
        buildContext: service.build?.context,
        published: ports
          .filter((port) => port.published !== undefined && port.published !== '')
          .map((port) => ({
            target: Number(port.target),
            published: Number.parseInt(String(port.published), 10),
            hostIp: typeof port.host_ip === 'string' ? port.host_ip : undefined,
          }))
          .filter((port) => Number.isInteger(port.published)),
        expose: numberList(service['expose']),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return { file, services };
}

/** Parses the JSON of `docker compose config --format json` into the services dev cares about. */
export function parseComposeConfig(file: string, json: string): DevComposeModel {
  return devComposeModel(file, JSON.parse(json) as ComposeProject);
}

/** One port the dev override publishes for an infrastructure service. */
export interface PublishedPort {
  bindIp: string;
  hostPort: number;
  containerPort: number;
}

/** Container ports of well-known infrastructure images, for services that do not declare theirs. */
const WELL_KNOWN_PORTS: [RegExp, number][] = [
  [/(^|\/)(postgres|postgis|timescaledb)[^/]*(:|$)/, 5432],
  [/(^|\/)(mysql|mariadb|percona)[^/]*(:|$)/, 3306],
  [/(^|\/)(redis|valkey|keydb|dragonfly)[^/]*(:|$)/, 6379],
  [/(^|\/)mongo[^/]*(:|$)/, 27017],
  [/(^|\/)rabbitmq[^/]*(:|$)/, 5672],
  [/(^|\/)(minio)[^/]*(:|$)/, 9000],
  [/(^|\/)(mailpit|mailhog)[^/]*(:|$)/, 8025],
  [/(^|\/)(elasticsearch|opensearch)[^/]*(:|$)/, 9200],
  [/(^|\/)memcached[^/]*(:|$)/, 11211],
  [/(^|\/)nats[^/]*(:|$)/, 4222],
];

/** The container port of a well-known infrastructure image (postgres → 5432, …), or undefined. */
export function wellKnownPort(image: string | undefined): number | undefined {
  if (image === undefined) return undefined;
  const name = image.toLowerCase();
  return WELL_KNOWN_PORTS.find(([pattern]) => pattern.test(name))?.[1];
}
