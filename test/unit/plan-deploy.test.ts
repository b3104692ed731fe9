import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ComposeProject } from '../../src/compose/types.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { applyCommand, deployShapeFlags } from '../../src/operations/deploy.js';
import type { Session } from '../../src/operations/session.js';
import { type DeployPlanInput, planDeploy } from '../../src/plan/deploy.js';
import { allSteps, type Plan } from '../../src/plan/types.js';
import { planToJson, planToText } from '../../src/render/plan.js';
import { Output } from '../../src/util/output.js';
import { composeBuildArgv, composeBuildFile } from '../support/compose-fixtures.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const CONFIG = `project:
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
`;

function plan(overrides: Partial<DeployPlanInput> = {}): Plan {
  const loaded = load(CONFIG, { envName: 'production' });
  const model = buildEnvironmentModel(loaded, compose);
  return planDeploy({
    model,
    compose,
    version: 'abc123',
    immutableVersion: true,
    releaseId: 'rel-20261121-120000000',
    kind: 'deploy',
    skipBuild: undefined,
    hostAddresses: { h1: '10.0.0.1', h2: '10.0.0.2', h3: '10.0.0.3' },
    secretValues: ['pg-S3cret$value'],
    secretNames: ['POSTGRES_PASSWORD'],
    projectDir: '/path/to/shop',
    readProjectPath: (path) => [{ path, content: Buffer.from(''), mode: 0o644 }],
    migrations: [{ database: 'main', strategy: 'pre_deploy', engine: 'raw', service: 'db', needs: ['db'] }],
    message: 'deploy abc123',
    ...overrides,
  });
}

describe('planDeploy', () => {
  it('plans the phases in their fixed order with the exact steps, hosts in role order', () => {
    const result = plan();
    expect(
      result.phases.map((phase) => [phase.name, phase.skipped ?? null, phase.steps.map((step) => step.id)]),
    ).toEqual([
      ['build', null, ['build:api', 'build:web']],
      ['push', null, ['push:api', 'push:web']],
      [
        'migrate_pre',
        null,
        [
          'lock:acquire',
          'prepare:h3',
          'secrets:h3:db',
          'pull:h3',
          'rollout:h3:db',
          'prune:h3',
          'migrate:main:pre',
        ],
      ],
      [
        'rollout',
        null,
        [
          'prepare:h1',
          'secrets:h1:api',
          'pull:h1',
          'ingress:h1',
          'rollout:h1:api',
          'rollout:h1:web',
          'prune:h1',
          'prepare:h2',
          'secrets:h2:api',
          'pull:h2',
          'ingress:h2',
          'rollout:h2:api',
          'rollout:h2:web',
          'prune:h2',
        ],
      ],
      ['migrate_post', 'no post_deploy migrations', []],
      ['finalize', null, ['record', 'lock:release']],
    ]);
  });

  it('project.registry_cache: false builds with the build machine cache only and pushes no buildcache tag', () => {
    const loaded = load(
      CONFIG.replace(
        '  registry: registry.example/shop\n',
        '  registry: registry.example/shop\n  registry_cache: false\n',
      ),
      {
        envName: 'production',
      },
    );
    const model = buildEnvironmentModel(loaded, compose);
    expect(model.registryCache).toBe(false);
    const steps = allSteps(plan({ model }));
    const build = steps.find((step) => step.id === 'build:api')!.action as {
      stdin: string;
      cacheRef?: string;
    };
    expect(build.cacheRef).toBeUndefined();
    expect(parse(build.stdin).services.api.build.cache_from).toBeUndefined();
    const push = steps.find((step) => step.id === 'push:api')!;
    expect(push.title).toBe('push registry.example/shop/shop-api:abc123');
    expect(push.action).not.toHaveProperty('cacheArgv');
  });

  it('builds the exact docker argv: tagged by registry, project, service and version', () => {
    const steps = allSteps(plan());
    const build = steps.find((step) => step.id === 'build:api')!.action;
    expect(build).toMatchObject({
      kind: 'build',
      service: 'api',
      image: 'registry.example/shop/shop-api:abc123',
      argv: composeBuildArgv('api'),
      existsArgv: ['docker', 'manifest', 'inspect', 'registry.example/shop/shop-api:abc123'],
    });
    // The build file: the compose build section as compose printed it, and the image to tag.
    expect(parse((build as { stdin: string }).stdin)).toEqual(
      composeBuildFile('api', 'registry.example/shop/shop-api:abc123', {
        context: '/path/to/shop/api',
        dockerfile: 'Dockerfile',
        args: { NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20' },
        // The registry build cache: read from the last build's image, written inline into this one.
        cache_from: ['registry.example/shop/shop-api:buildcache'],
        cache_to: ['type=inline'],
      }),
    );
    const push = steps.find((step) => step.id === 'push:api')!;
    expect(push.title).toBe(
      'push registry.example/shop/shop-api:abc123, and as registry.example/shop/shop-api:buildcache (build cache)',
    );
    expect(push.action).toMatchObject({
      cacheArgv: [
        [
          'docker',
          'tag',
          'registry.example/shop/shop-api:abc123',
          'registry.example/shop/shop-api:buildcache',
        ],
        ['docker', 'push', 'registry.example/shop/shop-api:buildcache'],
      ],
    });
    const pull = steps.find((step) => step.id === 'pull:h1')!.action;
    expect(pull).toEqual({
      kind: 'exec',
      argv: [
        'docker',
        'compose',
        '-p',
        'shop-production',
        '-f',
        '.stagecraft/shop-production/releases/rel-20261121-120000000/compose.yml',
        'pull',
        '--quiet',
        'api',
        'web',
      ],
    });
    const rollout = steps.find((step) => step.id === 'rollout:h2:web')!;
    expect(rollout.title).toBe('start-first web (1 replica) → shop.example, *; running 3s within 2m');
    expect(rollout.action).toMatchObject({
      kind: 'rollout',
      strategy: 'start-first',
      route: { domains: ['shop.example', '*'], port: 8080 },
    });
    expect(steps.find((step) => step.id === 'rollout:h3:db')!.action).toMatchObject({
      strategy: 'stop-first',
    });
  });

  it('puts each host only the services of its roles, with cross-host names and no secret in the compose file', () => {
    const steps = allSteps(plan());
    const upload = (host: string) =>
      steps.find((step) => step.id === `prepare:${host}`)!.action as { content: string };
    expect(upload('h1').content).toContain('api:');
    expect(upload('h1').content).not.toContain('\n  db:');
    expect(upload('h1').content).toContain('db:10.0.0.3');
    expect(upload('h3').content).not.toContain('\n  api:');
    for (const host of ['h1', 'h2', 'h3']) expect(upload(host).content).not.toContain('S3cret');
    const secrets = steps.find((step) => step.id === 'secrets:h1:api')!.action as {
      content: unknown;
      mode: number;
    };
    expect(String(secrets.content)).toBe('[redacted]');
    expect(secrets.mode).toBe(0o600);
  });

  it("gives each rollout its compose health check's pace: the interval, and start_interval only when set", () => {
    const health = (project: ComposeProject) =>
      (
        allSteps(plan({ compose: project })).find((step) => step.id === 'rollout:h3:db')!.action as {
          health: unknown;
        }
      ).health;
    expect(health(compose)).toEqual({
      timeoutMs: expect.any(Number),
      stableForMs: expect.any(Number),
      intervalMs: 2000,
    });
    const db = compose.services['db']!;
    const started = {
      ...compose,
      services: {
        ...compose.services,
        db: { ...db, healthcheck: { ...db.healthcheck, start_interval: '500ms' } },
      },
    } as ComposeProject;
    expect(health(started)).toMatchObject({ intervalMs: 2000, start: { intervalMs: 500, periodMs: 5000 } });
  });

  it('is deterministic: the same input gives the same bytes', () => {
    expect(JSON.stringify(planToJson(plan()))).toBe(JSON.stringify(planToJson(plan())));
  });

  it('skips build and push for a rollback and reuses the given images', () => {
    const result = plan({
      kind: 'rollback',
      skipBuild: 'rollback to rel-1 reuses its images',
      images: {
        api: 'registry.example/shop/shop-api:old@sha256:aa',
        web: 'registry.example/shop/shop-web:old',
      },
      migrations: [],
    });
    expect(result.phases[0]).toEqual({
      name: 'build',
      skipped: 'rollback to rel-1 reuses its images',
      steps: [],
    });
    expect(result.phases[1]).toMatchObject({ name: 'push', skipped: 'rollback to rel-1 reuses its images' });
    const compose = (allSteps(result).find((step) => step.id === 'prepare:h1')!.action as { content: string })
      .content;
    expect(compose).toContain('image: "registry.example/shop/shop-api:old@sha256:aa"');
  });

  it("deploys a rollback target's own compose file again, with its spec hashes, and copies its other files", () => {
    const text = 'services:\n  web:\n    image: old\n    labels:\n      stagecraft.spec-hash: aaa\n';
    const result = plan({
      kind: 'rollback',
      skipBuild: 'rollback',
      migrations: [],
      reuse: { h2: { releaseId: 'rel-20261120-100000000', text, sha256: 'f00', specHashes: { web: 'aaa' } } },
    });
    const steps = allSteps(result).filter((step) => step.host?.name === 'h2');
    expect(steps.map((step) => step.id)).toEqual([
      'prepare:h2',
      'copy:h2',
      'pull:h2',
      'ingress:h2',
      'rollout:h2:web',
      'prune:h2',
    ]);
    expect(steps[5]!.action).toEqual({ kind: 'prune', keep: ['web'] });
    expect(steps[0]!.action).toMatchObject({
      kind: 'upload',
      content: text,
      sha256: 'f00',
      services: ['web'],
    });
    expect(steps[0]!.title).toBe(
      'upload compose.yml (sha256 f00, from release rel-20261120-100000000) for web',
    );
    expect(steps[1]!.action).toEqual({
      kind: 'exec',
      argv: [
        'cp',
        '-a',
        '.stagecraft/shop-production/releases/rel-20261120-100000000/.',
        '.stagecraft/shop-production/releases/rel-20261121-120000000/',
      ],
    });
    expect(steps[4]!.action).toMatchObject({ specHash: 'aaa' });
  });

  it("renders a rollback's host without a reused file with the services the release ran there, and prunes the rest", () => {
    // h1 ran only web in the target release; today api runs there too. h3 ran nothing (db came later).
    const result = plan({
      kind: 'rollback',
      skipBuild: 'rollback',
      migrations: [],
      images: { web: 'registry.example/shop/shop-web:old' },
      reuse: {},
      releaseServices: { h1: ['web'], h3: [] },
    });
    const h1 = allSteps(result).filter((step) => step.host?.name === 'h1' && !step.id.startsWith('lock:'));
    expect(h1.map((step) => step.id)).toEqual([
      'prepare:h1',
      'pull:h1',
      'ingress:h1',
      'rollout:h1:web',
      'prune:h1',
    ]);
    expect(h1[0]!.action).toMatchObject({ kind: 'upload', file: 'compose', services: ['web'] });
    expect(h1[0]!.title).toMatch(/ for web$/);
    expect(h1[4]!.action).toEqual({ kind: 'prune', keep: ['web'] });
    const content = (h1[0]!.action as { content: string }).content;
    expect(Object.keys((parse(content) as { services: object }).services)).toEqual(['web']);
    // A host the release ran nothing on runs nothing after it.
    expect(
      allSteps(result)
        .filter((step) => step.host?.name === 'h3')
        .map((step) => [step.id, step.action]),
    ).toEqual([['prune:h3', { kind: 'prune', keep: [] }]]);
    // h2 is not in the release's record: today's services, as before.
    expect(allSteps(result).find((step) => step.id === 'prepare:h2')!.action).toMatchObject({
      services: ['api', 'web'],
    });
  });

  it("records each compose file's services and the files hash of the services that mount project files", () => {
    const mounted = structuredClone(compose);
    mounted.services['web']!.volumes = [
      { type: 'bind', source: '/path/to/shop/www', target: '/srv/www', read_only: true },
    ] as never;
    const result = plan({ compose: mounted, specHashKey: 'k'.repeat(64) });
    const action = allSteps(result).find((step) => step.id === 'prepare:h1')!.action as {
      services: string[];
      filesHashes: Record<string, string>;
    };
    expect(action.services).toEqual(['api', 'web']);
    expect(Object.keys(action.filesHashes)).toEqual(['web']);
    expect(action.filesHashes['web']).toMatch(/^[0-9a-f]{64}$/);
    const content = (action as unknown as { content: string }).content;
    expect(content).toContain(`stagecraft.files-hash: "${action.filesHashes['web']}"`);
  });

  it('runs hooks where they belong, with STAGECRAFT_* variables', () => {
    const result = plan({
      hooks: {
        'pre-build': '/p/.stagecraft/hooks/pre-build',
        'pre-deploy': '/p/.stagecraft/hooks/pre-deploy',
        'post-deploy': '/p/.stagecraft/hooks/post-deploy',
      },
    });
    const ids = (name: string) =>
      result.phases.find((phase) => phase.name === name)!.steps.map((step) => step.id);
    expect(ids('build')).toEqual(['hook:pre-build', 'build:api', 'build:web']);
    expect(ids('migrate_pre').slice(0, 2)).toEqual(['lock:acquire', 'hook:pre-deploy']);
    expect(ids('finalize')).toEqual(['record', 'hook:post-deploy', 'lock:release']);
    expect(allSteps(result).find((step) => step.id === 'hook:post-deploy')!.action).toEqual({
      kind: 'exec',
      argv: ['/p/.stagecraft/hooks/post-deploy'],
      env: {
        STAGECRAFT_HOOK: 'post-deploy',
        STAGECRAFT_KIND: 'deploy',
        STAGECRAFT_PROJECT: 'shop',
        STAGECRAFT_ENV: 'production',
        STAGECRAFT_VERSION: 'abc123',
        STAGECRAFT_RELEASE: 'rel-20261121-120000000',
        STAGECRAFT_HOSTS: 'h1,h2,h3',
      },
    });
  });

  it('limits the rollout to --hosts and --services', () => {
    const ids = allSteps(plan({ onlyHosts: ['h2'], onlyServices: ['web'] })).map((step) => step.id);
    expect(ids.filter((id) => id.startsWith('rollout:'))).toEqual(['rollout:h2:web']);
    expect(ids).toContain('build:web');
    expect(ids).not.toContain('build:api');
  });

  it('prints a text plan grouped by phase, then host', () => {
    const text = planToText(
      plan(),
      new Output({ color: false, quiet: false, verbose: false, json: false }).colors,
    );
    expect(text.split('\n').slice(0, 4)).toEqual([
      'Plan: deploy shop to production (version abc123, 3 hosts: h1 [web], h2 [web], h3 [db])',
      '',
      'build',
      '  build:api                    build registry.example/shop/shop-api:abc123 from /path/to/shop/api',
    ]);
    expect(text).toContain(
      '\n    prune:h1                     stop and remove containers of services not in this release (h1 runs api, web)',
    );
    expect(text).toContain('migrate_post skipped: no post_deploy migrations');
    expect(text.endsWith('27 steps. Nothing has been changed; run `stagecraft deploy` to apply.')).toBe(true);
  });

  it("ends with the command that applies the plan: the given config, the plan's environment, the targets and flags", () => {
    const globals = {
      config: 'conf/my stagecraft.yml',
      env: undefined,
      hosts: ['h1', 'h2'],
      roles: undefined,
      services: ['web'],
    } as unknown as Session['globals'];
    const apply = applyCommand({ globals } as Session, plan(), {
      flags: deployShapeFlags({ version: 'v1', skipMigrations: true }),
    });
    expect(apply).toEqual([
      'deploy',
      '-c',
      'conf/my stagecraft.yml',
      '-e',
      'production',
      '--hosts',
      'h1,h2',
      '--services',
      'web',
      '--version',
      'v1',
      '--skip-migrations',
    ]);
    const text = planToText(
      plan(),
      new Output({ color: false, quiet: false, verbose: false, json: false }).colors,
      undefined,
      apply,
    );
    expect(text.split('\n').at(-1)).toBe(
      "27 steps. Nothing has been changed; run `stagecraft deploy -c 'conf/my stagecraft.yml' -e production --hosts h1,h2 --services web --version v1 --skip-migrations` to apply.",
    );
    const bare = applyCommand(
      { globals: { ...globals, config: undefined, hosts: undefined, services: undefined } } as Session,
      plan(),
      { command: ['rollback'], flags: ['--to-release', 'r7'] },
    );
    expect(bare).toEqual(['rollback', '-e', 'production', '--to-release', 'r7']);
  });
});

/** [id, dependsOn] of a plan's rollout steps on one host. */
function graph(result: Plan, host: string): [string, string[]][] {
  return result.phases
    .flatMap((phase) => phase.steps)
    .filter((step) => step.host?.name === host && step.phase === 'rollout')
    .map((step) => [step.id, step.dependsOn]);
}

describe('planDeploy: rollout order from the compose graph', () => {
  it('rolls out services of one host that do not depend on each other together (api needs db on another host)', () => {
    expect(graph(plan(), 'h1')).toEqual([
      ['prepare:h1', ['lock:acquire', 'migrate:main:pre']],
      ['secrets:h1:api', ['prepare:h1', 'migrate:main:pre']],
      ['pull:h1', ['prepare:h1', 'secrets:h1:api', 'migrate:main:pre']],
      ['ingress:h1', ['prepare:h1', 'migrate:main:pre']],
      ['rollout:h1:api', ['pull:h1', 'ingress:h1', 'migrate:main:pre']],
      ['rollout:h1:web', ['pull:h1', 'ingress:h1', 'migrate:main:pre']],
      ['prune:h1', ['rollout:h1:api', 'rollout:h1:web', 'migrate:main:pre']],
    ]);
  });

  it('orders by depends_on on one host: stateful db before api, worker after api, web and cache free', () => {
    const oneHost = structuredClone(compose);
    const services = oneHost.services as Record<string, Record<string, unknown>>;
    services['worker'] = { ...services['web'], depends_on: { api: { condition: 'service_started' } } };
    services['cache'] = { image: 'redis:7', networks: { default: null } };
    services['admin'] = {
      ...services['web'],
      depends_on: {
        worker: { condition: 'service_started' },
        db: { condition: 'service_healthy' },
        api: { condition: 'service_started' },
      },
    };
    const loaded = load(
      `project: { name: shop, registry: registry.example/shop }
services:
  api: { port: 3000, domains: [api.shop.example] }
  web: { port: 8080, domains: [shop.example] }
  admin: { port: 8080, domains: [admin.shop.example] }
environments:
  production:
    driver: ssh
    hosts: { app: [{ name: h1, address: 10.0.0.1 }] }
`,
      { envName: 'production' },
    );
    const model = buildEnvironmentModel(loaded, oneHost);
    expect(model.services.find((service) => service.name === 'db')!.strategy).toBe('stop-first');
    const result = plan({ model, compose: oneHost, migrations: [], hostAddresses: { h1: '10.0.0.1' } });
    expect(graph(result, 'h1')).toEqual([
      ['prepare:h1', ['lock:acquire']],
      ['secrets:h1:api', ['prepare:h1']],
      ['secrets:h1:db', ['prepare:h1']],
      ['pull:h1', ['prepare:h1', 'secrets:h1:api', 'secrets:h1:db']],
      ['ingress:h1', ['prepare:h1']],
      ['rollout:h1:cache', ['pull:h1']],
      ['rollout:h1:db', ['pull:h1']],
      ['rollout:h1:api', ['ingress:h1', 'rollout:h1:db']],
      ['rollout:h1:web', ['pull:h1', 'ingress:h1']],
      // worker has no route: it waits for api only; admin needs worker, api and db: worker implies them.
      ['rollout:h1:worker', ['rollout:h1:api']],
      ['rollout:h1:admin', ['ingress:h1', 'rollout:h1:worker']],
      [
        'prune:h1',
        [
          'rollout:h1:cache',
          'rollout:h1:db',
          'rollout:h1:api',
          'rollout:h1:web',
          'rollout:h1:worker',
          'rollout:h1:admin',
        ],
      ],
    ]);
  });
});

describe('buildEnvironmentModel', () => {
  it('reports every disagreement between stagecraft.yml and the compose file at once', () => {
    const loaded = load(
      `${CONFIG}  staging:\n    driver: ssh\n    hosts:\n      app: [h9]\n    services:\n      wbe: { role: app }\n`,
      { envName: 'staging' },
    );
    expect(() => buildEnvironmentModel(loaded, compose)).toThrow(
      'environment staging cannot be deployed as configured (4 problems)',
    );
    try {
      buildEnvironmentModel(loaded, compose);
    } catch (error) {
      expect((error as { details: string[] }).details).toEqual([
        'services.wbe is not a service of the compose file (did you mean "web"?); compose services: api, db, web',
        'service db has role "db", but environment staging has no hosts with that role (roles: app)',
        'service api has role "web", but environment staging has no hosts with that role (roles: app)',
        'service web has role "web", but environment staging has no hosts with that role (roles: app)',
      ]);
    }
  });
});
