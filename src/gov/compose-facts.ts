import { compareStrings } from '../compose/canonical.js';
import type { PathSegment } from '../config/issues.js';
import type { GovProject, RawComposeService } from './types.js';

/**
 * Reading a compose file as written, for the policy rules: values before interpolation, both the short
 * and the long syntax of each key (compose-spec). Pure functions.
 */

/** `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}`, `${NAME?err}`, `$NAME`, `$$`. */
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** One variable reference in a compose string. */
export interface VariableReference {
  name: string;
  /** `-`/`:-` give a default, `?`/`:?` an error when unset; undefined for a plain reference. */
  operator: '-' | ':-' | '?' | ':?' | undefined;
  /** The default (or error message) text, for operators that have one. */
  argument: string | undefined;
}

/** The variable references in a compose string, in order. */
export function variableReferences(text: string): VariableReference[] {
  const references: VariableReference[] = [];
  for (const match of text.matchAll(REFERENCE)) {
    if (match[0] === '$$') continue;
    const name = match[1] ?? match[4];
    if (name === undefined) continue;
    references.push({
      name,
      operator: match[2] as VariableReference['operator'],
      argument: match[2] === undefined ? undefined : match[3],
    });
  }
  return references;
}

/** True when a string has at least one `${VAR}`/`$VAR` reference (`$$` is a literal dollar). */
export function hasReference(text: string): boolean {
  return variableReferences(text).length > 0;
}

/**
 * A compose string with its variables replaced as `docker compose` does, or undefined when a variable
 * is unset without a default (the value cannot be known offline).
 */
export function interpolateCompose(text: string, variables: Record<string, string>): string | undefined {
  let unknown = false;
  const result = text.replace(
    REFERENCE,
    (match, braced?: string, operator?: string, argument?: string, bare?: string) => {
      if (match === '$$') return '$';
      const name = braced ?? bare ?? '';
      const value = variables[name];
      const unset =
        operator?.startsWith(':') === true ? value === undefined || value === '' : value === undefined;
      if (!unset) return value ?? '';
      if (operator === '-' || operator === ':-') return argument ?? '';
      unknown = true;
      return '';
    },
  );
  return unknown ? undefined : result;
}

/** An image reference split into its parts: `registry/repo/name:tag@sha256:…`. */
export interface ImageReference {
  /** Everything before the tag and digest, e.g. `ghcr.io/acme/api` or `postgres`. */
  repository: string;
  /** The last path segment of the repository, e.g. `postgres`. */
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** Parses an image reference (docker's grammar, loosely: a port in the registry is not a tag). */
export function parseImage(reference: string): ImageReference {
  const at = reference.indexOf('@');
  const digest = at === -1 ? undefined : reference.slice(at + 1);
  const withoutDigest = at === -1 ? reference : reference.slice(0, at);
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const tag = colon > slash ? withoutDigest.slice(colon + 1) : undefined;
  const repository = colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
  return { repository, name: repository.slice(repository.lastIndexOf('/') + 1), tag, digest };
}

/** Images of data stores: the repository's last segment (official images and common vendors). */
const DATABASE_IMAGE =
  /^(postgres|postgis|timescaledb(-ha)?|pgvector|mysql|mariadb|percona(-server)?|mongo|mongodb(-community-server)?|redis|redis-stack(-server)?|valkey|keydb|dragonfly|memcached|elasticsearch|opensearch|clickhouse(-server)?|cassandra|scylla|couchdb|rabbitmq|nats|influxdb|neo4j|etcd|minio)$/;

/** Roles whose name says they hold data. */
const DATABASE_ROLE = /^(db|database|databases|data|postgres|mysql|redis|cache|storage)$/;

/** True when a compose service runs a database or another data store, by its image or its role. */
export function isDatabaseService(
  service: RawComposeService,
  role: string | undefined,
  variables: Record<string, string>,
): boolean {
  if (role !== undefined && DATABASE_ROLE.test(role)) return true;
  const image =
    typeof service['image'] === 'string' ? interpolateCompose(service['image'], variables) : undefined;
  return image !== undefined && DATABASE_IMAGE.test(parseImage(image).name);
}

/** One entry of a service's `environment`, in either syntax, with its key path. */
export interface EnvironmentEntry {
  name: string;
  /** undefined: the variable is passed through from compose's own environment (`- NAME` or `NAME:`). */
  value: string | undefined;
  path: PathSegment[];
}

/** The entries of a mapping-or-list key such as `environment` or `build.args`. */
export function keyValueEntries(value: unknown, path: PathSegment[]): EnvironmentEntry[] {
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => {
      if (typeof item !== 'string') return [];
      const equals = item.indexOf('=');
      return [
        {
          name: equals === -1 ? item : item.slice(0, equals),
          value: equals === -1 ? undefined : item.slice(equals + 1),
          path: [...path, index],
        },
      ];
    });
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([name, item]) => ({
      name,
      value: item === null || item === undefined ? undefined : String(item),
      path: [...path, name],
    }));
  }
  return [];
}

/** A published port: where the host listens. */
export interface PublishedPort {
  /** The host address; undefined means every address (0.0.0.0 and ::). */
  hostIp: string | undefined;
  published: string | undefined;
  target: string;
}

/**
 * A `ports` entry, short (`[IP:][HOST:]CONTAINER[/proto]`, IPv6 in brackets) or long (`target`,
 * `published`, `host_ip`), interpolated; undefined when a variable is unknown or the entry is not a port.
 */
export function parsePort(entry: unknown, variables: Record<string, string>): PublishedPort | undefined {
  if (typeof entry === 'number') return { hostIp: undefined, published: undefined, target: String(entry) };
  if (entry !== null && typeof entry === 'object') {
    const long = entry as Record<string, unknown>;
    const hostIp =
      typeof long['host_ip'] === 'string' ? interpolateCompose(long['host_ip'], variables) : undefined;
    if (typeof long['host_ip'] === 'string' && hostIp === undefined) return undefined;
    return {
      hostIp: hostIp === '' ? undefined : hostIp,
      published: long['published'] === undefined ? undefined : String(long['published']),
      target: String(long['target'] ?? ''),
    };
  }
  if (typeof entry !== 'string') return undefined;
  const text = interpolateCompose(entry, variables);
  if (text === undefined) return undefined;
  const withoutProtocol = text.replace(/\/(tcp|udp|sctp)$/, '');
  let hostIp: string | undefined;
  let rest = withoutProtocol;
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (bracket !== null) {
    hostIp = bracket[1];
    rest = bracket[2] ?? '';
  } else {
    const parts = rest.split(':');
    if (parts.length === 3) {
      hostIp = parts[0];
      rest = `${parts[1]}:${parts[2]}`;
    }
  }
  const [first, second] = rest.split(':');
  return second === undefined
    ? { hostIp, published: undefined, target: first ?? '' }
    : { hostIp: hostIp === '' ? undefined : hostIp, published: first, target: second };
}

/** True when a published port listens on every interface of the host. */
export function listensEverywhere(port: PublishedPort): boolean {
  return port.hostIp === undefined || ['0.0.0.0', '::', '[::]'].includes(port.hostIp);
}

/** A volume mount, short (`SRC:DST[:MODE]`) or long syntax. */
export interface Mount {
  type: 'volume' | 'bind' | 'tmpfs' | string;
  source: string | undefined;
  target: string;
}

/** The mounts of a service; a short-syntax source that is not a path is a named volume. */
export function mountsOf(service: RawComposeService): { mount: Mount; path: PathSegment[] }[] {
  const volumes = service['volumes'];
  if (!Array.isArray(volumes)) return [];
  return volumes.flatMap((entry, index) => {
    const path: PathSegment[] = ['volumes', index];
    if (typeof entry === 'string') {
      const parts = entry.split(':');
      if (parts.length === 1) return [{ mount: { type: 'volume', source: undefined, target: entry }, path }];
      const source = parts[0] ?? '';
      const isPath = /^[./~$]/.test(source) || source.includes('/');
      return [{ mount: { type: isPath ? 'bind' : 'volume', source, target: parts[1] ?? '' }, path }];
    }
    if (entry !== null && typeof entry === 'object') {
      const long = entry as Record<string, unknown>;
      return [
        {
          mount: {
            type: String(long['type'] ?? 'volume'),
            source: typeof long['source'] === 'string' ? long['source'] : undefined,
            target: String(long['target'] ?? ''),
          },
          path,
        },
      ];
    }
    return [];
  });
}

/** True when a service keeps data in a named volume. */
export function ownsNamedVolume(service: RawComposeService): boolean {
  return mountsOf(service).some(({ mount }) => mount.type === 'volume' && mount.source !== undefined);
}

/**
 * The compose services a deploy runs, sorted: all of them except those whose `profiles` are not
 * enabled by `compose.profiles` in stagecraft.yml.
 */
export function deployedServices(project: GovProject): [string, RawComposeService][] {
  const enabled = new Set(project.config.compose?.profiles ?? []);
  return Object.entries(project.compose?.services ?? {})
    .filter(([, service]) => service !== null && typeof service === 'object' && !Array.isArray(service))
    .filter(([, service]) => {
      const profiles = service['profiles'];
      return (
        !Array.isArray(profiles) || profiles.length === 0 || profiles.some((p) => enabled.has(String(p)))
      );
    })
    .sort(([a], [b]) => compareStrings(a, b));
}

/**
 * The role a compose service runs under in an environment: its `role` in stagecraft.yml (the
 * environment's override first), else the environment's first role.
 */
export function roleOf(project: GovProject, env: string, service: string): string | undefined {
  const environment = project.config.environments[env];
  const role = environment?.services?.[service]?.role ?? project.config.services?.[service]?.role;
  return role ?? Object.keys(environment?.hosts ?? {})[0];
}

/** True for a value written literally (non-empty, no variable reference). */
export function isLiteral(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '' && !hasReference(value);
}

/** A URL whose password is written literally: `scheme://user:password@host`. */
export function hasLiteralUrlPassword(value: string): boolean {
  const match = /[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/i.exec(value);
  return match?.[1] !== undefined && !hasReference(match[1]);
}
