// The pure parts of `stagecraft status`: which containers run the release, versions from image
// references, ages, the table and the JSON document.
import { describe, expect, it } from 'vitest';
import { renderCompose } from '../../src/compose/project.js';
import type { EnvironmentModel } from '../../src/model/environment.js';
import { globMatch, hostsInScope, imageRepository, imageVersion } from '../../src/operations/fleet.js';
import {
  formatAge,
  releaseMatch,
  renderStatus,
  type StatusReport,
  specHashesOf,
  statusJson,
  statusRelease,
} from '../../src/operations/status.js';
import type { ReleaseRecord } from '../../src/state/types.js';

const NOW = new Date('2025-06-01T12:00:00Z');

function container(
  overrides: Partial<StatusReport['hosts'][number]['services'][number]['containers'][number]>,
) {
  return {
    id: 'c'.repeat(64),
    name: 'api-1',
    state: 'running',
    exitCode: 0,
    health: 'healthy' as string | undefined,
    image: 'reg:5000/shop/shop-api:v7',
    version: 'v7',
    startedAt: '2025-06-01T11:57:30Z',
    restarts: 0,
    release: 'current' as const,
    ...overrides,
  };
}

const report: StatusReport = {
  project: 'shop',
  environment: 'production',
  composeProject: 'shop-production',
  release: { id: 'rel-20250601-115500000', version: 'v7', timestamp: '2025-06-01T11:55:00Z' },
  historyWarning: undefined,
  hosts: [
    {
      name: 'h1',
      roles: ['web'],
      reachable: true,
      services: [
        { name: 'api', kind: 'service', expected: true, containers: [container({})] },
        {
          name: 'web',
          kind: 'service',
          expected: true,
          containers: [
            container({
              name: 'web-1',
              state: 'exited',
              exitCode: 137,
              health: undefined,
              image: 'reg:5000/shop/shop-web:v6',
              version: 'v6',
              release: 'outdated',
              restarts: 3,
            }),
          ],
        },
        {
          name: 'ingress',
          kind: 'ingress',
          expected: true,
          containers: [
            container({
              name: 'ingress',
              health: undefined,
              image: 'caddy:2',
              version: '2',
              release: 'unknown',
            }),
          ],
        },
      ],
    },
    {
      name: 'h2',
      roles: ['web'],
      reachable: false,
      error: 'could not reach h2 (10.0.0.2:22): Connection refused',
      services: [],
    },
    {
      name: 'h3',
      roles: ['db'],
      reachable: true,
      services: [{ name: 'db', kind: 'service', expected: true, containers: [] }],
    },
  ],
};

describe('image versions', () => {
  it('takes the tag, else a short digest, else latest; a registry port is not a tag', () => {
    expect(imageVersion('127.0.0.1:5000/shop/shop-api:v1')).toBe('v1');
    expect(imageVersion(`reg:5000/shop-api:v2@sha256:${'a'.repeat(64)}`)).toBe('v2');
    expect(imageVersion(`reg:5000/shop-api@sha256:${'b'.repeat(64)}`)).toBe('bbbbbbbbbbbb');
    expect(imageVersion('reg:5000/postgres')).toBe('latest');
    expect(imageRepository(`reg:5000/shop-api:v2@sha256:${'a'.repeat(64)}`)).toBe('reg:5000/shop-api');
  });
});

describe('releaseMatch', () => {
  const labels = { 'stagecraft.spec-hash': 'abc' };

  it('compares the spec hash of the release compose file when there is one', () => {
    expect(releaseMatch({ labels, image: 'x:v1' }, 'abc', 'x:v2')).toBe('current');
    expect(releaseMatch({ labels, image: 'x:v1' }, 'def', 'x:v1')).toBe('outdated');
  });

  it('else the recorded image (a digest pin still matches its tag), else unknown', () => {
    expect(releaseMatch({ labels: {}, image: 'x:v1' }, undefined, `x:v1@sha256:${'c'.repeat(64)}`)).toBe(
      'current',
    );
    expect(releaseMatch({ labels: {}, image: 'x:v0' }, undefined, 'x:v1')).toBe('outdated');
    expect(releaseMatch({ labels: {}, image: 'postgres:15' }, undefined, undefined)).toBe('unknown');
  });

  it('reads the hashes from a rendered compose file', () => {
    const text = renderCompose({
      name: 'shop-production',
      services: {
        api: { image: 'a', labels: { 'stagecraft.spec-hash': 'h-api', other: 'x' } },
        web: { image: 'w' },
      },
    }).text;
    expect(specHashesOf(text)).toEqual({ api: 'h-api' });
  });
});

describe('formatAge', () => {
  it('is coarse like docker ps', () => {
    expect(formatAge(45_000)).toBe('45s');
    expect(formatAge(150_000)).toBe('2m30s');
    expect(formatAge(12 * 60_000)).toBe('12m');
    expect(formatAge(3 * 3_600_000 + 20 * 60_000)).toBe('3h20m');
    expect(formatAge(4 * 86_400_000 + 6 * 3_600_000)).toBe('4d6h');
    expect(formatAge(-5)).toBe('-');
  });
});

describe('renderStatus', () => {
  it('prints one row per container, missing services, unreachable hosts and a summary', () => {
    expect(renderStatus(report, NOW)).toBe(
      [
        'shop production: release rel-20250601-115500000 (v7, 5m ago)',
        '',
        'HOST  SERVICE  CONTAINER  STATE         HEALTH   VERSION  UPTIME  RESTARTS  RELEASE',
        'h1    api      api-1      running       healthy  v7       2m30s   0         current',
        'h1    web      web-1      exited (137)  -        v6       -       3         outdated',
        'h1    ingress  ingress    running       -        2        2m30s   0         -',
        'h2    -        -          unreachable   -        -        -       -         -',
        'h3    db       -          missing       -        -        -       -         -',
        '',
        '2/3 containers running, 1 down, 1 missing, 1 not on the current release, 1 host unreachable',
        'h2: could not reach h2 (10.0.0.2:22): Connection refused',
      ].join('\n'),
    );
  });

  it('says the app was removed, by which record, when the newest completed record is a removal', () => {
    const removal = {
      id: 'rel-20250601-115800000',
      environment: 'production',
      version: 'v7',
      commit_sha: '',
      timestamp: '2025-06-01T11:58:00Z',
      phases: {},
      kind: 'remove',
      images: {},
      hosts: {},
    } as unknown as ReleaseRecord;
    const removed = { ...report, ...statusRelease(removal), hosts: [] };
    expect(renderStatus(removed, NOW).split('\n')[0]).toBe(
      'shop production: removed by rel-20250601-115800000 (2m ago); no release runs',
    );
    expect(statusJson(removed, NOW)).toMatchObject({
      release: null,
      removed: { id: 'rel-20250601-115800000', timestamp: '2025-06-01T11:58:00Z' },
    });
    expect(statusJson(report, NOW)).toMatchObject({ removed: null });
  });

  it('says so when nothing has been released', () => {
    expect(renderStatus({ ...report, release: undefined, hosts: [] }, NOW).split('\n')[0]).toBe(
      'shop production: no completed release recorded',
    );
  });
});

describe('statusJson', () => {
  it('has a stable snake_case schema with nulls', () => {
    const json = statusJson(report, NOW) as {
      hosts: {
        name: string;
        reachable: boolean;
        error: string | null;
        services: { containers: unknown[] }[];
      }[];
      summary: Record<string, number>;
    };
    expect(json.hosts.map((host) => [host.name, host.reachable])).toEqual([
      ['h1', true],
      ['h2', false],
      ['h3', true],
    ]);
    expect(json.hosts[0]!.services[0]!.containers[0]).toEqual({
      id: 'c'.repeat(64),
      name: 'api-1',
      state: 'running',
      exit_code: 0,
      health: 'healthy',
      image: 'reg:5000/shop/shop-api:v7',
      version: 'v7',
      started_at: '2025-06-01T11:57:30Z',
      uptime_seconds: 150,
      restarts: 0,
      release: 'current',
    });
    expect(json.summary).toEqual({
      containers: 3,
      running: 2,
      starting: 0,
      down: 1,
      missing: 1,
      outdated: 1,
      unreachable: 1,
    });
  });
});

describe('scope', () => {
  const model = {
    environment: 'production',
    hosts: [
      { name: 'web-1', roles: ['web'] },
      { name: 'web-2', roles: ['web'] },
      { name: 'db-1', roles: ['db'] },
    ],
  } as unknown as EnvironmentModel;

  it('selects hosts by glob and role; a pattern that matches nothing is an error', () => {
    expect(globMatch('web-*', 'web-12')).toBe(true);
    expect(globMatch('web-?', 'web-12')).toBe(false);
    expect(globMatch('w*b-?2', 'web-12')).toBe(true);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a.b', 'axb')).toBe(false);
    expect(globMatch('*-1*', 'web-12')).toBe(true);
    expect(globMatch('web-1', 'web-12')).toBe(false);
    // Many stars against a long name that never matches: ends at once (a regular expression backtracked without end).
    const started = performance.now();
    expect(globMatch(`${'a*'.repeat(16)}b`, 'a'.repeat(300))).toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
    expect(hostsInScope(model, { hosts: ['web-*'] }).map((host) => host.name)).toEqual(['web-1', 'web-2']);
    expect(hostsInScope(model, { roles: ['db'] }).map((host) => host.name)).toEqual(['db-1']);
    expect(hostsInScope(model, {}).length).toBe(3);
    expect(() => hostsInScope(model, { hosts: ['web-3'] })).toThrow(/no host matches "web-3"/);
  });
});
