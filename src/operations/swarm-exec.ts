// `stagecraft exec SERVICE -- CMD` on driver swarm: the manager says which tasks of the service run
// and where (`docker service ps` + `docker inspect --type task`, `docker node inspect`); the command
// then runs with `docker exec` on that node, over the node's own ssh connection, as on driver ssh.
import {
  hostOfNode,
  parseTaskStatus,
  type SwarmNode,
  type SwarmTaskStatus,
  serviceRunningTaskIdsArgs,
  stackServiceName,
  taskStatusArgs,
} from '../docker/swarm.js';
import { readSwarmNodes } from '../engine/swarm.js';
import type { HostModel } from '../model/environment.js';
import { jobStackName } from '../plan/swarm.js';
import type { Runner } from '../runners/types.js';
import { ExternalError, UserError } from '../util/errors.js';
import type { LoadedEnvironment } from './environment.js';
import { type HostRunners, oneLine } from './fleet.js';
import { onManager } from './swarm-manager.js';

/** A running task to exec into: the host its node is, its container there, its name (`api.1`). */
export interface SwarmExecTarget {
  host: HostModel;
  container: string;
  name: string;
}

/**
 * Pure: the task `exec` enters: a running task with a container, on a node that is one of `hosts`
 * (by address, else hostname), the first in the hosts' order, then by slot. Throws UserError naming
 * the tasks there are when none fits.
 */
export function pickSwarmTask(
  service: string,
  tasks: readonly SwarmTaskStatus[],
  nodes: readonly SwarmNode[],
  hosts: readonly HostModel[],
  environment: string,
): SwarmExecTarget {
  const hostOf = new Map(nodes.map((node) => [node.id, hostOfNode(node, hosts)]));
  const nodeName = new Map(nodes.map((node) => [node.id, node.hostname]));
  const rank = (task: SwarmTaskStatus) => {
    const host = hostOf.get(task.node);
    return host === undefined ? hosts.length : hosts.indexOf(host);
  };
  const running = tasks
    .filter((task) => task.state === 'running' && task.container !== undefined)
    .sort((a, b) => rank(a) - rank(b) || a.slot - b.slot);
  const chosen = running.find((task) => hostOf.get(task.node) !== undefined);
  const name = (task: SwarmTaskStatus) => (task.slot > 0 ? `${service}.${task.slot}` : service);
  if (chosen !== undefined) {
    return { host: hostOf.get(chosen.node)!, container: chosen.container!, name: name(chosen) };
  }
  const seen = tasks.map(
    (task) =>
      `${name(task)} ${task.state} on ${hostOf.get(task.node)?.name ?? (nodeName.get(task.node) || 'no node yet')}`,
  );
  if (running.length > 0) {
    throw new UserError(
      `no running task of ${service} on ${hosts.map((host) => host.name).join(', ')}: ${seen.join(', ')}`,
      {
        hint: 'drop --hosts / --roles, or add the node it runs on to the hosts of the environment in stagecraft.yml (exec reaches a node over ssh)',
      },
    );
  }
  throw new UserError(`no running task of ${service}${seen.length > 0 ? ` (${seen.join(', ')})` : ''}`, {
    hint: `see what runs with \`stagecraft status -e ${environment}\``,
  });
}

/**
 * Finds a running task of the service from the manager (its tasks meant to run, inspected, and the
 * nodes). Throws UserError when the stack has no such service or no task runs on a host in scope,
 * ExternalError when the manager cannot be read.
 */
export async function findSwarmTask(
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  service: string,
): Promise<SwarmExecTarget> {
  const runner = runners.get(env.model.swarm!.manager);
  const [tasks, nodes] = await onManager(env.model, () =>
    Promise.all([runningTasks(env, runner, service), readSwarmNodes(runner)]),
  );
  return pickSwarmTask(service, tasks, nodes, hosts, env.model.environment);
}

/**
 * The tasks of `service` Swarm means to run (`docker service ps` + `docker inspect --type task` on
 * the manager). Throws UserError when the stack has no such service, ExternalError when the manager
 * cannot list them.
 */
async function runningTasks(
  env: LoadedEnvironment,
  runner: Runner,
  service: string,
): Promise<SwarmTaskStatus[]> {
  const { model } = env;
  const swarm = model.swarm!;
  const name = stackServiceName(swarm.stack, service);
  const listed = await runner.exec(serviceRunningTaskIdsArgs([name]), { allowFailure: true });
  if (listed.exitCode !== 0) {
    const why = oneLine(listed.stderr) || `exit code ${listed.exitCode}`;
    if (/no such (task or )?service|not found/i.test(listed.stderr)) {
      const job = model.services.find((candidate) => candidate.name === service)?.job === true;
      throw new UserError(`no service ${service} in the stack ${swarm.stack} on ${swarm.manager}: ${why}`, {
        hint: job
          ? `${service} is a job: it runs as the stack ${jobStackName(swarm.stack, service)} during a deploy and is removed once it completed`
          : `deploy it first (\`stagecraft deploy -e ${model.environment}\`)`,
      });
    }
    throw new ExternalError(`could not list the tasks of ${service} on ${swarm.manager}: ${why}`);
  }
  const ids = listed.stdout.split('\n').filter((id) => id.trim() !== '');
  if (ids.length === 0) return [];
  return parseTaskStatus((await runner.exec(taskStatusArgs(ids), { allowFailure: true })).stdout);
}
