import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import {
  type CaddyRoute,
  caddyConfig,
  routesFromConfig,
  sameRoutes,
  upstreamAlias,
} from '../../src/ingress/caddy.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import type { LoadedEnvironment } from '../../src/operations/environment.js';
import { gatewayImageWarnings } from '../../src/operations/routes.js';
import { planDeploy } from '../../src/plan/deploy.js';
import { planMaintenance } from '../../src/plan/maintenance.js';
import { allSteps, type Plan } from '../../src/plan/types.js';
import { planToJson } from '../../src/render/plan.js';
import { maintenancePath, parseMaintenanceLine } from '../../src/state/maintenance.js';
import { parseByteSize } from '../../src/util/byte-size.js';
import { UserError } from '../../src/util/errors.js';
import { Secret } from '../../src/util/secret.js';
import { load, problems } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const head = 'project:\n  name: shop\n  registry: registry.example/shop\n';
const envs = `environments:
  staging:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }, { name: h2, address: 10.0.0.2 }]
      db: [{ name: h3, address: 10.0.0.3 }]
`;
const CONFIG = `${head}services:
  api: { role: web, port: 3000, domains: [shop.example/api], max_body: 10MB }
  web:
    role: web
    port: 8080
    domains: [shop.example, "*"]
    basic_auth: { user: admin, password_secret: STAGING_PASSWORD }
  db: { role: db }
${envs}`;

function model(yaml = CONFIG) {
  return buildEnvironmentModel(load(yaml, { envName: 'staging' }), compose);
}

/** The deploy plan of `m` on staging, web's basic auth password being `password`. */
function stagingPlan(m: ReturnType<typeof model>, password: Secret): Plan {
  return planDeploy({
    model: m,
    compose,
    version: 'abc123',
    immutableVersion: true,
    releaseId: 'rel-20261201-000000000',
    kind: 'deploy',
    skipBuild: 'test',
    hostAddresses: { h1: '10.0.0.1', h2: '10.0.0.2', h3: '10.0.0.3' },
    secretValues: [],
    secretNames: ['STAGING_PASSWORD'],
    projectDir: '/p',
    readProjectPath: () => undefined,
    migrations: [],
    message: 'deploy',
    routes: { passwords: { web: password } },
  });
}

function ingressRoutes(plan: Plan, host = 'h1') {
  const step = allSteps(plan).find((candidate) => candidate.id === `ingress:${host}`)!;
  return { step, routes: step.action.kind === 'ingress' ? step.action.routes : [] };
}

describe('route settings in stagecraft.yml', () => {
  it('names a domain whose path prefix differs, a bad prefix and a bad size at file:line:column', () => {
    expect(
      problems(
        `${head}services:\n  api:\n    port: 3000\n    domains: [a.example/api, b.example/v2]\n    max_body: 10 parsecs\n  web:\n    port: 80\n    path: /api/\n${envs}`,
      ),
    ).toEqual([
      'stagecraft.yml:7:30 services.api.domains[1]: b.example/v2 has path prefix /v2, but a.example/api has /api: every domain of a service takes the same path prefix (route another prefix to another service)',
      'stagecraft.yml:8:15 services.api.max_body: expected a size such as 10MB, 512KiB or 1GB (MB = 1000², MiB = 1024²), or a number of bytes, found "10 parsecs"',
      'stagecraft.yml:11:11 services.web.path: expected a path prefix such as /api or /app/v2: "/" and segments, no trailing "/", no "*", found "/api/"',
    ]);
    expect(
      problems(
        `${head}services:\n  api:\n    port: 3000\n    domains: [a.example/api]\n    path: /v1\n${envs}`,
      ),
    ).toEqual([
      'stagecraft.yml:7:15 services.api.domains[0]: a.example/api has path prefix /api, but path is /v1: a service has one path prefix (route another prefix to another service)',
    ]);
  });

  it('refuses a basic_auth without a secret name, and an unknown key in it', () => {
    expect(
      problems(`${head}services:\n  web:\n    basic_auth: { user: "ad:min", password: hunter2 }\n${envs}`),
    ).toEqual([
      'stagecraft.yml:6:17 services.web.basic_auth.password_secret: is required: expected a string',
      'stagecraft.yml:6:25 services.web.basic_auth.user: expected a user name without ":" or spaces, found "ad:min"',
      'stagecraft.yml:6:35 services.web.basic_auth.password: unknown key "password"; allowed keys: user, password_secret',
    ]);
  });

  it('reads sizes as Caddy does: MB = 1000², MiB = 1024²', () => {
    expect([
      parseByteSize('10MB'),
      parseByteSize('512KiB'),
      parseByteSize('1.5GB'),
      parseByteSize(42),
    ]).toEqual([10_000_000, 524_288, 1_500_000_000, 42]);
    expect(() => parseByteSize('0')).toThrow(UserError);
  });
});

describe('the model and the plan', () => {
  it('splits the prefix from the domains, strips it by default, and carries the rest per service', () => {
    const services = Object.fromEntries(model().services.map((service) => [service.name, service]));
    expect(services['api']).toMatchObject({
      domains: ['shop.example'],
      path: '/api',
      stripPath: true,
      maxBodyBytes: 10_000_000,
    });
    expect(services['web']).toMatchObject({
      domains: ['shop.example', '*'],
      basicAuth: { user: 'admin', passwordSecret: 'STAGING_PASSWORD' },
    });
    expect(services['web']!.path).toBeUndefined();
  });

  it('an environment block that gives another prefix than the project block is a plan error', () => {
    expect(() =>
      model(
        `${head}services:\n  api: { role: web, port: 3000, domains: [shop.example/api] }\n  web: { role: web }\n  db: { role: db }\n${envs}    services:\n      api: { path: /v2 }\n`,
      ),
    ).toThrow(
      expect.objectContaining({
        details: [
          'service api: its domains (shop.example/api) and path /v2 do not take one path prefix: a service has one (route another prefix to another service)',
        ],
      }),
    );
  });

  it("the gateway step carries each route's settings, the password as a Secret, and JSON shows the user only", () => {
    const password = new Secret('pl4n-pw-never-shown');
    const plan = stagingPlan(model(), password);
    const { step, routes } = ingressRoutes(plan);
    expect(routes).toEqual([
      {
        service: 'api',
        domains: ['shop.example'],
        port: 3000,
        path: '/api',
        stripPath: true,
        maxBodyBytes: 10_000_000,
      },
      { service: 'web', domains: ['shop.example', '*'], port: 8080, basicAuth: { user: 'admin', password } },
    ]);
    expect(step.title).toBe('ensure caddy ingress on port 80');
    const json = JSON.stringify(planToJson(plan));
    expect(json).not.toContain('pl4n-pw-never-shown');
    const ingress = (
      planToJson(plan)['phases'] as { steps: { id: string; action: { routes?: unknown } }[] }[]
    )
      .flatMap((phase) => phase.steps)
      .find((candidate) => candidate.id === 'ingress:h1')!;
    expect(ingress.action.routes).toEqual([
      {
        service: 'api',
        domains: ['shop.example'],
        port: 3000,
        path: '/api',
        strip_path: true,
        max_body_bytes: 10_000_000,
      },
      { service: 'web', domains: ['shop.example', '*'], port: 8080, basic_auth: { user: 'admin' } },
    ]);
    expect(allSteps(plan).find((candidate) => candidate.id === 'rollout:h1:api')!.title).toContain(
      '→ shop.example/api;',
    );
  });

  it('a deploy while maintenance is on plans every route in maintenance and says so in the title', () => {
    const plan = planDeploy({
      model: model(),
      compose,
      version: 'abc123',
      releaseId: 'rel-20261201-000000000',
      kind: 'deploy',
      skipBuild: 'test',
      hostAddresses: {},
      secretValues: [],
      secretNames: [],
      projectDir: '/p',
      readProjectPath: () => undefined,
      migrations: [],
      message: 'deploy',
      routes: { passwords: { web: new Secret('x') }, maintenance: { retryAfterSeconds: 300 } },
    });
    const { step, routes } = ingressRoutes(plan, 'h2');
    expect(routes.map((route) => route.maintenance)).toEqual([
      { retryAfterSeconds: 300 },
      { retryAfterSeconds: 300 },
    ]);
    expect(step.title).toBe(
      'ensure caddy ingress on port 80; maintenance on: every route answers 503 (Retry-After 300 s)',
    );
  });

  it('says which gateways a deploy replaces for a changed ingress.image, and nothing where it is unchanged', () => {
    const m = model(CONFIG.replace('environments:', 'ingress:\n  image: caddy:2.8\nenvironments:'));
    const plan = planDeploy({
      model: m,
      compose,
      version: 'abc123',
      releaseId: 'rel-20261201-000000000',
      kind: 'deploy',
      skipBuild: 'test',
      hostAddresses: {},
      secretValues: [],
      secretNames: [],
      projectDir: '/p',
      readProjectPath: () => undefined,
      migrations: [],
      message: 'deploy',
      routes: { passwords: { web: new Secret('x') } },
      gateways: {
        h1: { image: 'caddy:2', inPortsContainer: false, others: ['blog-production'] },
        h2: { image: 'caddy:2.8', inPortsContainer: true, others: [] },
      },
    });
    expect(ingressRoutes(plan, 'h1').step.title).toBe(
      'ensure caddy ingress on port 80; replaces the gateway stagecraft-gateway (caddy:2 → caddy:2.8) and moves its ports into stagecraft-gateway-ports: requests to h1 are refused for 1–6 s, this once',
    );
    expect(ingressRoutes(plan, 'h2').step.title).toBe('ensure caddy ingress on port 80');
    // Not read (a plan without --refresh): as before.
    const unread = stagingPlan(model(), new Secret('x'));
    expect(ingressRoutes(unread, 'h1').step.title).toBe('ensure caddy ingress on port 80');
  });

  it('warns before a deploy or a switch of each gateway it replaces, naming the other apps that move with it', () => {
    const env = {
      model: model(CONFIG.replace('environments:', 'ingress:\n  image: caddy:2.8\nenvironments:')),
    };
    const gateways = {
      h2: { image: 'caddy:2', inPortsContainer: true, others: [] },
      h1: { image: 'caddy:2', inPortsContainer: false, others: ['blog-production', 'docs-production'] },
      h3: { image: 'caddy:2.8', inPortsContainer: true, others: ['blog-production'] },
    };
    expect(gatewayImageWarnings(env as LoadedEnvironment, gateways)).toEqual([
      'ingress.image changed: this deploy replaces the gateway stagecraft-gateway (caddy:2 → caddy:2.8) and moves its ports into stagecraft-gateway-ports: requests to h1 are refused for 1–6 s, this once',
      'the gateway stagecraft-gateway on h1 also serves blog-production, docs-production: it moves to caddy:2.8 for them too; give every app on this host the same ingress.image or the next deploy of another moves it back',
      'ingress.image changed: this deploy replaces the gateway stagecraft-gateway (caddy:2 → caddy:2.8) beside the old one, which drains: no request refused',
    ]);
    expect(gatewayImageWarnings(env as LoadedEnvironment, { h2: gateways.h2 }, 'maintenance on')).toEqual([
      'ingress.image changed: maintenance on replaces the gateway stagecraft-gateway (caddy:2 → caddy:2.8) beside the old one, which drains: no request refused',
    ]);
    expect(gatewayImageWarnings(env as LoadedEnvironment, { h3: gateways.h3 })).toEqual([]);
  });

  it('maintenance on is the lock, the gateway of each routing host, the record and the unlock', () => {
    const password = new Secret('m-pw');
    const plan = planMaintenance({
      model: model(),
      state: 'on',
      retryAfterSeconds: 120,
      tls: { mode: 'off' },
      passwords: { web: password },
      recordPath: '~/.stagecraft/shop-staging/maintenance.jsonl',
      message: 'maintenance on shop-staging',
    });
    expect(plan.kind).toBe('maintenance');
    expect(
      plan.phases.map((phase) => [
        phase.name,
        phase.skipped ?? null,
        phase.steps.map((step) => [step.id, step.host?.name ?? null, step.dependsOn]),
      ]),
    ).toEqual([
      ['build', 'maintenance does not build', []],
      ['push', 'maintenance does not push', []],
      ['migrate_pre', null, [['lock:acquire', 'h1', []]]],
      [
        'rollout',
        null,
        [
          ['ingress:h1', 'h1', ['lock:acquire']],
          ['ingress:h2', 'h2', ['lock:acquire']],
        ],
      ],
      ['migrate_post', 'maintenance does not migrate_post', []],
      [
        'finalize',
        null,
        [
          ['record', null, []],
          ['lock:release', 'h1', ['record']],
        ],
      ],
    ]);
    expect(allSteps(plan).find((step) => step.id === 'record')!.title).toBe(
      'record maintenance on in ~/.stagecraft/shop-staging/maintenance.jsonl on h1',
    );
    expect(ingressRoutes(plan).routes).toEqual([
      {
        service: 'api',
        domains: ['shop.example'],
        port: 3000,
        path: '/api',
        stripPath: true,
        maxBodyBytes: 10_000_000,
        maintenance: { retryAfterSeconds: 120 },
      },
      {
        service: 'web',
        domains: ['shop.example', '*'],
        port: 8080,
        basicAuth: { user: 'admin', password },
        maintenance: { retryAfterSeconds: 120 },
      },
    ]);
    const off = planMaintenance({
      model: model(),
      state: 'off',
      retryAfterSeconds: 120,
      tls: { mode: 'off' },
      passwords: { web: password },
      recordPath: 'x',
      message: 'm',
    });
    expect(ingressRoutes(off).routes.map((route) => route.maintenance)).toEqual([undefined, undefined]);
  });
});

describe('the recorded maintenance switch', () => {
  it('is the last line of the lock host file; a damaged line is an error naming the file', () => {
    const line = JSON.stringify({
      state: 'on',
      at: '2026-12-01T00:00:00.000Z',
      retry_after_seconds: 300,
      by: { user: 'ops', machine: 'laptop', ci: false },
    });
    expect(parseMaintenanceLine(`${line}\n`, 'f')).toEqual(JSON.parse(line));
    expect(parseMaintenanceLine('', 'f')).toBeUndefined();
    expect(() =>
      parseMaintenanceLine('{"state":"maybe"}', '~/.stagecraft/shop-staging/maintenance.jsonl on h1'),
    ).toThrow(
      'the last line of ~/.stagecraft/shop-staging/maintenance.jsonl on h1 is not a maintenance record',
    );
    expect(maintenancePath('shop', 'staging')).toBe('.stagecraft/shop-staging/maintenance.jsonl');
  });
});

describe('more than one routed port per service (services.<name>.routes)', () => {
  const withRoutes = `${head}services:
  web:
    role: web
    port: 8080
    domains: [shop.example]
    basic_auth: { user: admin, password_secret: STAGING_PASSWORD }
    routes:
      - { port: 9000, domains: [admin.shop.example], max_body: 1KB }
      - { port: 8081, domains: [shop.example/ws], strip_path: false }
  api: { role: web }
  db: { role: db }
${envs}`;

  it('plans one route per port, all to the service’s containers, each with the service’s basic auth', () => {
    const password = new Secret('r0utes-pw');
    const plan = stagingPlan(model(withRoutes), password);
    const auth = { user: 'admin', password };
    expect(ingressRoutes(plan).routes).toEqual([
      { service: 'web', domains: ['shop.example'], port: 8080, basicAuth: auth },
      {
        service: 'web',
        extra: true,
        domains: ['admin.shop.example'],
        port: 9000,
        maxBodyBytes: 1000,
        basicAuth: auth,
      },
      {
        service: 'web',
        extra: true,
        domains: ['shop.example'],
        port: 8081,
        path: '/ws',
        stripPath: false,
        basicAuth: auth,
      },
    ]);
  });

  it('names each route in Caddy by its port, with the service’s upstream alias, and reads them back', () => {
    const routes: CaddyRoute[] = [
      { app: 'shop-staging', service: 'web', domains: ['shop.example'], port: 8080 },
      { app: 'shop-staging', service: 'web', extra: true, domains: ['admin.shop.example'], port: 9000 },
    ];
    const config = caddyConfig(routes);
    const raw = JSON.stringify(config);
    expect(raw).toContain('"@id":"stagecraft-shop-staging/web"');
    expect(raw).toContain('"@id":"stagecraft-shop-staging/web:9000"');
    const alias = upstreamAlias('web', 'shop-staging');
    expect(raw.split(`"name":"${alias}"`)).toHaveLength(3);
    expect(sameRoutes(routesFromConfig(config), routes)).toBe(true);
    expect(routesFromConfig(config)[1]).toEqual(routes[1]);
  });

  it('refuses a repeated port, routes without a main route, and one domain on two routes', () => {
    expect(() =>
      model(
        `${head}services:\n  web:\n    role: web\n    port: 8080\n    domains: [a.example]\n    routes: [{ port: 8080, domains: [b.example] }, { port: 9000, domains: [a.example] }]\n  api: { role: web }\n  db: { role: db }\n${envs}`,
      ),
    ).toThrow(
      expect.objectContaining({
        details: [
          'service web routes port 8080 twice: give one route all of its domains (a route per container port)',
          'domain a.example is claimed by two routes of service web: give each domain (and path prefix) to one route',
        ],
      }),
    );
    expect(() =>
      model(
        `${head}services:\n  web:\n    role: web\n    routes: [{ port: 9000, domains: [a.example] }]\n  api: { role: web }\n  db: { role: db }\n${envs}`,
      ),
    ).toThrow(
      expect.objectContaining({
        details: [
          'service web has routes but no main route: set services.web.port and domains (the port its health check probes), then add the other ports under routes',
        ],
      }),
    );
    expect(
      problems(
        `${head}services:\n  web:\n    routes: [{ port: 9000, domains: [a.example/x, b.example] }]\n${envs}`,
      ),
    ).toEqual([
      'stagecraft.yml:6:51 services.web.routes[0].domains[1]: b.example has no path prefix, but a.example/x has /x: every domain of a service takes the same path prefix (route another prefix to another service)',
    ]);
  });
});
