// DigitalOcean: the CloudProvider that reads and changes droplets, volumes and a cloud firewall through
// the API v2 (digitalocean-api.ts). Its config schema is in digitalocean-schema.ts (the registry's
// entry, loaded by every command); this module only by the commands that create hosts.
import { machineName, machineTags } from '../../plan/infra.js';
import { TAILSCALE_DIRECT_PORT } from '../../plan/mesh-ssh.js';
import { ExternalError, UserError } from '../../util/errors.js';
import { Secret } from '../../util/secret.js';
import { sleep } from '../../util/sleep.js';
import { DigitalOceanApi } from './digitalocean-api.js';
import {
  DEFAULT_API_URL,
  DEFAULT_IMAGE,
  type DigitalOceanConfig,
  digitalOceanCloudEntry,
} from './digitalocean-schema.js';
import type {
  CloudContext,
  CloudFirewall,
  CloudHost,
  CloudInventory,
  CloudMachine,
  CloudProvider,
  DesiredHost,
  FirewallRule,
  InfraPlan,
} from './types.js';

interface Droplet {
  id: number;
  name: string;
  status: string;
  size_slug: string;
  region: { slug: string };
  tags: string[];
  networks: { v4: { ip_address: string; type: string }[] };
}

interface Volume {
  id: string;
  name: string;
  size_gigabytes: number;
  region: { slug: string };
  droplet_ids: number[];
}

interface Firewall {
  id: string;
  name: string;
  inbound_rules: { protocol: FirewallRule['protocol']; ports: string; sources: { addresses?: string[] } }[];
  droplet_ids: number[];
}

const ANYWHERE = ['0.0.0.0/0', '::/0'];

function api(context: CloudContext): DigitalOceanApi {
  const config = context.config as DigitalOceanConfig;
  return new DigitalOceanApi({
    baseUrl: config.api_url ?? DEFAULT_API_URL,
    token: context.token,
    onRetry: context.log,
    ...(context.sleep ? { sleep: context.sleep } : {}),
  });
}

function publicAddress(droplet: Droplet): string | undefined {
  return droplet.networks.v4.find((network) => network.type === 'public')?.ip_address;
}

/** The environment's droplets: both the project's and the environment's tag. */
async function environmentDroplets(client: DigitalOceanApi, context: CloudContext): Promise<Droplet[]> {
  const droplets = await client.list<Droplet>(
    `/v2/droplets?tag_name=${encodeURIComponent(`stagecraft-project-${context.project}`)}`,
    'droplets',
  );
  return droplets.filter((droplet) => droplet.tags.includes(`stagecraft-env-${context.environment}`));
}

function asMachine(context: CloudContext, droplet: Droplet): CloudMachine {
  const prefix = machineName(context.project, context.environment, '');
  return {
    id: String(droplet.id),
    host: droplet.name.startsWith(prefix) ? droplet.name.slice(prefix.length) : droplet.name,
    role:
      droplet.tags.find((tag) => tag.startsWith('stagecraft-role-'))?.slice('stagecraft-role-'.length) ?? '',
    size: droplet.size_slug,
    region: droplet.region.slug,
    status: droplet.status,
    address: publicAddress(droplet),
  };
}

function firewallName(context: CloudContext): string {
  return `stagecraft-${context.project}-${context.environment}`;
}

function firewallBody(name: string, inbound: FirewallRule[], dropletIds: number[]) {
  return {
    name,
    inbound_rules: inbound.map((rule) => ({
      protocol: rule.protocol,
      ports: rule.ports,
      sources: { addresses: rule.addresses },
    })),
    outbound_rules: (['tcp', 'udp'] as const)
      .map((protocol) => ({ protocol, ports: 'all', destinations: { addresses: ANYWHERE } }))
      .concat([{ protocol: 'icmp' as never, ports: 'all', destinations: { addresses: ANYWHERE } }]),
    droplet_ids: dropletIds,
  };
}

async function waitActive(client: DigitalOceanApi, context: CloudContext, ids: number[]): Promise<void> {
  const pause = context.sleep ?? sleep;
  const deadline = Date.now() + 10 * 60_000;
  const pending = new Set(ids);
  let interval = 1000;
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const { droplet } = await client.request<{ droplet: Droplet }>('GET', `/v2/droplets/${id}`);
      if (droplet.status === 'active' && publicAddress(droplet) !== undefined) {
        pending.delete(id);
        context.log(`${droplet.name} is active at ${publicAddress(droplet)}`);
      } else {
        context.log(`waiting for ${droplet.name}: ${droplet.status}`);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new ExternalError(`droplets ${[...pending].join(', ')} did not become active in 10 minutes`, {
        hint: 'look at them in the control panel; run `stagecraft infra up` again to resume',
      });
    }
    await pause(interval);
    interval = Math.min(5000, interval * 2);
  }
}

async function waitAction(client: DigitalOceanApi, context: CloudContext, id: number): Promise<void> {
  const pause = context.sleep ?? sleep;
  for (let i = 0; i < 120; i += 1) {
    const { action } = await client.request<{ action: { status: string; type: string } }>(
      'GET',
      `/v2/actions/${id}`,
    );
    if (action.status === 'completed') return;
    if (action.status === 'errored')
      throw new ExternalError(`DigitalOcean action ${id} (${action.type}) failed`);
    await pause(1000);
  }
  throw new ExternalError(`DigitalOcean action ${id} did not complete in 2 minutes`);
}

export const digitalOceanProvider: CloudProvider = {
  id: 'digitalocean',

  token(config, env) {
    const name = (config as DigitalOceanConfig).token_env;
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      throw new UserError(`the DigitalOcean API token is missing: the variable ${name} is not set`, {
        hint: `export ${name}=<a token from the control panel, API → Tokens> (cloud.providers.digitalocean.token_env names the variable)`,
      });
    }
    return new Secret(value.trim());
  },

  dockerPackages(context) {
    const config = context.config as DigitalOceanConfig;
    const image = config.image ?? DEFAULT_IMAGE;
    return /^debian-1[3-9]/.test(image)
      ? ['docker.io', 'docker-cli', 'docker-compose']
      : /^ubuntu-2[5-9]/.test(image)
        ? ['docker.io', 'docker-cli', 'docker-compose-v2']
        : ['docker.io', 'docker-compose-v2'];
  },

  desiredHosts(context) {
    const config = context.config as DigitalOceanConfig;
    return Object.entries(config.hosts[context.environment] ?? {})
      .map(
        ([name, host]): DesiredHost => ({
          name,
          role: host.role,
          size: (host.size ?? config.default_size)!,
          region: (host.region ?? config.default_region)!,
          image: host.image ?? config.image ?? DEFAULT_IMAGE,
          volumes: (host.volumes ?? []).map((volume) => ({ name: volume.name, sizeGb: volume.size_gb })),
        }),
      )
      .sort((a, b) => a.name.localeCompare(b.name));
  },

  async inventory(context) {
    const config = context.config as DigitalOceanConfig;
    const client = api(context);
    const [account, regions, sizes, keys, droplets, volumes, firewalls, total] = await Promise.all([
      client.request<{ account: { droplet_limit: number } }>('GET', '/v2/account'),
      client.list<{ slug: string; available: boolean }>('/v2/regions', 'regions'),
      client.list<{ slug: string; available: boolean }>('/v2/sizes', 'sizes'),
      client.list<{ id: number; name: string }>('/v2/account/keys', 'ssh_keys'),
      environmentDroplets(client, context),
      client.list<Volume>('/v2/volumes', 'volumes'),
      client.list<Firewall>('/v2/firewalls', 'firewalls'),
      client.request<{ meta: { total: number } }>('GET', '/v2/droplets?page=1&per_page=1'),
    ]);
    const key = keys.find((candidate) => candidate.name === config.ssh_key_name);
    const firewall = firewalls.find((candidate) => candidate.name === firewallName(context));
    const prefix = machineName(context.project, context.environment, '');
    const inventory: CloudInventory = {
      machines: droplets
        .map((droplet) => asMachine(context, droplet))
        .sort((a, b) => a.host.localeCompare(b.host)),
      volumes: volumes
        .filter((volume) => volume.name.startsWith(prefix))
        .map((volume) => ({
          id: volume.id,
          name: volume.name,
          sizeGb: volume.size_gigabytes,
          region: volume.region.slug,
          attachedTo: volume.droplet_ids.map(String),
        })),
      firewall:
        firewall === undefined
          ? undefined
          : ({
              id: firewall.id,
              name: firewall.name,
              inbound: firewall.inbound_rules.map((rule) => ({
                protocol: rule.protocol,
                ports: rule.ports,
                addresses: rule.sources.addresses ?? [],
              })),
              machineIds: firewall.droplet_ids.map(String),
            } satisfies CloudFirewall),
      regions: regions
        .filter((region) => region.available)
        .map((region) => region.slug)
        .sort(),
      sizes: sizes
        .filter((size) => size.available)
        .map((size) => size.slug)
        .sort(),
      sshKey: key === undefined ? undefined : { id: String(key.id), name: key.name },
      machinesLeft: Math.max(0, account.account.droplet_limit - total.meta.total),
    };
    return inventory;
  },

  publicSsh(context) {
    return (context.config as DigitalOceanConfig).firewall?.public_ssh === true;
  },

  desiredFirewall(context, options) {
    const config = context.config as DigitalOceanConfig;
    if (config.firewall?.enabled === false) return undefined;
    const ports = [...new Set(options.ports)].sort((a, b) => a - b);
    const gateway = ports.map((port) => ({
      protocol: 'tcp' as const,
      ports: String(port),
      addresses: ANYWHERE,
    }));
    if (options.sshOverMesh === true && config.firewall?.public_ssh !== true) {
      return {
        name: firewallName(context),
        inbound: [...gateway, { protocol: 'udp', ports: String(TAILSCALE_DIRECT_PORT), addresses: ANYWHERE }],
      };
    }
    const sources = config.firewall?.ssh_sources ?? options.sshSources;
    if (sources.length === 0) {
      throw new UserError(
        'cloud.providers.digitalocean.firewall.ssh_sources: the cloud firewall needs the addresses SSH may come from',
        {
          hint: 'set it to your public address, e.g. [203.0.113.7/32] (`curl -s https://ifconfig.me` shows it), or firewall.enabled: false',
        },
      );
    }
    return {
      name: firewallName(context),
      inbound: [{ protocol: 'tcp', ports: '22', addresses: sources }, ...gateway],
    };
  },

  async apply(context, plan: InfraPlan, userData) {
    const client = api(context);
    const config = context.config as DigitalOceanConfig;
    const keys = await client.list<{ id: number; name: string }>('/v2/account/keys', 'ssh_keys');
    const key = keys.find((candidate) => candidate.name === config.ssh_key_name);
    const waitFor: number[] = [];
    const dropletOf = new Map<string, number>();
    const kept = new Set(
      plan.steps.flatMap((step) => (step.action.kind === 'keep-machine' ? [step.action.host] : [])),
    );
    for (const droplet of await environmentDroplets(client, context)) {
      const machine = asMachine(context, droplet);
      dropletOf.set(machine.host, droplet.id);
      // A droplet an interrupted `up` created and did not see become active.
      if (kept.has(machine.host) && droplet.status !== 'active') waitFor.push(droplet.id);
    }
    for (const step of plan.steps) {
      const { action } = step;
      if (action.kind === 'create-machine') {
        context.log(step.title);
        const { droplet } = await client.request<{ droplet: Droplet }>('POST', '/v2/droplets', {
          name: action.name,
          region: action.host.region,
          size: action.host.size,
          image: action.host.image,
          ssh_keys: key ? [key.id] : [],
          tags: action.tags,
          user_data: userData,
          monitoring: true,
        });
        dropletOf.set(action.host.name, droplet.id);
        waitFor.push(droplet.id);
      } else if (action.kind === 'delete-machine') {
        context.log(step.title);
        await client.request('DELETE', `/v2/droplets/${action.id}`);
        dropletOf.delete(action.host);
      }
    }
    if (waitFor.length > 0) await waitActive(client, context, waitFor);
    const volumes = await client.list<Volume>('/v2/volumes', 'volumes');
    for (const step of plan.steps) {
      const { action } = step;
      if (action.kind === 'create-volume') {
        context.log(step.title);
        const { volume } = await client.request<{ volume: Volume }>('POST', '/v2/volumes', {
          name: action.name,
          size_gigabytes: action.sizeGb,
          region: action.region,
          filesystem_type: 'ext4',
          tags: machineTags(context.project, context.environment, 'volume').slice(0, 3),
        });
        volumes.push(volume);
      } else if (action.kind === 'attach-volume') {
        const volume = volumes.find((candidate) => candidate.name === action.name)!;
        const dropletId = dropletOf.get(action.host)!;
        if (volume.droplet_ids.includes(dropletId)) continue;
        context.log(step.title);
        const { action: started } = await client.request<{ action: { id: number } }>(
          'POST',
          `/v2/volumes/${volume.id}/actions`,
          { type: 'attach', droplet_id: dropletId, region: volume.region.slug },
        );
        await waitAction(client, context, started.id);
      } else if (action.kind === 'delete-volume') {
        context.log(step.title);
        await client.request('DELETE', `/v2/volumes/${action.id}`);
      }
    }
    const ids = [...dropletOf.values()].sort((a, b) => a - b);
    const firewall = plan.steps.find((step) => step.action.kind === 'firewall');
    if (firewall !== undefined && firewall.action.kind === 'firewall') {
      const existing = (await client.list<Firewall>('/v2/firewalls', 'firewalls')).find(
        (candidate) => candidate.name === firewallName(context),
      );
      const { change, name, inbound } = firewall.action;
      if (change === 'delete') {
        if (existing) {
          context.log(firewall.title);
          await client.request('DELETE', `/v2/firewalls/${existing.id}`);
        }
      } else if (existing === undefined) {
        context.log(firewall.title);
        await client.request('POST', '/v2/firewalls', firewallBody(name, inbound, ids));
      } else if (
        change === 'update' ||
        [...existing.droplet_ids].sort((a, b) => a - b).join(',') !== ids.join(',')
      ) {
        context.log(`update cloud firewall ${name}`);
        await client.request('PUT', `/v2/firewalls/${existing.id}`, firewallBody(name, inbound, ids));
      }
    }
    const hosts: CloudHost[] = (await environmentDroplets(client, context)).map((droplet) => {
      const machine = asMachine(context, droplet);
      return { name: machine.host, role: machine.role, id: machine.id, address: machine.address ?? '' };
    });
    return hosts.sort((a, b) => a.name.localeCompare(b.name));
  },
};

export const digitalOceanCloud = { ...digitalOceanCloudEntry, cloud: digitalOceanProvider };
