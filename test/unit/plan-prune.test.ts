import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { checkDependencies } from '../../src/engine/run.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { planDeploy } from '../../src/plan/deploy.js';
import {
  type ContainerRow,
  decidePrune,
  type ImageRow,
  parseImageRef,
  resolveImageRef,
  retainSteps,
  retention,
} from '../../src/plan/prune.js';
import { removeSteps, volumeAndImageSteps, volumesByHost } from '../../src/plan/remove.js';
import { allSteps } from '../../src/plan/types.js';
import { formatBytes, parseDockerSize, parseImageRows } from '../../src/rollout/retain.js';
import { pendingPhases } from '../../src/state/ledger.js';
import type { ReleaseRecord } from '../../src/state/types.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const CONFIG = (releases = '') => `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web, port: 8080, domains: [shop.example, "*"] }
  db: { role: db }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }, { name: h2, address: 10.0.0.2 }]
      db: [{ name: h3, address: 10.0.0.3 }]
${releases}`;

function model(releases = '') {
  return buildEnvironmentModel(load(CONFIG(releases), { envName: 'production' }), compose);
}

const R = 'registry.example/shop';
const completed = Object.fromEntries(
  Object.keys(pendingPhases()).map((phase) => [phase, 'completed']),
) as ReleaseRecord['phases'];

/** A release of `env` at minute `n` (ids sort by time) with images tagged `v<n>`. */
function release(n: number, options: Partial<ReleaseRecord> = {}): ReleaseRecord {
  const id = `rel-20261130-12${String(n).padStart(2, '0')}00000`;
  return {
    id,
    environment: 'production',
    version: `v${n}`,
    commit_sha: '',
    timestamp: '2026-11-30T12:00:00.000Z',
    phases: completed,
    kind: 'deploy',
    images: { api: `${R}-api:v${n}@sha256:${String(n).padStart(64, 'a')}`, web: `${R}-web:v${n}` },
    hosts: {},
    deployer: { user: 'u', machine: 'm', ci: false },
    ...options,
  };
}

describe('retention', () => {
  const failed = { ...completed, rollout: 'failed' as const, finalize: 'skipped' as const };
  const history = [
    release(1),
    release(2),
    release(3, { phases: failed }),
    release(4),
    release(5, { environment: 'staging' }),
    release(6),
    release(7, { kind: 'remove', images: {} }),
  ];

  it('keeps the new release and the newest completed ones, retain in all; the rest of this environment goes', () => {
    const kept = retention(history, 'production', 3, {
      id: 'rel-20261130-130000000',
      images: { web: `${R}-web:v9` },
    });
    expect(kept.keepReleases).toEqual([
      'rel-20261130-130000000',
      'rel-20261130-120600000',
      'rel-20261130-120400000',
    ]);
    // Images of kept releases and of every other environment (staging's v5) are kept.
    expect(kept.keepImages).toEqual([
      `${R}-api:v4@sha256:${'4'.padStart(64, 'a')}`,
      `${R}-api:v5@sha256:${'5'.padStart(64, 'a')}`,
      `${R}-api:v6@sha256:${'6'.padStart(64, 'a')}`,
      `${R}-web:v4`,
      `${R}-web:v5`,
      `${R}-web:v6`,
      `${R}-web:v9`,
    ]);
    // Older releases and the failed one (3) are not kept; a removal record counts for nothing.
    expect(kept.removeImages).toEqual([
      `${R}-api:v1@sha256:${'1'.padStart(64, 'a')}`,
      `${R}-api:v2@sha256:${'2'.padStart(64, 'a')}`,
      `${R}-api:v3@sha256:${'3'.padStart(64, 'a')}`,
      `${R}-web:v1`,
      `${R}-web:v2`,
      `${R}-web:v3`,
    ]);
  });

  it('on demand (no new release) keeps the newest completed releases; retain 0 keeps none', () => {
    expect(retention(history, 'production', 2).keepReleases).toEqual([
      'rel-20261130-120600000',
      'rel-20261130-120400000',
    ]);
    const none = retention(history, 'production', 0);
    expect(none.keepReleases).toEqual([]);
    expect(none.removeImages).toHaveLength(10);
    expect(none.keepImages).toEqual([`${R}-api:v5@sha256:${'5'.padStart(64, 'a')}`, `${R}-web:v5`]);
  });

  it('never removes an image a kept release also names (an unchanged service keeps its tag)', () => {
    const same = [
      release(1, { images: { web: `${R}-web:v1` } }),
      release(2, { images: { web: `${R}-web:v1` } }),
    ];
    expect(retention(same, 'production', 1).removeImages).toEqual([]);
  });
});

describe('decidePrune', () => {
  const images: ImageRow[] = [
    { id: 'sha256:i1', repository: `${R}-api`, tag: '<none>', digest: `sha256:${'1'.padStart(64, 'a')}` },
    { id: 'sha256:i2', repository: `${R}-api`, tag: '<none>', digest: `sha256:${'2'.padStart(64, 'a')}` },
    { id: 'sha256:i4', repository: `${R}-api`, tag: '<none>', digest: `sha256:${'4'.padStart(64, 'a')}` },
    { id: 'sha256:w1', repository: `${R}-web`, tag: 'v1', digest: '<none>' },
    { id: 'sha256:w2', repository: `${R}-web`, tag: 'v2', digest: '<none>' },
    // v3 rebuilt to the same bytes as v6 (kept): the same image id.
    { id: 'sha256:w6', repository: `${R}-web`, tag: 'v3', digest: '<none>' },
    { id: 'sha256:w6', repository: `${R}-web`, tag: 'v6', digest: '<none>' },
    { id: 'sha256:pg', repository: 'postgres', tag: '16', digest: '<none>' },
  ];
  const container = (
    id: string,
    imageId: string,
    status: string,
    extra: Partial<ContainerRow> = {},
  ): ContainerRow => ({
    id,
    name: id,
    imageId,
    status,
    labels: { 'com.docker.compose.project': 'shop-production' },
    mountSources: [],
    ...extra,
  });
  const policy = {
    ...retention([release(1), release(2), release(3), release(4), release(6)], 'production', 2),
    project: 'shop-production',
    releasesDir: '.stagecraft/shop-production/releases',
    containers: true,
  };

  it('removes stopped containers of the project, unused images of releases not kept, and unused release folders', () => {
    const decision = decidePrune(
      {
        images,
        containers: [
          container('web-old', 'sha256:w1', 'exited'),
          // A running container of a release not kept pins its image and its folder.
          container('api-running', 'sha256:i2', 'running', {
            mountSources: ['/root/.stagecraft/shop-production/releases/rel-20261130-120200000/api.env'],
          }),
          container('other-app', 'sha256:pg', 'exited', { labels: { 'com.docker.compose.project': 'blog' } }),
          // A database unchanged since the first release: its compose labels name that release's
          // folder, which no file of it needs (it goes).
          container('db-running', 'sha256:pg', 'running', {
            labels: {
              'com.docker.compose.project': 'shop-production',
              'com.docker.compose.project.config_files':
                '/root/.stagecraft/shop-production/releases/rel-20261130-120100000/compose.yml',
              'com.docker.compose.project.working_dir':
                '/root/.stagecraft/shop-production/releases/rel-20261130-120100000',
            },
          }),
        ],
        releaseFolders: [
          'rel-20261130-120100000',
          'rel-20261130-120200000',
          'rel-20261130-120300000',
          'rel-20261130-120400000',
          'rel-20261130-120600000',
          'notes.txt',
        ],
      },
      policy,
    );
    expect(decision).toEqual({
      containers: [{ id: 'web-old', name: 'web-old' }],
      images: [
        { id: 'sha256:i1', refs: [`${R}-api@sha256:${'1'.padStart(64, 'a')}`] },
        { id: 'sha256:w1', refs: [`${R}-web:v1`] },
        { id: 'sha256:w2', refs: [`${R}-web:v2`] },
      ],
      folders: [
        '.stagecraft/shop-production/releases/rel-20261130-120100000',
        '.stagecraft/shop-production/releases/rel-20261130-120300000',
      ],
    });
  });

  it('on the build machine touches no container and no folder', () => {
    const decision = decidePrune(
      { images, containers: [container('web-old', 'sha256:w1', 'exited')], releaseFolders: [] },
      { ...policy, containers: false, releasesDir: undefined },
    );
    expect(decision.containers).toEqual([]);
    expect(decision.folders).toEqual([]);
    // w1 is used by a stopped container that stays: kept.
    expect(decision.images.map((image) => image.id)).toEqual(['sha256:i1', 'sha256:i2', 'sha256:w2']);
  });

  it('reads image references with registry ports, tags and digests', () => {
    expect(parseImageRef('127.0.0.1:5000/shop/web:abc@sha256:ff')).toEqual({
      repository: '127.0.0.1:5000/shop/web',
      tag: 'abc',
      digest: 'sha256:ff',
    });
    expect(parseImageRef('127.0.0.1:5000/shop/web')).toEqual({ repository: '127.0.0.1:5000/shop/web' });
    expect(resolveImageRef(`${R}-web:v3`, images)).toEqual(['sha256:w6']);
    expect(resolveImageRef(`${R}-web`, images)).toEqual([]);
  });

  it('parses docker image ls rows and docker sizes', () => {
    expect(
      parseImageRows(
        '{"Containers":"N/A","Digest":"<none>","ID":"sha256:ab","Repository":"x/web","Tag":"v1","Size":"12.3MB"}\n',
      ),
    ).toEqual([{ id: 'sha256:ab', repository: 'x/web', tag: 'v1', digest: '<none>' }]);
    expect(parseDockerSize('181.7MB')).toBe(181_700_000);
    expect(parseDockerSize('1.2kB')).toBe(1200);
    expect(parseDockerSize('0B')).toBe(0);
    expect(formatBytes(45_230_000)).toBe('45.2 MB');
  });
});

describe('retain steps', () => {
  const kept = retention([release(1), release(2)], 'production', 5, {
    id: 'rel-20261130-130000000',
    images: {},
  });

  it('end a deploy: after the record, every host and the build machine at once (the engine runs finalize as a graph), before the unlock', () => {
    const m = model('    releases: { retain: 5, build_cache: 48h }\n');
    const plan = planDeploy({
      model: m,
      compose,
      version: 'abc',
      releaseId: 'rel-20261130-130000000',
      kind: 'deploy',
      skipBuild: '--skip-build',
      hostAddresses: { h1: '10.0.0.1', h2: '10.0.0.2', h3: '10.0.0.3' },
      secretValues: [],
      secretNames: [],
      projectDir: '/p',
      readProjectPath: (path) => [{ path, content: Buffer.from(''), mode: 0o644 }],
      migrations: [],
      message: 'm',
      retention: kept,
    });
    checkDependencies(plan);
    const finalize = plan.phases.find((phase) => phase.name === 'finalize')!;
    expect(finalize.steps.map((step) => [step.id, step.dependsOn])).toEqual([
      ['record', []],
      ['retain:h1', ['record']],
      ['retain:h2', ['record']],
      ['retain:h3', ['record']],
      ['retain:build', ['record']],
      ['lock:release', ['record']],
    ]);
    expect(finalize.steps[1]!.action).toEqual({
      kind: 'retain',
      keepReleases: ['rel-20261130-130000000', 'rel-20261130-120200000', 'rel-20261130-120100000'],
      keepImages: kept.keepImages,
      removeImages: [],
      releasesDir: '.stagecraft/shop-production/releases',
      containers: true,
      bestEffort: true,
      measure: false,
    });
    expect(finalize.steps[4]!.action).toMatchObject({ containers: false, buildCacheUntilHours: 48 });
    expect(finalize.steps[4]!.host).toBeUndefined();
  });

  it('are left out of a scoped deploy', () => {
    const m = model();
    const steps = (onlyHosts?: string[]) =>
      allSteps(
        planDeploy({
          model: m,
          compose,
          version: 'abc',
          releaseId: 'rel-20261130-130000000',
          kind: 'deploy',
          skipBuild: '--skip-build',
          hostAddresses: { h1: '10.0.0.1', h2: '10.0.0.2', h3: '10.0.0.3' },
          secretValues: [],
          secretNames: [],
          projectDir: '/p',
          readProjectPath: (path) => [{ path, content: Buffer.from(''), mode: 0o644 }],
          migrations: [],
          message: 'm',
          retention: kept,
          ...(onlyHosts ? { onlyHosts } : {}),
        }),
      ).filter((step) => step.action.kind === 'retain').length;
    expect([steps(), steps(['h1'])]).toEqual([4, 0]);
  });

  it('on demand run hosts in parallel (rollout) and the build machine in finalize; retain defaults to 5, build cache to 168h', () => {
    const m = model();
    expect(m.releases).toEqual({ retain: 5, buildCacheMaxAgeMs: 168 * 3_600_000 });
    const steps = retainSteps(m, kept, {
      phase: 'rollout',
      after: ['lock:acquire'],
      bestEffort: false,
      measure: true,
      buildPhase: 'finalize',
      buildAfter: ['lock:acquire'],
    });
    expect(steps.map((step) => [step.id, step.phase, step.dependsOn])).toEqual([
      ['retain:h1', 'rollout', ['lock:acquire']],
      ['retain:h2', 'rollout', ['lock:acquire']],
      ['retain:h3', 'rollout', ['lock:acquire']],
      ['retain:build', 'finalize', ['lock:acquire']],
    ]);
  });
});

describe('volumeAndImageSteps (remove on every driver)', () => {
  const images = { keepReleases: [], keepImages: ['a:1'], removeImages: ['a:0'] };
  it('removes the volumes only with --volumes, then the images no container uses', () => {
    const model = { environment: 'production' };
    expect(
      volumeAndImageSteps(model, ['v1', 'v2'], { volumes: true, images }).map(([id, title]) => [id, title]),
    ).toEqual([
      ['volumes', 'remove volumes v1, v2 and their data'],
      ['images', "remove images of production's releases that no container uses"],
    ]);
    expect(volumeAndImageSteps(model, ['v1'], { volumes: false, images }).map(([id]) => id)).toEqual([
      'images',
    ]);
    expect(
      volumeAndImageSteps(model, [], { volumes: true, images: { ...images, removeImages: [] } }),
    ).toEqual([]);
  });
});

describe('removeSteps', () => {
  const m = model();
  const none = { keepReleases: [], keepImages: [], removeImages: [] };
  const inventories = [
    {
      host: 'h1',
      containers: [
        { id: 'c1', name: 'shop-production-api-1', running: true },
        { id: 'c2', name: 'shop-production-web-1', running: false },
      ],
      gateway: 'stagecraft-gateway',
      gatewaySharedWith: [],
      // Left by a version before the shared gateway: it goes too.
      legacyGateway: 'shop-production-ingress',
      networks: ['shop-production_default', 'shop-production_ingress', 'stagecraft-gateway'],
      volumes: [],
      folder: true,
    },
    {
      host: 'h3',
      containers: [{ id: 'c3', name: 'shop-production-db-1', running: true }],
      gatewaySharedWith: ['blog-production'],
      gateway: 'stagecraft-gateway',
      networks: ['shop-production_default', 'stagecraft-gateway'],
      volumes: ['shop-production_db-data'],
      folder: true,
    },
  ];

  it('stops, removes containers, the gateway no other app uses, networks, files; keeps volumes and the lock host history', () => {
    const steps = removeSteps({ model: m, inventories, volumes: false, images: none }, ['lock:acquire']);
    expect(
      steps.map((step) => [
        step.id,
        step.action.kind === 'exec' ? step.action.argv : step.action.kind,
        step.dependsOn,
      ]),
    ).toEqual([
      ['stop:h1', ['docker', 'stop', 'c1'], ['lock:acquire']],
      ['containers:h1', ['docker', 'rm', '-f', 'c1', 'c2'], ['stop:h1']],
      [
        'gateway:h1',
        ['docker', 'rm', '-f', 'stagecraft-gateway', 'shop-production-ingress'],
        ['containers:h1'],
      ],
      [
        'networks:h1',
        [
          'docker',
          'network',
          'rm',
          'shop-production_default',
          'shop-production_ingress',
          'stagecraft-gateway',
        ],
        ['gateway:h1'],
      ],
      // h1 is the lock host: its release history (where the removal is recorded) and the lock stay.
      [
        'files:h1',
        [
          'find',
          '.stagecraft/shop-production',
          '-mindepth',
          '1',
          '-maxdepth',
          '1',
          '!',
          '-name',
          'releases.jsonl',
          '!',
          '-name',
          'lock',
          '-exec',
          'rm',
          '-rf',
          '--',
          '{}',
          '+',
        ],
        ['networks:h1'],
      ],
      ['stop:h3', ['docker', 'stop', 'c3'], ['lock:acquire']],
      ['containers:h3', ['docker', 'rm', '-f', 'c3'], ['stop:h3']],
      // Another app has routes on h3's gateway: only this app's routes leave it; it and its network stay.
      ['routes:h3', 'unroute', ['containers:h3']],
      ['networks:h3', ['docker', 'network', 'rm', 'shop-production_default'], ['routes:h3']],
      ['files:h3', ['rm', '-rf', '--', '.stagecraft/shop-production'], ['networks:h3']],
    ]);
    expect(m.lockHost).toBe('h1');
    expect(steps.find((step) => step.id === 'routes:h3')).toMatchObject({
      title:
        "take shop-production's routes off the gateway stagecraft-gateway (it keeps serving blog-production)",
      action: { kind: 'unroute', container: 'stagecraft-gateway', network: 'stagecraft-gateway' },
    });
  });

  it('with --volumes removes anonymous volumes with the containers and the named volumes, and names them', () => {
    const steps = removeSteps(
      { model: m, inventories, volumes: true, images: { ...none, removeImages: [`${R}-web:v1`] } },
      ['lock:acquire'],
    );
    const byId = Object.fromEntries(steps.map((step) => [step.id, step.action]));
    expect(byId['containers:h3']).toEqual({ kind: 'exec', argv: ['docker', 'rm', '-f', '-v', 'c3'] });
    expect(byId['volumes:h3']).toEqual({
      kind: 'exec',
      argv: ['docker', 'volume', 'rm', 'shop-production_db-data'],
    });
    expect(byId['volumes:h1']).toBeUndefined();
    expect(byId['images:h1']).toMatchObject({
      kind: 'retain',
      keepReleases: [],
      removeImages: [`${R}-web:v1`],
      containers: false,
    });
    expect(volumesByHost(inventories)).toEqual(['h3: shop-production_db-data']);
  });
});
