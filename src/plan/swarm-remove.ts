import type { EnvironmentModel } from '../model/environment.js';
import type { Retention } from './prune.js';
import { environmentFolder, removeAllButHistoryArgv, volumeAndImageSteps } from './remove.js';
import type { Step } from './types.js';

// `stagecraft remove` on driver swarm: the steps that take the stack (and the job stacks a deploy left)
// off the swarm, decided from what the manager and the nodes reported before anything changes. Pure.
// The nodes' role labels stay: every stack on the swarm places its tasks with them.

/** What the swarm has of the environment, as read before the plan is made. */
export interface SwarmRemoveInventory {
  manager: string;
  /** The stack and the job stacks (`<stack>-job-<service>`) that have anything on the swarm. */
  stacks: string[];
  /** Services, networks, configs and secrets of those stacks (names as Swarm has them). */
  services: string[];
  networks: string[];
  configs: string[];
  secrets: string[];
  /** Named volumes of the stacks on each configured host's node (`host` → names); a node's own. */
  volumes: Record<string, string[]>;
  /** The environment's folder exists on the manager. */
  folder: boolean;
}

export interface SwarmRemovePlanInput {
  model: EnvironmentModel;
  inventory: SwarmRemoveInventory;
  /** `--volumes`: the stacks' named volumes are removed on every node (after a confirmation naming them). */
  volumes: boolean;
  /** Every image of the environment's releases, none kept (retention with retain 0). */
  images: Retention;
  /** How long Swarm gets to stop the tasks and free the networks. */
  timeoutMs: number;
}

/**
 * The removal steps, after `after` (the lock). In `rollout`, on the manager: `docker stack rm` of every
 * stack, waited on until their services, networks, configs and secrets are gone, then the
 * environment's folder except its history (`releases.jsonl`, where the removal is recorded) and the
 * lock. In `finalize`, on every node in parallel (the engine runs a host's `rollout` steps after no
 * other host's, so the nodes' steps that wait for the manager's come in the next phase): a wait until
 * no container of the stacks is left (so the gateway's port is free), the volumes (only with
 * `volumes`) and the release images no container uses.
 */
export function swarmRemoveSteps(input: SwarmRemovePlanInput, after: string[]): Step[] {
  const { model, inventory } = input;
  const steps: Step[] = [];
  const manager = { name: inventory.manager };
  let stacksGone = after;
  if (inventory.stacks.length > 0) {
    const parts = [
      ['services', inventory.services],
      ['networks', inventory.networks],
      ['configs', inventory.configs],
      ['secrets', inventory.secrets],
    ]
      .filter(([, names]) => names!.length > 0)
      .map(([kind, names]) => `${kind} ${(names as string[]).join(', ')}`);
    steps.push({
      id: `stack-rm:${inventory.manager}`,
      phase: 'rollout',
      host: manager,
      title: `docker stack rm ${inventory.stacks.join(' ')}${parts.length > 0 ? ` (${parts.join('; ')})` : ''}; wait until they are gone`,
      action: { kind: 'stack-remove', stacks: inventory.stacks, timeoutMs: input.timeoutMs },
      dependsOn: after,
    });
    stacksGone = [`stack-rm:${inventory.manager}`];
  }
  if (inventory.folder) {
    const folder = environmentFolder(model);
    steps.push({
      id: `files:${inventory.manager}`,
      phase: 'rollout',
      host: manager,
      title: `remove ${folder} except its release history (releases.jsonl) and the lock`,
      action: {
        kind: 'exec',
        argv: removeAllButHistoryArgv(folder),
      },
      dependsOn: stacksGone,
    });
  }
  for (const host of model.hosts) {
    let previous = stacksGone;
    const add = (id: string, title: string, action: Step['action']) => {
      const step: Step = {
        id: `${id}:${host.name}`,
        phase: 'finalize',
        host: { name: host.name },
        title,
        action,
        dependsOn: previous,
      };
      steps.push(step);
      previous = [step.id];
    };
    if (inventory.stacks.length > 0) {
      add('drain', `wait until no container of ${inventory.stacks.join(', ')} is left on ${host.name}`, {
        kind: 'stack-drain',
        stacks: inventory.stacks,
        timeoutMs: input.timeoutMs,
      });
    }
    for (const [id, title, action] of volumeAndImageSteps(model, inventory.volumes[host.name] ?? [], input)) {
      add(id, title, action);
    }
  }
  return steps;
}

/** The volumes a removal with `--volumes` deletes, as "host: name, name" lines (the confirmation). */
export function swarmVolumesByHost(inventory: SwarmRemoveInventory): string[] {
  return Object.entries(inventory.volumes)
    .filter(([, names]) => names.length > 0)
    .map(([host, names]) => `${host}: ${names.join(', ')}`);
}
