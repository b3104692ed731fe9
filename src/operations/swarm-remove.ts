// `stagecraft remove` on driver swarm: reads what the swarm has of the environment (the stack, the job
// stacks a deploy left, their objects on the manager, their volumes on every node), plans the removal
// (plan/swarm-remove.ts), asks, runs it under the deploy lock and records it like remove on driver ssh.
import { stackNamesArgs, stackObjectsArgs } from '../docker/swarm.js';
import type { Retention } from '../plan/prune.js';
import { environmentFolder } from '../plan/remove.js';
import { jobStackName } from '../plan/swarm.js';
import { type SwarmRemoveInventory, swarmRemoveSteps, swarmVolumesByHost } from '../plan/swarm-remove.js';
import type { Plan, Step } from '../plan/types.js';
import { ExternalError } from '../util/errors.js';
import type { LoadedEnvironment } from './environment.js';
import { HostRunners, oneLine } from './fleet.js';
import { lockSteps, maintenancePlan } from './prune.js';
import { type RemoveOptions, runRemoval } from './remove.js';
import type { Session } from './session.js';
import { onManager } from './swarm-manager.js';

/** How long Swarm gets to stop the stacks' tasks and free their networks, on the manager and on each node. */
const REMOVE_TIMEOUT_MS = 180_000;

const names = (stdout: string) =>
  stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');

/**
 * What the swarm has of the environment (read-only: `docker stack ls`, `docker service|network|config|
 * secret ls` on the manager, `test -d` of the folder there, `docker volume ls` on every node). The
 * stacks are the environment's stack and its job stacks (`<stack>-job-<service>`: those of the
 * model's jobs, and any other such stack a deploy left). A node whose volumes cannot be read is an
 * ExternalError with `volumes` (its data would be left behind unsaid), a warning without. A manager
 * without Docker, outside a swarm or a worker: managerError's UserError.
 */
export async function readSwarmRemoveInventory(
  session: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  volumes: boolean,
): Promise<SwarmRemoveInventory> {
  return onManager(env.model, () => readInventory(session, env, runners, volumes));
}

async function readInventory(
  session: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  volumes: boolean,
): Promise<SwarmRemoveInventory> {
  const { model } = env;
  const swarm = model.swarm!;
  const manager = runners.get(swarm.manager);
  const listed = names((await manager.exec(stackNamesArgs())).stdout);
  const candidates = [
    ...new Set([
      swarm.stack,
      ...model.services
        .filter((service) => service.job)
        .map((service) => jobStackName(swarm.stack, service.name)),
      ...listed.filter((name) => name.startsWith(`${swarm.stack}-job-`)),
    ]),
  ].sort();
  const list = async (kind: 'service' | 'network' | 'config' | 'secret', stack: string) =>
    names((await manager.exec(stackObjectsArgs(kind, stack))).stdout);
  const perStack = await Promise.all(
    candidates.map(async (stack) => {
      const [services, networks, configs, secrets] = await Promise.all([
        list('service', stack),
        list('network', stack),
        list('config', stack),
        list('secret', stack),
      ]);
      return { stack, services, networks, configs, secrets };
    }),
  );
  const folder = await manager.exec(['test', '-d', environmentFolder(model)], { allowFailure: true });
  const nodeVolumes = await Promise.all(
    model.hosts.map(async (host) => {
      try {
        const runner = runners.get(host.name);
        const found = await Promise.all(
          candidates.map(async (stack) =>
            names((await runner.exec(stackObjectsArgs('volume', stack))).stdout),
          ),
        );
        return [host.name, found.flat().sort()] as const;
      } catch (error) {
        if (volumes) {
          throw new ExternalError(`could not list the volumes on ${host.name}: ${oneLine(error)}`, {
            hint: `remove --volumes needs every node; check that ${host.name} is up and reachable over ssh`,
          });
        }
        session.output.warn(`could not list the volumes on ${host.name}: ${oneLine(error)}`);
        return [host.name, []] as const;
      }
    }),
  );
  const present = perStack.filter(
    (entry) =>
      listed.includes(entry.stack) ||
      entry.services.length + entry.networks.length + entry.configs.length + entry.secrets.length > 0,
  );
  return {
    manager: swarm.manager,
    stacks: present.map((entry) => entry.stack),
    services: present.flatMap((entry) => entry.services).sort(),
    networks: present.flatMap((entry) => entry.networks).sort(),
    configs: present.flatMap((entry) => entry.configs).sort(),
    secrets: present.flatMap((entry) => entry.secrets).sort(),
    volumes: Object.fromEntries(nodeVolumes),
    folder: folder.exitCode === 0,
  };
}

/**
 * The removal plan: the lock (migrate_pre), `docker stack rm` and the files on the manager (rollout),
 * each node's steps, the record once they are done, the unlock (finalize). Pure.
 */
export function swarmRemovePlan(
  env: LoadedEnvironment,
  inventory: SwarmRemoveInventory,
  options: { volumes: boolean; images: Retention; releaseId: string; message: string },
): Plan {
  const { model } = env;
  const lock = lockSteps(env, options.message);
  const steps = swarmRemoveSteps(
    { model, inventory, volumes: options.volumes, images: options.images, timeoutMs: REMOVE_TIMEOUT_MS },
    [lock.acquire.id],
  );
  const nodeSteps = steps.filter((step) => step.phase === 'finalize');
  const record: Step = {
    id: 'record',
    phase: 'finalize',
    title: `record the removal of ${model.composeProject} (${options.releaseId})`,
    action: { kind: 'record' },
    // Once every node is done: finalize runs as a graph.
    dependsOn: nodeSteps.map((step) => step.id),
  };
  return maintenancePlan(
    env,
    'remove',
    {
      migrate_pre: [lock.acquire],
      rollout: steps.filter((step) => step.phase === 'rollout'),
      finalize: [...nodeSteps, record, lock.release],
    },
    options.releaseId,
  );
}

/**
 * `stagecraft remove` on driver swarm: the inventory, the plan (printed with `--dry-run`), the
 * confirmation (naming the volumes with `--volumes`), the run under the deploy lock on the manager,
 * the removal recorded. Node role labels are left: other stacks on the swarm use them.
 */
export async function runSwarmRemove(
  session: Session,
  env: LoadedEnvironment,
  options: RemoveOptions,
): Promise<number> {
  const { model } = env;
  const swarm = model.swarm!;
  const runners = new HostRunners(env);
  let inventory: SwarmRemoveInventory;
  try {
    inventory = await readSwarmRemoveInventory(session, env, runners, options.volumes);
  } finally {
    await runners.closeAll();
  }
  const where = `the swarm of ${swarm.manager} (stack ${swarm.stack})`;
  const volumes = swarmVolumesByHost(inventory);
  const releaseId = await runRemoval(session, env, options, {
    where,
    objects: 'services, gateway, networks, configs, secrets, files',
    volumes,
    plan: ({ releaseId, message, images }) =>
      swarmRemovePlan(env, inventory, { volumes: options.volumes, images, releaseId, message }),
  });
  if (releaseId === undefined) return 0;
  if (session.globals.json) {
    session.output.result(
      JSON.stringify({
        event: 'remove',
        environment: model.environment,
        removal: releaseId,
        swarm: {
          manager: swarm.manager,
          stacks: inventory.stacks,
          services: inventory.services,
          networks: inventory.networks,
          configs: inventory.configs,
          secrets: inventory.secrets,
        },
        hosts: model.hosts.map((host) => ({
          host: host.name,
          volumes_removed: options.volumes ? (inventory.volumes[host.name] ?? []) : [],
          volumes_kept: options.volumes ? [] : (inventory.volumes[host.name] ?? []),
        })),
      }),
    );
  } else {
    session.output.result(
      `✓ Removed ${model.project} ${model.environment} from ${where} (recorded as ${releaseId}); the nodes keep their stagecraft.role.* labels${volumes.length > 0 && !options.volumes ? `; volumes kept: ${volumes.join('; ')}` : ''}`,
    );
  }
  return 0;
}
