// `stagecraft logs SERVICE` on driver swarm: `docker service logs` on the manager, which gathers the
// lines of every task on every node. Printed like logs on driver ssh: merged by time, prefixed
// `node task |` (the node as its configured host name), secrets redacted by the output as there.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  hostOfNode,
  parseServiceLogLine,
  type ServiceLogLine,
  serviceLogsFollowArgs,
  shutdownTaskIdsArgs,
  stackServiceName,
} from '../docker/swarm.js';
import { readSwarmNodes } from '../engine/swarm.js';
import type { EnvironmentModel, HostModel } from '../model/environment.js';
import { jobStackName } from '../plan/swarm.js';
import type { Runner } from '../runners/types.js';
import { ExternalError, UserError } from '../util/errors.js';
import type { LoadedEnvironment } from './environment.js';
import { type HostRunners, oneLine } from './fleet.js';
import {
  FOLLOW_SCRIPT,
  followLineHandler,
  type LogsOptions,
  mergeLogLines,
  Printer,
  type SourcedLine,
} from './logs.js';
import type { Session } from './session.js';
import { managerError, onManager } from './swarm-manager.js';

/**
 * Pure: a `docker service logs` line as logs prints it: the node's configured host name (`nodes`:
 * hostname → host; else the hostname) and the task without the stack (`api.1`; a global task, whose
 * slot is 0, by its service's name).
 */
export function sourcedServiceLine(
  line: ServiceLogLine,
  stack: string,
  nodes: ReadonlyMap<string, string>,
): SourcedLine {
  const task = line.task.startsWith(`${stack}_`) ? line.task.slice(stack.length + 1) : line.task;
  return {
    timestamp: line.timestamp,
    text: line.text,
    host: nodes.get(line.node) ?? line.node,
    container: task.endsWith('.0') ? task.slice(0, -2) : task,
  };
}

/**
 * The ids of the service's tasks Swarm shut down (shutdownTaskIdsArgs): their lines are left out.
 * Empty when they cannot be read (every line is shown then).
 */
async function shutDownTasks(runner: Runner, name: string): Promise<Set<string>> {
  const listed = await runner.exec(shutdownTaskIdsArgs(name), { allowFailure: true });
  if (listed.exitCode !== 0) return new Set();
  return new Set(
    listed.stdout
      .split('\n')
      .map((id) => id.trim())
      .filter((id) => id !== ''),
  );
}

/** Whether a line comes from a task that is not shut down (a line without a task id: kept). */
function ofLiveTask(line: ServiceLogLine, dead: ReadonlySet<string>): boolean {
  return line.taskId === undefined || !dead.has(line.taskId);
}

/** Node hostname → configured host name, from the manager (`docker node ls` + `inspect`). Empty when it cannot be read. */
async function nodeNames(runner: Runner, model: EnvironmentModel): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  try {
    for (const node of await readSwarmNodes(runner)) {
      const host = hostOfNode(node, model.hosts);
      if (host !== undefined) names.set(node.hostname, host.name);
    }
  } catch {
    // The hostnames are printed instead.
  }
  return names;
}

function noService(env: LoadedEnvironment, service: string, why: string): UserError {
  const { model } = env;
  const job = model.services.find((candidate) => candidate.name === service)?.job === true;
  return new UserError(
    `no service ${service} in the stack ${model.swarm!.stack} on ${model.swarm!.manager} (${model.environment}): ${why}`,
    {
      hint: job
        ? `${service} is a job: each deploy runs it as the stack ${jobStackName(model.swarm!.stack, service)} and removes it once it completed; its output is in the deploy's output`
        : `deploy it first (\`stagecraft deploy -e ${model.environment}\`), or see what runs with \`stagecraft status -e ${model.environment}\``,
    },
  );
}

function failed(env: LoadedEnvironment, service: string, exitCode: number, stderr: string): Error {
  const why = oneLine(stderr) || `exit code ${exitCode}`;
  const manager = managerError(new Error(`exited with code ${exitCode}: ${stderr}`), env.model);
  if (manager instanceof UserError) return manager;
  if (/no such (task or )?service|not found/i.test(stderr)) return noService(env, service, why);
  return new ExternalError(
    `docker service logs failed for ${service} on ${env.model.swarm!.manager}: ${why}`,
    {
      hint: `check the swarm on ${env.model.swarm!.manager} (\`stagecraft ssh ${env.model.swarm!.manager} -- docker service ps ${stackServiceName(env.model.swarm!.stack, service)}\`)`,
    },
  );
}

/**
 * `logs` without `-f` on driver swarm: the last lines (`--lines`, per task) or those since `--since`
 * of every task of the service, merged by time. Lines of tasks Swarm shut down (shutDownTasks) and,
 * with `hosts`, of tasks on other nodes are left out.
 * Throws UserError when the stack has no such service (a job's stack is gone once it completed),
 * ExternalError when docker fails.
 */
export async function printSwarmLogs(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  service: string,
  options: LogsOptions,
): Promise<number> {
  const { model } = env;
  const swarm = model.swarm!;
  const runner = runners.get(swarm.manager);
  const argv = serviceLogsFollowArgs(stackServiceName(swarm.stack, service), {
    ...(options.lines !== undefined ? { tail: options.lines } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
  });
  const raw: ServiceLogLine[] = [];
  const [result, nodes, dead] = await Promise.all([
    runner.exec(argv, {
      allowFailure: true,
      onLine: (text) => {
        const parsed = parseServiceLogLine(text);
        if (parsed !== undefined) raw.push(parsed);
      },
    }),
    onManager(model, () => nodeNames(runner, model)),
    shutDownTasks(runner, stackServiceName(swarm.stack, service)),
  ]);
  if (result.exitCode !== 0 && raw.length === 0) throw failed(env, service, result.exitCode, result.stderr);
  const inScope = new Set(hosts.map((host) => host.name));
  const scoped = hosts.length === model.hosts.length;
  const lines = raw
    .filter((line) => ofLiveTask(line, dead))
    .map((line) => sourcedServiceLine(line, swarm.stack, nodes))
    .filter((line) => scoped || inScope.has(line.host));
  const printer = new Printer(context, options.format);
  for (const line of lines) printer.widen(line.host, line.container);
  for (const line of mergeLogLines([lines])) printer.print(line);
  return 0;
}

/**
 * `logs -f` on driver swarm: one `docker service logs --follow` on the manager, which also follows
 * tasks that start later (a deploy, a rescheduled task). When the stream ends before the signal
 * (the manager's connection dropped), it is re-attached every `retryMs` after the last line printed
 * of each task. Returns 0 when the signal aborts.
 */
export async function followSwarmLogs(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  service: string,
  options: LogsOptions,
  signal: AbortSignal,
  retryMs = 3000,
): Promise<number> {
  const { model } = env;
  const swarm = model.swarm!;
  const runner = runners.get(swarm.manager);
  const name = stackServiceName(swarm.stack, service);
  // Tasks shut down before the follow began are left out; those that stop later keep their lines.
  const [nodes, dead] = await Promise.all([nodeNames(runner, model), shutDownTasks(runner, name)]);
  const inScope = new Set(hosts.map((host) => host.name));
  const scoped = hosts.length === model.hosts.length;
  const printer = new Printer(context, options.format);
  const last = new Map<string, string>();
  let since: string | undefined = options.since;
  let first = true;
  while (!signal.aborted) {
    const argv = serviceLogsFollowArgs(name, {
      follow: true,
      ...(first && options.lines !== undefined ? { tail: options.lines } : {}),
      ...(since !== undefined ? { since } : {}),
    });
    const diagnostics: string[] = [];
    let printed = false;
    const result = await runner
      .exec(['sh', '-c', FOLLOW_SCRIPT, 'sh', ...argv], {
        allowFailure: true,
        signal,
        onLine: followLineHandler(
          parseServiceLogLine,
          (parsed) => {
            if (!ofLiveTask(parsed, dead)) return;
            const line = sourcedServiceLine(parsed, swarm.stack, nodes);
            if (!scoped && !inScope.has(line.host)) return;
            const key = `${line.host}/${line.container}`;
            const previous = last.get(key);
            if (previous !== undefined && line.timestamp <= previous) return;
            last.set(key, line.timestamp);
            printer.widen(line.host, line.container);
            printer.print(line);
            printed = true;
          },
          diagnostics,
        ),
      })
      .catch((error: unknown) => ({ exitCode: 255, stderr: oneLine(error), stdout: '' }));
    if (signal.aborted) break;
    if (first && !printed && result.exitCode !== 0 && result.exitCode !== 255) {
      throw failed(env, service, result.exitCode, diagnostics.join('\n') || result.stderr);
    }
    first = false;
    const newest = [...last.values()].sort().at(-1);
    since = newest ?? since;
    context.output.warn(
      `the log stream of ${service} on ${swarm.manager} ended (${diagnostics.at(-1) ?? `exit code ${result.exitCode}`}); following it again in ${Math.round(retryMs / 1000)}s`,
    );
    try {
      await sleep(retryMs, undefined, { signal });
    } catch {
      break;
    }
  }
  return 0;
}
