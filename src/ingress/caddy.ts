/**
 * The Caddy gateway on a deploy host. Stagecraft owns its whole JSON config and loads it through the
 * admin API (inside the container), so a service's upstreams switch atomically to explicit container
 * addresses: requests in flight finish on the old ones, new requests go to the new ones.
 */

export const CADDY_ADMIN = 'http://127.0.0.1:2019';
const ROUTE_PREFIX = 'stagecraft-';

export interface CaddyRoute {
  service: string;
  domains: string[];
  upstreams: string[];
}

/** One route's reverse proxy: retries on a connection that fails (a replica that just stopped). */
function routeJson(route: CaddyRoute): Record<string, unknown> {
  const catchAll = route.domains.includes('*');
  return {
    '@id': `${ROUTE_PREFIX}${route.service}`,
    ...(catchAll ? {} : { match: [{ host: [...route.domains].sort() }] }),
    handle: [
      {
        handler: 'reverse_proxy',
        upstreams: route.upstreams.map((dial) => ({ dial })),
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

/** The whole config for a set of routes; routes with host matchers first, catch-alls (domain `*`) last. */
export function caddyConfig(routes: CaddyRoute[]): Record<string, unknown> {
  const sorted = [...routes].sort((a, b) => {
    const aCatchAll = a.domains.includes('*') ? 1 : 0;
    const bCatchAll = b.domains.includes('*') ? 1 : 0;
    return aCatchAll - bCatchAll || a.service.localeCompare(b.service);
  });
  return {
    admin: { listen: '127.0.0.1:2019' },
    apps: {
      http: {
        servers: {
          stagecraft: {
            listen: [':80'],
            routes: sorted.map(routeJson),
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
  const routes = servers?.['stagecraft']?.routes ?? [];
  const out: CaddyRoute[] = [];
  for (const raw of routes) {
    const route = raw as {
      '@id'?: string;
      match?: { host?: string[] }[];
      handle?: { upstreams?: { dial: string }[] }[];
    };
    const id = route['@id'];
    if (typeof id !== 'string' || !id.startsWith(ROUTE_PREFIX)) continue;
    const hosts = route.match?.[0]?.host ?? [];
    out.push({
      service: id.slice(ROUTE_PREFIX.length),
      domains: hosts.length > 0 ? hosts : ['*'],
      upstreams: (route.handle?.[0]?.upstreams ?? []).map((upstream) => upstream.dial),
    });
  }
  return out;
}

/** Replaces (or adds) one service's route in a route list. */
export function withRoute(routes: CaddyRoute[], route: CaddyRoute): CaddyRoute[] {
  return [...routes.filter((existing) => existing.service !== route.service), route];
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
