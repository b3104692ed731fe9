/**
 * The Caddy gateway on a deploy host. Routes are loaded through Caddy's admin API (inside the
 * container) only when the set of routes changes. A deploy never reloads the config: a reload restarts
 * Caddy's HTTP server, whose idle keep-alive client connections are then closed under clients that
 * are about to reuse them (measured: 12 resets in 37k requests per switch). Instead each route's
 * upstreams are the containers that carry the route's DNS alias on the ingress network; the rollout
 * gives a new container that alias once it is healthy, and Caddy re-reads the A records every second.
 */

export const CADDY_ADMIN = 'http://127.0.0.1:2019';
const ROUTE_PREFIX = 'stagecraft-';
/** How often Caddy re-reads a route's A records; the rollout waits this (plus a margin) after a switch. */
export const UPSTREAM_REFRESH_MS = 1000;

export interface CaddyRoute {
  service: string;
  domains: string[];
  port: number;
}

/** The DNS alias on the ingress network that names the containers serving a service. */
export function upstreamAlias(service: string): string {
  return `live-${service}`;
}

/** One route's reverse proxy: upstreams from DNS; a failed dial (a replica that just stopped) is retried. */
function routeJson(route: CaddyRoute): Record<string, unknown> {
  const catchAll = route.domains.includes('*');
  return {
    '@id': `${ROUTE_PREFIX}${route.service}`,
    ...(catchAll ? {} : { match: [{ host: [...route.domains].sort() }] }),
    handle: [
      {
        handler: 'reverse_proxy',
        dynamic_upstreams: {
          source: 'a',
          name: upstreamAlias(route.service),
          port: String(route.port),
          refresh: `${UPSTREAM_REFRESH_MS}ms`,
        },
        load_balancing: {
          selection_policy: { policy: 'round_robin' },
          try_duration: '5s',
          try_interval: '50ms',
          retry_match: [{ method: ['GET', 'HEAD', 'OPTIONS'] }],
        },
        transport: { protocol: 'http', dial_timeout: '200ms' },
      },
    ],
    terminal: true,
  };
}

function sortRoutes(routes: CaddyRoute[]): CaddyRoute[] {
  return [...routes].sort((a, b) => {
    const aCatchAll = a.domains.includes('*') ? 1 : 0;
    const bCatchAll = b.domains.includes('*') ? 1 : 0;
    return aCatchAll - bCatchAll || a.service.localeCompare(b.service);
  });
}

/** The whole config for a set of routes; routes with host matchers first, catch-alls (domain `*`) last. */
export function caddyConfig(routes: CaddyRoute[]): Record<string, unknown> {
  return {
    admin: { listen: '127.0.0.1:2019' },
    apps: {
      http: {
        servers: {
          stagecraft: {
            listen: [':80'],
            routes: sortRoutes(routes).map(routeJson),
            automatic_https: { disable: true },
          },
        },
      },
    },
  };
}

/** Reads back the routes Stagecraft put into a running Caddy's config (from `GET /config/`). */
export function routesFromConfig(config: unknown): CaddyRoute[] {
  const servers = (
    config as { apps?: { http?: { servers?: Record<string, { routes?: unknown[] }> } } } | null
  )?.apps?.http?.servers;
  const out: CaddyRoute[] = [];
  for (const raw of servers?.['stagecraft']?.routes ?? []) {
    const route = raw as {
      '@id'?: string;
      match?: { host?: string[] }[];
      handle?: { dynamic_upstreams?: { port?: string } }[];
    };
    const id = route['@id'];
    if (typeof id !== 'string' || !id.startsWith(ROUTE_PREFIX)) continue;
    const hosts = route.match?.[0]?.host ?? [];
    out.push({
      service: id.slice(ROUTE_PREFIX.length),
      domains: hosts.length > 0 ? hosts : ['*'],
      port: Number(route.handle?.[0]?.dynamic_upstreams?.port ?? 0),
    });
  }
  return out;
}

/** Replaces (or adds) one service's route in a route list. */
export function withRoute(routes: CaddyRoute[], route: CaddyRoute): CaddyRoute[] {
  return [...routes.filter((existing) => existing.service !== route.service), route];
}

/** True when two route lists configure Caddy identically. */
export function sameRoutes(a: CaddyRoute[], b: CaddyRoute[]): boolean {
  const domains = (route: CaddyRoute) => (route.domains.includes('*') ? ['*'] : [...route.domains].sort());
  const key = (routes: CaddyRoute[]) =>
    JSON.stringify(sortRoutes(routes).map((route) => [route.service, domains(route), route.port]));
  return key(a) === key(b);
}

/** argv run inside the ingress container to read the live config. */
export function readConfigArgv(): string[] {
  return ['wget', '-q', '-O', '-', `${CADDY_ADMIN}/config/`];
}

/** argv run inside the ingress container to load a new config sent on stdin (POST /load). */
export function loadConfigArgv(): string[] {
  return [
    'sh',
    '-c',
    `cat > /tmp/stagecraft-caddy.json && wget -q -O - --header 'Content-Type: application/json' --post-file /tmp/stagecraft-caddy.json ${CADDY_ADMIN}/load`,
  ];
}
