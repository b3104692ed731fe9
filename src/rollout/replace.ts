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
import { addUpstreams, type IngressTarget } from './ingress.js';

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

/** Puts the containers that are not behind the service's route yet behind it (they are ready). */
async function routeTo(ctx: RolloutContext, action: RolloutAction, facts: ContainerFacts[]): Promise<void> {
  if (action.route === undefined || ctx.ingress === undefined) return;
  const network = ctx.ingress.network;
  const missing = facts.filter((container) => container.ips[network] === undefined);
  await addUpstreams(
    ctx.ingress,
    action.service,
    missing.map((container) => container.id),
  );
}

/**
 * Stops the old containers after the drain time. They stay reachable until they exit, so requests in
 * flight finish; a stopping app refuses new connections, and the gateway retries those elsewhere.
 */
async function retire(ctx: RolloutContext, old: ContainerFacts[]): Promise<void> {
  if (old.length === 0) return;
  const running = old.filter((container) => container.running).map((container) => container.id);
  if (running.length > 0) {
    if (ctx.drainMs > 0) await sleep(ctx.drainMs);
    await ctx.runner.exec(stopContainersArgs(running));
  }
  await ctx.runner.exec(
    removeContainersArgs(
      old.map((container) => container.id),
      { force: true },
    ),
  );
}

function ids(containers: ContainerFacts[]): string[] {
  return containers.map((container) => container.id);
}

/**
 * Replaces one service's containers on one host. start-first: new containers start beside the old
 * ones, must become healthy, join the gateway's route, then the old ones drain and stop. stop-first and
 * recreate: compose replaces them in place. Containers already at the desired spec are left alone, so
 * a retried deploy resumes where it stopped.
 */
export async function rolloutService(ctx: RolloutContext, action: RolloutAction): Promise<RolloutOutcome> {
  const target = { project: ctx.project, file: action.composeFile };
  const existing = await containersOf(ctx.runner, ctx.project, action.service);
  const current = existing.filter(
    (container) => container.labels[SPEC_LABEL] === action.specHash && container.running,
  );
  const stale = existing.filter((container) => !current.includes(container));
  const healthy = current.every(
    (container) => container.health === undefined || container.health === 'healthy',
  );

  if (stale.length === 0 && current.length === action.replicas && healthy) {
    const unrouted =
      action.route && ctx.ingress ? current.filter((c) => c.ips[ctx.ingress!.network] === undefined) : [];
    if (unrouted.length === 0) return { status: 'unchanged', detail: 'unchanged', containers: ids(current) };
    await routeTo(ctx, action, current);
    return {
      status: 'completed',
      detail: 'unchanged; put back behind the gateway',
      containers: ids(current),
    };
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
    const facts = await waitReady(ctx, ids(fresh), action);
    await routeTo(ctx, action, facts);
    const leftovers = after.filter((container) => !fresh.includes(container));
    if (leftovers.length > 0) await ctx.runner.exec(removeContainersArgs(ids(leftovers), { force: true }));
    return { status: 'completed', detail: `${action.strategy}: ${facts.length} new`, containers: ids(facts) };
  }

  // Exited leftovers (a crash, an interrupted deploy) go first, so compose's scale counts only live ones.
  const dead = stale.filter((container) => !container.running);
  if (dead.length > 0) await ctx.runner.exec(removeContainersArgs(ids(dead), { force: true }));
  const live = stale.filter((container) => container.running);
  const missing = Math.max(0, action.replicas - current.length);
  let fresh = current;
  if (missing > 0) {
    const before = new Set(ids(existing));
    await ctx.runner.exec(
      composeUpArgs(target, [action.service], {
        noRecreate: true,
        scale: { [action.service]: live.length + current.length + missing },
      }),
    );
    const after = await containersOf(ctx.runner, ctx.project, action.service);
    fresh = [...current, ...after.filter((container) => !before.has(container.id))];
  }
  const facts = await waitReady(ctx, ids(fresh), action);
  await routeTo(ctx, action, facts);
  await retire(ctx, live);
  return {
    status: 'completed',
    detail: `start-first: ${facts.length} new, ${live.length} retired`,
    containers: ids(facts),
  };
}
