import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  defaultRolloutStrategy,
  dependencyOrder,
  healthcheckTimings,
  healthVerdictBudgetMs,
  ownsNamedVolume,
  publishesFixedHostPort,
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
