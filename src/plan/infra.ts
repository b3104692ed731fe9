// `stagecraft infra plan|up|down` as a pure planner: desired hosts + what the account has → create /
// keep / refuse / delete steps. Every check against the account's lists happens here, so a bad region,
// size, key or a full account is an error before anything is created. No I/O.
import type {
  CloudInventory,
  DesiredHost,
  FirewallRule,
  InfraPlan,
  InfraStep,
} from '../providers/cloud/types.js';
import type { HeadscaleNode } from '../providers/network/headscale-api.js';
import { didYouMean } from '../util/did-you-mean.js';
import { UserError } from '../util/errors.js';

export interface InfraPlanInput {
  provider: string;
  project: string;
  environment: string;
  desired: DesiredHost[];
  inventory: CloudInventory;
  firewall: { name: string; inbound: FirewallRule[] } | undefined;
  /** Said under the firewall step, e.g. why public SSH stays open (plan/mesh-ssh.ts). */
  firewallNote?: string | undefined;
  sshKeyName: string;
  /** Config path of the provider's section, for messages (e.g. cloud.providers.digitalocean). */
  configPath: string;
}

/** The tags every machine of the environment carries: what finds them again. */
export function machineTags(project: string, environment: string, role: string): string[] {
  return [
    'stagecraft',
    `stagecraft-project-${project}`,
    `stagecraft-env-${environment}`,
    `stagecraft-role-${role}`,
  ];
}

/** Machine name in the account: `<project>-<env>-<host>` (unique across projects and environments). */
export function machineName(project: string, environment: string, host: string): string {
  return `${project}-${environment}-${host}`.replace(/_/g, '-');
}

export function volumeName(project: string, environment: string, host: string, volume: string): string {
  return `${project}-${environment}-${host}-${volume}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

function sameRules(a: FirewallRule[], b: FirewallRule[]): boolean {
  const key = (rules: FirewallRule[]) =>
    JSON.stringify(
      rules
        .map((rule) => ({ ...rule, addresses: [...rule.addresses].sort() }))
        .sort((x, y) => (x.ports < y.ports ? -1 : 1)),
    );
  return key(a) === key(b);
}

/**
 * The plan for `up`. Throws one UserError listing every problem (unknown region or size, missing SSH
 * key, not enough room under the account's machine limit) before any step exists.
 */
export function planInfraUp(input: InfraPlanInput): InfraPlan {
  const { desired, inventory, project, environment, configPath } = input;
  const problems: string[] = [];
  if (inventory.sshKey === undefined) {
    problems.push(
      `${configPath}.ssh_key_name: the account has no SSH key named "${input.sshKeyName}"; add your public key in the control panel (Settings → Security) under that name, or fix the name`,
    );
  }
  for (const host of desired) {
    if (!inventory.regions.includes(host.region)) {
      const close = didYouMean(host.region, inventory.regions);
      problems.push(
        `${configPath}.hosts.${environment}.${host.name}.region: "${host.region}" is not a region the account can use${close ? ` (did you mean "${close}"?)` : ''}; regions: ${inventory.regions.join(', ')}`,
      );
    }
    if (!inventory.sizes.includes(host.size)) {
      const close = didYouMean(host.size, inventory.sizes);
      problems.push(
        `${configPath}.hosts.${environment}.${host.name}.size: "${host.size}" is not a size the account can use${close ? ` (did you mean "${close}"?)` : ''}`,
      );
    }
  }
  const steps: InfraStep[] = [];
  const existing = new Map(inventory.machines.map((machine) => [machine.host, machine]));
  const creates = desired.filter((host) => !existing.has(host.name));
  if (creates.length > inventory.machinesLeft) {
    problems.push(
      `the account may create ${inventory.machinesLeft} more droplet${inventory.machinesLeft === 1 ? '' : 's'} (its droplet limit), and ${environment} needs ${creates.length}: ask DigitalOcean to raise the limit, or remove hosts from ${configPath}.hosts.${environment}`,
    );
  }
  if (problems.length > 0) {
    throw new UserError(
      `infra: ${environment} cannot be created as configured (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
      {
        details: problems,
        hint: 'nothing was created; fix stagecraft.yml or the account, then run `stagecraft infra plan` again',
      },
    );
  }

  for (const host of desired) {
    const machine = existing.get(host.name);
    const name = machineName(project, environment, host.name);
    if (machine === undefined) {
      steps.push({
        id: `create:${host.name}`,
        title: `create droplet ${name} (${host.size}, ${host.region}, ${host.image}, role ${host.role})`,
        action: { kind: 'create-machine', host, name, tags: machineTags(project, environment, host.role) },
      });
    } else if (machine.size !== host.size || machine.region !== host.region) {
      steps.push({
        id: `refuse:${host.name}`,
        title: `keep droplet ${name} as it is: it is ${machine.size} in ${machine.region}, the config says ${host.size} in ${host.region}`,
        action: {
          kind: 'refuse',
          host: host.name,
          reason: `${name} is ${machine.size} in ${machine.region}; resizing or moving a droplet is refused (it powers the droplet off): resize it in the control panel, or remove it from the config, run infra up (which deletes it) and add it back`,
        },
      });
    } else {
      steps.push({
        id: `keep:${host.name}`,
        title: `keep droplet ${name} (${machine.size}, ${machine.region}, ${machine.status}${machine.address ? `, ${machine.address}` : ''})`,
        action: { kind: 'keep-machine', host: host.name, id: machine.id },
      });
    }
    for (const volume of host.volumes) {
      const vname = volumeName(project, environment, host.name, volume.name);
      const found = inventory.volumes.find(
        (candidate) => candidate.name === vname && candidate.region === host.region,
      );
      if (found === undefined) {
        steps.push({
          id: `volume:${host.name}:${volume.name}`,
          title: `create volume ${vname} (${volume.sizeGb} GiB, ${host.region})`,
          action: {
            kind: 'create-volume',
            host: host.name,
            name: vname,
            sizeGb: volume.sizeGb,
            region: host.region,
          },
        });
      }
      if (found === undefined || machine === undefined || !found.attachedTo.includes(machine.id)) {
        steps.push({
          id: `attach:${host.name}:${volume.name}`,
          title: `attach volume ${vname} to ${name}`,
          action: { kind: 'attach-volume', host: host.name, name: vname },
        });
      } else {
        steps.push({
          id: `keep-volume:${host.name}:${volume.name}`,
          title: `keep volume ${vname} (${found.sizeGb} GiB, attached)`,
          action: { kind: 'keep-volume', host: host.name, name: vname, id: found.id },
        });
      }
    }
  }
  const wanted = new Set(desired.map((host) => host.name));
  for (const machine of inventory.machines) {
    if (wanted.has(machine.host)) continue;
    const name = machineName(project, environment, machine.host);
    steps.push({
      id: `delete:${machine.host}`,
      title: `delete droplet ${name} (no longer in ${configPath}.hosts.${environment}; its volumes are kept)`,
      action: { kind: 'delete-machine', host: machine.host, id: machine.id, name },
    });
  }
  if (input.firewall !== undefined) {
    const current = inventory.firewall;
    const change =
      current === undefined
        ? 'create'
        : sameRules(current.inbound, input.firewall.inbound)
          ? 'keep'
          : 'update';
    const rules = input.firewall.inbound
      .map((rule) => `${rule.protocol}/${rule.ports} from ${rule.addresses.join(' ')}`)
      .join('; ');
    steps.push({
      id: 'firewall',
      title: `${change} cloud firewall ${input.firewall.name}: ${rules}`,
      action: { kind: 'firewall', change, name: input.firewall.name, inbound: input.firewall.inbound },
      ...(input.firewallNote === undefined ? {} : { note: input.firewallNote }),
    });
  }
  return { kind: 'infra', provider: input.provider, project, environment, steps };
}

/** What the mesh has of the hosts `infra down` destroys, read before planning (plan/ does no I/O). */
export type MeshNodesInput =
  | {
      /** Headscale with an API key: its nodes (GET /api/v1/node); `user` limits them to that user's. */
      kind: 'headscale';
      server: string;
      user: string | undefined;
      nodes: HeadscaleNode[];
    }
  | {
      /** Nodes Stagecraft cannot delete: Tailscale's control plane, or Headscale without api_key_env. */
      kind: 'keep';
      reason: string;
    };

/**
 * The mesh steps for hosts whose machines go away: with Headscale, one `delete-mesh-node` per node whose
 * name or MagicDNS label (givenName) is one of `hosts` (and of `user`, when given), in host order; with
 * `keep`, one informational step naming the hosts. Nothing when no node matches: running again after
 * the nodes were deleted plans nothing (idempotent).
 */
export function meshNodeSteps(hosts: string[], mesh: MeshNodesInput | undefined): InfraStep[] {
  if (mesh === undefined || hosts.length === 0) return [];
  if (mesh.kind === 'keep') {
    return [
      {
        id: 'keep-mesh-nodes',
        title: `keep the mesh nodes of ${hosts.join(', ')}: ${mesh.reason}`,
        action: { kind: 'keep-mesh-nodes', hosts, reason: mesh.reason },
      },
    ];
  }
  const ofUser = (node: HeadscaleNode) =>
    mesh.user === undefined ||
    node.user === undefined ||
    node.user.name === mesh.user ||
    node.user.id === mesh.user;
  return hosts.flatMap((host) =>
    mesh.nodes
      .filter((node) => (node.name === host || node.givenName === host) && ofUser(node))
      .map((node) => ({
        id: `delete-mesh-node:${host}:${node.id}`,
        title: `delete mesh node ${node.givenName || node.name} (id ${node.id}${node.ipAddresses[0] ? `, ${node.ipAddresses[0]}` : ''}) from Headscale at ${new URL(mesh.server).origin}`,
        action: {
          kind: 'delete-mesh-node' as const,
          host,
          id: node.id,
          name: node.givenName || node.name,
          server: mesh.server,
        },
      })),
  );
}

/**
 * The plan for `down`: delete the environment's machines and firewall; volumes only when asked; then
 * the mesh nodes of `hosts` (the environment's hosts, config and account together: a second run after
 * the machines are gone still deletes nodes that are left).
 */
export function planInfraDown(
  input: Pick<InfraPlanInput, 'provider' | 'project' | 'environment' | 'inventory' | 'firewall'>,
  deleteVolumes: boolean,
  volumeNames: string[],
  mesh?: { hosts: string[]; nodes: MeshNodesInput | undefined },
): InfraPlan {
  const { inventory, project, environment } = input;
  const steps: InfraStep[] = inventory.machines.map((machine) => {
    const name = machineName(project, environment, machine.host);
    return {
      id: `delete:${machine.host}`,
      title: `delete droplet ${name} (${machine.address ?? 'no address'})`,
      action: { kind: 'delete-machine', host: machine.host, id: machine.id, name },
    };
  });
  if (inventory.firewall !== undefined) {
    steps.push({
      id: 'firewall',
      title: `delete cloud firewall ${inventory.firewall.name}`,
      action: { kind: 'firewall', change: 'delete', name: inventory.firewall.name, inbound: [] },
    });
  }
  for (const volume of inventory.volumes.filter((candidate) => volumeNames.includes(candidate.name))) {
    steps.push(
      deleteVolumes
        ? {
            id: `delete-volume:${volume.name}`,
            title: `delete volume ${volume.name} (${volume.sizeGb} GiB) and its data`,
            action: { kind: 'delete-volume', name: volume.name, id: volume.id },
          }
        : {
            id: `keep-volume:${volume.name}`,
            title: `keep volume ${volume.name} (${volume.sizeGb} GiB; --delete-volumes deletes it)`,
            action: { kind: 'keep-volume', host: '', name: volume.name, id: volume.id },
          },
    );
  }
  if (mesh !== undefined) steps.push(...meshNodeSteps(mesh.hosts, mesh.nodes));
  return { kind: 'infra', provider: input.provider, project, environment, steps };
}

/** Steps that change something (what `up` runs; keep steps only inform). */
export function changingSteps(plan: InfraPlan): InfraStep[] {
  return plan.steps.filter(
    (step) =>
      step.action.kind !== 'keep-machine' &&
      step.action.kind !== 'keep-volume' &&
      step.action.kind !== 'keep-mesh-nodes' &&
      !(step.action.kind === 'firewall' && step.action.change === 'keep'),
  );
}

/**
 * The plan as text: one line per step, `+` create, `~` update, `-` delete, `=` keep, `!` refused; a
 * step's note on the next line, indented under it (`    note: …`).
 */
export function infraPlanText(plan: InfraPlan): string {
  const sign = (step: InfraStep) => {
    const { action } = step;
    if (action.kind === 'refuse') return '!';
    if (
      action.kind === 'delete-machine' ||
      action.kind === 'delete-volume' ||
      action.kind === 'delete-mesh-node'
    )
      return '-';
    if (action.kind === 'keep-machine' || action.kind === 'keep-volume' || action.kind === 'keep-mesh-nodes')
      return '=';
    if (action.kind === 'firewall')
      return { create: '+', update: '~', keep: '=', delete: '-' }[action.change];
    return '+';
  };
  const changes = changingSteps(plan).length;
  const lines = [
    `infra ${plan.environment} (${plan.provider}, project ${plan.project}): ${changes === 0 ? 'no changes' : `${changes} change${changes === 1 ? '' : 's'}`}`,
    ...plan.steps.flatMap((step) => [
      `  ${sign(step)} ${step.title}`,
      ...(step.note === undefined ? [] : [`    note: ${step.note}`]),
    ]),
  ];
  return `${lines.join('\n')}\n`;
}
