// The deploy plan of driver ssh without a registry (issue 15, part 1): built images are saved once on
// the build machine (push phase) and sent to each host that runs them (rollout phase); no push, no
// pull of built images; a rollback uses the images kept on the hosts; swarm still needs a registry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { type DeployPlanInput, planDeploy } from '../../src/plan/deploy.js';
import { allSteps, type Plan } from '../../src/plan/types.js';
import { planToJson } from '../../src/render/plan.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const config = (registry: string) => `project:
  name: shop
${registry}services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web, port: 8080, domains: [shop.example, "*"] }
  db: { role: db }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }, { name: h2, address: 10.0.0.2 }]
      db: [{ name: h3, address: 10.0.0.3 }]
  cluster:
    driver: swarm
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }]
      db: [{ name: h3, address: 10.0.0.3 }]
`;

function plan(registry = '', overrides: Partial<DeployPlanInput> = {}): Plan {
  const model = buildEnvironmentModel(load(config(registry), { envName: 'production' }), compose);
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

const ids = (result: Plan) =>
  result.phases.map((phase) => [phase.name, phase.skipped ?? null, phase.steps.map((step) => step.id)]);

describe('planDeploy without a registry (driver ssh)', () => {
  it('saves each built image once and sends it to each host that runs it, instead of push and pull', () => {
    expect(ids(plan())).toEqual([
      ['build', null, ['build:api', 'build:web']],
      ['push', null, ['save:api', 'save:web']],
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
          'transfer:h1:api',
          'transfer:h1:web',
          'ingress:h1',
          'rollout:h1:api',
          'rollout:h1:web',
          'prune:h1',
          'prepare:h2',
          'secrets:h2:api',
          'transfer:h2:api',
          'transfer:h2:web',
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

  it('treats `registry: none` as no registry', () => {
    expect(ids(plan('  registry: none\n'))).toEqual(ids(plan()));
  });

  it('plans the exact save and transfer actions, and each rollout waits for its own image', () => {
    const steps = allSteps(plan());
    const byId = (id: string) => steps.find((step) => step.id === id)!;
    expect(byId('build:web').action).toMatchObject({
      image: 'shop-web:abc123',
      // An existing tag is looked up in the build engine, not in a registry.
      existsArgv: ['docker', 'image', 'inspect', '--format', '{{.Id}}', 'shop-web:abc123'],
    });
    expect(byId('save:web')).toEqual({
      id: 'save:web',
      phase: 'push',
      title: 'save shop-web:abc123 from the build engine (docker save) for the hosts, which have no registry',
      action: { kind: 'image-save', service: 'web', image: 'shop-web:abc123' },
      dependsOn: ['build:web'],
    });
    expect(byId('transfer:h1:web')).toEqual({
      id: 'transfer:h1:web',
      phase: 'rollout',
      host: { name: 'h1' },
      title: 'send shop-web:abc123 over SSH (docker load of the layers h1 lacks)',
      action: { kind: 'image-transfer', service: 'web', image: 'shop-web:abc123' },
      dependsOn: ['lock:acquire', 'save:web', 'migrate:main:pre'],
    });
    expect(byId('rollout:h1:web').dependsOn).toEqual([
      'prepare:h1',
      'secrets:h1:api',
      'ingress:h1',
      'transfer:h1:web',
      'migrate:main:pre',
    ]);
    // api waits for db (on h3, rolled out early) and for its own image.
    expect(byId('rollout:h1:api').dependsOn).toEqual([
      'prepare:h1',
      'secrets:h1:api',
      'ingress:h1',
      'transfer:h1:api',
      'migrate:main:pre',
    ]);
    // db's image is not built: h3 pulls it as always; no transfer there.
    expect(byId('pull:h3').action).toMatchObject({ argv: expect.arrayContaining(['pull', 'db']) });
    expect(steps.filter((step) => step.id.startsWith('pull:')).map((step) => step.id)).toEqual(['pull:h3']);
    const push = (planToJson(plan()) as { phases: { steps: { id: string; action: unknown }[] }[] })
      .phases[1]!;
    expect(push.steps.map((step) => [step.id, step.action])).toEqual([
      ['save:api', { kind: 'image-save', service: 'api', image: 'shop-api:abc123' }],
      ['save:web', { kind: 'image-save', service: 'web', image: 'shop-web:abc123' }],
    ]);
  });

  it('saves and sends only the services of --services', () => {
    const result = plan('', { onlyServices: ['web'] });
    expect(
      allSteps(result)
        .filter((step) => /^(save|transfer):/.test(step.id))
        .map((step) => step.id),
    ).toEqual(['save:web', 'transfer:h1:web', 'transfer:h2:web']);
  });

  it('with --skip-build still saves the images of the build engine and sends them', () => {
    const result = plan('', { skipBuild: '--skip-build' });
    expect(ids(result).slice(0, 2)).toEqual([
      ['build', '--skip-build', []],
      ['push', null, ['save:api', 'save:web']],
    ]);
    expect(allSteps(result).find((step) => step.id === 'save:web')!.dependsOn).toEqual([]);
  });

  it('a rollback sends nothing: it uses the images kept on the hosts', () => {
    const result = plan('', {
      kind: 'rollback',
      skipBuild: 'rollback to rel-1 reuses its images',
      migrations: [],
    });
    expect(result.phases[1]).toEqual({
      name: 'push',
      skipped: 'no registry: the hosts keep the images of kept releases',
      steps: [],
    });
    expect(allSteps(result).filter((step) => /^(save|transfer|pull):h[12]/.test(step.id))).toEqual([]);
  });

  it('driver swarm still needs a registry, and says so', () => {
    const loaded = load(config(''), { envName: 'cluster' });
    expect(() => buildEnvironmentModel(loaded, compose)).toThrow('cannot be deployed as configured');
    try {
      buildEnvironmentModel(loaded, compose);
    } catch (error) {
      expect((error as { details: string[] }).details).toContain(
        'environment cluster deploys to a swarm, whose nodes pull every image from a registry: set project.registry (registry: none works for driver ssh only)',
      );
    }
  });
});
