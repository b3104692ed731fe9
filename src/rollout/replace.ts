import { composeUpArgs } from '../docker/compose.js';
import {
  type ContainerFacts,
  containerLogsArgs,
  inspectContainersArgs,
  listServiceContainersArgs,
  parseContainerInspect,
  parseJsonLines,
  removeContainersArgs,
  stopContainersArgs,
} from '../docker/container.js';
import type { Action } from '../plan/types.js';
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { currentRoute, type IngressTarget, switchRoute } from './ingress.js';

type RolloutAction = Extract<Action, { kind: 'rollout' }>;

export interface RolloutContext {
  runner: Runner;
  project: string;
  ingress: IngressTarget | undefined;
  drainMs: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface RolloutOutcome {
  status: 'completed' | 'unchanged';
  detail: string;
  /** Containers serving after the rollout. */
  containers: string[];
}

const SPEC_LABEL = 'stagecraft.spec-hash';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function containersOf(runner: Runner, project: string, service: string): Promise<ContainerFacts[]> {
  const listed = await runner.exec(listServiceContainersArgs(project, service));
  const ids = parseJsonLines(listed.stdout).map((entry) => String((entry as { ID?: string }).ID ?? ''));
  if (ids.length === 0) return [];
  return parseContainerInspect((await runner.exec(inspectContainersArgs(ids))).stdout);
}

function ready(container: ContainerFacts, stableForMs: number, now: number): boolean {
  if (!container.running) return false;
  if (container.health !== undefined) return container.health === 'healthy';
  return now - Date.parse(container.startedAt) >= stableForMs;
}

/** Waits until every container is healthy (or running and stable without a health check). */
async function waitReady(
  ctx: RolloutContext,
  ids: string[],
  action: RolloutAction,
): Promise<ContainerFacts[]> {
  const deadline = Date.now() + action.health.timeoutMs;
  for (;;) {
    ctx.signal?.throwIfAborted();
    const facts = parseContainerInspect((await ctx.runner.exec(inspectContainersArgs(ids))).stdout);
    const broken = facts.find(
      (container) =>
        container.health === 'unhealthy' || (!container.running && container.status !== 'created'),
    );
    if (broken !== undefined) {
      throw await failure(
        ctx,
        ids,
        `${broken.name} is ${broken.health === 'unhealthy' ? 'unhealthy' : `${broken.status} (exit code ${broken.exitCode})`}`,
      );
    }
    if (
      facts.length === ids.length &&
      facts.every((container) => ready(container, action.health.stableForMs, Date.now()))
    )
      return facts;
    if (Date.now() > deadline) {
      throw await failure(ctx, ids, `not healthy after ${Math.round(action.health.timeoutMs / 1000)}s`);
    }
    await sleep(250);
  }
}

/** Prints the new containers' logs, removes them and returns the error; the old ones keep serving. */
async function failure(ctx: RolloutContext, ids: string[], reason: string): Promise<ExternalError> {
  for (const id of ids) {
    const logs = await ctx.runner.exec(containerLogsArgs(id, { tail: 30 }), { allowFailure: true });
    for (const line of `${logs.stdout}${logs.stderr}`.trimEnd().split('\n'))
      if (line !== '') ctx.log(`  ${id.slice(0, 12)} | ${line}`);
  }
  await ctx.runner.exec(removeContainersArgs(ids, { force: true }), { allowFailure: true });
  return new ExternalError(`new containers failed their health check on ${ctx.runner.name}: ${reason}`, {
    hint: 'the previous containers are still serving; fix the service (logs above) and deploy again',
  });
}

function upstreams(facts: ContainerFacts[], network: string, port: number): string[] {
  return facts
    .map((container) => container.ips[network])
    .filter((ip): ip is string => ip !== undefined)
    .map((ip) => `${ip}:${port}`)
    .sort();
}

async function routeTo(ctx: RolloutContext, action: RolloutAction, facts: ContainerFacts[]): Promise<void> {
  if (action.route === undefined || ctx.ingress === undefined) return;
  const dial = upstreams(facts, ctx.ingress.network, action.route.port);
  if (dial.length !== facts.length) {
    throw new ExternalError(
      `containers of ${action.service} on ${ctx.runner.name} are not on network ${ctx.ingress.network}`,
    );
  }
  await switchRoute(ctx.ingress, { service: action.service, domains: action.route.domains, upstreams: dial });
}

async function retire(ctx: RolloutContext, old: ContainerFacts[]): Promise<void> {
  if (old.length === 0) return;
  const ids = old.map((container) => container.id);
  const running = old.filter((container) => container.running).map((container) => container.id);
  if (running.length > 0) {
    if (ctx.drainMs > 0) await sleep(ctx.drainMs);
    await ctx.runner.exec(stopContainersArgs(running));
  }
  await ctx.runner.exec(removeContainersArgs(ids, { force: true }));
}

/**
 * Replaces one service's containers on one host. start-first: new containers start beside the old
 * ones, must become healthy, the ingress switches to them, then the old ones drain and stop. stop-first
 * and recreate: compose replaces them in place. Containers already at the desired spec are left alone,
 * so a retried deploy resumes where it stopped.
 */
export async function rolloutService(ctx: RolloutContext, action: RolloutAction): Promise<RolloutOutcome> {
  const target = { project: ctx.project, file: action.composeFile };
  const existing = await containersOf(ctx.runner, ctx.project, action.service);
  const current = existing.filter(
    (container) => container.labels[SPEC_LABEL] === action.specHash && container.running,
  );
  const stale = existing.filter((container) => !current.includes(container));

  if (
    stale.length === 0 &&
    current.length === action.replicas &&
    current.every((c) => ready(c, 0, Date.now()) || c.health === undefined)
  ) {
    const route = action.route && ctx.ingress ? await currentRoute(ctx.ingress, action.service) : undefined;
    const wanted =
      action.route && ctx.ingress ? upstreams(current, ctx.ingress.network, action.route.port) : [];
    if (
      action.route &&
      ctx.ingress &&
      JSON.stringify(route?.upstreams.slice().sort()) !== JSON.stringify(wanted)
    ) {
      await routeTo(ctx, action, current);
      return {
        status: 'completed',
        detail: 'unchanged; route restored',
        containers: current.map((c) => c.id),
      };
    }
    return { status: 'unchanged', detail: 'unchanged', containers: current.map((c) => c.id) };
  }

  if (action.strategy !== 'start-first') {
    await ctx.runner.exec(
      composeUpArgs(target, [action.service], {
        forceRecreate: true,
        scale: { [action.service]: action.replicas },
      }),
    );
    const after = await containersOf(ctx.runner, ctx.project, action.service);
    const fresh = after.filter((container) => container.labels[SPEC_LABEL] === action.specHash);
    const facts = await waitReady(
      ctx,
      fresh.map((container) => container.id),
      action,
    );
    await routeTo(ctx, action, facts);
    const leftovers = after.filter((container) => !fresh.includes(container));
    if (leftovers.length > 0)
      await ctx.runner.exec(
        removeContainersArgs(
          leftovers.map((c) => c.id),
          { force: true },
        ),
      );
    return {
      status: 'completed',
      detail: `${action.strategy}: ${facts.length} new`,
      containers: facts.map((c) => c.id),
    };
  }

  // start-first: exited leftovers (a crash, an interrupted deploy) go first so compose's scale counts only live ones.
  const dead = stale.filter((container) => !container.running);
  if (dead.length > 0)
    await ctx.runner.exec(
      removeContainersArgs(
        dead.map((c) => c.id),
        { force: true },
      ),
    );
  const live = stale.filter((container) => container.running);
  const missing = Math.max(0, action.replicas - current.length);
  let fresh = current;
  if (missing > 0) {
    const before = new Set(existing.map((container) => container.id));
    await ctx.runner.exec(
      composeUpArgs(target, [action.service], {
        noRecreate: true,
        scale: { [action.service]: live.length + current.length + missing },
      }),
    );
    const after = await containersOf(ctx.runner, ctx.project, action.service);
    fresh = [...current, ...after.filter((container) => !before.has(container.id))];
  }
  const facts = await waitReady(
    ctx,
    fresh.map((container) => container.id),
    action,
  );
  await routeTo(ctx, action, facts);
  await retire(ctx, live);
  return {
    status: 'completed',
    detail: `start-first: ${facts.length} new, ${live.length} retired`,
    containers: facts.map((c) => c.id),
  };
}
