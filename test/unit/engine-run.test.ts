import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { checkDependencies, type EngineEvent, runPlan, type StepHandler } from '../../src/engine/run.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { planDeploy } from '../../src/plan/deploy.js';
import type { PhaseName, Plan, Step } from '../../src/plan/types.js';
import { ExternalError, InternalError } from '../../src/util/errors.js';
import { load } from '../support/config.js';

const step = (id: string, phase: PhaseName, host?: string, dependsOn: string[] = []): Step => ({
  id,
  phase,
  ...(host ? { host: { name: host } } : {}),
  title: id,
  action:
    id === 'lock:acquire'
      ? { kind: 'lock-acquire', message: 'm' }
      : id === 'lock:release'
        ? { kind: 'lock-release' }
        : { kind: 'exec', argv: ['true'] },
  dependsOn,
});

/** A deploy-shaped plan: lock, per host prepare+rollout, record, lock release. */
function fixturePlan(hosts: string[]): Plan {
  const rollout = hosts.flatMap((host) => [
    step(`prepare:${host}`, 'rollout', host, ['lock:acquire']),
    step(`rollout:${host}:api`, 'rollout', host, [`prepare:${host}`]),
  ]);
  return {
    kind: 'deploy',
    project: 'shop',
    environment: 'production',
    version: 'v1',
    releaseId: 'rel-20261121-120000000',
    hosts: hosts.map((name) => ({ name, roles: ['web'] })),
    phases: [
      { name: 'build', skipped: '--skip-build', steps: [] },
      { name: 'push', skipped: '--skip-build', steps: [] },
      { name: 'migrate_pre', steps: [step('lock:acquire', 'migrate_pre', hosts[0])] },
      { name: 'rollout', steps: rollout },
      { name: 'migrate_post', skipped: 'no post_deploy migrations', steps: [] },
      {
        name: 'finalize',
        steps: [step('record', 'finalize'), step('lock:release', 'finalize', hosts[0], ['record'])],
      },
    ],
  };
}

async function run(
  plan: Plan,
  handle: StepHandler,
  options: { canary?: boolean; parallelHosts?: number; parallelSteps?: number } = {},
) {
  const events: EngineEvent[] = [];
  const phases: string[] = [];
  const result = await runPlan(plan, {
    handle,
    emit: (event) => events.push(event),
    onPhase: async (phase, status) => {
      phases.push(`${phase}:${status}`);
    },
    parallelHosts: options.parallelHosts ?? 4,
    ...(options.parallelSteps === undefined ? {} : { parallelSteps: options.parallelSteps }),
    canary: options.canary ?? false,
    signal: new AbortController().signal,
  });
  return { result, events, phases };
}

describe('runPlan', () => {
  it('runs phases in order, records skipped phases, and reports every step', async () => {
    const ran: string[] = [];
    const { result, phases } = await run(fixturePlan(['h1']), async (s) => {
      ran.push(s.id);
      return { status: s.id === 'prepare:h1' ? 'unchanged' : 'completed' };
    });
    expect(result.ok).toBe(true);
    expect(ran).toEqual(['lock:acquire', 'prepare:h1', 'rollout:h1:api', 'record', 'lock:release']);
    expect(phases).toEqual([
      'build:skipped',
      'push:skipped',
      'migrate_pre:running',
      'migrate_pre:completed',
      'rollout:running',
      'rollout:completed',
      'migrate_post:skipped',
      'finalize:running',
      'finalize:completed',
    ]);
    expect(result.steps.map((s) => `${s.id}=${s.status}`)).toEqual([
      'lock:acquire=completed',
      'prepare:h1=unchanged',
      'rollout:h1:api=completed',
      'record=completed',
      'lock:release=completed',
    ]);
    expect(result.hostsDone).toEqual(['h1']);
    expect(result.hostsFailed).toEqual([]);
  });

  it('marks the failed phase, skips the later ones and still releases the lock', async () => {
    const ran: string[] = [];
    const { result, phases, events } = await run(fixturePlan(['h1']), async (s) => {
      ran.push(s.id);
      if (s.id === 'rollout:h1:api') throw new ExternalError('unhealthy');
      return { status: 'completed' };
    });
    expect(result.ok).toBe(false);
    expect(result.failedPhase).toBe('rollout');
    expect((result.error as Error).message).toBe('unhealthy');
    expect(ran).toEqual(['lock:acquire', 'prepare:h1', 'rollout:h1:api', 'lock:release']);
    expect(result.phases).toEqual({
      build: 'skipped',
      push: 'skipped',
      migrate_pre: 'completed',
      rollout: 'failed',
      migrate_post: 'skipped',
      finalize: 'skipped',
    });
    expect(phases.at(-1)).toBe('rollout:failed');
    expect(events.find((e) => e.type === 'step-done' && e.status === 'failed')).toMatchObject({
      step: { id: 'rollout:h1:api' },
      error: 'unhealthy',
    });
  });

  it('does not release a lock it never took', async () => {
    const ran: string[] = [];
    const { result } = await run(fixturePlan(['h1']), async (s) => {
      ran.push(s.id);
      if (s.id === 'lock:acquire') throw new ExternalError('held by someone else');
      return { status: 'completed' };
    });
    expect(result.failedPhase).toBe('migrate_pre');
    expect(ran).toEqual(['lock:acquire']);
  });

  it('with canary, rolls out to the first host alone, then the rest; a failure there leaves hostsDone/hostsFailed', async () => {
    const order: string[] = [];
    const { result } = await run(
      fixturePlan(['h1', 'h2', 'h3']),
      async (s) => {
        order.push(s.id);
        if (s.id === 'rollout:h3:api') throw new ExternalError('h3 broke');
        return { status: 'completed' };
      },
      { canary: true, parallelHosts: 1 },
    );
    // h1 completes alone before anything of h2 starts.
    expect(order.indexOf('rollout:h1:api')).toBeLessThan(order.indexOf('prepare:h2'));
    expect(result.hostsDone).toEqual(['h1', 'h2']);
    expect(result.hostsFailed).toEqual(['h3']);
    expect(result.phases.finalize).toBe('skipped');
  });

  it('a canary failure stops the rollout before the other hosts', async () => {
    const order: string[] = [];
    const { result } = await run(
      fixturePlan(['h1', 'h2']),
      async (s) => {
        order.push(s.id);
        if (s.id === 'rollout:h1:api') throw new ExternalError('canary broke');
        return { status: 'completed' };
      },
      { canary: true },
    );
    expect(order.some((id) => id.endsWith(':h2') || id.includes(':h2:'))).toBe(false);
    expect(result.hostsDone).toEqual([]);
    expect(result.hostsFailed).toEqual(['h1']);
  });

  it('refuses a plan whose order contradicts dependsOn before running anything', async () => {
    const plan = fixturePlan(['h1']);
    plan.phases[2]!.steps[0]!.dependsOn = ['record'];
    const ran: string[] = [];
    await expect(
      run(plan, async (s) => {
        ran.push(s.id);
        return { status: 'completed' };
      }),
    ).rejects.toThrow(InternalError);
    expect(ran).toEqual([]);
  });
});

/** One host's rollout: prepare, then api, web and worker independent, then db-using jobs after api. */
function graphPlan(): Plan {
  const plan = fixturePlan(['h1']);
  plan.phases[3] = {
    name: 'rollout',
    steps: [
      step('prepare:h1', 'rollout', 'h1', ['lock:acquire']),
      step('rollout:h1:api', 'rollout', 'h1', ['prepare:h1']),
      step('rollout:h1:web', 'rollout', 'h1', ['prepare:h1']),
      step('rollout:h1:worker', 'rollout', 'h1', ['prepare:h1']),
      step('rollout:h1:admin', 'rollout', 'h1', ['rollout:h1:api']),
      step('prune:h1', 'rollout', 'h1', [
        'rollout:h1:admin',
        'rollout:h1:api',
        'rollout:h1:web',
        'rollout:h1:worker',
      ]),
    ],
  };
  return plan;
}

/** A handler that records starts and ends and keeps each step running until it is released. */
function gated() {
  const log: string[] = [];
  let running = 0;
  let most = 0;
  const handle: StepHandler = async (s) => {
    running += 1;
    most = Math.max(most, running);
    log.push(`start ${s.id}`);
    await new Promise((resolve) => setTimeout(resolve, s.id.startsWith('rollout:h1:api') ? 30 : 10));
    log.push(`end ${s.id}`);
    running -= 1;
    if (s.id === 'rollout:h1:web' && failWeb) throw new ExternalError('web broke');
    return { status: 'completed' };
  };
  let failWeb = false;
  return {
    log,
    handle,
    most: () => most,
    failWeb: () => {
      failWeb = true;
    },
  };
}

describe('runPlan: steps of one host as a graph', () => {
  it('starts independent steps together, up to parallelSteps, and each after its dependencies', async () => {
    const handler = gated();
    const { result } = await run(graphPlan(), handler.handle, { parallelSteps: 3 });
    expect(result.ok).toBe(true);
    const rollout = handler.log.filter((line) => line.includes(':h1'));
    // api, web and worker start before any of them ends; admin waits for api; prune for all.
    expect(rollout.slice(0, 5)).toEqual([
      'start prepare:h1',
      'end prepare:h1',
      'start rollout:h1:api',
      'start rollout:h1:web',
      'start rollout:h1:worker',
    ]);
    expect(rollout.indexOf('start rollout:h1:admin')).toBeGreaterThan(rollout.indexOf('end rollout:h1:api'));
    expect(rollout.indexOf('start prune:h1')).toBe(rollout.indexOf('end rollout:h1:admin') + 1);
    expect(handler.most()).toBe(3);
  });

  it('runs at most parallelSteps at once (1: one after another, in plan order)', async () => {
    const two = gated();
    await run(graphPlan(), two.handle, { parallelSteps: 2 });
    expect(two.most()).toBe(2);
    const one = gated();
    await run(graphPlan(), one.handle);
    expect(one.most()).toBe(1);
    expect(one.log.filter((line) => line.startsWith('start') && line.includes(':h1'))).toEqual([
      'start prepare:h1',
      'start rollout:h1:api',
      'start rollout:h1:web',
      'start rollout:h1:worker',
      'start rollout:h1:admin',
      'start prune:h1',
    ]);
  });

  it('after a failure starts nothing more, lets the running steps finish, and fails the host', async () => {
    const handler = gated();
    handler.failWeb();
    const { result } = await run(graphPlan(), handler.handle, { parallelSteps: 3 });
    expect(result.ok).toBe(false);
    expect(result.hostsFailed).toEqual(['h1']);
    expect((result.error as Error).message).toBe('web broke');
    // api (30 ms) was running when web failed (10 ms): it finishes; admin and prune never start.
    expect(handler.log).toContain('end rollout:h1:api');
    expect(handler.log.filter((line) => line.includes('admin') || line.includes('prune'))).toEqual([]);
    expect(result.steps.map((s) => `${s.id}:${s.status}`)).toEqual([
      'lock:acquire:completed',
      'prepare:h1:completed',
      'rollout:h1:web:failed',
      'rollout:h1:worker:completed',
      'rollout:h1:api:completed',
    ]);
  });
});

describe('runPlan: finalize as a graph', () => {
  it('runs the retain steps of all hosts at once, and releases the lock only after every other step', async () => {
    const plan = fixturePlan(['h1']);
    plan.phases[5] = {
      name: 'finalize',
      steps: [
        step('record', 'finalize'),
        step('retain:h1', 'finalize', 'h1', ['record']),
        step('retain:h2', 'finalize', 'h2', ['record']),
        step('retain:h3', 'finalize', 'h3', ['record']),
        // The plan lets the release follow the record alone: the engine still waits for the rest.
        step('lock:release', 'finalize', 'h1', ['record']),
      ],
    };
    const handler = gated();
    const { result } = await run(plan, handler.handle, { parallelHosts: 2 });
    expect(result.ok).toBe(true);
    const log = handler.log.filter((line) => !line.includes('prepare') && !line.includes('rollout'));
    expect(log.slice(0, 5)).toEqual([
      'start lock:acquire',
      'end lock:acquire',
      'start record',
      'end record',
      'start retain:h1',
    ]);
    expect(log[5]).toBe('start retain:h2');
    expect(handler.most()).toBe(2);
    expect(log.slice(-2)).toEqual(['start lock:release', 'end lock:release']);
    expect(log.indexOf('start lock:release')).toBeGreaterThan(log.indexOf('end retain:h3'));
  });
});

describe('runPlan: finalize counts hosts, not this machine', () => {
  it("runs retain:build beside the hosts' retain steps: parallelHosts 3 with three hosts runs all four at once", async () => {
    const plan = fixturePlan(['h1']);
    plan.phases[5] = {
      name: 'finalize',
      steps: [
        step('record', 'finalize'),
        step('retain:h1', 'finalize', 'h1', ['record']),
        step('retain:h2', 'finalize', 'h2', ['record']),
        step('retain:h3', 'finalize', 'h3', ['record']),
        step('retain:build', 'finalize', undefined, ['record']),
        step('lock:release', 'finalize', 'h1', ['record']),
      ],
    };
    const handler = gated();
    const { result } = await run(plan, handler.handle, { parallelHosts: 3 });
    expect(result.ok).toBe(true);
    const log = handler.log.filter((line) => !line.includes('prepare') && !line.includes('rollout'));
    expect(log.slice(4, 8).sort()).toEqual([
      'start retain:build',
      'start retain:h1',
      'start retain:h2',
      'start retain:h3',
    ]);
    expect(handler.most()).toBe(4);
    expect(log.slice(-2)).toEqual(['start lock:release', 'end lock:release']);
  });

  it('still holds the host steps to parallelHosts', async () => {
    const plan = fixturePlan(['h1']);
    plan.phases[5] = {
      name: 'finalize',
      steps: [
        step('record', 'finalize'),
        step('retain:h1', 'finalize', 'h1', ['record']),
        step('retain:h2', 'finalize', 'h2', ['record']),
        step('retain:h3', 'finalize', 'h3', ['record']),
        step('retain:build', 'finalize', undefined, ['record']),
        step('lock:release', 'finalize', 'h1', ['record']),
      ],
    };
    const handler = gated();
    await run(plan, handler.handle, { parallelHosts: 2 });
    const log = handler.log.filter((line) => !line.includes('prepare') && !line.includes('rollout'));
    expect(log.slice(4, 7).sort()).toEqual(['start retain:build', 'start retain:h1', 'start retain:h2']);
    expect(handler.most()).toBe(3);
  });
});

describe('checkDependencies', () => {
  it('accepts earlier phases and earlier steps of the same host', () => {
    expect(() => checkDependencies(fixturePlan(['h1', 'h2']))).not.toThrow();
  });

  it('rejects a dependency that is missing, later, or on another host within the rollout', () => {
    const missing = fixturePlan(['h1']);
    missing.phases[5]!.steps[0]!.dependsOn = ['nope'];
    expect(() => checkDependencies(missing)).toThrow('step record depends on nope, which is not in the plan');
    const later = fixturePlan(['h1']);
    later.phases[3]!.steps[0]!.dependsOn = ['rollout:h1:api'];
    expect(() => checkDependencies(later)).toThrow(
      'step prepare:h1 depends on rollout:h1:api, which does not run before it',
    );
    const crossHost = fixturePlan(['h1', 'h2']);
    crossHost.phases[3]!.steps[2]!.dependsOn = ['rollout:h1:api'];
    expect(() => checkDependencies(crossHost)).toThrow(
      'step prepare:h2 depends on rollout:h1:api, which does not run before it',
    );
  });

  it("holds for the deploy planner's plans, incl. infra rolled out early for pre-deploy migrations", () => {
    const compose = JSON.parse(
      readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
    ) as ComposeProject;
    const config = `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web, port: 8080, domains: [shop.example] }
  db: { role: web }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }, { name: h2, address: 10.0.0.2 }]
`;
    const model = buildEnvironmentModel(load(config, { envName: 'production' }), compose);
    const plan = planDeploy({
      model,
      compose,
      version: 'v1',
      releaseId: 'rel-20261121-120000000',
      kind: 'deploy',
      skipBuild: undefined,
      hostAddresses: {},
      secretValues: [],
      secretNames: [],
      projectDir: '/p',
      readProjectPath: (path) => [{ path, content: Buffer.from(''), mode: 0o644 }],
      migrations: [{ database: 'main', strategy: 'pre_deploy', engine: 'raw', service: 'db', needs: ['db'] }],
      message: 'deploy v1',
      hooks: { 'pre-build': '/p/h', 'pre-deploy': '/p/h', 'post-deploy': '/p/h' },
    });
    const early = plan.phases.find((phase) => phase.name === 'migrate_pre')!.steps;
    // db is rolled out before the migration, after its host's files, not after the (later) ingress.
    expect(early.find((s) => s.id === 'rollout:h1:db')!.dependsOn).toEqual(['pull:h1']);
    expect(() => checkDependencies(plan)).not.toThrow();
  });
});
