// The commands that services rolling out together on one host share (see coalesce.ts): reading a
// service's containers, inspecting containers (health waits), starting new containers beside the
// old ones (`compose up --no-recreate --scale`), draining old ones at the gateway, and stopping and
// removing them.
import { composeUpArgs } from '../docker/compose.js';
import {
  type ContainerFacts,
  inspectContainersArgs,
  inspectProjectContainersArgs,
  parseContainerInspect,
  removeContainersArgs,
  stopContainersArgs,
  stopThenRemoveArgs,
} from '../docker/container.js';
import { inspectImageIdsArgs, parseImageIds } from '../docker/image.js';
import { type DrainEnd, SETTLE_MS, type Settle } from '../ingress/caddy.js';
import { displayArgv, exitError } from '../runners/common.js';
import type { Runner } from '../runners/types.js';
import { Coalescer } from './coalesce.js';
import { composeOnce } from './first-up.js';
import { drainUpstreams, type IngressTarget } from './ingress.js';

/** Label compose puts on every container: the service it runs. */
const SERVICE_LABEL = 'com.docker.compose.service';

/** How long the first read of a batch waits for others, in ms (services that start together ask within a tick). */
export const READ_WINDOW_MS = 10;
/** How long the first `compose up` of a batch waits for others, in ms. */
export const UP_WINDOW_MS = 10;
/**
 * How long the first drain of a batch waits for others, in ms: services routed together connect their
 * new containers side by side and ask to drain within a few tens of ms. The drain's settling is timed
 * from the switch, so the window delays it only once the exec's start has used up the settle time.
 */
export const DRAIN_WINDOW_MS = 25;

interface DrainCall {
  target: IngressTarget;
  addresses: string[];
  settle: Settle;
  graceMs: number;
  /** Hears this call's end as soon as the script prints it. */
  early: (end: DrainEnd) => void;
}

/** The settle of drains run as one: until the latest switch's moment, or the longest wait. */
function jointSettle(calls: DrainCall[]): Settle {
  const until = calls.map((call) => ('untilUptimeCs' in call.settle ? call.settle.untilUptimeCs : undefined));
  if (until.every((value) => value !== undefined)) return { untilUptimeCs: Math.max(...(until as number[])) };
  return { ms: Math.max(...calls.map((call) => ('ms' in call.settle ? call.settle.ms : SETTLE_MS))) };
}

/** `promise`, or a rejection with `signal`'s reason once it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** One host's shared commands for one project; make one per runner and run (`hostBatch`). */
export interface HostBatch {
  /** Every container of `service` (running or not), inspected; read together with other services'. */
  containersOf(service: string): Promise<ContainerFacts[]>;
  /**
   * The id of the image `ref` names on the host now (undefined when it has none), read together with
   * other services' refs in one `docker image inspect`.
   */
  imageIdOf(ref: string): Promise<string | undefined>;
  /**
   * The containers `ids`, inspected (docker's order); inspected together with other calls'. Throws
   * ExternalError when one of them no longer exists (as `docker container inspect` does).
   */
  inspect(ids: string[]): Promise<ContainerFacts[]>;
  /**
   * Starts new containers of `service` beside its old ones until it has `scale` (`compose up -d
   * --no-deps --no-recreate --scale`), in one `compose up` with the other services of `composeFile`
   * that ask at the same time. Throws what the runner throws (every service of that call gets the error).
   */
  scaleUp(composeFile: string, service: string, scale: number): Promise<void>;
  /**
   * Waits until the gateway of `target` routes to the new containers (`settle`) and has no request in
   * flight to `addresses`, `graceMs` at the most (drainUpstreams), in one drain with the other services
   * of this host that ask within DRAIN_WINDOW_MS (the gateway then runs one reader, not one each);
   * resolves as soon as this call's addresses are done, whatever the others'. Rejects with `signal`'s
   * reason when it aborts.
   */
  drain(
    target: IngressTarget,
    addresses: string[],
    timing: { settle: Settle; graceMs: number },
    signal?: AbortSignal,
  ): Promise<DrainEnd>;
  /**
   * Stops the containers `stop` (each with its own stop signal and grace period), then removes them and
   * `remove` (`docker rm -f`): one command (`docker stop`, then `docker rm`) for the calls made within
   * READ_WINDOW_MS (docker stops a list of containers side by side). When the shared command fails,
   * each call runs its own `docker stop` and `docker rm`, so an error names only the caller's
   * containers. Throws what the runner throws.
   */
  stopAndRemove(stop: string[], remove: string[]): Promise<void>;
}

/**
 * The HostBatch of `project` on `runner`'s host. Reads (containers, inspect) run one at
 * a time, the calls made meanwhile answered by the next one; `compose up`s of one compose file
 * asked within UP_WINDOW_MS go as one command, and later ones do not wait for it.
 */
export function hostBatch(runner: Runner, project: string): HostBatch {
  const lists = new Coalescer<string, ContainerFacts[]>(
    async (services) => {
      const facts = parseContainerInspect((await runner.exec(inspectProjectContainersArgs(project))).stdout);
      return services.map((service) => facts.filter((one) => one.labels[SERVICE_LABEL] === service));
    },
    { windowMs: READ_WINDOW_MS, oneInFlight: true },
  );
  const imageIds = new Coalescer<string, string | undefined>(
    async (refs) => {
      const unique = [...new Set(refs)];
      const result = await runner.exec(inspectImageIdsArgs(unique), { allowFailure: true });
      const ids = parseImageIds(result.stdout, unique);
      return refs.map((ref) => ids.get(ref));
    },
    { windowMs: READ_WINDOW_MS, oneInFlight: false },
  );
  const inspects = new Coalescer<string[], ContainerFacts[] | Error>(
    async (lists) => {
      const union = [...new Set(lists.flat())];
      const argv = inspectContainersArgs(union);
      const result = await runner.exec(argv, { allowFailure: true });
      const facts = new Map(parseContainerInspect(result.stdout).map((one) => [one.id, one]));
      return lists.map((ids) => {
        const found = ids.flatMap((id) => {
          const one = facts.get(id);
          return one === undefined ? [] : [one];
        });
        if (found.length === ids.length) return found;
        return exitError(inspectContainersArgs(ids), result, {
          host: runner.name,
          command: displayArgv(argv),
        });
      });
    },
    { windowMs: READ_WINDOW_MS, oneInFlight: true },
  );
  const ups = new Map<string, Coalescer<{ service: string; scale: number }, undefined>>();
  type Retirement = { stop: string[]; remove: string[] };
  const alone = async (item: Retirement): Promise<void> => {
    if (item.stop.length > 0) await runner.exec(stopContainersArgs(item.stop));
    if (item.remove.length > 0) await runner.exec(removeContainersArgs(item.remove, { force: true }));
  };
  const succeeds = async (argv: string[]) => (await runner.exec(argv, { allowFailure: true })).exitCode === 0;
  const retires = new Coalescer<Retirement, unknown>(
    async (items) => {
      const stop = items.flatMap((item) => item.stop);
      const remove = items.flatMap((item) => item.remove);
      if (await succeeds(stopThenRemoveArgs(stop, remove))) return items.map(() => undefined);
      // One of them failed: each caller runs its own commands, and gets its own error.
      const outcomes = await Promise.allSettled(items.map(alone));
      return outcomes.map((outcome) =>
        outcome.status === 'rejected' ? { error: outcome.reason } : undefined,
      );
    },
    { windowMs: READ_WINDOW_MS, oneInFlight: false },
  );
  const drains = new Coalescer<DrainCall, DrainEnd>(
    async (calls) => {
      // One drain per gateway and grace time (one of each in a deploy).
      const runs = new Map<string, number[]>();
      calls.forEach((call, index) => {
        const key = `${call.target.container}\0${call.graceMs}`;
        runs.set(key, [...(runs.get(key) ?? []), index]);
      });
      const ends: DrainEnd[] = calls.map(() => 'unreachable');
      await Promise.all(
        [...runs.values()].map(async (indexes) => {
          const group = indexes.map((index) => calls[index]!);
          const byName = await drainUpstreams(
            group[0]!.target,
            indexes.map((index) => ({ name: `s${index}`, addresses: calls[index]!.addresses })),
            { settle: jointSettle(group), graceMs: group[0]!.graceMs },
            (name, end) => calls[Number(name.slice(1))]?.early(end),
          );
          for (const index of indexes) ends[index] = byName.get(`s${index}`) ?? 'unreachable';
        }),
      );
      return ends;
    },
    { windowMs: DRAIN_WINDOW_MS, oneInFlight: false },
  );
  return {
    containersOf: (service) => lists.call(service),
    imageIdOf: (ref) => imageIds.call(ref),
    drain(target, addresses, timing, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return abortable(
        new Promise<DrainEnd>((resolve, reject) => {
          drains.call({ target, addresses, ...timing, early: resolve }).then(resolve, reject);
        }),
        signal,
      );
    },
    async stopAndRemove(stop, remove) {
      if (stop.length === 0 && remove.length === 0) return;
      const answer = await retires.call({ stop, remove });
      if (answer !== undefined) throw (answer as { error: unknown }).error;
    },
    async inspect(ids) {
      if (ids.length === 0) return [];
      const answer = await inspects.call(ids);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    scaleUp(composeFile, service, scale) {
      let batch = ups.get(composeFile);
      if (batch === undefined) {
        batch = new Coalescer(
          async (items) => {
            const scales = Object.fromEntries(items.map((item) => [item.service, item.scale]));
            const services = Object.keys(scales).sort();
            await composeOnce(runner, project, () =>
              runner.exec(
                composeUpArgs({ project, file: composeFile }, services, { noRecreate: true, scale: scales }),
              ),
            );
            return items.map(() => undefined);
          },
          { windowMs: UP_WINDOW_MS, oneInFlight: false },
        );
        ups.set(composeFile, batch);
      }
      return batch.call({ service, scale });
    },
  };
}
