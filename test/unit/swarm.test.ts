import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectHostCompose } from '../../src/compose/project.js';
import {
  migrationJobStack,
  migrationJobStackName,
  roleConstraint,
  swarmStack,
} from '../../src/compose/stack.js';
import type { ComposeProject } from '../../src/compose/types.js';
import {
  nodeLabelArgs,
  parseServices,
  parseTaskSpecs,
  parseTasks,
  serviceInspectArgs,
  stackDeployArgs,
  taskState,
} from '../../src/docker/swarm.js';
import {
  deployStack,
  ensureNodeLabels,
  readSwarmNodes,
  runSwarmJob,
  serviceProgress,
} from '../../src/engine/swarm.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import type { DeployPlanInput } from '../../src/plan/deploy.js';
import { planSwarmDeploy } from '../../src/plan/swarm.js';
import { allSteps, type Plan } from '../../src/plan/types.js';
import { planToText } from '../../src/render/plan.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import type { UserError } from '../../src/util/errors.js';
import { Output } from '../../src/util/output.js';
import type { Secret } from '../../src/util/secret.js';
import { load, problems } from '../support/config.js';

const shop = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;
/** The shop without the published database port (a swarm task's host port is the node's). */
function compose(): ComposeProject {
  const copy = structuredClone(shop);
  delete copy.services['db']!.ports;
  return copy;
}

const CONFIG = `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web, port: 8080, domains: [shop.example, "*"] }
  db: { role: db }
environments:
  production:
    driver: swarm
    manager: m1
    hosts:
      web: [{ name: m1, address: 10.0.0.1 }, { name: w2, address: 10.0.0.2 }]
      db: [{ name: w3, address: 10.0.0.3 }]
`;

const head = 'project:\n  name: shop\nenvironments:\n  prod:\n';

describe('config: driver swarm', () => {
  it('loads a swarm environment with a manager among its hosts', () => {
    const loaded = load(CONFIG, { envName: 'production' });
    expect(loaded.config.environments['production']).toMatchObject({ driver: 'swarm', manager: 'm1' });
  });

  it('names what a swarm cannot do, each at its key', () => {
    expect(
      problems(
        `${head}    driver: swarm\n    manager: m9\n    hosts:\n      web: [m1, w2]\n    rollout:\n      canary: true\n      parallel_hosts: 2\n      drain_timeout: 2s\n      auto_rollback: true\n    services:\n      api: { rollout: recreate }\n`,
      ),
    ).toEqual([
      "stagecraft.yml:6:14 environments.prod.manager: manager m9 is not one of this environment's hosts (m1, w2); name a host listed under hosts",
      'stagecraft.yml:10:15 environments.prod.rollout.canary: driver swarm: Swarm updates task by task; set deploy.update_config.parallelism in the compose file instead of rollout.canary',
      'stagecraft.yml:11:23 environments.prod.rollout.parallel_hosts: driver swarm: Swarm schedules tasks, not hosts; set deploy.update_config.parallelism in the compose file instead of rollout.parallel_hosts',
      'stagecraft.yml:12:22 environments.prod.rollout.drain_timeout: driver swarm: Swarm stops a task with its stop_grace_period; set that in the compose file instead of rollout.drain_timeout',
      'stagecraft.yml:13:22 environments.prod.rollout.auto_rollback: driver swarm: a failed update pauses and leaves the old tasks serving; roll back with `stagecraft rollback` (rollout.auto_rollback is not supported on swarm)',
      'stagecraft.yml:15:23 environments.prod.services.api.rollout: driver swarm updates start-first or stop-first; recreate is not a Swarm update order',
    ]);
  });

  it('refuses a swarm without hosts, and a manager on another driver', () => {
    expect(problems(`${head}    driver: swarm\n`)).toEqual([
      'stagecraft.yml:5:5 environments.prod.hosts: driver swarm needs its hosts (role → hosts): the swarm nodes, labelled by role',
    ]);
    expect(problems(`${head}    driver: ssh\n    manager: h1\n    hosts:\n      web: [h1]\n`)).toEqual([
      'stagecraft.yml:6:14 environments.prod.manager: manager belongs to driver swarm; driver ssh reaches every host itself',
    ]);
  });

  it('refuses a top-level rollout: recreate for a swarm environment, at the service', () => {
    expect(
      problems(
        `project:\n  name: shop\nservices:\n  api: { rollout: recreate }\nenvironments:\n  prod:\n    driver: swarm\n    hosts:\n      web: [m1]\n`,
      ),
    ).toEqual([
      'stagecraft.yml:4:19 services.api.rollout: environment prod uses driver swarm, which updates start-first or stop-first; recreate is not a Swarm update order (override it under environments.prod.services.api.rollout)',
    ]);
  });
});

describe('model: driver swarm', () => {
  it('drives the swarm through its manager, which holds the lock; the stack is <project>-<env>', () => {
    const model = buildEnvironmentModel(load(CONFIG, { envName: 'production' }), compose());
    expect(model.driver).toBe('swarm');
    expect(model.swarm).toEqual({ manager: 'm1', stack: 'shop-production' });
    expect(model.lockHost).toBe('m1');
    expect(model.connection.driver).toBe('ssh');
    // api (web: m1, w2) reaches db (w3) over the stack's overlay network: no published-port warning.
    expect(model.warnings.filter((warning) => warning.includes('reaches db'))).toEqual([]);
    expect(model.services.map((service) => [service.name, service.strategy])).toEqual([
      ['db', 'stop-first'],
      ['api', 'start-first'],
      ['web', 'start-first'],
    ]);
  });

  it('refuses compose keys Swarm ignores, and a volume owner on a role with several nodes', () => {
    const bad = compose();
    bad.services['api']!.container_name = 'shop-api';
    bad.services['api']!['privileged'] = true;
    const config = CONFIG.replace('db: { role: db }', 'db: { role: web }');
    expect(() => buildEnvironmentModel(load(config, { envName: 'production' }), bad)).toThrow(
      expect.objectContaining({
        details: [
          'service db keeps data in the named volume db-data, and its role web has 2 hosts (m1, w2): Swarm may start it on another node, whose volume is empty; give db a role with one host',
          'service api: container_name is not supported by Docker Swarm: Swarm names each task itself (<stack>_<service>.<slot>); remove container_name',
          'service api: privileged is not supported by Docker Swarm: Swarm services cannot run privileged; use cap_add for the capabilities the service needs',
        ],
      }),
    );
  });
});

function projected(source: ComposeProject = compose()) {
  return projectHostCompose({
    compose: source,
    composeProjectName: 'shop-production',
    services: Object.keys(source.services),
    images: { api: 'registry.example/shop/shop-api@sha256:aaa', web: 'registry.example/shop/shop-web:v1' },
    secretValues: ['pg-S3cret$value'],
    secretNames: ['POSTGRES_PASSWORD'],
    remoteServices: {},
    releaseLabels: {},
    stagecraftServices: { api: { replicas: 3 } },
  });
}

const services = [
  { name: 'api', role: 'web', replicas: 3, strategy: 'start-first' as const, job: false },
  { name: 'db', role: 'db', replicas: 1, strategy: 'stop-first' as const, job: false },
  { name: 'web', role: 'web', replicas: 2, strategy: 'start-first' as const, job: false },
];

describe('compose → stack file', () => {
  it('gives each service replicas, placement by role, update order, dnsrr; drops what Swarm refuses', () => {
    const { stack, jobs, files } = swarmStack(
      { document: projected().document, services },
      'shop-production',
    );
    const document = parse(stack.text) as ComposeProject;
    expect(Object.keys(document).sort()).toEqual(['networks', 'services', 'volumes']);
    expect(document.networks).toEqual({ default: { attachable: true, driver: 'overlay', ipam: {} } });
    const api = document.services['api']!;
    expect(api.deploy).toEqual({
      endpoint_mode: 'dnsrr',
      placement: { constraints: ['node.labels.stagecraft.role.web == true'] },
      replicas: 3,
      update_config: { failure_action: 'pause', order: 'start-first' },
    });
    expect(api.image).toBe('registry.example/shop/shop-api@sha256:aaa');
    expect(api.depends_on).toBeUndefined();
    expect(api.command).toBeUndefined();
    expect(api.stop_grace_period).toBe('10s');
    expect(api.env_file).toEqual(['secrets/api.env']);
    const db = document.services['db']!;
    expect(db.deploy).toEqual({
      endpoint_mode: 'dnsrr',
      placement: { constraints: ['node.labels.stagecraft.role.db == true'] },
      replicas: 1,
      update_config: { failure_action: 'pause', order: 'stop-first' },
    });
    expect(db.healthcheck).toEqual({
      interval: '2s',
      retries: 15,
      start_period: '5s',
      test: ['CMD', 'pg_isready', '-U', 'shop', '-d', 'shop'],
      timeout: '2s',
    });
    expect(jobs).toEqual({});
    expect(files).toEqual({});
    expect(stack.text).not.toContain('pg-S3cret');
  });

  it('publishes ports in host mode with a numeric port, maps restart to restart_policy, keeps the user’s update_config', () => {
    const source = compose();
    source.services['web']!.ports = [
      { target: 8080, published: '8081', protocol: 'tcp', mode: 'ingress', host_ip: '0.0.0.0' },
    ];
    source.services['web']!['restart'] = 'on-failure:3';
    source.services['api']!.deploy = {
      update_config: { order: 'stop-first', parallelism: 2 },
      restart_policy: { condition: 'any' },
    };
    source.services['api']!['restart'] = 'always';
    const { stack } = swarmStack({ document: projected(source).document, services }, 'shop-production');
    const document = parse(stack.text) as ComposeProject;
    expect(document.services['web']!.ports).toEqual([
      { mode: 'host', protocol: 'tcp', published: 8081, target: 8080 },
    ]);
    expect(document.services['web']!.deploy?.['restart_policy']).toEqual({
      condition: 'on-failure',
      max_attempts: 3,
    });
    expect(document.services['web']!['restart']).toBeUndefined();
    expect(document.services['api']!.deploy?.['update_config']).toEqual({
      failure_action: 'pause',
      order: 'stop-first',
      parallelism: 2,
    });
    expect(document.services['api']!.deploy?.['restart_policy']).toEqual({ condition: 'any' });
  });

  it('adds the gateway: Caddy on every node, host-mode port, routes to tasks.<service>, config named by its hash', () => {
    const { stack, files } = swarmStack(
      {
        document: projected().document,
        services,
        gateway: {
          image: 'caddy:2',
          httpPort: 8080,
          routes: [{ service: 'web', domains: ['shop.example'], port: 8080 }],
        },
      },
      'shop-production',
    );
    const document = parse(stack.text) as ComposeProject;
    const gateway = document.services['stagecraft-gateway']!;
    const config = JSON.parse(files['gateway.json']!);
    const route = config.apps.http.servers.stagecraft.routes[0];
    expect(route.match).toEqual([{ host: ['shop.example'] }]);
    expect(route.handle[0].dynamic_upstreams).toEqual({
      source: 'a',
      name: 'tasks.web',
      port: '8080',
      refresh: '200ms',
    });
    const configName = (gateway.configs as { source: string }[])[0]!.source;
    expect(configName).toMatch(/^stagecraft-gateway-[0-9a-f]{12}$/);
    expect(document['configs']).toEqual({ [configName]: { file: './gateway.json' } });
    expect(gateway).toMatchObject({
      image: 'caddy:2',
      command: ['caddy', 'run', '--config', '/etc/stagecraft/gateway.json'],
      networks: ['default'],
      ports: [{ mode: 'host', protocol: 'tcp', published: 8080, target: 80 }],
      deploy: {
        mode: 'global',
        endpoint_mode: 'dnsrr',
        update_config: { failure_action: 'pause', order: 'stop-first' },
      },
    });
  });

  it('puts a one-shot service in its own job stack on the app stack’s network', () => {
    const source = compose();
    source.services['seed'] = {
      image: 'registry.example/seed:1',
      restart: 'no',
      depends_on: { db: { condition: 'service_healthy' } },
    };
    const { stack, jobs } = swarmStack(
      {
        document: projected(source).document,
        services: [
          ...services,
          { name: 'seed', role: 'db', replicas: 1, strategy: 'start-first', job: true, needsStack: true },
        ],
      },
      'shop-production',
    );
    expect(Object.keys((parse(stack.text) as ComposeProject).services).sort()).toEqual(['api', 'db', 'web']);
    const job = parse(jobs['seed']!.text) as ComposeProject;
    expect(job.networks).toEqual({ default: { external: true, name: 'shop-production_default' } });
    expect(job.services['seed']!.deploy).toEqual({
      endpoint_mode: 'dnsrr',
      mode: 'replicated-job',
      placement: { constraints: ['node.labels.stagecraft.role.db == true'] },
      restart_policy: { condition: 'none' },
    });
  });

  it('refuses a port range, a bridge network, a service named like the gateway', () => {
    const ranged = compose();
    ranged.services['web']!.ports = [{ target: 8080, published: '8080-8081' }];
    expect(() => swarmStack({ document: projected(ranged).document, services }, 's')).toThrow(
      'service web: the published port range 8080-8081 cannot be published on a swarm',
    );
    const bridged = compose();
    bridged.networks = { default: { driver: 'bridge' } };
    expect(() => swarmStack({ document: projected(bridged).document, services }, 's')).toThrow(
      "network default uses the driver bridge; a swarm's networks span its nodes with the overlay driver",
    );
    const named = compose();
    named.services['stagecraft-gateway'] = { image: 'x' };
    expect(() => swarmStack({ document: projected(named).document, services }, 's')).toThrow(
      "the compose service stagecraft-gateway has the name of Stagecraft's gateway on a swarm",
    );
  });

  it('constrains a role to the nodes that carry its label', () => {
    expect(roleConstraint('web')).toBe('node.labels.stagecraft.role.web == true');
  });
});

function plan(overrides: Partial<DeployPlanInput> = {}, source = compose()): Plan {
  const model = buildEnvironmentModel(load(CONFIG, { envName: 'production' }), source);
  return planSwarmDeploy({
    model,
    compose: source,
    version: 'abc123',
    immutableVersion: true,
    releaseId: 'rel-20261130-120000000',
    kind: 'deploy',
    skipBuild: undefined,
    hostAddresses: { m1: '10.0.0.1', w2: '10.0.0.2', w3: '10.0.0.3' },
    secretValues: ['pg-S3cret$value'],
    secretNames: ['POSTGRES_PASSWORD'],
    projectDir: '/path/to/shop',
    readProjectPath: (path) => [{ path, content: Buffer.from(''), mode: 0o644 }],
    migrations: [],
    message: 'deploy abc123',
    ...overrides,
  });
}

describe('planSwarmDeploy', () => {
  it('plans build, push, the lock on the manager, files, labels, one stack deploy, the record', () => {
    const result = plan();
    expect(
      result.phases.map((phase) => [phase.name, phase.skipped ?? null, phase.steps.map((step) => step.id)]),
    ).toEqual([
      ['build', null, ['build:api', 'build:web']],
      ['push', null, ['push:api', 'push:web']],
      ['migrate_pre', null, ['lock:acquire']],
      [
        'rollout',
        null,
        ['prepare:m1', 'secrets:m1:api', 'secrets:m1:db', 'file:m1:gateway.json', 'labels:m1', 'stack:m1'],
      ],
      ['migrate_post', 'no post_deploy migrations', []],
      ['finalize', null, ['record', 'lock:release']],
    ]);
    const steps = allSteps(result);
    expect(new Set(steps.filter((step) => step.host).map((step) => step.host!.name))).toEqual(
      new Set(['m1']),
    );
    const stack = steps.find((step) => step.id === 'stack:m1')!;
    expect(stack.action).toEqual({
      kind: 'stack-deploy',
      stack: 'shop-production',
      file: '.stagecraft/shop-production/releases/rel-20261130-120000000/stack.yml',
      argv: [
        'docker',
        'stack',
        'deploy',
        '--compose-file',
        '.stagecraft/shop-production/releases/rel-20261130-120000000/stack.yml',
        '--prune',
        '--with-registry-auth',
        '--detach=true',
        'shop-production',
      ],
      services: ['api', 'db', 'stagecraft-gateway', 'web'],
      timeoutMs: 120_000,
    });
    expect(stack.title).toBe(
      'docker stack deploy shop-production --prune (db 1× stop-first; api 1× start-first; web 1× start-first; stagecraft-gateway on every node :80); updated, failure pauses; converged within 2m',
    );
    expect(steps.find((step) => step.id === 'labels:m1')!.action).toEqual({
      kind: 'swarm-labels',
      nodes: [
        { host: 'm1', address: '10.0.0.1', roles: ['web'] },
        { host: 'w2', address: '10.0.0.2', roles: ['web'] },
        { host: 'w3', address: '10.0.0.3', roles: ['db'] },
      ],
    });
    const text = planToText(
      result,
      new Output({ color: false, quiet: false, verbose: false, json: false }).colors,
    );
    expect(text).toContain('stack:m1');
    expect(text).not.toContain('pg-S3cret');
    // `docker stack deploy` reads env files as Docker does: each value verbatim, no quotes, no `$$`.
    const secrets = steps.find((step) => step.id === 'secrets:m1:db')!.action as { content: Secret };
    expect(secrets.content.reveal()).toBe('POSTGRES_PASSWORD=pg-S3cret$value\n');
  });

  it('runs one-shot services as replicated jobs after deploying what they need', () => {
    const source = compose();
    source.services['seed'] = {
      image: 'registry.example/seed:1',
      restart: 'no',
      depends_on: { db: { condition: 'service_healthy' } },
    };
    const steps = allSteps(plan({}, source));
    expect(steps.filter((step) => step.phase === 'rollout').map((step) => step.id)).toEqual([
      'prepare:m1',
      'secrets:m1:api',
      'secrets:m1:db',
      'file:m1:gateway.json',
      'file:m1:jobs/seed.yml',
      'labels:m1',
      'file:m1:stack.early.yml',
      'stack:m1:early',
      'job:m1:seed',
      'stack:m1',
    ]);
    expect(steps.find((step) => step.id === 'stack:m1:early')!.action).toMatchObject({
      services: ['db'],
      argv: [
        'docker',
        'stack',
        'deploy',
        '--compose-file',
        '.stagecraft/shop-production/releases/rel-20261130-120000000/stack.early.yml',
        '--with-registry-auth',
        '--detach=true',
        'shop-production',
      ],
    });
    expect(steps.find((step) => step.id === 'job:m1:seed')!.action).toMatchObject({
      kind: 'swarm-job',
      stack: 'shop-production-job-seed',
      file: '.stagecraft/shop-production/releases/rel-20261130-120000000/jobs/seed.yml',
    });
  });

  it('says what is not yet supported instead of planning it', () => {
    expect(() => plan({ onlyServices: ['api'] })).toThrow(
      'not yet supported on driver swarm: --hosts, --roles and --services',
    );
    expect(() => plan({ ingressTls: { mode: 'acme' } })).toThrow(
      "not yet supported on driver swarm: ingress.tls (mode acme); the swarm's gateway serves HTTP only",
    );
    try {
      plan({ ingressTls: { mode: 'acme' } });
    } catch (error) {
      expect((error as UserError).hint).toMatch(/^ingress\.tls applies to every environment of the project/);
    }
  });

  it('runs pre-deploy migrations as jobs once their database runs, post-deploy ones after the update', () => {
    const result = plan({
      migrations: [
        { database: 'main', strategy: 'pre_deploy', engine: 'raw', service: 'db', needs: ['db'] },
        { database: 'main', strategy: 'post_deploy', engine: 'raw', service: 'db', needs: ['db'] },
      ],
    });
    expect(result.phases.map((phase) => [phase.name, phase.steps.map((step) => step.id)])).toEqual([
      ['build', ['build:api', 'build:web']],
      ['push', ['push:api', 'push:web']],
      [
        'migrate_pre',
        [
          'lock:acquire',
          'prepare:m1',
          'secrets:m1:api',
          'secrets:m1:db',
          'file:m1:gateway.json',
          'labels:m1',
          'file:m1:stack.early.yml',
          'stack:m1:early',
          'migrate:main:pre',
        ],
      ],
      ['rollout', ['stack:m1']],
      ['migrate_post', ['migrate:main:post']],
      ['finalize', ['record', 'lock:release']],
    ]);
    const steps = allSteps(result);
    expect(steps.find((step) => step.id === 'stack:m1:early')!.action).toMatchObject({
      kind: 'stack-deploy',
      services: ['db'],
    });
    expect(steps.find((step) => step.id === 'migrate:main:pre')).toMatchObject({
      host: { name: 'm1' },
      dependsOn: ['stack:m1:early'],
      action: { kind: 'migrate', database: 'main', strategy: 'pre_deploy', engine: 'raw', service: 'db' },
    });
    expect(steps.find((step) => step.id === 'stack:m1')!.dependsOn).toContain('migrate:main:pre');
    expect(steps.find((step) => step.id === 'migrate:main:post')!.dependsOn).toEqual(['stack:m1']);
    // A rollback migrates nothing.
    expect(
      allSteps(
        plan({
          kind: 'rollback',
          migrations: [],
          images: { api: 'registry.example/api@sha256:aaa', web: 'registry.example/web@sha256:bbb' },
        }),
      ).some((step) => step.action.kind === 'migrate'),
    ).toBe(false);
  });

  it('renders a migration as a job stack: the service’s image on the app’s networks, files as configs', () => {
    const job = migrationJobStack({
      stack: 'shop-production',
      database: 'main',
      spec: { image: 'postgres:16', networks: { default: null, backend: null } },
      image: 'postgres:16',
      entrypoint: 'sh',
      command: ['-c', 'exec psql -d "$STAGECRAFT_PSQL_URL" -f /stagecraft-migrations/run.sql'],
      envFile: 'connection.env',
      files: { 'files/001_init.sql': 'a'.repeat(64), 'run.sql': 'b'.repeat(64) },
      mount: '/stagecraft-migrations',
    });
    expect(migrationJobStackName('shop-production', 'main')).toBe('shop-production-migrate-main');
    const config = (path: string, sha: string) =>
      `stagecraft-migration-${createHash('sha256').update(`shop-production-migrate-main\n${path}\n${sha}`).digest('hex').slice(0, 16)}`;
    expect(job.document).toEqual({
      services: {
        'migrate-main': {
          image: 'postgres:16',
          entrypoint: ['sh'],
          command: ['-c', 'exec psql -d "$$STAGECRAFT_PSQL_URL" -f /stagecraft-migrations/run.sql'],
          env_file: ['./connection.env'],
          configs: [
            {
              source: config('files/001_init.sql', 'a'.repeat(64)),
              target: '/stagecraft-migrations/files/001_init.sql',
              mode: 0o444,
            },
            {
              source: config('run.sql', 'b'.repeat(64)),
              target: '/stagecraft-migrations/run.sql',
              mode: 0o444,
            },
          ],
          networks: ['default', 'backend'],
          labels: { 'stagecraft.migration': 'shop-production' },
          deploy: { mode: 'replicated-job', restart_policy: { condition: 'none' } },
        },
      },
      networks: {
        default: { external: true, name: 'shop-production_default' },
        backend: { external: true, name: 'shop-production_backend' },
      },
      configs: {
        [config('files/001_init.sql', 'a'.repeat(64))]: {
          name: config('files/001_init.sql', 'a'.repeat(64)),
          file: './files/001_init.sql',
        },
        [config('run.sql', 'b'.repeat(64))]: { name: config('run.sql', 'b'.repeat(64)), file: './run.sql' },
      },
    });
  });

  it('keeps the last releases: retain on every node (release folders on the manager) and the build machine', () => {
    const result = plan({
      retention: {
        keepReleases: ['rel-20261130-120000000', 'rel-20261129-090000000'],
        keepImages: ['registry.example/api@sha256:aaa'],
        removeImages: ['registry.example/api@sha256:old'],
      },
    });
    const finalize = result.phases.find((phase) => phase.name === 'finalize')!.steps;
    expect(finalize.map((step) => [step.id, step.host?.name ?? null, step.dependsOn])).toEqual([
      ['record', null, []],
      ['retain:m1', 'm1', ['record']],
      ['retain:w2', 'w2', ['record']],
      ['retain:w3', 'w3', ['record']],
      ['retain:build', null, ['record']],
      ['lock:release', 'm1', expect.any(Array)],
    ]);
    expect(finalize.find((step) => step.id === 'retain:w2')!.action).toMatchObject({
      kind: 'retain',
      keepReleases: ['rel-20261130-120000000', 'rel-20261129-090000000'],
      removeImages: ['registry.example/api@sha256:old'],
      releasesDir: '.stagecraft/shop-production/releases',
      bestEffort: true,
    });
  });

  it('rolls back with the target release’s own stack file and files, and runs no job', () => {
    const source = compose();
    source.services['seed'] = { image: 'registry.example/seed:1', restart: 'no' };
    const text = 'services:\n  api: {}\n  stagecraft-gateway: {}\n';
    const result = plan(
      {
        kind: 'rollback',
        skipBuild: 'rollback to rel-20261129-090000000 reuses its images',
        images: { api: 'registry.example/api@sha256:aaa', web: 'registry.example/web@sha256:bbb' },
        reuse: {
          m1: {
            releaseId: 'rel-20261129-090000000',
            text,
            sha256: 'f00dfeed0123456789',
            specHashes: {},
            services: ['stagecraft-gateway', 'api'],
          },
        },
      },
      source,
    );
    expect(result.phases.map((phase) => [phase.name, phase.steps.map((step) => step.id)])).toEqual([
      ['build', []],
      ['push', []],
      ['migrate_pre', ['lock:acquire']],
      ['rollout', ['prepare:m1', 'copy:m1', 'labels:m1', 'stack:m1']],
      ['migrate_post', []],
      ['finalize', ['record', 'lock:release']],
    ]);
    const steps = allSteps(result);
    expect(steps.find((step) => step.id === 'prepare:m1')!.action).toEqual({
      kind: 'upload',
      path: '.stagecraft/shop-production/releases/rel-20261130-120000000/stack.yml',
      content: text,
      mode: 0o644,
      sha256: 'f00dfeed0123456789',
      file: 'compose',
    });
    expect(steps.find((step) => step.id === 'copy:m1')!.action).toEqual({
      kind: 'exec',
      argv: [
        'cp',
        '-a',
        '.stagecraft/shop-production/releases/rel-20261129-090000000/.',
        '.stagecraft/shop-production/releases/rel-20261130-120000000/',
      ],
    });
    const stack = steps.find((step) => step.id === 'stack:m1')!;
    expect(stack.action).toMatchObject({
      kind: 'stack-deploy',
      file: '.stagecraft/shop-production/releases/rel-20261130-120000000/stack.yml',
      services: ['api', 'stagecraft-gateway'],
    });
    expect(stack.title).toContain('stagecraft-gateway on every node :80');
  });

  it('rolls back without the target’s stack file by rendering one with the target’s images', () => {
    const source = compose();
    source.services['seed'] = { image: 'registry.example/seed:1', restart: 'no' };
    const result = plan(
      {
        kind: 'rollback',
        skipBuild: 'rollback to rel-20261129-090000000 reuses its images',
        images: { api: 'registry.example/api@sha256:aaa', web: 'registry.example/web@sha256:bbb' },
      },
      source,
    );
    const steps = allSteps(result);
    expect(steps.some((step) => step.id.startsWith('job:'))).toBe(false);
    const prepare = steps.find((step) => step.id === 'prepare:m1')!.action;
    expect(prepare.kind).toBe('upload');
    const content = String((prepare as { content: unknown }).content);
    expect(content).toContain('image: "registry.example/api@sha256:aaa"');
    expect(content).not.toContain('seed');
  });

  it('refuses a bind mount of project files, which the nodes do not have', () => {
    const source = compose();
    source.services['web']!.volumes = [{ type: 'bind', source: '/path/to/shop/conf', target: '/etc/conf' }];
    expect(() => plan({}, source)).toThrow(
      "service web: the bind mount ./conf:/etc/conf needs the project's files on every node of the swarm, which only the manager gets",
    );
  });
});

describe('swarm argv and parsers', () => {
  it('builds the docker argv', () => {
    expect(stackDeployArgs('s', 'f.yml', { prune: false }).join(' ')).toBe(
      'docker stack deploy --compose-file f.yml --with-registry-auth --detach=true s',
    );
    expect(
      nodeLabelArgs('n1', { 'stagecraft.role.web': 'true', 'stagecraft.role.db': 'true' }, [
        'stagecraft.role.x',
      ]).join(' '),
    ).toBe(
      'docker node update --label-add stagecraft.role.db=true --label-add stagecraft.role.web=true --label-rm stagecraft.role.x n1',
    );
    expect(serviceInspectArgs(['s_api']).slice(0, 4)).toEqual(['docker', 'service', 'inspect', '--format']);
  });

  it('parses services, tasks and task specs', () => {
    const [api] = parseServices(
      '{"id":"x1","name":"s_api","mode":{"Replicated":{"Replicas":2}},"update":{"State":"paused","Message":"update paused due to failure or early termination of task t1"},"labels":{"stagecraft.spec-hash":"h2"}}\n',
    );
    expect(api).toEqual({
      id: 'x1',
      name: 's_api',
      replicas: 2,
      mode: 'replicated',
      update: 'paused',
      updateMessage: 'update paused due to failure or early termination of task t1',
      labels: { 'stagecraft.spec-hash': 'h2' },
    });
    const [gateway] = parseServices(
      '{"id":"g","name":"s_gw","mode":{"Global":{}},"update":null,"labels":null}',
    );
    expect(gateway).toMatchObject({ mode: 'global', replicas: undefined, update: undefined, labels: {} });
    const [task] = parseTasks(
      '{"id":"t","name":"s_job.1","node":"bare1","desired":"Complete","current":"Complete 2 seconds ago","error":"","image":"i"}',
    );
    expect(taskState(task!)).toBe('complete');
    expect(
      parseTaskSpecs('{"id":"t","service":"x1","node":"n","state":"running","error":null,"labels":null}'),
    ).toEqual([{ id: 't', service: 'x1', node: 'n', state: 'running', error: '', labels: {} }]);
  });

  it('decides convergence from the update state and the tasks of this spec', () => {
    const state = parseServices(
      '{"id":"x1","name":"s_api","mode":{"Replicated":{"Replicas":2}},"update":{"State":"updating"},"labels":{"stagecraft.spec-hash":"new"}}',
    )[0]!;
    const task = (id: string, hash: string, status = 'running') => ({
      id,
      service: 'x1',
      node: 'n',
      state: status,
      error: '',
      labels: { 'stagecraft.spec-hash': hash },
    });
    expect(serviceProgress('api', state, [task('a', 'new'), task('b', 'old')])).toEqual({
      service: 'api',
      state: 'updating',
      detail: '1/2 tasks running this release',
    });
    expect(
      serviceProgress('api', { ...state, update: 'completed' }, [task('a', 'new'), task('b', 'new')]),
    ).toEqual({
      service: 'api',
      state: 'converged',
      detail: '2/2 tasks running this release',
    });
    // Right after `docker stack deploy` the old tasks still run and no update has started: not converged.
    expect(
      serviceProgress('api', { ...state, update: undefined }, [task('a', 'old'), task('b', 'old')]).state,
    ).toBe('updating');
    expect(
      serviceProgress(
        'api',
        { ...state, update: 'paused', updateMessage: 'update paused due to failure' },
        [],
      ),
    ).toEqual({
      service: 'api',
      state: 'stopped',
      detail: 'update paused: update paused due to failure',
    });
  });
});

describe('swarm handlers (a scripted manager)', () => {
  const signal = new AbortController().signal;
  const deployAction = {
    kind: 'stack-deploy' as const,
    stack: 's',
    file: 'r/stack.yml',
    argv: stackDeployArgs('s', 'r/stack.yml', { prune: true }),
    services: ['api'],
    timeoutMs: 60_000,
  };
  const service = (update: string | null) =>
    `{"id":"x1","name":"s_api","mode":{"Replicated":{"Replicas":1}},"update":${update},"labels":{"stagecraft.spec-hash":"new"}}\n`;

  it('reads the nodes in one place: the ids the manager lists, then their inspect; none without ids', async () => {
    const runner = new RecordingRunner({
      name: 'm1',
      script: {
        'docker node ls --quiet': { stdout: 'n1\n n2 \n\n' },
        'docker node inspect': {
          stdout:
            '{"id":"n1","hostname":"m1","addr":"10.0.0.1","state":"ready","labels":null}\n{"id":"n2","hostname":"w2","addr":"10.0.0.2","state":"down","labels":{"a":"b"}}\n',
        },
      },
    });
    expect(await readSwarmNodes(runner)).toEqual([
      { id: 'n1', hostname: 'm1', addr: '10.0.0.1', state: 'ready', labels: {} },
      { id: 'n2', hostname: 'w2', addr: '10.0.0.2', state: 'down', labels: { a: 'b' } },
    ]);
    expect(runner.commands.at(-1)!.slice(0, 3).concat(runner.commands.at(-1)!.slice(-2))).toEqual([
      'docker',
      'node',
      'inspect',
      'n1',
      'n2',
    ]);
    const empty = new RecordingRunner({ name: 'm1', script: { 'docker node ls --quiet': { stdout: '' } } });
    expect(await readSwarmNodes(empty)).toEqual([]);
    expect(empty.commands.map((argv) => argv.join(' '))).toEqual(['docker node ls --quiet']);
  });

  it('labels each host’s node by role, found by address, and removes a role it lost', async () => {
    const runner = new RecordingRunner({
      name: 'm1',
      script: {
        'docker node ls --quiet': { stdout: 'n1\nn2\n' },
        'docker node inspect': {
          stdout:
            '{"id":"n1","hostname":"m1","addr":"10.0.0.1","state":"ready","labels":{"stagecraft.role.web":"true"}}\n{"id":"n2","hostname":"other","addr":"10.0.0.2","state":"ready","labels":{"stagecraft.role.db":"true"}}\n',
        },
      },
    });
    const lines: string[] = [];
    const outcome = await ensureNodeLabels(
      runner,
      {
        kind: 'swarm-labels',
        nodes: [
          { host: 'm1', address: '10.0.0.1', roles: ['web'] },
          { host: 'w2', address: '10.0.0.2', roles: ['web'] },
        ],
      },
      (line) => lines.push(line),
      signal,
    );
    expect(outcome).toEqual({ status: 'completed', detail: 'labelled 1 node' });
    expect(runner.commands.at(-1)!.join(' ')).toBe(
      'docker node update --label-add stagecraft.role.web=true --label-rm stagecraft.role.db n2',
    );
    expect(lines).toEqual(['w2: +stagecraft.role.web -stagecraft.role.db']);
    await expect(
      ensureNodeLabels(
        runner,
        { kind: 'swarm-labels', nodes: [{ host: 'w9', address: '10.0.0.9', roles: [] }] },
        () => {},
        signal,
      ),
    ).rejects.toThrow(
      'host w9 (10.0.0.9) is not a node of the swarm that m1 manages (nodes: m1 10.0.0.1, other 10.0.0.2)',
    );
  });

  it('deploys the stack and returns once every task runs this release', async () => {
    const runner = new RecordingRunner({
      name: 'm1',
      script: {
        'docker service inspect': { stdout: service('{"State":"completed"}') },
        'docker service ps --quiet': { stdout: 't1\n' },
        'docker inspect --type task': {
          stdout:
            '{"id":"t1","service":"x1","node":"n1","state":"running","error":null,"labels":{"stagecraft.spec-hash":"new"}}\n',
        },
      },
    });
    const outcome = await deployStack(runner, deployAction, () => {}, signal);
    expect(outcome).toEqual({ status: 'completed', detail: 's: api 1/1 tasks running this release' });
    expect(runner.commands[0]!.join(' ')).toBe(
      'docker stack deploy --compose-file r/stack.yml --prune --with-registry-auth --detach=true s',
    );
  });

  it('fails (exit 2) when Swarm pauses the update, after showing the service’s output', async () => {
    const runner = new RecordingRunner({
      name: 'm1',
      script: {
        'docker service inspect': {
          stdout: service(
            '{"State":"paused","Message":"update paused due to failure or early termination of task t2"}',
          ),
        },
        'docker service ps --quiet': { stdout: '' },
        'docker service logs': { stdout: 'api v3 listening on :3000\n' },
      },
    });
    const lines: string[] = [];
    const failure = deployStack(runner, deployAction, (line) => lines.push(line), signal);
    await expect(failure).rejects.toThrow(
      'the swarm stopped the update of api: update paused: update paused due to failure or early termination of task t2; its old tasks keep serving',
    );
    await expect(failure).rejects.toMatchObject({ exitCode: 2 });
    expect(lines).toContain('s_api: api v3 listening on :3000');
  });

  it('names the new task the update stopped on, its node and error, and shows that task’s output only', async () => {
    const id = 'xk2m9q7r4t1v8w3y6z0a5b2c';
    const runner = new RecordingRunner({
      name: 'm1',
      script: {
        'docker service inspect': {
          stdout: service(
            `{"State":"paused","Message":"update paused due to failure or early termination of task ${id}"}`,
          ),
        },
        'docker service ps --quiet': { stdout: '' },
        [`docker inspect --type task --format`]: {
          stdout: `{"id":"${id}","service":"x1","node":"n2","state":"failed","error":"task: non-zero exit (137)","labels":{}}\n`,
        },
        'docker node ls --quiet': { stdout: 'n1\nn2\n' },
        'docker node inspect': {
          stdout:
            '{"id":"n1","hostname":"m1","addr":"10.0.0.1","state":"ready","labels":{}}\n{"id":"n2","hostname":"w2","addr":"10.0.0.2","state":"ready","labels":{}}\n',
        },
        [`docker service logs --raw --tail 30 ${id}`]: { stdout: 'api v3 listening on :3000\n' },
      },
    });
    const lines: string[] = [];
    const failure = deployStack(runner, deployAction, (line) => lines.push(line), signal);
    await expect(failure).rejects.toThrow(
      'the swarm stopped the update of api: its new task w2 task xk2m9q7r4t1v failed (task: non-zero exit (137)); its old tasks keep serving',
    );
    expect(lines).toEqual([
      `api update paused: update paused due to failure or early termination of task ${id}`,
      'w2 task xk2m9q7r4t1v: api v3 listening on :3000',
    ]);
  });

  it('runs a job stack to completion, shows its output and removes it; a failed job is exit 2', async () => {
    const job = {
      kind: 'swarm-job' as const,
      service: 'seed',
      stack: 's-job-seed',
      file: 'r/jobs/seed.yml',
      argv: stackDeployArgs('s-job-seed', 'r/jobs/seed.yml', { prune: false }),
      timeoutMs: 60_000,
    };
    const task = (state: string, error = '') =>
      `{"id":"t","name":"s-job-seed_seed.1","node":"n1","desired":"Complete","current":"${state} 1 second ago","error":"${error}","image":"i"}\n`;
    const ok = new RecordingRunner({
      name: 'm1',
      script: {
        'docker service ps': { stdout: task('Complete') },
        'docker service logs': { stdout: 'seeded\n' },
      },
    });
    const lines: string[] = [];
    expect(await runSwarmJob(ok, job, (line) => lines.push(line), signal)).toEqual({
      status: 'completed',
      detail: 'seed: ran to completion',
    });
    expect(lines).toEqual(['s-job-seed_seed: seeded']);
    expect(ok.commands.map((argv) => argv.slice(0, 3).join(' '))).toEqual([
      'docker stack rm',
      'docker stack deploy',
      'docker service ps',
      'docker service logs',
      'docker stack rm',
    ]);
    const failed = new RecordingRunner({
      name: 'm1',
      script: { 'docker service ps': { stdout: task('Failed', 'task: non-zero exit (1)') } },
    });
    await expect(runSwarmJob(failed, job, () => {}, signal)).rejects.toMatchObject({
      message: 'job seed failed: task: non-zero exit (1)',
      exitCode: 2,
    });
  });
});
