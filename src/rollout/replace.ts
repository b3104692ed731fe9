import { composeUpArgs } from '../docker/compose.js';
import {
  type ContainerFacts,
  containerLogsArgs,
  inspectContainersArgs,
  listServiceContainersArgs,
  parseContainerInspect,
  parseJsonLines,
  removeContainersArgs,
} from '../docker/container.js';
import { SPEC_HASH_LABEL } from '../docker/labels.js';
import { SETTLE_CS, SETTLE_MS } from '../ingress/caddy.js';
import type { Action } from '../plan/types.js';
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import { atDesiredSpec, decideRollout } from './decide.js';
import { composeOnce } from './first-up.js';
import { nextPollMs } from './health-poll.js';
import type { HostBatch } from './host-batch.js';
import { addUpstreams, type IngressTarget } from './ingress.js';

type RolloutAction = Extract<Action, { kind: 'rollout' }>;

export interface RolloutContext {
  runner: Runner;
  project: string;
  /** The host's commands shared with the services rolling out beside this one (host-batch.ts). */
  batch: HostBatch;
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

/** Every container of one compose service on the runner's host, inspected (read-only). */
export async function containersOf(
  runner: Runner,
  project: string,
  service: string,
): Promise<ContainerFacts[]> {
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

/**
 * Waits until every container is healthy (or running and stable without a health check). `known`
 * are the containers as inspected when they started: the first look waits for their first probe
 * (nextPollMs), and every later one for the next.
 */
async function waitReady(
  ctx: RolloutContext,
  ids: string[],
  action: RolloutAction,
  known: ContainerFacts[],
): Promise<ContainerFacts[]> {
  const deadline = Date.now() + action.health.timeoutMs;
  let facts = known.filter((container) => ids.includes(container.id));
  const done = (list: ContainerFacts[]) =>
    list.length === ids.length &&
    list.every((container) => ready(container, action.health.stableForMs, Date.now()));
  if (!done(facts)) await sleep(nextPollMs(facts, action.health, Date.now()));
  for (;;) {
    ctx.signal?.throwIfAborted();
    facts = await ctx.batch.inspect(ids);
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
    if (done(facts)) return facts;
    if (Date.now() > deadline) {
      throw await failure(ctx, ids, `not healthy after ${Math.round(action.health.timeoutMs / 1000)}s`);
    }
    await sleep(nextPollMs(facts, action.health, Date.now()));
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

/** When new containers joined a route: here (ms since the epoch) and on the host (its uptime, cs). */
interface Switch {
  at: number;
  uptimeCs: number | undefined;
}

/**
 * Puts the containers that are not behind the service's route yet behind it (they are ready).
 * Returns when they joined, or undefined when none had to.
 */
async function routeTo(
  ctx: RolloutContext,
  action: RolloutAction,
  facts: ContainerFacts[],
): Promise<Switch | undefined> {
  if (action.route === undefined || ctx.ingress === undefined) return undefined;
  const network = ctx.ingress.network;
  const missing = facts.filter((container) => container.ips[network] === undefined);
  if (missing.length === 0) return undefined;
  const uptimeCs = await addUpstreams(
    ctx.ingress,
    action.service,
    missing.map((container) => container.id),
  );
  return { at: Date.now(), uptimeCs };
}

/**
 * Stops the old containers once the gateway routes to the new ones (SETTLE_MS after `switched`) and
 * has no request in flight to the old ones, or after the drain time (`rollout.drain_timeout`) at the
 * most. They stay reachable until they exit, so requests that come meanwhile finish too; a stopping app
 * refuses new connections, and the gateway retries those on the new containers. A service without a
 * route has nothing to drain: its containers stop at once.
 */
async function retire(
  ctx: RolloutContext,
  action: RolloutAction,
  old: ContainerFacts[],
  switched: Switch | undefined,
): Promise<void> {
  if (old.length === 0) return;
  const running = old.filter((container) => container.running);
  const settleMs = msToSettle(switched);
  const network = ctx.ingress?.network;
  const port = action.route?.port;
  const addresses =
    network === undefined || port === undefined || ctx.drainMs <= 0
      ? []
      : running.flatMap((container) =>
          container.ips[network] === undefined ? [] : [`${container.ips[network]}:${port}`],
        );
  if (ctx.ingress !== undefined && addresses.length > 0) {
    const settle =
      switched?.uptimeCs === undefined ? { ms: settleMs } : { untilUptimeCs: switched.uptimeCs + SETTLE_CS };
    const started = Date.now();
    const end = await ctx.batch.drain(ctx.ingress, addresses, { settle, graceMs: ctx.drainMs }, ctx.signal);
    const waitedMs = Date.now() - started;
    ctx.log(
      end === 'drained'
        ? `old containers drained in ${waitedMs} ms`
        : end === 'busy'
          ? `old containers still busy after ${waitedMs} ms: stopping them (their stop grace period lets requests finish)`
          : `the gateway did not answer the drain (${waitedMs} ms): stopping the old containers (their stop grace period lets requests finish)`,
    );
    // A drain that did not run did not settle either.
    if (end === 'unreachable') await settled(switched);
  } else if (running.length > 0) {
    await settled(switched);
  }
  await ctx.batch.stopAndRemove(ids(running), ids(old));
}

/** What is left of SETTLE_MS since `switched`, in ms (0 without a switch). */
function msToSettle(switched: Switch | undefined): number {
  return switched === undefined ? 0 : Math.max(0, switched.at + SETTLE_MS - Date.now());
}

/** Waits until the gateway routes to the containers of `switched` (at once without a switch). */
async function settled(switched: Switch | undefined): Promise<void> {
  const ms = msToSettle(switched);
  if (ms > 0) await sleep(ms);
}

function ids(containers: ContainerFacts[]): string[] {
  return containers.map((container) => container.id);
}

/**
 * Replaces one service's containers on one host: reads its containers, lets `decideRollout` choose
 * the operations, and runs them. start-first: new containers start beside the old ones, must become
 * healthy, join the gateway's route, then the old ones drain and stop. stop-first and recreate:
 * compose replaces them in place. Containers already at the desired spec are left alone, so a retried
 * deploy resumes where it stopped. Throws ExternalError when new containers fail their health check
 * (after removing them; the old ones keep serving).
 */
export async function rolloutService(ctx: RolloutContext, action: RolloutAction): Promise<RolloutOutcome> {
  const target = { project: ctx.project, file: action.composeFile };
  const [existing, imageId] = await Promise.all([
    ctx.batch.containersOf(action.service),
    action.image === undefined ? undefined : ctx.batch.imageIdOf(action.image),
  ]);
  const desired = { ...action, ...(imageId === undefined ? {} : { imageId }) };
  const decision = decideRollout(existing, desired, ctx.ingress?.network);
  const atSpec = (container: ContainerFacts) => atDesiredSpec(container, desired);
  // The new containers: those already running at spec, then those the operations start.
  let fresh = existing.filter((container) => atSpec(container) && container.running);
  if (decision.status === 'unchanged')
    return { status: 'unchanged', detail: 'unchanged', containers: ids(fresh) };
  let facts = fresh;
  /** The service's containers as last inspected (the new ones' StartedAt times the health wait). */
  let seen: ContainerFacts[] = existing;
  let leftovers: ContainerFacts[] = [];
  let retired = 0;
  /** When the new containers joined the route (the gateway routes to them SETTLE_MS later). */
  let switched: Switch | undefined;
  for (const op of decision.ops) {
    switch (op.op) {
      case 'remove':
        await ctx.runner.exec(removeContainersArgs(op.containers, { force: true }));
        break;
      case 'recreate': {
        await composeOnce(ctx.runner, ctx.project, () =>
          ctx.runner.exec(
            composeUpArgs(target, [action.service], {
              forceRecreate: true,
              scale: { [action.service]: op.replicas },
            }),
          ),
        );
        const after = await ctx.batch.containersOf(action.service);
        seen = after;
        fresh = after.filter(atSpec);
        leftovers = after.filter((container) => !fresh.includes(container));
        break;
      }
      case 'scale-up': {
        const before = new Set(ids(existing));
        await ctx.batch.scaleUp(action.composeFile, action.service, op.scale);
        const after = await ctx.batch.containersOf(action.service);
        seen = after;
        fresh = [...fresh, ...after.filter((container) => !before.has(container.id))];
        break;
      }
      case 'wait':
        facts = await waitReady(ctx, ids(fresh), action, seen);
        break;
      case 'route':
        switched = await routeTo(ctx, action, facts);
        break;
      case 'remove-leftovers':
        if (leftovers.length > 0)
          await ctx.runner.exec(removeContainersArgs(ids(leftovers), { force: true }));
        break;
      case 'retire': {
        const old = existing.filter((container) => op.containers.includes(container.id));
        await retire(ctx, action, old, switched);
        retired = old.length;
        break;
      }
    }
  }
  if (decision.reroute === true) {
    return { status: 'completed', detail: 'unchanged; put back behind the gateway', containers: ids(facts) };
  }
  const detail =
    action.strategy === 'start-first'
      ? `start-first: ${facts.length} new, ${retired} retired`
      : `${action.strategy}: ${facts.length} new`;
  return { status: 'completed', detail, containers: ids(facts) };
}
