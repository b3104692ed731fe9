// The commands that services rolling out together on one host share (see coalesce.ts): reading a
// service's containers, inspecting containers (health waits), starting new containers beside the
// old ones (`compose up --no-recreate --scale`), and stopping and removing old ones.
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
import { displayArgv, exitError } from '../runners/common.js';
import type { Runner } from '../runners/types.js';
import { Coalescer } from './coalesce.js';
import { composeOnce } from './first-up.js';

/** Label compose puts on every container: the service it runs. */
const SERVICE_LABEL = 'com.docker.compose.service';

/** How long the first read of a batch waits for others, in ms (services that start together ask within a tick). */
export const READ_WINDOW_MS = 10;
/** How long the first `compose up` of a batch waits for others, in ms. */
export const UP_WINDOW_MS = 10;

/** One host's shared commands for one project; make one per runner and run (`hostBatch`). */
export interface HostBatch {
  /** Every container of `service` (running or not), inspected; read together with other services'. */
  containersOf(service: string): Promise<ContainerFacts[]>;
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
  return {
    containersOf: (service) => lists.call(service),
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
