import type { EnvironmentModel } from '../model/environment.js';
import type { Retention } from './prune.js';
import type { Step } from './types.js';

/**
 * What a removal takes off a host once no container of the app is left, as `[id, title, action]` in
 * order: its named `volumes` (only with `removeVolumes`), then the release images no container uses
 * (`images.removeImages`, best effort). Pure.
 */
export function volumeAndImageSteps(
  model: Pick<EnvironmentModel, 'environment'>,
  volumes: readonly string[],
  options: { volumes: boolean; images: Retention },
): [string, string, Step['action']][] {
  const steps: [string, string, Step['action']][] = [];
  if (options.volumes && volumes.length > 0) {
    steps.push([
      'volumes',
      `remove volumes ${volumes.join(', ')} and their data`,
      { kind: 'exec', argv: ['docker', 'volume', 'rm', ...volumes] },
    ]);
  }
  if (options.images.removeImages.length > 0) {
    steps.push([
      'images',
      `remove images of ${model.environment}'s releases that no container uses`,
      {
        kind: 'retain',
        keepReleases: [],
        keepImages: options.images.keepImages,
        removeImages: options.images.removeImages,
        containers: false,
        bestEffort: true,
        measure: false,
      },
    ]);
  }
  return steps;
}

// `stagecraft remove`: the steps that take an environment of the app off its hosts, decided from what
// each host reported (read-only) before anything changes. Pure.

/** What one host has of the app, as read before the plan is made. */
export interface RemoveInventory {
  host: string;
  /** Containers of the compose project (running or not). */
  containers: { id: string; name: string; running: boolean }[];
  /** The host's shared gateway (the one on the environment's ports), when the host has one. */
  gateway?: string;
  /** The gateway's ports container (ingress/gateway-name.ts gatewayPortsContainer), when the host has one. */
  gatewayPorts?: string;
  /**
   * Other apps with routes on the gateway, and containers of other apps on its network: the gateway
   * stays while there are any, and only this app's routes leave it.
   */
  gatewaySharedWith: string[];
  /** The environment's own gateway from a version before the shared gateway, when it is still there. */
  legacyGateway?: string;
  /** Networks of the compose project, the gateway's network and the legacy gateway's, as they exist. */
  networks: string[];
  /** Named volumes of the compose project. */
  volumes: string[];
  /** The environment's folder exists on the host. */
  folder: boolean;
}

export interface RemovePlanInput {
  model: EnvironmentModel;
  inventories: RemoveInventory[];
  /** `--volumes`: named volumes are removed too (after a confirmation naming them). */
  volumes: boolean;
  /** Every image of the environment's releases, none kept (plan/prune.ts retention with retain 0). */
  images: Retention;
}

/** The environment's folder on a host (relative to the home folder): releases, secrets, the lock, the history. */
export function environmentFolder(model: EnvironmentModel): string {
  return `.stagecraft/${model.composeProject}`;
}

/**
 * The removal steps of every host, in the order that frees each thing before what holds it: stop
 * (each container's own grace period), remove the containers, the gateway unless other apps use it,
 * the networks, the volumes (only with `volumes`), the images of the environment's releases that no
 * container uses, the files. On the lock host the history (`releases.jsonl`, where the removal is
 * recorded) and the lock stay; elsewhere the whole folder goes. Hosts run in parallel; each step
 * follows `after` (the lock) or the previous step of its host.
 */
export function removeSteps(input: RemovePlanInput, after: string[]): Step[] {
  const { model } = input;
  const steps: Step[] = [];
  const folder = environmentFolder(model);
  for (const inventory of input.inventories) {
    const host = { name: inventory.host };
    let previous = after;
    const add = (id: string, title: string, action: Step['action']) => {
      const step: Step = {
        id: `${id}:${inventory.host}`,
        phase: 'rollout',
        host,
        title,
        action,
        dependsOn: previous,
      };
      steps.push(step);
      previous = [step.id];
    };
    const running = inventory.containers.filter((container) => container.running);
    if (running.length > 0) {
      add('stop', `stop ${running.map((container) => container.name).join(', ')}`, {
        kind: 'exec',
        argv: ['docker', 'stop', ...running.map((container) => container.id)],
      });
    }
    if (inventory.containers.length > 0) {
      add('containers', `remove ${inventory.containers.map((container) => container.name).join(', ')}`, {
        kind: 'exec',
        argv: [
          'docker',
          'rm',
          '-f',
          ...(input.volumes ? ['-v'] : []),
          ...inventory.containers.map((container) => container.id),
        ],
      });
    }
    const gatewayShared = inventory.gatewaySharedWith.length > 0;
    if (inventory.gateway !== undefined && gatewayShared) {
      add(
        'routes',
        `take ${model.composeProject}'s routes off the gateway ${inventory.gateway} (it keeps serving ${inventory.gatewaySharedWith.join(', ')})`,
        { kind: 'unroute', container: inventory.gateway, network: model.ingress.network },
      );
    }
    const gateways = [
      ...(inventory.gateway !== undefined && !gatewayShared ? [inventory.gateway] : []),
      ...(inventory.legacyGateway === undefined ? [] : [inventory.legacyGateway]),
    ];
    const ports = inventory.gatewayPorts !== undefined && !gatewayShared ? [inventory.gatewayPorts] : [];
    if (gateways.length > 0 || ports.length > 0) {
      const named = [...gateways, ...ports.map((name) => `its ports container ${name}`)];
      add('gateway', `remove the gateway ${named.join(', ')}`, {
        kind: 'exec',
        argv: ['docker', 'rm', '-f', ...gateways, ...ports],
      });
    }
    const networks = inventory.networks.filter(
      (network) => !(gatewayShared && network === model.ingress.network),
    );
    if (networks.length > 0) {
      add('networks', `remove networks ${networks.join(', ')}`, {
        kind: 'exec',
        argv: ['docker', 'network', 'rm', ...networks],
      });
    }
    for (const [id, title, action] of volumeAndImageSteps(model, inventory.volumes, input)) {
      add(id, title, action);
    }
    if (inventory.folder) {
      const lockHost = inventory.host === model.lockHost;
      add(
        'files',
        lockHost
          ? `remove ${folder} except its release history (releases.jsonl) and the lock`
          : `remove ${folder}`,
        {
          kind: 'exec',
          argv: lockHost ? removeAllButHistoryArgv(folder) : ['rm', '-rf', '--', folder],
        },
      );
    }
  }
  return steps;
}

/** The named volumes a removal with `--volumes` deletes, as "host: name, name" lines (the confirmation). */
export function volumesByHost(inventories: readonly RemoveInventory[]): string[] {
  return inventories
    .filter((inventory) => inventory.volumes.length > 0)
    .map((inventory) => `${inventory.host}: ${inventory.volumes.join(', ')}`);
}

/**
 * `find FOLDER -mindepth 1 -maxdepth 1 ! -name releases.jsonl ! -name lock -exec rm -rf -- {} +`: empties
 * an environment's folder on its lock host but for the release history (where the removal is recorded)
 * and the lock.
 */
export function removeAllButHistoryArgv(folder: string): string[] {
  return [
    'find',
    folder,
    '-mindepth',
    '1',
    '-maxdepth',
    '1',
    '!',
    '-name',
    'releases.jsonl',
    '!',
    '-name',
    'lock',
    '-exec',
    'rm',
    '-rf',
    '--',
    '{}',
    '+',
  ];
}
