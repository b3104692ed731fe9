import { SPEC_HASH_LABEL } from '../docker/labels.js';
import {
  nodeIdsArgs,
  nodeInspectArgs,
  nodeLabelArgs,
  parseNodes,
  parseServices,
  parseTaskSpecs,
  parseTasks,
  type SwarmNode,
  type SwarmServiceState,
  type SwarmTaskSpec,
  serviceInspectArgs,
  serviceLogsArgs,
  servicePsArgs,
  serviceRunningTaskIdsArgs,
  stackRmArgs,
  stackServiceName,
  taskInspectArgs,
  taskState,
} from '../docker/swarm.js';
import { describeLabelChange, nodeLabelChanges } from '../plan/swarm-nodes.js';
import type { Action } from '../plan/types.js';
import type { ExecOptions, Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { sleep } from '../util/sleep.js';
import type { StepOutcome } from './run.js';

// What the swarm steps do on the manager's runner: node labels, `docker stack deploy` polled until
// the stack runs this release, and one-shot services run as replicated jobs. Stagecraft polls the
// tasks itself: `docker stack deploy --detach=false` never returns on a replicated job.

/** How often the swarm is asked for its tasks while waiting. */
const POLL_MS = 1000;
/** How many lines of a failed task's or job's output are shown. */
const LOG_TAIL = 30;
/** Update states in which Swarm has stopped an update and left the old tasks serving. */
const STOPPED_UPDATE = new Set(['paused', 'rollback_started', 'rollback_paused', 'rollback_completed']);

/**
 * The swarm's nodes as the manager `runner` knows them (`docker node ls --quiet`, then `docker node
 * inspect` of those ids): id, hostname, address (`Status.Addr`), state and labels; [] when it lists
 * none. Throws what the runner throws (not a manager, docker fails, a non-JSON line: SyntaxError).
 */
export async function readSwarmNodes(
  runner: Runner,
  options: Pick<ExecOptions, 'signal' | 'timeoutMs'> = {},
): Promise<SwarmNode[]> {
  const listed = await runner.exec(nodeIdsArgs(), options);
  const ids = listed.stdout
    .split('\n')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (ids.length === 0) return [];
  return parseNodes((await runner.exec(nodeInspectArgs(ids), options)).stdout);
}

type Labels = Extract<Action, { kind: 'swarm-labels' }>;
type StackDeploy = Extract<Action, { kind: 'stack-deploy' }>;
type SwarmJob = Extract<Action, { kind: 'swarm-job' }>;

/**
 * Puts `stagecraft.role.<role>=true` on each host's node for its roles and removes role labels it no
 * longer has. A node is found by its address (`Status.Addr`), else its hostname. Throws
 * ExternalError when a host is not a node of the swarm. Returns 'unchanged' when every label was right.
 */
export async function ensureNodeLabels(
  runner: Runner,
  action: Labels,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<StepOutcome> {
  const nodes = await readSwarmNodes(runner, { signal });
  const { changes, missing } = nodeLabelChanges(nodes, action.nodes);
  const wanted = missing[0];
  if (wanted !== undefined) {
    throw new ExternalError(
      `host ${wanted.host} (${wanted.address}) is not a node of the swarm that ${runner.name} manages (nodes: ${nodes.map((candidate) => `${candidate.hostname} ${candidate.addr}`).join(', ')})`,
      {
        hint: `run \`stagecraft setup\` for this environment: it joins ${wanted.host} to the swarm of ${runner.name}`,
      },
    );
  }
  for (const change of changes) {
    await runner.exec(nodeLabelArgs(change.node.id, change.add, change.remove), { signal });
    log(`${change.host}: ${describeLabelChange(change)}`);
  }
  const changed = changes.length;
  return changed === 0
    ? { status: 'unchanged', detail: 'every node carries its role labels' }
    : { status: 'completed', detail: `labelled ${changed} node${changed === 1 ? '' : 's'}` };
}

/** Where a service stands against its spec: converged, still going, or stopped by Swarm. */
export interface ServiceProgress {
  service: string;
  state: 'converged' | 'updating' | 'stopped';
  /** What a person reads: `2/2 tasks running this release`, Swarm's update message, a task error. */
  detail: string;
}

/**
 * Pure: where one service stands, from its state (`docker service inspect`) and the tasks Swarm
 * means to run (`docker inspect --type task`). Converged = no update in progress, as many tasks as
 * replicas (a global service: at least one), every one `running` with the service's spec hash.
 * Stopped = Swarm paused or rolled back the update (failure_action), with its message.
 */
export function serviceProgress(
  service: string,
  state: SwarmServiceState,
  tasks: SwarmTaskSpec[],
): ServiceProgress {
  if (state.update !== undefined && STOPPED_UPDATE.has(state.update)) {
    return {
      service,
      state: 'stopped',
      detail: `update ${state.update.replace('_', ' ')}${state.updateMessage ? `: ${state.updateMessage}` : ''}`,
    };
  }
  const hash = state.labels[SPEC_HASH_LABEL];
  const own = tasks.filter((task) => task.service === state.id);
  const current = own.filter((task) => task.state === 'running' && task.labels[SPEC_HASH_LABEL] === hash);
  const wanted = state.replicas ?? Math.max(1, own.length);
  const lastError = own.map((task) => task.error).find((error) => error !== '');
  const detail = `${current.length}/${wanted} tasks running this release${lastError ? ` (${lastError})` : ''}`;
  const converged = state.update !== 'updating' && current.length === own.length && current.length === wanted;
  return { service, state: converged ? 'converged' : 'updating', detail };
}

/**
 * The last LOG_TAIL lines of a service or of one task (`docker service logs` takes either), each
 * shown as `<label>: <line>`.
 */
async function lastLogs(
  runner: Runner,
  serviceOrTask: string,
  log: (line: string) => void,
  signal: AbortSignal,
  label = serviceOrTask,
) {
  const logs = await runner.exec(serviceLogsArgs(serviceOrTask, LOG_TAIL), { allowFailure: true, signal });
  for (const line of `${logs.stdout}${logs.stderr}`.trim().split('\n').filter(Boolean))
    log(`${label}: ${line}`);
}

/**
 * The task a stopped update names ("update paused due to failure or early termination of task
 * <id>"), inspected: its id, `<node hostname> task <id[:12]>` as its label, Swarm's state and error.
 * Undefined when the message names no task or the task is gone.
 */
async function stoppedTask(
  runner: Runner,
  message: string,
  signal: AbortSignal,
): Promise<{ id: string; label: string; state: string; error: string } | undefined> {
  const id = /\btask ([a-z0-9]{6,})\b/.exec(message)?.[1];
  if (id === undefined) return undefined;
  const [task] = parseTaskSpecs(
    (await runner.exec(taskInspectArgs([id]), { allowFailure: true, signal })).stdout,
  );
  if (task === undefined) return undefined;
  const nodes = await readSwarmNodes(runner, { signal }).catch(() => []);
  const node = nodes.find((candidate) => candidate.id === task.node)?.hostname ?? task.node;
  return { id, label: `${node} task ${id.slice(0, 12)}`, state: task.state, error: task.error };
}

/**
 * Runs `docker stack deploy` (the action's argv) and polls the stack's services until every one is
 * converged (serviceProgress). Throws ExternalError, after showing the service's last output, when
 * Swarm stops an update (failure_action pause: the old tasks keep serving) or when `timeoutMs` passes.
 */
export async function deployStack(
  runner: Runner,
  action: StackDeploy,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<StepOutcome> {
  await runner.exec(action.argv, { onLine: log, signal });
  if (action.services.length === 0) return { status: 'completed', detail: `${action.stack}: networks` };
  const names = action.services.map((service) => stackServiceName(action.stack, service));
  const deadline = Date.now() + action.timeoutMs;
  let reported = '';
  for (;;) {
    const states = parseServices((await runner.exec(serviceInspectArgs(names), { signal })).stdout);
    const ids = (await runner.exec(serviceRunningTaskIdsArgs(names), { signal })).stdout
      .split('\n')
      .filter(Boolean);
    const tasks =
      ids.length === 0 ? [] : parseTaskSpecs((await runner.exec(taskInspectArgs(ids), { signal })).stdout);
    const progress = action.services.map((service) => {
      const state = states.find((candidate) => candidate.name === stackServiceName(action.stack, service));
      return state === undefined
        ? ({ service, state: 'updating', detail: 'not created yet' } as ServiceProgress)
        : serviceProgress(service, state, tasks);
    });
    const line = progress.map((item) => `${item.service} ${item.detail}`).join('; ');
    if (line !== reported) {
      log(line);
      reported = line;
    }
    const stopped = progress.find((item) => item.state === 'stopped');
    if (stopped !== undefined) {
      const name = stackServiceName(action.stack, stopped.service);
      // The task Swarm names in its message is the new one that failed: its own state and output.
      const task = await stoppedTask(runner, stopped.detail, signal).catch(() => undefined);
      await lastLogs(runner, task?.id ?? name, log, signal, task === undefined ? name : task.label);
      throw new ExternalError(
        `the swarm stopped the update of ${stopped.service}: ${task === undefined ? stopped.detail : `its new task ${task.label} ${task.state}${task.error ? ` (${task.error})` : ''}`}; its old tasks keep serving`,
        {
          hint: `see the output above; fix ${stopped.service} and deploy again (\`docker service ps ${stackServiceName(action.stack, stopped.service)}\` on ${runner.name} shows its tasks)`,
        },
      );
    }
    if (progress.every((item) => item.state === 'converged'))
      return { status: 'completed', detail: `${action.stack}: ${line}` };
    if (signal.aborted) throw new ExternalError(`deploy of stack ${action.stack} interrupted`);
    if (Date.now() > deadline) {
      const late = progress.filter((item) => item.state !== 'converged');
      for (const item of late)
        await lastLogs(runner, stackServiceName(action.stack, item.service), log, signal);
      throw new ExternalError(
        `the swarm did not run ${late.map((item) => `${item.service} (${item.detail})`).join(', ')} within ${Math.round(action.timeoutMs / 1000)} s`,
        {
          hint: 'see the output above; a task that cannot start (image, health check, placement on the role’s nodes) is retried by Swarm until it runs',
        },
      );
    }
    await sleep(POLL_MS, signal);
  }
}

/** What a job stack's task did, with its whole output. */
export interface JobRun {
  outcome: 'complete' | 'failed' | 'timeout';
  /** Swarm's error for a failed task (`task: non-zero exit (3)`), or ''. */
  error: string;
  /** The task's exit code: 0 when complete, the one in Swarm's error when failed, else -1. */
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a job stack on the manager: removes what an earlier run left, deploys it (`argv`, a `docker
 * stack deploy` of one `replicated-job` service), polls the task until it completes or fails, reads
 * its whole output (`docker service logs --raw`: its stdout and stderr apart) and removes the job
 * stack. Returns the outcome ('timeout' after `timeoutMs` or an interrupt); throws ExternalError when
 * docker itself fails.
 */
export async function runJobStack(
  runner: Runner,
  job: { stack: string; service: string; argv: string[]; timeoutMs: number },
  signal: AbortSignal,
): Promise<JobRun> {
  const name = stackServiceName(job.stack, job.service);
  await runner.exec(stackRmArgs(job.stack), { allowFailure: true, signal });
  await runner.exec(job.argv, { signal });
  const deadline = Date.now() + job.timeoutMs;
  let outcome: JobRun['outcome'] = 'timeout';
  let error = '';
  for (;;) {
    const tasks = parseTasks(
      (await runner.exec(servicePsArgs([name]), { allowFailure: true, signal })).stdout,
    );
    const states = tasks.map(taskState);
    error = tasks.map((task) => task.error).find((message) => message !== '') ?? '';
    if (states.includes('complete')) outcome = 'complete';
    else if (tasks.length > 0 && states.every((state) => state === 'failed' || state === 'rejected'))
      outcome = 'failed';
    if (outcome !== 'timeout' || signal.aborted || Date.now() > deadline) break;
    await sleep(POLL_MS, signal);
  }
  const logs = await runner.exec(serviceLogsArgs(name, 'all'), { allowFailure: true, signal });
  await runner.exec(stackRmArgs(job.stack), { allowFailure: true, signal });
  const exit = /exit \((\d+)\)/.exec(error);
  return {
    outcome,
    error,
    exitCode: outcome === 'complete' ? 0 : exit ? Number(exit[1]) : -1,
    stdout: logs.stdout,
    stderr: logs.stderr,
  };
}

/**
 * Runs a one-shot service as its own stack (`mode: replicated-job`, runJobStack), shows the last
 * lines of its output, and throws ExternalError when the job fails or outlives `timeoutMs`.
 */
export async function runSwarmJob(
  runner: Runner,
  action: SwarmJob,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<StepOutcome> {
  const name = stackServiceName(action.stack, action.service);
  const run = await runJobStack(runner, action, signal);
  const output = `${run.stdout}${run.stderr}`.trim().split('\n').filter(Boolean).slice(-LOG_TAIL);
  for (const line of output) log(`${name}: ${line}`);
  if (run.outcome === 'complete')
    return { status: 'completed', detail: `${action.service}: ran to completion` };
  throw new ExternalError(
    run.outcome === 'failed'
      ? `job ${action.service} failed${run.error ? `: ${run.error}` : ''}`
      : `job ${action.service} did not finish within ${Math.round(action.timeoutMs / 1000)} s`,
    { hint: `the stack was not updated; fix ${action.service} (output above) and deploy again` },
  );
}
