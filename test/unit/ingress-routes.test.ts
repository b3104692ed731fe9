import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { hashPassword, withPasswordHashes } from '../../src/ingress/basic-auth.js';
import {
  type CaddyRoute,
  caddyConfig,
  MAINTENANCE_PAGE,
  routesFromConfig,
  sameRoutes,
} from '../../src/ingress/caddy.js';
import { Secret } from '../../src/util/secret.js';

const proxy = (name: string, port: string) => ({
  handler: 'reverse_proxy',
  dynamic_upstreams: { source: 'a', name, port, refresh: '100ms' },
  load_balancing: {
    selection_policy: { policy: 'round_robin' },
    try_duration: '5s',
    try_interval: '50ms',
    retry_match: [{ method: ['GET', 'HEAD', 'OPTIONS'] }],
  },
  transport: { protocol: 'http', dial_timeout: '200ms' },
});

const HASH = '$2b$04$abcdefghijklmnopqrstuuFb3kwr6o7EhD5o6bFcm3TXmI3pUoBaq';

function serverRoutes(routes: CaddyRoute[]): unknown[] {
  const config = caddyConfig(routes) as {
    apps: { http: { servers: { stagecraft: { routes: unknown[] } } } };
  };
  // The first route is the gateway's own draining route (ingress-caddy.test.ts), not an app's.
  const [draining, ...routed] = config.apps.http.servers.stagecraft.routes;
  expect((draining as { '@id': string })['@id']).toBe('gateway-draining');
  return routed;
}

describe('route features in the Caddy config', () => {
  it('a path prefix matches the prefix and below, strips it, and goes before the same host without one', () => {
    expect(
      serverRoutes([
        { service: 'web', domains: ['shop.example'], port: 80 },
        { service: 'api', domains: ['shop.example'], port: 3000, path: '/api', stripPath: true },
        { service: 'docs', domains: ['shop.example'], port: 8080, path: '/api/docs', stripPath: false },
      ]),
    ).toEqual([
      {
        '@id': 'stagecraft-docs',
        match: [{ host: ['shop.example'], path: ['/api/docs', '/api/docs/*'] }],
        handle: [proxy('live-docs', '8080')],
        terminal: true,
      },
      {
        '@id': 'stagecraft-api',
        match: [{ host: ['shop.example'], path: ['/api', '/api/*'] }],
        handle: [{ handler: 'rewrite', strip_path_prefix: '/api' }, proxy('live-api', '3000')],
        terminal: true,
      },
      {
        '@id': 'stagecraft-web',
        match: [{ host: ['shop.example'] }],
        handle: [proxy('live-web', '80')],
        terminal: true,
      },
    ]);
  });

  it('a catch-all with a path prefix matches on the path alone, after every host route', () => {
    expect(
      serverRoutes([
        { service: 'api', domains: ['*'], port: 3000, path: '/api', stripPath: true },
        { service: 'web', domains: ['shop.example'], port: 80 },
      ]).map((route) => (route as { match?: unknown }).match),
    ).toEqual([[{ host: ['shop.example'] }], [{ path: ['/api', '/api/*'] }]]);
  });

  it('basic auth (bcrypt, hash cache), then the body limit, then the proxy', () => {
    expect(
      serverRoutes([
        {
          service: 'web',
          domains: ['staging.shop.example'],
          port: 80,
          maxBodyBytes: 10_000_000,
          basicAuth: { user: 'admin', hash: HASH },
        },
      ]),
    ).toEqual([
      {
        '@id': 'stagecraft-web',
        match: [{ host: ['staging.shop.example'] }],
        handle: [
          {
            handler: 'authentication',
            providers: {
              http_basic: {
                accounts: [{ username: 'admin', password: HASH }],
                hash: { algorithm: 'bcrypt' },
                hash_cache: {},
                realm: 'restricted',
              },
            },
          },
          { handler: 'request_body', max_size: 10_000_000 },
          proxy('live-web', '80'),
        ],
        terminal: true,
      },
    ]);
  });

  it('maintenance answers 503 with the page and Retry-After first, keeping the rest of the route for off', () => {
    expect(
      serverRoutes([
        {
          service: 'web',
          domains: ['shop.example'],
          port: 80,
          basicAuth: { user: 'admin', hash: HASH },
          maintenance: { retryAfterSeconds: 120 },
        },
      ]),
    ).toEqual([
      {
        '@id': 'stagecraft-web',
        match: [{ host: ['shop.example'] }],
        handle: [
          {
            handler: 'static_response',
            status_code: 503,
            headers: {
              'Cache-Control': ['no-store'],
              'Content-Type': ['text/html; charset=utf-8'],
              'Retry-After': ['120'],
            },
            body: MAINTENANCE_PAGE,
          },
          {
            handler: 'authentication',
            providers: {
              http_basic: {
                accounts: [{ username: 'admin', password: HASH }],
                hash: { algorithm: 'bcrypt' },
                hash_cache: {},
                realm: 'restricted',
              },
            },
          },
          proxy('live-web', '80'),
        ],
        terminal: true,
      },
    ]);
    expect(MAINTENANCE_PAGE).toContain('<title>Down for maintenance</title>');
  });

  it('reads every setting back from a live config, and tells each change from the same routes', () => {
    const routes: CaddyRoute[] = [
      {
        service: 'api',
        domains: ['b.example', 'a.example'],
        port: 3000,
        path: '/api',
        stripPath: false,
        maxBodyBytes: 1024,
        basicAuth: { user: 'admin', hash: HASH },
        maintenance: { retryAfterSeconds: 300 },
      },
      { service: 'web', domains: ['*'], port: 80 },
    ];
    const live = routesFromConfig(caddyConfig(routes));
    expect(live).toEqual([
      { ...routes[0], domains: ['a.example', 'b.example'] },
      { service: 'web', domains: ['*'], port: 80 },
    ]);
    expect(sameRoutes(live, routes)).toBe(true);
    const changed = (patch: Partial<CaddyRoute>) => [{ ...routes[0]!, ...patch }, routes[1]!];
    expect(sameRoutes(live, changed({ path: '/v2' }))).toBe(false);
    expect(sameRoutes(live, changed({ stripPath: true }))).toBe(false);
    expect(sameRoutes(live, changed({ maxBodyBytes: 2048 }))).toBe(false);
    expect(sameRoutes(live, changed({ basicAuth: { user: 'ops', hash: HASH } }))).toBe(false);
    expect(sameRoutes(live, changed({ basicAuth: undefined }))).toBe(false);
    expect(sameRoutes(live, changed({ maintenance: undefined }))).toBe(false);
    expect(sameRoutes(live, changed({ maintenance: { retryAfterSeconds: 60 } }))).toBe(false);
  });
});

describe('basic auth passwords', { timeout: 60_000 }, () => {
  const planned = (password: string, user = 'admin') => [
    {
      service: 'web',
      domains: ['staging.example'],
      port: 80,
      basicAuth: { user, password: new Secret(password) },
    },
  ];

  it('keeps the live hash while the password matches it, so an unchanged password changes no config', async () => {
    const first = await withPasswordHashes(planned('correct horse'), []);
    const hash = first[0]!.basicAuth!.hash;
    expect(hash).toMatch(/^\$2b\$10\$/);
    expect(await bcrypt.compare('correct horse', hash)).toBe(true);
    expect(JSON.stringify(first)).not.toContain('correct horse');
    const again = await withPasswordHashes(planned('correct horse'), first);
    expect(again[0]!.basicAuth!.hash).toBe(hash);
    expect(sameRoutes(again, first)).toBe(true);
  });

  it('hashes again when the password or the user changed', async () => {
    const live: CaddyRoute[] = [
      {
        service: 'web',
        domains: ['staging.example'],
        port: 80,
        basicAuth: { user: 'admin', hash: await hashPassword('web', 'old') },
      },
    ];
    const newPassword = await withPasswordHashes(planned('new'), live);
    expect(newPassword[0]!.basicAuth!.hash).not.toBe(live[0]!.basicAuth!.hash);
    expect(await bcrypt.compare('new', newPassword[0]!.basicAuth!.hash)).toBe(true);
    const newUser = await withPasswordHashes(planned('old', 'ops'), live);
    expect(newUser[0]!.basicAuth).toEqual({
      user: 'ops',
      hash: expect.not.stringMatching(live[0]!.basicAuth!.hash),
    });
  });

  it('refuses an empty password or one over 72 bytes, naming the service and never the value', async () => {
    await expect(withPasswordHashes(planned(''), [])).rejects.toThrow(
      'the basic_auth password of web is empty: bcrypt takes 1 to 72 bytes',
    );
    await expect(withPasswordHashes(planned('x'.repeat(73)), [])).rejects.toThrow(
      'the basic_auth password of web is 73 bytes long: bcrypt takes 1 to 72 bytes',
    );
  });
});
