import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultRolloutStrategy,
  dependencyOrder,
  healthcheckTimings,
  healthVerdictBudgetMs,
  ownsNamedVolume,
  publishesFixedHostPort,
  serviceNetwork,
  stopGracePeriodMs,
} from '../../src/compose/analyze.js';
import type { ComposeProject, ComposeService } from '../../src/compose/types.js';
import { parseDuration } from '../../src/util/duration.js';
import { UserError } from '../../src/util/errors.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/compose/${name}`, import.meta.url), 'utf8')) as ComposeProject;
const shop = fixture('shop.config.json');
const rich = fixture('rich.config.json');
const svc = (project: ComposeProject, name: string) => project.services[name] as ComposeService;

describe('parseDuration', () => {
  it.each([
    ['2s', 2000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1h0m0s', 3_600_000],
    ['2m0s', 120_000],
    ['1.5s', 1500],
    ['10', 10_000],
    ['1h2m3s4ms', 3_723_004],
    ['250us', 0],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('rejects what is not a duration', () => {
    for (const bad of ['', 'abc', '5 s', '1d', 's', '1m30'])
      expect(() => parseDuration(bad)).toThrow(UserError);
  });
});

describe('service facts', () => {
  it('fixed host ports', () => {
    expect(publishesFixedHostPort(svc(rich, 'gateway'))).toBe(true);
    expect(publishesFixedHostPort(svc(rich, 'api'))).toBe(false);
    expect(publishesFixedHostPort({ ports: [{ target: 80, mode: 'ingress', protocol: 'tcp' }] })).toBe(false);
    expect(publishesFixedHostPort({ ports: [{ target: 80, published: '' }] })).toBe(false);
    expect(publishesFixedHostPort({ ports: [{ target: 80, published: '8000-8010' }] })).toBe(true);
  });

  it('named volumes', () => {
    expect(ownsNamedVolume(svc(shop, 'db'))).toBe(true);
    expect(ownsNamedVolume(svc(shop, 'api'))).toBe(false);
    expect(ownsNamedVolume(svc(rich, 'api'))).toBe(false); // a bind mount is not a named volume
    expect(ownsNamedVolume({ volumes: [{ type: 'volume', target: '/anon' }] })).toBe(false); // anonymous
  });

  it('healthcheck timings from compose, Docker defaults for the rest', () => {
    expect(healthcheckTimings(svc(shop, 'db'))).toEqual({
      intervalMs: 2000,
      timeoutMs: 2000,
      retries: 15,
      startPeriodMs: 5000,
      startIntervalMs: 5000,
    });
    expect(healthcheckTimings(svc(rich, 'api'))).toEqual({
      intervalMs: 90_000,
      timeoutMs: 1000,
      retries: 3,
      startPeriodMs: 500,
      startIntervalMs: 5000,
    });
    expect(healthcheckTimings(svc(rich, 'db'))).toEqual({
      intervalMs: 2000,
      timeoutMs: 30_000,
      retries: 3,
      startPeriodMs: 0,
      startIntervalMs: 5000,
    });
    expect(
      healthcheckTimings({ healthcheck: { test: ['CMD', 'true'], start_interval: '1s' } })?.startIntervalMs,
    ).toBe(1000);
  });

  it('no healthcheck, or a disabled one, is undefined', () => {
    expect(healthcheckTimings(svc(shop, 'api'))).toBeUndefined();
    expect(healthcheckTimings({ healthcheck: { disable: true } })).toBeUndefined();
    expect(healthcheckTimings({ healthcheck: { test: ['NONE'] } })).toBeUndefined();
  });

  it('health verdict budget', () => {
    const timings = healthcheckTimings(svc(shop, 'db'));
    expect(timings && healthVerdictBudgetMs(timings)).toBe(5000 + 2000 + (2000 + 2000) * 15);
  });

  it('stop grace period', () => {
    expect(stopGracePeriodMs(svc(shop, 'api'))).toBe(10_000);
    expect(stopGracePeriodMs(svc(rich, 'api'))).toBe(20_000);
    expect(stopGracePeriodMs(svc(shop, 'db'))).toBe(10_000);
    expect(stopGracePeriodMs({ stop_grace_period: '2m0s' })).toBe(120_000);
  });
});

describe('dependencyOrder', () => {
  it('orders by depends_on, ties by name', () => {
    expect(dependencyOrder(shop, ['web', 'api', 'db'])).toEqual(['db', 'api', 'web']);
    expect(dependencyOrder(rich, Object.keys(rich.services))).toEqual([
      'cache',
      'db',
      'api',
      'gateway',
      'worker',
    ]);
  });

  it('ignores dependencies outside the list', () => {
    expect(dependencyOrder(rich, ['worker', 'gateway'])).toEqual(['gateway', 'worker']);
    expect(dependencyOrder(rich, ['api', 'api'])).toEqual(['api']);
  });

  it('names a cycle', () => {
    const cyclic: ComposeProject = {
      services: {
        a: { depends_on: { b: { condition: 'service_started' } } },
        b: { depends_on: { c: { condition: 'service_started' } } },
        c: { depends_on: { b: { condition: 'service_started' } } },
        z: {},
      },
    };
    expect(() => dependencyOrder(cyclic, ['a', 'b', 'c', 'z'])).toThrow(UserError);
    expect(() => dependencyOrder(cyclic, ['a', 'b', 'c', 'z'])).toThrow(
      'the compose services depend on each other in a cycle: b → c → b',
    );
    const self: ComposeProject = { services: { a: { depends_on: { a: { condition: 'service_started' } } } } };
    expect(() => dependencyOrder(self, ['a'])).toThrow(/cycle: a → a/);
  });

  it('rejects a service that is not in the compose file', () => {
    expect(() => dependencyOrder(shop, ['api', 'nope'])).toThrow(/service "nope" is not in the compose file/);
  });
});

describe('defaultRolloutStrategy', () => {
  it('stop-first for a fixed host port, whatever the replicas', () => {
    expect(defaultRolloutStrategy(svc(rich, 'gateway'))).toBe('stop-first');
    expect(defaultRolloutStrategy(svc(rich, 'gateway'), 3)).toBe('stop-first');
  });

  it('stop-first for a named volume with one replica, start-first with more', () => {
    const cache = svc(rich, 'cache'); // redis with a named volume, no published port
    expect(defaultRolloutStrategy(cache)).toBe('stop-first');
    expect(defaultRolloutStrategy(cache, 1)).toBe('stop-first');
    expect(defaultRolloutStrategy(cache, 2)).toBe('start-first');
    expect(defaultRolloutStrategy({ ...cache, deploy: { replicas: 2 } })).toBe('start-first');
    expect(defaultRolloutStrategy(svc(shop, 'db'))).toBe('stop-first');
  });

  it('stop-first for a fixed container_name', () => {
    expect(defaultRolloutStrategy({ image: 'x', container_name: 'x' })).toBe('stop-first');
  });

  it('stop-first for a fixed IP or MAC address, and for one writer of a host folder outside the project', () => {
    const network = (settings: Record<string, string>) =>
      ({ image: 'x', networks: { back: settings } }) as unknown as ComposeService;
    expect(defaultRolloutStrategy(network({ ipv4_address: '172.20.0.5' }))).toBe('stop-first');
    expect(defaultRolloutStrategy(network({ ipv6_address: 'fd00::5' }))).toBe('stop-first');
    expect(defaultRolloutStrategy({ image: 'x', mac_address: '02:42:ac:11:00:02' } as ComposeService)).toBe(
      'stop-first',
    );
    const bind = (source: string, readOnly = false) =>
      ({
        image: 'postgres:16',
        volumes: [{ type: 'bind', source, target: '/var/lib/postgresql/data', read_only: readOnly }],
      }) as ComposeService;
    expect(defaultRolloutStrategy(bind('/srv/pgdata'), 1, '/home/me/shop')).toBe('stop-first');
    expect(defaultRolloutStrategy(bind('/srv/pgdata'), 2, '/home/me/shop')).toBe('start-first');
    expect(defaultRolloutStrategy(bind('/srv/pgdata', true), 1, '/home/me/shop')).toBe('start-first');
    expect(defaultRolloutStrategy(bind('/home/me/shop/conf'), 1, '/home/me/shop')).toBe('start-first');
    expect(defaultRolloutStrategy(bind('/var/run/docker.sock'), 1, '/home/me/shop')).toBe('start-first');
  });

  it('start-first otherwise (bind mounts and ephemeral ports are fine)', () => {
    expect(defaultRolloutStrategy(svc(shop, 'api'))).toBe('start-first');
    expect(defaultRolloutStrategy(svc(shop, 'web'), 2)).toBe('start-first');
    expect(defaultRolloutStrategy(svc(rich, 'api'))).toBe('start-first');
    expect(defaultRolloutStrategy({ ports: [{ target: 80 }] })).toBe('start-first');
  });
});

describe('serviceNetwork (where a migration container joins), on what docker compose config reads', () => {
  /** `docker compose -p shop-production config --format json` of `text`. */
  const read = (text: string): ComposeProject => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-network-'));
    try {
      writeFileSync(join(dir, 'compose.yml'), text);
      return JSON.parse(
        execFileSync(
          'docker',
          ['compose', '-p', 'shop-production', '-f', 'compose.yml', 'config', '--format', 'json'],
          {
            cwd: dir,
            encoding: 'utf8',
          },
        ),
      ) as ComposeProject;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const labels = (key: string) => ({
    'com.docker.compose.network': key,
    'com.docker.compose.project': 'shop-production',
  });

  it('the default network, as compose names it, when the service has no other', () => {
    const compose = read('services:\n  api: { image: x, depends_on: [db] }\n  db: { image: postgres }\n');
    expect(serviceNetwork(compose, 'api', ['db'], 'shop-production')).toEqual({
      name: 'shop-production_default',
      create: { labels: labels('default') },
    });
  });

  it('the network shared with the database, with its options, when the service is on several', () => {
    const compose = read(
      [
        'services:',
        '  api: { image: x, networks: [front, back], depends_on: [db] }',
        '  db: { image: postgres, networks: [back] }',
        'networks:',
        '  front: {}',
        '  back:',
        '    internal: true',
        '    driver_opts: { com.docker.network.driver.mtu: "1400" }',
        '    ipam: { config: [{ subnet: 172.28.0.0/16 }] }',
        '',
      ].join('\n'),
    );
    expect(serviceNetwork(compose, 'api', ['db'], 'shop-production')).toEqual({
      name: 'shop-production_back',
      create: {
        internal: true,
        opts: { 'com.docker.network.driver.mtu': '1400' },
        subnets: [{ subnet: '172.28.0.0/16' }],
        labels: labels('back'),
      },
    });
    expect(serviceNetwork(compose, 'api', [], 'shop-production').name).toBe('shop-production_back');
  });

  it('a renamed or external default network by its name (never created when external); a network mode as is', () => {
    const external = read(
      'services:\n  api: { image: x }\nnetworks:\n  default: { name: proxy, external: true }\n',
    );
    expect(serviceNetwork(external, 'api', [], 'shop-production')).toEqual({ name: 'proxy' });
    const renamed = read('services:\n  api: { image: x }\nnetworks:\n  default: { name: shared }\n');
    expect(serviceNetwork(renamed, 'api', [], 'shop-production')).toEqual({
      name: 'shared',
      create: { labels: labels('default') },
    });
    const host = read('services:\n  api: { image: x, network_mode: host }\n');
    expect(serviceNetwork(host, 'api', [], 'shop-production')).toEqual({ name: 'host' });
  });
});
