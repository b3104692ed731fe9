import { describe, expect, it } from 'vitest';
import {
  type DevComposeModel,
  type DevComposeService,
  parseComposeConfig,
} from '../../src/compose/dev-model.js';
import { planDevTopology, type TopologyInput } from '../../src/plan/dev.js';
import { UserError } from '../../src/util/errors.js';
import { load } from '../support/config.js';

const SHOP = `
project: { name: shop }
backend:
  provider: generic
  providers:
    generic:
      dev: { command: [node, server.mjs], workdir: ./api, port: 3000, ready_pattern: listening }
      build: { service: api }
frontend:
  provider: generic
  providers:
    generic:
      dev: { command: [npx, vite], workdir: ./web, port: 5173 }
environments:
  dev: { driver: local }
`;

function service(name: string, fields: Partial<DevComposeService> = {}): DevComposeService {
  return { name, image: undefined, buildContext: undefined, published: [], expose: [], ...fields };
}

function input(yaml: string, compose: DevComposeService[] | undefined, extra: Partial<TopologyInput> = {}) {
  const loaded = load(yaml);
  const model: DevComposeModel | undefined =
    compose === undefined ? undefined : { file: `${loaded.root}/docker-compose.yml`, services: compose };
  return {
    config: loaded.config,
    catalog: loaded.catalog,
    root: loaded.root,
    compose: model,
    only: undefined,
    dockerAddress: '127.0.0.1',
    bindIp: '127.0.0.1',
    envName: 'dev',
    ...extra,
  };
}

function shopCompose(root: string): DevComposeService[] {
  return [
    service('api', { buildContext: `${root}/api` }),
    service('db', { image: 'postgres:16-alpine' }),
    service('redis', {
      image: 'redis:7',
      published: [{ target: 6379, published: 16379, hostIp: undefined }],
    }),
    service('web', { buildContext: `${root}/web` }),
  ];
}

function shop(extra: Partial<TopologyInput> = {}, yaml = SHOP) {
  const probe = input(yaml, []);
  return planDevTopology({ ...input(yaml, shopCompose(probe.root), extra), root: probe.root });
}

describe('dev topology', () => {
  it('runs infrastructure as containers and the app code as host processes', () => {
    const loaded = input(SHOP, []);
    const topology = planDevTopology({ ...input(SHOP, shopCompose(loaded.root)), root: loaded.root });
    expect(topology.composeProject).toBe('shop-dev');
    expect(topology.infra).toEqual([
      {
        name: 'db',
        image: 'postgres:16-alpine',
        publish: [{ bindIp: '127.0.0.1', hostPort: 5432, containerPort: 5432 }],
        hostPort: 5432,
      },
      { name: 'redis', image: 'redis:7', publish: [], hostPort: 16379 },
    ]);
    expect(topology.processes.map((plan) => [plan.name, plan.alias, plan.port])).toEqual([
      ['backend', 'api', 3000],
      ['frontend', 'web', 5173],
    ]);
    expect(topology.skipped).toEqual([
      { name: 'api', reason: 'runs on the host as the backend process' },
      { name: 'web', reason: 'runs on the host as the frontend process' },
    ]);
  });

  it('routes the default domains to the processes; .localhost needs no hosts entry', () => {
    const topology = shop();
    expect(topology.routes).toEqual([
      { domain: 'api.localhost', target: 'backend', upstream: 'localhost:3000' },
      { domain: 'app.localhost', target: 'frontend', upstream: 'localhost:5173' },
    ]);
    expect(topology.hostsDomains).toEqual([]);
  });

  it('routes configured domains (by process, alias or compose service) and lists the ones needing hosts entries', () => {
    const yaml = `${SHOP}dev:\n  domains: { api: api.shop.test, frontend: shop.test, db: db.localhost }\n`;
    const topology = shop({ dockerAddress: '10.1.2.3', bindIp: '10.1.2.3' }, yaml);
    expect(topology.routes).toEqual([
      { domain: 'api.shop.test', target: 'backend', upstream: 'localhost:3000' },
      { domain: 'db.localhost', target: 'db', upstream: '10.1.2.3:5432' },
      { domain: 'shop.test', target: 'frontend', upstream: 'localhost:5173' },
    ]);
    expect(topology.hostsDomains).toEqual(['api.shop.test', 'shop.test']);
    expect(topology.infra[0]?.publish).toEqual([{ bindIp: '10.1.2.3', hostPort: 5432, containerPort: 5432 }]);
  });

  it('honours services.<name>.mode and port', () => {
    const yaml = `${SHOP}services:\n  api: { mode: container, port: 8000 }\n  redis: { mode: external, url: "http://127.0.0.1:6380" }\ndev:\n  domains: { redis: cache.localhost }\n`;
    const topology = shop({}, yaml);
    expect(topology.infra.map((plan) => plan.name)).toEqual(['api', 'db']);
    expect(topology.infra[0]?.publish).toEqual([
      { bindIp: '127.0.0.1', hostPort: 8000, containerPort: 8000 },
    ]);
    expect(topology.skipped).toContainEqual({ name: 'redis', reason: 'mode external' });
    expect(topology.routes).toContainEqual({
      domain: 'cache.localhost',
      target: 'redis',
      upstream: '127.0.0.1:6380',
    });
  });

  it('--only selects processes (by name or compose alias) and compose services', () => {
    const topology = shop({ only: ['api', 'db'] });
    expect(topology.processes.map((plan) => plan.name)).toEqual(['backend']);
    expect(topology.infra.map((plan) => plan.name)).toEqual(['db']);
    expect(topology.routes.map((route) => route.domain)).toEqual(['api.localhost']);
    expect(topology.skipped).toContainEqual({ name: 'redis', reason: 'not in --only' });
  });

  it('rejects an unknown --only name with a suggestion', () => {
    expect(() => shop({ only: ['frontnd'] })).toThrow(UserError);
    expect(() => shop({ only: ['frontnd'] })).toThrow(/nothing named "frontnd".*did you mean "frontend"/);
  });

  it('rejects a dev.domains key that names nothing, and a domain given twice', () => {
    expect(() => shop({}, `${SHOP}dev:\n  domains: { bakend: x.localhost }\n`)).toThrow(
      /dev\.domains\.bakend/,
    );
    expect(() =>
      shop({}, `${SHOP}dev:\n  domains: { backend: x.localhost, frontend: X.localhost }\n`),
    ).toThrow(/given to both backend and frontend/);
  });

  it('notes a process it cannot route because its port is unknown', () => {
    const yaml = SHOP.replace(', port: 5173', '');
    const topology = shop({}, yaml);
    expect(topology.routes.map((route) => route.target)).toEqual(['backend']);
    expect(topology.notes.join('\n')).toMatch(/app\.localhost is not routed: the frontend port is unknown/);
  });

  it('runs an encore-ts backend on its listen port and works without a compose file', () => {
    const yaml = `
project: { name: enc }
backend:
  provider: encore-ts
  providers:
    encore-ts:
      dev: { listen: "0.0.0.0:4000", workdir: ./backend }
environments:
  dev: { driver: local }
`;
    const topology = planDevTopology(input(yaml, undefined));
    expect(topology.infra).toEqual([]);
    expect(topology.processes).toMatchObject([{ name: 'backend', provider: 'encore-ts', port: 4000 }]);
    expect(topology.routes).toEqual([
      { domain: 'api.localhost', target: 'backend', upstream: 'localhost:4000' },
    ]);
  });

  it('reads the services out of `docker compose config --format json`', () => {
    const json = JSON.stringify({
      services: {
        web: {
          build: { context: '/p/web' },
          ports: [{ target: 80, published: '8080', host_ip: '127.0.0.1' }],
        },
        db: { image: 'postgres:16', expose: ['5432'] },
      },
    });
    expect(parseComposeConfig('/p/docker-compose.yml', json).services).toEqual([
      { name: 'db', image: 'postgres:16', buildContext: undefined, published: [], expose: [5432] },
      {
        name: 'web',
        image: undefined,
        buildContext: '/p/web',
        published: [{ target: 80, published: 8080, hostIp: '127.0.0.1' }],
        expose: [],
      },
    ]);
  });
});
