import { type StackObjectKind, stackContainersArgs, stackObjectsArgs, stackRmArgs } from '../docker/swarm.js';
import type { Action } from '../plan/types.js';
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import type { StepOutcome } from './run.js';

// What `stagecraft remove` does on a swarm: `docker stack rm` on the manager, waited on until the
// stacks' objects are gone, and on every node a wait until their containers are gone.

/** How often the swarm is asked again while waiting. */
const POLL_MS = 1000;

type StackRemove = Extract<Action, { kind: 'stack-remove' }>;
type StackDrain = Extract<Action, { kind: 'stack-drain' }>;

const names = (stdout: string) =>
  stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');

const KINDS: StackObjectKind[] = ['service', 'network', 'config', 'secret'];

/** What is left of the stacks on the swarm, by kind. */
async function leftovers(
  runner: Runner,
  stacks: string[],
  signal: AbortSignal,
): Promise<Record<StackObjectKind, string[]>> {
  const left: Record<StackObjectKind, string[]> = {
    service: [],
    network: [],
    config: [],
    secret: [],
    volume: [],
  };
  await Promise.all(
    KINDS.flatMap((kind) =>
      stacks.map(async (stack) => {
        left[kind].push(...names((await runner.exec(stackObjectsArgs(kind, stack), { signal })).stdout));
      }),
    ),
  );
  for (const kind of KINDS) left[kind].sort();
  return left;
}

function describe(left: Record<StackObjectKind, string[]>): string {
  return KINDS.filter((kind) => left[kind].length > 0)
    .map((kind) => `${kind}s ${left[kind].join(', ')}`)
    .join('; ');
}

/**
 * `docker stack rm` of each stack (its output logged), then polls the manager until no service,
 * network, config or secret of the stacks is left. Once the services are gone, what `docker stack rm`
 * could not remove yet (a network whose tasks were still stopping) is removed again. Throws
 * ExternalError naming what is left after `timeoutMs`.
 */
export async function removeStacks(
  runner: Runner,
  action: StackRemove,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<StepOutcome> {
  for (const stack of action.stacks) {
    await runner.exec(stackRmArgs(stack), { allowFailure: true, onLine: log, signal });
  }
  const deadline = Date.now() + action.timeoutMs;
  let reported = '';
  for (;;) {
    const left = await leftovers(runner, action.stacks, signal);
    const text = describe(left);
    if (text === '') return { status: 'completed', detail: `removed ${action.stacks.join(', ')}` };
    if (text !== reported) {
      log(`left: ${text}`);
      reported = text;
    }
    if (signal.aborted) throw new ExternalError(`removal of ${action.stacks.join(', ')} interrupted`);
    if (Date.now() > deadline) {
      throw new ExternalError(
        `the swarm still has ${text} of ${action.stacks.join(', ')} after ${Math.round(action.timeoutMs / 1000)} s`,
        {
          hint: `see what holds them on ${runner.name} (\`docker network inspect\`, \`docker service ps\`), then run remove again`,
        },
      );
    }
    if (left.service.length === 0) {
      for (const kind of ['network', 'config', 'secret'] as const) {
        if (left[kind].length > 0)
          await runner.exec(['docker', kind, 'rm', ...left[kind]], { allowFailure: true, signal });
      }
    }
    await sleep(POLL_MS, signal);
  }
}

/**
 * Polls a node until no container of the stacks runs there, then removes the stopped ones Swarm has
 * not removed yet (they would keep a volume in use). Throws ExternalError when containers still run
 * after `timeoutMs`.
 */
export async function drainStacks(
  runner: Runner,
  action: StackDrain,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<StepOutcome> {
  const deadline = Date.now() + action.timeoutMs;
  const list = async (all: boolean) =>
    (
      await Promise.all(
        action.stacks.map(async (stack) =>
          names((await runner.exec(stackContainersArgs(stack, { all }), { signal })).stdout),
        ),
      )
    ).flat();
  let waited = false;
  for (;;) {
    const running = await list(false);
    if (running.length === 0) break;
    if (!waited) log(`${running.length} container${running.length === 1 ? '' : 's'} still running`);
    waited = true;
    if (signal.aborted) throw new ExternalError(`removal on ${runner.name} interrupted`);
    if (Date.now() > deadline) {
      throw new ExternalError(
        `${running.length} container${running.length === 1 ? '' : 's'} of ${action.stacks.join(', ')} still run on ${runner.name} after ${Math.round(action.timeoutMs / 1000)} s`,
        { hint: `see them with \`docker ps\` on ${runner.name}; run remove again once they stopped` },
      );
    }
    await sleep(POLL_MS, signal);
  }
  const stopped = await list(true);
  if (stopped.length > 0)
    await runner.exec(['docker', 'rm', '-f', ...stopped], { allowFailure: true, signal });
  return {
    status: waited || stopped.length > 0 ? 'completed' : 'unchanged',
    detail:
      waited || stopped.length > 0
        ? 'no container of the stack is left'
        : 'no container of the stack was here',
  };
}
