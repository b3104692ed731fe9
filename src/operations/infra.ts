// `stagecraft infra plan|up|down`: the cloud provider reads the account, plan/infra.ts decides, the
// provider applies; the hosts it made are recorded for deploy, then `setup` runs over SSH to verify.
import { connect } from 'node:net';
import { type ProjectModel, projectModel } from '../model/project.js';
import { cloudInitUserData } from '../plan/cloud-init.js';
import {
  changingSteps,
  infraPlanText,
  type MeshNodesInput,
  meshNodeSteps,
  planInfraDown,
  planInfraUp,
  volumeName,
} from '../plan/infra.js';
import { type LocalMeshStatus, type MeshSshDecision, meshHosts, meshSsh } from '../plan/mesh-ssh.js';
import { cloudProvider } from '../providers/cloud/index.js';
import type { CloudContext, CloudProvider, DesiredHost, InfraPlan } from '../providers/cloud/types.js';
import { deleteNode, listNodes } from '../providers/network/headscale-api.js';
import { readInfraState, removeInfraState, writeInfraState } from '../state/infra.js';
import { ExternalError, UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';
import { sleep } from '../util/sleep.js';
import { loadEnvironment, refuseOnSwarm } from './environment.js';
import { localMeshStatus } from './mesh.js';
import type { Session } from './session.js';
import { runSetup, setupSettings } from './setup.js';

export interface InfraSession {
  /** The project model: the cloud section, gateway ports, bootstrap, mesh and project folder. */
  project: ProjectModel;
  environment: string;
  provider: CloudProvider;
  cloud: CloudContext;
  configPath: string;
}

/** Config, provider and token for the selected environment; every input error before any request. */
export async function openInfra(context: Session): Promise<InfraSession> {
  const loaded = await context.loadConfig('deploy');
  const environment = loaded.envName;
  if (environment === undefined)
    throw new UserError('no environment selected', { hint: 'pass --env <name>' });
  const project = projectModel(loaded);
  const cloud = project.cloud;
  if (cloud === undefined) {
    throw new UserError('infra: the cloud provider is not configured', {
      hint: 'add a cloud section to stagecraft.yml (cloud.provider: digitalocean, cloud.providers.digitalocean: …); see docs/digitalocean.md',
    });
  }
  const provider = cloudProvider(cloud.provider);
  const { config, configPath } = cloud;
  const hosts = (config['hosts'] as Record<string, unknown> | undefined)?.[environment];
  if (hosts === undefined || Object.keys(hosts as object).length === 0) {
    throw new UserError(`infra: ${configPath}.hosts has no hosts for environment ${environment}`, {
      hint: `add ${configPath}.hosts.${environment}.<name>: { role: …, size: …, region: … }`,
    });
  }
  const token = provider.token(config, context.env);
  return {
    project,
    environment,
    provider,
    configPath,
    cloud: {
      project: project.project,
      environment,
      config,
      token,
      log: (line) => context.output.info(context.output.colors.dim(`  … ${line}`)),
    },
  };
}

/** The ports the firewall opens to the gateway: http, and https (443 when TLS is off). */
function gatewayPorts(project: ProjectModel): number[] {
  const { ingress } = project;
  return [ingress.httpPort, ingress.tls.mode !== 'off' ? ingress.httpsPort : 443];
}

/**
 * Whether the firewall may close public SSH (plan/mesh-ssh.ts), from this machine's `tailscale status
 * --json`, read only when the environment has a mesh and the provider's config does not keep SSH public.
 */
async function sshOverMesh(session: InfraSession, desired: DesiredHost[]): Promise<MeshSshDecision> {
  const { project, provider, cloud } = session;
  const mesh = project.mesh;
  const publicSsh = provider.publicSsh(cloud);
  const hosts =
    mesh === undefined
      ? []
      : meshHosts(
          mesh,
          desired.map((host) => ({ name: host.name, roles: [host.role] })),
        );
  const local: LocalMeshStatus =
    mesh === undefined || publicSsh ? { status: undefined, problem: 'not read' } : await localMeshStatus();
  return meshSsh({ mesh, hosts, local, publicSsh });
}

/**
 * Reads the account and plans `up` (no change), with the SSH decision the firewall follows. Droplets it
 * deletes (no longer in the config) get their mesh steps as in `infra down` (Headscale's nodes read
 * with the API key from `env`).
 */
async function planUpWithSsh(
  session: InfraSession,
  env: Record<string, string | undefined>,
): Promise<{ plan: InfraPlan; ssh: MeshSshDecision }> {
  const { provider, cloud } = session;
  const desired = provider.desiredHosts(cloud);
  const ssh = await sshOverMesh(session, desired);
  const firewall = provider.desiredFirewall(cloud, {
    sshSources: [],
    ports: gatewayPorts(session.project),
    sshOverMesh: ssh.closePublicSsh,
  });
  const inventory = await provider.inventory(cloud);
  const plan = planInfraUp({
    provider: provider.id,
    project: cloud.project,
    environment: session.environment,
    desired,
    inventory,
    firewall,
    firewallNote: ssh.note,
    sshKeyName: String(cloud.config['ssh_key_name'] ?? ''),
    configPath: session.configPath,
  });
  const deleted = plan.steps.flatMap((step) =>
    step.action.kind === 'delete-machine' ? [step.action.host] : [],
  );
  if (deleted.length === 0) return { plan, ssh };
  return {
    plan: { ...plan, steps: [...plan.steps, ...meshNodeSteps(deleted, await meshNodesOf(session, env))] },
    ssh,
  };
}

/** Reads the account and plans `up` (no change); see planUpWithSsh. */
export async function planUp(
  session: InfraSession,
  env: Record<string, string | undefined>,
): Promise<InfraPlan> {
  return (await planUpWithSsh(session, env)).plan;
}

export function printInfraPlan(context: Session, plan: InfraPlan): void {
  if (context.globals.json) {
    context.output.json({
      schema: 'stagecraft.infra-plan/v1',
      provider: plan.provider,
      project: plan.project,
      environment: plan.environment,
      changes: changingSteps(plan).length,
      steps: plan.steps.map((step) => ({
        id: step.id,
        title: step.title,
        kind: step.action.kind,
        ...(step.note === undefined ? {} : { note: step.note }),
      })),
    });
  } else {
    context.output.result(infraPlanText(plan));
  }
}

/** Waits until TCP port 22 of each address answers (bounded), with progress. */
async function waitReachable(
  context: Session,
  hosts: { name: string; address: string }[],
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    hosts.map(async (host) => {
      for (let attempt = 0; ; attempt += 1) {
        const ok = await new Promise<boolean>((resolve) => {
          const socket = connect({ host: host.address, port: 22, timeout: 5000 });
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('timeout', () => {
            socket.destroy();
            resolve(false);
          });
          socket.once('error', () => resolve(false));
        });
        if (ok) return;
        if (Date.now() > deadline) {
          throw new ExternalError(
            `${host.name} (${host.address}) does not answer on SSH after ${timeoutMs / 1000} s`,
            {
              hint: 'check the droplet in the control panel and the firewall ssh_sources; `stagecraft infra up` again resumes',
            },
          );
        }
        if (attempt % 5 === 0)
          context.output.info(
            context.output.colors.dim(`  … waiting for SSH on ${host.name} (${host.address})`),
          );
        await sleep(2000);
      }
    }),
  );
}

/**
 * `infra up`: refuses before any change when the plan refuses something, confirms deletions, applies,
 * records the hosts, waits for SSH and runs `setup` on them. Returns the plan that was applied.
 */
export async function infraUp(
  context: Session,
  session: InfraSession,
  confirm: (question: string) => Promise<void>,
  options: { setup: boolean } = { setup: true },
): Promise<{ plan: InfraPlan; changed: number }> {
  const { plan, ssh } = await planUpWithSsh(session, context.env);
  printInfraPlan(context, plan);
  const refused = plan.steps.filter((step) => step.action.kind === 'refuse');
  if (refused.length > 0) {
    throw new UserError(
      `infra up refuses to change ${refused.map((step) => step.id.slice('refuse:'.length)).join(', ')}; nothing was changed`,
      {
        details: refused.map((step) => (step.action.kind === 'refuse' ? step.action.reason : '')),
        hint: 'change the config back to what exists, or change the droplet as said above',
      },
    );
  }
  const deletes = plan.steps.filter((step) => step.action.kind === 'delete-machine');
  if (deletes.length > 0) {
    await confirm(
      `Delete ${deletes.length} droplet${deletes.length === 1 ? '' : 's'} of ${session.environment} (${deletes.map((step) => (step.action.kind === 'delete-machine' ? step.action.name : '')).join(', ')})${plan.steps.some((step) => step.action.kind === 'delete-mesh-node') ? ' and their mesh nodes' : ''}?`,
    );
  }
  const changes = changingSteps(plan).length;
  const { wanted } = setupSettings(session.project, session.environment);
  const userData = cloudInitUserData(wanted, session.provider.dockerPackages(session.cloud));
  const hosts = await session.provider.apply(session.cloud, cloudSteps(plan), userData);
  await writeInfraState(session.project.root, {
    schema: 'stagecraft.infra/v1',
    provider: session.provider.id,
    environment: session.environment,
    hosts,
    updated_at: new Date().toISOString(),
  });
  await deleteMeshNodes(context, session, plan);
  context.output.info(
    `hosts of ${session.environment}: ${hosts.map((host) => `${host.name} ${host.address} (${host.role})`).join(', ')}`,
  );
  if (!options.setup) return { plan, changed: changes };
  // With public SSH closed every host is an online peer: wait on its mesh address, as setup connects.
  await waitReachable(
    context,
    ssh.closePublicSsh
      ? hosts.map((host) => {
          const route = ssh.reachedOverMesh.get(host.name);
          return { name: host.name, address: route?.address ?? route?.dnsName ?? host.address };
        })
      : hosts,
  );
  const loaded = await loadEnvironment(context, 'deploy');
  refuseOnSwarm(loaded, 'infra up --setup');
  await runSetup(context, loaded, { dryRun: false, hosts: loaded.model.hosts });
  return { plan, changed: changes };
}

/** How Tailscale's own nodes are removed: Stagecraft does not hold a Tailscale API key. */
export const TAILSCALE_KEEP_REASON =
  "Tailscale's control plane keeps them: remove them in the admin console (Machines → Remove) or with its API (DELETE /api/v2/device/{id}); hosts joined with an ephemeral auth key leave by themselves";

/**
 * The Headscale API key from the variable `api_key_env` names, or undefined when the mesh is not
 * Headscale with api_key_env. Throws a UserError naming the variable when it is unset or empty.
 */
function headscaleApiKey(session: InfraSession, env: Record<string, string | undefined>): Secret | undefined {
  const mesh = session.project.mesh;
  if (mesh?.provider !== 'headscale' || mesh.apiKeyEnv === undefined) return undefined;
  const value = env[mesh.apiKeyEnv]?.trim();
  if (value === undefined || value === '') {
    throw new UserError(
      `${mesh.apiKeyEnv} is not set: infra deletes the destroyed hosts' nodes from Headscale through its API`,
      {
        hint: `export ${mesh.apiKeyEnv}=<API key> (network.providers.headscale.api_key_env; \`headscale apikeys create\`); nothing was deleted`,
      },
    );
  }
  return new Secret(value);
}

/**
 * What the mesh has of hosts whose machines go away: undefined without a mesh; Tailscale, or Headscale
 * without api_key_env: a `keep` with how to remove them by hand; Headscale with an API key: its nodes
 * (read-only GET /api/v1/node). Throws a UserError when api_key_env names an unset variable, an
 * ExternalError when Headscale refuses or cannot be reached.
 */
async function meshNodesOf(
  session: InfraSession,
  env: Record<string, string | undefined>,
): Promise<MeshNodesInput | undefined> {
  const mesh = session.project.mesh;
  if (mesh === undefined) return undefined;
  if (mesh.provider === 'tailscale') return { kind: 'keep', reason: TAILSCALE_KEEP_REASON };
  const apiKey = headscaleApiKey(session, env);
  if (apiKey === undefined || mesh.loginServer === undefined) {
    return {
      kind: 'keep',
      reason:
        'network.providers.headscale has no api_key_env, so Stagecraft cannot delete them: run `headscale nodes delete --identifier <id>` on the server (ids from `headscale nodes list`)',
    };
  }
  const nodes = await listNodes({ server: mesh.loginServer, apiKey });
  return { kind: 'headscale', server: mesh.loginServer, user: mesh.user, nodes };
}

/** The plan without its mesh steps: what the cloud provider applies. */
function cloudSteps(plan: InfraPlan): InfraPlan {
  return { ...plan, steps: plan.steps.filter((step) => !step.action.kind.includes('mesh-node')) };
}

/**
 * Runs the plan's `delete-mesh-node` steps in order through Headscale's API (after the cloud's steps:
 * a node deleted while its droplet still runs would only be offline until then), one progress line
 * each. Throws an ExternalError with the API's message on the first that fails.
 */
async function deleteMeshNodes(context: Session, session: InfraSession, plan: InfraPlan): Promise<void> {
  const actions = plan.steps.flatMap((step) =>
    step.action.kind === 'delete-mesh-node' ? [step.action] : [],
  );
  if (actions.length === 0) return;
  const apiKey = headscaleApiKey(session, context.env)!;
  for (const action of actions) {
    const outcome = await deleteNode({ server: action.server, apiKey, id: action.id, name: action.name });
    context.output.info(
      context.output.colors.dim(
        `  … mesh node ${action.name} (id ${action.id}) ${outcome === 'deleted' ? 'deleted' : 'was already gone'}`,
      ),
    );
  }
}

/** `infra down`: deletes the environment's droplets and firewall (volumes with deleteVolumes), after confirmation. */
export async function infraDown(
  context: Session,
  session: InfraSession,
  options: { deleteVolumes: boolean; dryRun: boolean },
  confirm: (question: string) => Promise<void>,
): Promise<InfraPlan> {
  const { provider, cloud } = session;
  const inventory = await provider.inventory(cloud);
  const desired = provider.desiredHosts(cloud);
  const volumeNames = desired.flatMap((host) =>
    host.volumes.map((volume) => volumeName(cloud.project, session.environment, host.name, volume.name)),
  );
  const mesh = await meshNodesOf(session, context.env);
  const hosts = [
    ...new Set([...inventory.machines.map((machine) => machine.host), ...desired.map((host) => host.name)]),
  ];
  const plan = planInfraDown(
    {
      provider: provider.id,
      project: cloud.project,
      environment: session.environment,
      inventory,
      firewall: undefined,
    },
    options.deleteVolumes,
    volumeNames,
    mesh === undefined ? undefined : { hosts, nodes: mesh },
  );
  printInfraPlan(context, plan);
  if (options.dryRun || changingSteps(plan).length === 0) return plan;
  const nodes = plan.steps.some((step) => step.action.kind === 'delete-mesh-node');
  await confirm(
    `Delete the droplets${options.deleteVolumes ? ', volumes' : ''}${nodes ? ', mesh nodes' : ''} and firewall of ${session.environment}?`,
  );
  await provider.apply(cloud, cloudSteps(plan), '');
  removeInfraState(session.project.root, session.environment);
  await deleteMeshNodes(context, session, plan);
  return plan;
}

export { readInfraState };
