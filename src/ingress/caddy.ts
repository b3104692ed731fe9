import { createHash } from 'node:crypto';
import { InternalError } from '../util/errors.js';
/**
 * The Caddy gateway on a deploy host. Routes are loaded through Caddy's admin API (inside the
 * container) only when the set of routes changes. A deploy never reloads the config: a reload restarts
 * Caddy's HTTP server, whose idle keep-alive client connections are then closed under clients that
 * are about to reuse them (measured: 12 resets in 37k requests per switch). Instead each route's
 * upstreams are the containers that carry the route's DNS alias on the ingress network; the rollout
 * gives a new container that alias once it is healthy, and Caddy re-reads the A records every
 * UPSTREAM_REFRESH_MS. (Setting upstreams explicitly through the admin API would be a config change
 * too: Caddy applies every change by loading the whole config again, with the same resets.) The
 * admin API's `/reverse_proxy/upstreams` tells how many requests each upstream has in flight: old
 * containers are stopped once theirs reach 0.
 */

export const CADDY_ADMIN = 'http://127.0.0.1:2019';
const ROUTE_PREFIX = 'stagecraft-';
/**
 * How often Caddy re-reads a route's A records (from Docker's DNS on the host): the first request
 * after this has passed looks them up again, before it is proxied. The rollout waits this plus
 * SWITCH_MARGIN_MS after a switch before stopping old containers.
 */
export const UPSTREAM_REFRESH_MS = 100;
/** Margin after UPSTREAM_REFRESH_MS for a request to come and Caddy to look the alias up, in ms. */
export const SWITCH_MARGIN_MS = 50;
/**
 * Driver swarm's gateway re-reads `tasks.<service>` this often: as its first release did, because its
 * config is a swarm config named by its hash, and a new one would restart every gateway task.
 */
export const SWARM_UPSTREAM_REFRESH_MS = 200;

export interface CaddyRoute {
  /**
   * The app that owns the route on a gateway shared by several: its compose project
   * (`<project>-<environment>`). Absent on a gateway of one app (driver swarm's, dev).
   */
  app?: string;
  service: string;
  /**
   * Set on a service's other routes (`services.<name>.routes`): the route is named by its port too,
   * `<service>:<port>`, beside the service's main route.
   */
  extra?: boolean;
  /** Host names the route answers (without a path), or `*` for every other request. */
  domains: string[];
  port: number;
  /** The DNS name whose A records are the upstreams; default `upstreamAlias(service)` (driver swarm: `tasks.<service>`). */
  upstream?: string;
  /**
   * A path prefix such as `/api`: the route takes `/api` and `/api/…` of its domains only. Routes with
   * a longer prefix are tried first.
   */
  path?: string;
  /** With `path`: false keeps the prefix in the request the service sees (default: stripped). */
  stripPath?: boolean;
  /** The largest request body in bytes; a larger one is refused with 413 before it reaches the service. */
  maxBodyBytes?: number;
  /** HTTP basic auth: the user name and the bcrypt hash of the password (never the password). */
  basicAuth?: { user: string; hash: string };
  /** While set, every request answers 503 with the maintenance page and `Retry-After` in seconds. */
  maintenance?: { retryAfterSeconds: number };
}

/** A DNS label's longest length (RFC 1035); Caddy's resolver refuses longer names. */
const MAX_DNS_LABEL = 63;

/**
 * The DNS alias on the ingress network that names the containers serving a service: `live-<service>`,
 * or on a shared gateway's network `live-<service>-<8 hex>`, the hex digits from the sha256 of
 * `<app>/<service>` so that two apps' services of one name never share an alias. At most 63 characters
 * (a long service name is cut).
 */
export function upstreamAlias(service: string, app?: string): string {
  if (app === undefined) return `live-${service}`;
  const digest = createHash('sha256').update(`${app}/${service}`, 'utf8').digest('hex').slice(0, 8);
  const room = MAX_DNS_LABEL - 'live-'.length - digest.length - 1;
  return `live-${service.slice(0, room).replace(/[-.]+$/, '')}-${digest}`;
}

type RouteOwner = Pick<CaddyRoute, 'app' | 'service' | 'extra' | 'port'>;

/** A route's name within its app: the service, or `<service>:<port>` for one of its other routes. */
function routeName(route: RouteOwner): string {
  return route.extra === true ? `${route.service}:${route.port}` : route.service;
}

/**
 * The `@id` of a route in Caddy's config: `stagecraft-<name>`, or `stagecraft-<app>/<name>` for an
 * app's (the name as `routeName` makes it).
 */
function routeId(route: RouteOwner): string {
  return `${ROUTE_PREFIX}${route.app === undefined ? '' : `${route.app}/`}${routeName(route)}`;
}

/** True when two routes are the same route of the same app (service, and port for an other route). */
export function sameOwner(a: RouteOwner, b: RouteOwner): boolean {
  return a.app === b.app && routeName(a) === routeName(b);
}

/** The page every request of a route in maintenance gets, with status 503. */
export const MAINTENANCE_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width, initial-scale=1">' +
  '<title>Down for maintenance</title></head>' +
  '<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5">' +
  '<h1>Down for maintenance</h1><p>This site is being worked on and will be back shortly. Please try again in a few minutes.</p>' +
  '</body></html>\n';

/** The realm browsers show when they ask for the basic auth user and password. */
const BASIC_AUTH_REALM = 'restricted';

/** The path matcher of a prefix: the prefix itself and everything below it (`/api`, `/api/…`). */
function pathMatcher(path: string): string[] {
  return [path, `${path}/*`];
}

/** The matcher set of a route: its hosts (none for a catch-all) and its path prefix. */
function routeMatch(route: CaddyRoute): Record<string, unknown>[] | undefined {
  const catchAll = route.domains.includes('*');
  const match: Record<string, unknown> = {};
  if (!catchAll) match['host'] = [...route.domains].sort();
  if (route.path !== undefined) match['path'] = pathMatcher(route.path);
  return Object.keys(match).length === 0 ? undefined : [match];
}

/**
 * One route's handlers, in order: the maintenance page (answers 503 and ends the chain: the handlers
 * after it stay in the config so `off` restores them as they were), basic auth, the body limit, the
 * prefix stripped, and the reverse proxy, whose upstreams come from DNS; a failed dial (a replica that
 * just stopped) is retried.
 */
function routeJson(route: CaddyRoute, refreshMs: number): Record<string, unknown> {
  const match = routeMatch(route);
  const handle: Record<string, unknown>[] = [];
  if (route.maintenance !== undefined) {
    handle.push({
      handler: 'static_response',
      status_code: 503,
      headers: {
        'Cache-Control': ['no-store'],
        'Content-Type': ['text/html; charset=utf-8'],
        'Retry-After': [String(route.maintenance.retryAfterSeconds)],
      },
      body: MAINTENANCE_PAGE,
    });
  }
  if (route.basicAuth !== undefined) {
    handle.push({
      handler: 'authentication',
      providers: {
        http_basic: {
          accounts: [{ username: route.basicAuth.user, password: route.basicAuth.hash }],
          hash: { algorithm: 'bcrypt' },
          // bcrypt is slow on purpose: Caddy remembers a checked user/password pair instead of
          // hashing again on every request.
          hash_cache: {},
          realm: BASIC_AUTH_REALM,
        },
      },
    });
  }
  if (route.maxBodyBytes !== undefined)
    handle.push({ handler: 'request_body', max_size: route.maxBodyBytes });
  if (route.path !== undefined && route.stripPath !== false) {
    handle.push({ handler: 'rewrite', strip_path_prefix: route.path });
  }
  handle.push({
    handler: 'reverse_proxy',
    dynamic_upstreams: {
      source: 'a',
      name: route.upstream ?? upstreamAlias(route.service, route.app),
      port: String(route.port),
      refresh: `${refreshMs}ms`,
    },
    load_balancing: {
      selection_policy: { policy: 'round_robin' },
      try_duration: '5s',
      try_interval: '50ms',
      retry_match: [{ method: ['GET', 'HEAD', 'OPTIONS'] }],
    },
    transport: { protocol: 'http', dial_timeout: '200ms' },
  });
  return {
    '@id': routeId(route),
    ...(match === undefined ? {} : { match }),
    handle,
    terminal: true,
  };
}

/**
 * Caddy tries routes in order and the first match answers: routes with host names before catch-alls
 * (`*`), and within each, longer path prefixes before shorter ones and before routes without one.
 */
function sortRoutes(routes: CaddyRoute[]): CaddyRoute[] {
  return [...routes].sort((a, b) => {
    const aCatchAll = a.domains.includes('*') ? 1 : 0;
    const bCatchAll = b.domains.includes('*') ? 1 : 0;
    return (
      aCatchAll - bCatchAll ||
      (b.path?.length ?? 0) - (a.path?.length ?? 0) ||
      routeName(a).localeCompare(routeName(b)) ||
      (a.app ?? '').localeCompare(b.app ?? '')
    );
  });
}

/**
 * The file whose presence inside a gateway container tells it to close client connections cleanly
 * before it stops: put there (`docker cp`) when a new gateway serves beside it (rollout/ingress.ts).
 * In /tmp, which every gateway has (the config lock is there too).
 */
export const GATEWAY_DRAIN_FILE = '/tmp/stagecraft-draining';

/**
 * The first route of every config: while GATEWAY_DRAIN_FILE exists, each response says
 * `Connection: close`, so a keep-alive client closes its connection after the response it is
 * reading instead of having an idle one closed under the request it is about to send (HTTP/1.1;
 * HTTP/2 clients get GOAWAY when the gateway stops). Not terminal: the routes after it answer.
 */
const DRAIN_ROUTE: Record<string, unknown> = {
  '@id': 'gateway-draining',
  match: [{ file: { root: '/', try_files: [GATEWAY_DRAIN_FILE] } }],
  handle: [{ handler: 'headers', response: { set: { Connection: ['close'] }, deferred: true } }],
};

/**
 * The config of a gateway's ports container (rollout/ingress.ts): nothing served, no admin API, so
 * that it only holds the network namespace and the published ports the gateways run in.
 */
export const PORTS_CONTAINER_CONFIG = { admin: { disabled: true } };

/** How the gateway terminates TLS: not at all, with a certificate you provide, or with ACME. */
export type IngressTls =
  | { mode: 'off' }
  | { mode: 'custom'; certificate: string; key: string }
  | {
      mode: 'acme';
      email?: string;
      /** ACME directory URL (Caddy's default when absent). */
      ca?: string;
      /** PEM of the CA that signs the directory's HTTPS certificate (a private ACME CA). */
      caRoot?: string;
    };

/**
 * The whole config for a set of routes; routes with host matchers first, catch-alls (domain `*`) last.
 * With TLS the routes are served on :443 and Caddy redirects :80 to HTTPS. `draining` (default true)
 * puts DRAIN_ROUTE first; driver swarm's gateway, a stack service whose config is named by its hash,
 * goes without it (swarm replaces its tasks itself, and a new config would restart every one), and
 * with its own `refreshMs` (default UPSTREAM_REFRESH_MS; swarm's is SWARM_UPSTREAM_REFRESH_MS).
 */
export function caddyConfig(
  routes: CaddyRoute[],
  tls: IngressTls = { mode: 'off' },
  options: { draining?: boolean; refreshMs?: number } = {},
): Record<string, unknown> {
  const refreshMs = options.refreshMs ?? UPSTREAM_REFRESH_MS;
  const server: Record<string, unknown> = {
    routes: [
      ...(options.draining === false ? [] : [DRAIN_ROUTE]),
      ...sortRoutes(routes).map((route) => routeJson(route, refreshMs)),
    ],
  };
  const apps: Record<string, unknown> = {};
  if (tls.mode === 'off') {
    Object.assign(server, { listen: [':80'], automatic_https: { disable: true } });
  } else if (tls.mode === 'custom') {
    Object.assign(server, {
      listen: [':443'],
      tls_connection_policies: [{}],
      automatic_https: { disable_certificates: true },
    });
    apps['tls'] = { certificates: { load_pem: [{ certificate: tls.certificate, key: tls.key }] } };
  } else {
    Object.assign(server, { listen: [':443'] });
    const issuer: Record<string, unknown> = { module: 'acme' };
    if (tls.ca !== undefined) issuer['ca'] = tls.ca;
    if (tls.email) issuer['email'] = tls.email;
    if (tls.caRoot !== undefined) issuer['trusted_roots_pem_files'] = [acmeCaRootPath(tls.caRoot)];
    // Named explicitly: a route that also takes every other host (`*`) has no host matcher, from
    // which Caddy would otherwise learn the names to obtain certificates for.
    const names = [...new Set(routes.flatMap((route) => route.domains))]
      .filter((name) => name !== '*')
      .sort();
    apps['tls'] = {
      ...(names.length > 0 ? { certificates: { automate: names } } : {}),
      automation: { policies: [{ issuers: [issuer] }] },
    };
  }
  return {
    admin: { listen: '127.0.0.1:2019' },
    apps: { http: { http_port: 80, https_port: 443, servers: { stagecraft: server } }, ...apps },
  };
}

/** Where the gateway keeps its certificates and ACME account (`$XDG_DATA_HOME` of the Caddy image): a volume. */
export const GATEWAY_DATA_DIR = '/data';

/**
 * Path inside the gateway of the PEM that `acme_ca_root` names, e.g.
 * `/data/stagecraft/acme-ca-root-1a2b3c4d5e6f.pem`: named by the first 12 hex digits of its sha256,
 * so a changed root is a changed config and Caddy reloads its issuer.
 */
export function acmeCaRootPath(pem: string): string {
  const digest = createHash('sha256').update(pem, 'utf8').digest('hex').slice(0, 12);
  return `${GATEWAY_DATA_DIR}/stagecraft/acme-ca-root-${digest}.pem`;
}

/** argv run inside the gateway to write stdin to `path` (0644; a CA certificate is public), folders included. */
export function writeFileArgv(path: string): string[] {
  return ['sh', '-c', 'umask 022 && mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', path];
}

/** A fingerprint of the TLS part of a live or desired config, to tell whether it must be reloaded. */
export function tlsOfConfig(config: unknown): string {
  const typed = config as {
    apps?: { tls?: unknown; http?: { servers?: Record<string, { listen?: unknown }> } };
  } | null;
  return JSON.stringify([
    typed?.apps?.tls ?? null,
    typed?.apps?.http?.servers?.['stagecraft']?.listen ?? null,
  ]);
}

type RawHandler = {
  handler?: string;
  dynamic_upstreams?: { port?: string; name?: string; refresh?: string };
  status_code?: number | string;
  headers?: Record<string, string[]>;
  providers?: { http_basic?: { accounts?: { username?: string; password?: string }[] } };
  max_size?: number;
  strip_path_prefix?: string;
};
type RawRoute = { '@id'?: string; match?: { host?: string[]; path?: string[] }[]; handle?: RawHandler[] };

/** Every route of the `stagecraft` server of a live or desired config, raw. */
function serverRoutes(config: unknown): unknown[] {
  const servers = (
    config as { apps?: { http?: { servers?: Record<string, { routes?: unknown[] }> } } } | null
  )?.apps?.http?.servers;
  return servers?.['stagecraft']?.routes ?? [];
}

/** The Stagecraft routes of a live or desired config, raw. */
function rawRoutes(config: unknown): RawRoute[] {
  return serverRoutes(config)
    .map((raw) => raw as RawRoute)
    .filter((route) => typeof route['@id'] === 'string' && route['@id'].startsWith(ROUTE_PREFIX));
}

/**
 * Reads back the routes Stagecraft put into a running Caddy's config (from `GET /config/`), with
 * everything `sameRoutes` compares: path prefix, body limit, basic auth (its hash), maintenance.
 */
export function routesFromConfig(config: unknown): CaddyRoute[] {
  return rawRoutes(config).map((route) => {
    const handlers = route.handle ?? [];
    const find = (name: string) => handlers.find((handler) => handler.handler === name);
    const hosts = route.match?.[0]?.host ?? [];
    const paths = route.match?.[0]?.path ?? [];
    const path = paths[0];
    const id = route['@id']!.slice(ROUTE_PREFIX.length);
    const slash = id.lastIndexOf('/');
    const name = id.slice(slash + 1);
    const colon = name.indexOf(':');
    const out: CaddyRoute = {
      ...(slash === -1 ? {} : { app: id.slice(0, slash) }),
      service: colon === -1 ? name : name.slice(0, colon),
      ...(colon === -1 ? {} : { extra: true }),
      domains: hosts.length > 0 ? hosts : ['*'],
      port: Number(find('reverse_proxy')?.dynamic_upstreams?.port ?? 0),
    };
    if (path !== undefined) {
      out.path = path;
      out.stripPath = find('rewrite')?.strip_path_prefix === path;
    }
    const maxSize = find('request_body')?.max_size;
    if (typeof maxSize === 'number') out.maxBodyBytes = maxSize;
    const account = find('authentication')?.providers?.http_basic?.accounts?.[0];
    if (account?.username !== undefined && account.password !== undefined) {
      out.basicAuth = { user: account.username, hash: account.password };
    }
    const first = handlers[0];
    if (first?.handler === 'static_response' && Number(first.status_code) === 503) {
      out.maintenance = { retryAfterSeconds: Number(first.headers?.['Retry-After']?.[0] ?? 0) };
    }
    return out;
  });
}

/**
 * The proxy settings of a live or desired config's Stagecraft routes that a deploy does not read as
 * routes (the upstream refresh): when they differ from this version's, the config is loaded again.
 */
export function proxySettingsOfConfig(config: unknown): string {
  const refresh = rawRoutes(config).map(
    (route) =>
      (route.handle ?? []).find((handler) => handler.handler === 'reverse_proxy')?.dynamic_upstreams
        ?.refresh ?? '',
  );
  const first = serverRoutes(config)[0] as { '@id'?: unknown } | undefined;
  return JSON.stringify([[...new Set(refresh)].sort(), first?.['@id'] === DRAIN_ROUTE['@id']]);
}

/** Pause between two reads of the upstreams while old containers drain (inside the gateway), in ms. */
export const DRAIN_POLL_MS = 50;

/** How long after a switch Caddy is sure to route to the new containers, in ms (the refresh, a margin). */
export const SETTLE_MS = UPSTREAM_REFRESH_MS + SWITCH_MARGIN_MS;
/** SETTLE_MS in centiseconds (/proc/uptime counts in those): also the most DRAIN_SCRIPT ever settles. */
export const SETTLE_CS = Math.ceil(SETTLE_MS / 10);

/**
 * The drains of one host, run inside the gateway by `sh` (busybox's is enough). Each GROUP is
 * `NAME=ADDRESS,ADDRESS…` (names and `ip:port` addresses: nothing a shell splits). First it settles:
 * SETTLE `@T` sleeps until the host's /proc/uptime reaches T centiseconds (a container of a plain
 * Docker engine reads the host's; one that keeps its own clock settles SETTLE_MS), a number of
 * seconds sleeps that long. Then it reads `/reverse_proxy/upstreams` every PAUSE
 * seconds; a group whose addresses have no request in flight is done at once (`drained NAME`), and
 * when GRACE centiseconds have passed the rest are `busy NAME`; when the admin API does not answer,
 * every group left is `unreachable NAME`. One line per group, printed as it ends. An address Caddy does
 * not list has nothing in flight (Caddy 2.6 lists a dynamic upstream only while it has one). Caddy
 * writes each entry as `{"address":…,"num_requests":…,"fails":…}`, in that order (a Go struct's field
 * order). One `docker exec` for every service draining at that moment: an exec costs 150–350 ms, a read
 * inside ~3 ms (so the services of a host share one reader, not one each).
 *   sh -c DRAIN_SCRIPT sh SETTLE GRACE PAUSE GROUP...
 */
export const DRAIN_SCRIPT = `set -f
settle=$1 grace=$2 pause=$3; shift 3
now() { read -r up _ < /proc/uptime; echo $(( \${up%.*} * 100 + 1\${up#*.} - 100 )); }
case $settle in
  @*) d=$(( \${settle#@} - $(now) ))
    # Further ahead than a whole settle, or far behind: this container keeps its own clock (sysbox,
    # gVisor, a VM's engine), so it settles a whole SETTLE_CS instead.
    if [ "$d" -gt ${SETTLE_CS} ] || [ "$d" -lt -6000 ]; then d=${SETTLE_CS}; fi
    [ "$d" -le 0 ] || sleep "$(printf '%d.%02d' $((d / 100)) $((d % 100)))" ;;
  0) ;;
  *) sleep "$settle" ;;
esac
end=$(( $(now) + grace ))
while [ $# -gt 0 ]; do
  body=$(wget -q -O - ${CADDY_ADMIN}/reverse_proxy/upstreams) || { for g do echo "unreachable \${g%%=*}"; done; exit 0; }
  left=
  for g do
    busy=
    IFS=,
    for a in \${g#*=}; do
      case $body in
        *"\\"address\\":\\"$a\\",\\"num_requests\\":0,"*) ;;
        *"\\"address\\":\\"$a\\","*) busy=1 ;;
      esac
    done
    unset IFS
    if [ -n "$busy" ]; then left="$left $g"; else echo "drained \${g%%=*}"; fi
  done
  set -- $left
  [ $# -gt 0 ] || exit 0
  if [ "$(now)" -ge "$end" ]; then for g do echo "busy \${g%%=*}"; done; exit 0; fi
  sleep "$pause"
done
`;

/** How a drain ended (DRAIN_SCRIPT's word). */
export type DrainEnd = 'drained' | 'busy' | 'unreachable';

/** How long a drain first waits for the gateway to route to the new containers. */
export type Settle =
  /** Until the host's /proc/uptime reaches this, in centiseconds (exact, whatever the exec's start costs). */
  | { untilUptimeCs: number }
  /** This long from the drain's start, in ms. */
  | { ms: number };

/** One service's old containers to drain: a name for DRAIN_SCRIPT's lines and their `ip:port`s. */
export interface DrainGroup {
  name: string;
  addresses: string[];
}

/** Seconds for `sleep`, from ms (at most three decimals: "0.3", "0.02", "0"). */
function seconds(ms: number): string {
  return String(Math.round(Math.max(0, ms)) / 1000);
}

/** A group name or address DRAIN_SCRIPT can take as it is: nothing a shell splits or expands. */
const DRAIN_WORD = /^[A-Za-z0-9_.:-]+$/;

/**
 * argv run inside the ingress container: settles (`settle`), then waits until each group's addresses
 * (`ip:port` as Caddy names its upstreams) have no request in flight, `graceMs` at the most, reading
 * every DRAIN_POLL_MS. Its lines are read by parseDrainLine. Throws InternalError for a name or
 * address with characters a shell would split or expand.
 */
export function drainArgv(groups: DrainGroup[], settle: Settle, graceMs: number): string[] {
  for (const word of groups.flatMap((group) => [group.name, ...group.addresses])) {
    if (!DRAIN_WORD.test(word)) throw new InternalError(`cannot drain ${JSON.stringify(word)}`);
  }
  return [
    'sh',
    '-c',
    DRAIN_SCRIPT,
    'sh',
    'untilUptimeCs' in settle ? `@${Math.round(settle.untilUptimeCs)}` : seconds(settle.ms),
    String(Math.max(0, Math.ceil(graceMs / 10))),
    seconds(DRAIN_POLL_MS),
    ...groups.map((group) => `${group.name}=${group.addresses.join(',')}`),
  ];
}

/** One of DRAIN_SCRIPT's lines: which group ended how; undefined for any other line. */
export function parseDrainLine(line: string): { name: string; end: DrainEnd } | undefined {
  const match = /^(drained|busy|unreachable) (\S+)$/.exec(line.trim());
  return match ? { end: match[1] as DrainEnd, name: match[2]! } : undefined;
}

/** Replaces (or adds) one app's route of one service in a route list. */
export function withRoute(routes: CaddyRoute[], route: CaddyRoute): CaddyRoute[] {
  return [...routes.filter((existing) => !sameOwner(existing, route)), route];
}

/** What of a route configures Caddy, in a fixed order (the key `sameRoutes` compares). */
function routeKey(route: CaddyRoute): unknown[] {
  return [
    route.app ?? null,
    routeName(route),
    route.domains.includes('*') ? ['*'] : [...route.domains].sort(),
    route.port,
    route.path ?? null,
    route.path === undefined ? null : route.stripPath !== false,
    route.maxBodyBytes ?? null,
    route.basicAuth === undefined ? null : [route.basicAuth.user, route.basicAuth.hash],
    route.maintenance?.retryAfterSeconds ?? null,
  ];
}

/** True when two route lists configure Caddy identically. */
export function sameRoutes(a: CaddyRoute[], b: CaddyRoute[]): boolean {
  const key = (routes: CaddyRoute[]) => JSON.stringify(sortRoutes(routes).map(routeKey));
  return key(a) === key(b);
}

/** The folder whose creation (mkdir is atomic) takes the gateway's config lock; in /tmp, so it dies with the container. */
const CONFIG_LOCK_DIR = '/tmp/stagecraft-config.lock';

/** A config lock held longer than this was left by a change that died (a change takes seconds), in s. */
export const CONFIG_LOCK_STALE_S = 30;

/** Exit status of `configLockArgv` when the lock is held by another change. */
export const CONFIG_LOCK_HELD = 1;
/** Exit status of `configLockArgv` when the admin API did not answer (the lock was released again). */
export const CONFIG_LOCK_NO_ADMIN = 3;

/**
 * argv run inside the gateway to take its config lock (`dir`) for `token` (a fresh random word per
 * change) and print the live config (`GET /config/`): exit 0 with the config when taken,
 * CONFIG_LOCK_HELD when another holds it, CONFIG_LOCK_NO_ADMIN (lock released) while the admin API does
 * not answer. The holder writes the time it took it and its token (`<epoch s> <token>`) into the lock;
 * a lock older than `staleSeconds`, or without a time after a minute (its holder died before writing
 * it), is released so that the next try takes it.
 */
export function configLockArgv(
  token: string,
  dir = CONFIG_LOCK_DIR,
  staleSeconds = CONFIG_LOCK_STALE_S,
): string[] {
  return [
    'sh',
    '-c',
    'if mkdir "$1" 2>/dev/null; then echo "$(date +%s) $3" > "$1/at"; ' +
      `wget -q -O - "$4" || { rm -rf "$1"; exit ${CONFIG_LOCK_NO_ADMIN}; }; exit 0; fi; ` +
      'at=$(cut -d" " -f1 "$1/at" 2>/dev/null) || at=; now=$(date +%s); ' +
      'if [ -n "$at" ] && [ $((now - at)) -gt "$2" ]; then rm -rf "$1"; ' +
      `elif [ -z "$at" ] && [ -n "$(find "$1" -maxdepth 0 -mmin +1 2>/dev/null)" ]; then rm -rf "$1"; fi; exit ${CONFIG_LOCK_HELD}`,
    'sh',
    dir,
    String(staleSeconds),
    token,
    `${CADDY_ADMIN}/config/`,
  ];
}

/** argv run inside the gateway to release its config lock, only while `token` still holds it. */
export function configUnlockArgv(token: string, dir = CONFIG_LOCK_DIR): string[] {
  return [
    'sh',
    '-c',
    '[ "$(cut -d" " -f2 "$1/at" 2>/dev/null)" = "$2" ] && rm -rf "$1"; exit 0',
    'sh',
    dir,
    token,
  ];
}

/**
 * A live config (from `GET /config/`) without one app's routes: the other routes, the TLS settings and
 * everything else as they are, and the names Caddy obtains certificates for (`certificates.automate`)
 * only those the remaining routes serve. Pure; the input is not changed.
 */
export function withoutApp(config: unknown, app: string): unknown {
  const copy = structuredClone(config) as {
    apps?: {
      http?: { servers?: Record<string, { routes?: RawRoute[] }> };
      tls?: { certificates?: { automate?: string[] } };
    };
  } | null;
  const server = copy?.apps?.http?.servers?.['stagecraft'];
  if (server?.routes === undefined) return copy;
  const prefix = `${ROUTE_PREFIX}${app}/`;
  server.routes = server.routes.filter(
    (route) => !(typeof route['@id'] === 'string' && route['@id'].startsWith(prefix)),
  );
  const certificates = copy?.apps?.tls?.certificates;
  if (certificates?.automate !== undefined) {
    const served = new Set(routesFromConfig(copy).flatMap((route) => route.domains));
    certificates.automate = certificates.automate.filter((name) => served.has(name));
    if (certificates.automate.length === 0) delete certificates.automate;
  }
  return copy;
}

/** argv run inside the ingress container to read the live config. */
export function readConfigArgv(): string[] {
  return ['wget', '-q', '-O', '-', `${CADDY_ADMIN}/config/`];
}

/**
 * argv run inside the ingress container to load a new config sent on stdin (POST /load). The config
 * can hold the custom TLS key, so it is written under umask 077 (a 0700 folder, a 0600 file) in
 * Caddy's own config folder (`$XDG_CONFIG_HOME`, where Caddy keeps its 0600 autosave), never /tmp,
 * and removed once posted, whatever the outcome.
 */
export function loadConfigArgv(): string[] {
  return [
    'sh',
    '-c',
    'umask 077 && d="${XDG_CONFIG_HOME:-/config}/stagecraft" && mkdir -p "$d" && f="$d/load.json" && ' +
      `cat > "$f" && wget -q -O - --header 'Content-Type: application/json' --post-file "$f" ${CADDY_ADMIN}/load; ` +
      's=$?; rm -f "$f"; exit $s',
  ];
}

/** The apps other than `app` that have routes in a gateway's config, sorted. */
export function othersOn(routes: CaddyRoute[], app: string): string[] {
  return [
    ...new Set(routes.flatMap((route) => (route.app !== undefined && route.app !== app ? [route.app] : []))),
  ].sort();
}
