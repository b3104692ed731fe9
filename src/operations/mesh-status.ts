// `stagecraft mesh status` and the mesh section of `stagecraft status`: each host's mesh state as its
// Tailscale client reports it (`tailscale status --json`: backend state, mesh IP, MagicDNS name, tags,
// online) beside what the config wants (tailnet, name, tags), and whether the two agree. Read-only.
import type { HostModel } from '../model/environment.js';
import { type MeshModel, magicDnsName } from '../model/mesh.js';
import { tailnetOf } from '../plan/host-facts.js';
import { formatTable } from '../render/table.js';
import type { Runner } from '../runners/types.js';
import type { LoadedEnvironment } from './environment.js';
import { type HostRunners, oneLine } from './fleet.js';
import { readTailscale, type TailscaleAnswer } from './mesh.js';

/** What the config wants of a host on the mesh. */
export interface MeshWantedHost {
  /** MagicDNS suffix, e.g. "acme.ts.net". */
  tailnet: string;
  /** `<host>.<tailnet>`. */
  dnsName: string;
  tags: string[];
}

/** One host's mesh state, as its Tailscale client reports it, beside what the config wants. */
export interface MeshHostState {
  /** `tailscale version` (x.y.z); undefined when the client is not installed. */
  version: string | undefined;
  /** `BackendState` ("Running", "NeedsLogin", "Stopped", …); undefined when status printed nothing. */
  backendState: string | undefined;
  /** The host's first mesh address (Self.TailscaleIPs[0], 100.64.0.0/10). */
  address: string | undefined;
  /** Self.DNSName without the trailing dot, e.g. "h1.acme.ts.net". */
  dnsName: string | undefined;
  /** The tailnet's MagicDNS suffix the host is on. */
  tailnet: string | undefined;
  tags: string[];
  /** Self.Online: the node is connected to its control plane. */
  online: boolean | undefined;
  wanted: MeshWantedHost;
  /** Each way the host differs from the config, e.g. "tags tag:web, config wants tag:db"; empty: agrees. */
  differences: string[];
}

/** A host of `mesh status`: its state, or why it could not be read. */
export interface MeshHostStatus {
  name: string;
  roles: string[];
  reachable: boolean;
  error?: string;
  /** Undefined when the host could not be read. */
  mesh: MeshHostState | undefined;
}

export interface MeshStatusReport {
  project: string;
  environment: string;
  provider: MeshModel['provider'];
  tailnet: string;
  hosts: MeshHostStatus[];
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');
}

function tagNames(tags: string[]): string {
  return tags.length === 0 ? 'none' : tags.join(', ');
}

/**
 * Compares what a host's client answered with what the config wants for `host`. Pure: the differences
 * are phrased for people ("not joined (tailscale is NeedsLogin)", "on other.ts.net, config wants
 * acme.ts.net", "MagicDNS name h1-1.acme.ts.net, config wants h1.acme.ts.net", "tags tag:web, config wants tag:db",
 * "offline").
 */
export function compareMesh(answer: TailscaleAnswer, wanted: MeshWantedHost): MeshHostState {
  const { version, status } = answer;
  const running = status?.BackendState === 'Running';
  const self = running ? status?.Self : undefined;
  const tailnet = running && status !== undefined ? tailnetOf(status) || undefined : undefined;
  const dnsName =
    (self?.DNSName ?? '').replace(/\.+$/, '') ||
    (self?.HostName && tailnet ? magicDnsName(self.HostName, tailnet) : undefined);
  const tags = self?.Tags ?? [];
  const state: MeshHostState = {
    version,
    backendState: status?.BackendState,
    address: self?.TailscaleIPs?.[0],
    dnsName,
    tailnet,
    tags,
    online: self?.Online,
    wanted,
    differences: [],
  };
  if (version === undefined) {
    state.differences.push('tailscale is not installed');
    return state;
  }
  if (!running) {
    state.differences.push(`not joined (tailscale is ${status?.BackendState ?? 'not answering'})`);
    return state;
  }
  if (tailnet !== wanted.tailnet)
    state.differences.push(`on ${tailnet ?? 'an unknown tailnet'}, config wants ${wanted.tailnet}`);
  else if (dnsName !== wanted.dnsName)
    state.differences.push(`MagicDNS name ${dnsName ?? 'none'}, config wants ${wanted.dnsName}`);
  if (!sameSet(tags, wanted.tags))
    state.differences.push(`tags ${tagNames(tags)}, config wants ${tagNames(wanted.tags)}`);
  if (self?.Online === false) state.differences.push('offline');
  return state;
}

/** What the config wants of `host` on `mesh`. */
export function meshWantedHost(host: HostModel, mesh: Pick<MeshModel, 'tailnetDomain'>): MeshWantedHost {
  return {
    tailnet: mesh.tailnetDomain,
    dnsName: host.mesh?.name ?? magicDnsName(host.name, mesh.tailnetDomain),
    tags: host.mesh?.tags ?? [],
  };
}

/**
 * Reads one host's mesh state over `runner` (one round trip). Throws only when the host cannot be
 * reached (the runner's error).
 */
export async function hostMeshState(
  runner: Runner,
  host: HostModel,
  mesh: Pick<MeshModel, 'tailnetDomain'>,
): Promise<MeshHostState> {
  return compareMesh(await readTailscale(runner), meshWantedHost(host, mesh));
}

/**
 * Every host's mesh state, read in parallel; a host that cannot be read is reported (reachable
 * false, its error), never thrown. `env.model.mesh` must be set.
 */
export async function collectMeshStatus(
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
): Promise<MeshStatusReport> {
  const { model } = env;
  const mesh = model.mesh!;
  const results = await Promise.all(
    hosts.map(async (host): Promise<MeshHostStatus> => {
      try {
        const state = await hostMeshState(runners.get(host.name), host, mesh);
        return { name: host.name, roles: host.roles, reachable: true, mesh: state };
      } catch (error) {
        return {
          name: host.name,
          roles: host.roles,
          reachable: false,
          error: oneLine(error),
          mesh: undefined,
        };
      }
    }),
  );
  return {
    project: model.project,
    environment: model.environment,
    provider: mesh.provider,
    tailnet: mesh.tailnetDomain,
    hosts: results,
  };
}

/** What the table and the problem lines need of a host (a MeshHostStatus or a `status` HostStatus). */
export interface MeshRowHost {
  name: string;
  reachable: boolean;
  error?: string | undefined;
  mesh?: MeshHostState | undefined;
}

/** The table rows (header first) of hosts' mesh states: HOST STATE MESH-IP MAGICDNS-NAME TAGS ONLINE CONFIG. */
export function meshRows(hosts: MeshRowHost[]): string[][] {
  const rows = [['HOST', 'STATE', 'MESH IP', 'MAGICDNS NAME', 'TAGS', 'ONLINE', 'CONFIG']];
  for (const host of hosts) {
    const state = host.mesh;
    if (!host.reachable || state === undefined) {
      rows.push([host.name, 'unreachable', '-', '-', '-', '-', '-']);
      continue;
    }
    rows.push([
      host.name,
      state.version === undefined ? 'not installed' : (state.backendState ?? 'no answer'),
      state.address ?? '-',
      state.dnsName ?? '-',
      state.tags.length === 0 ? '-' : state.tags.join(','),
      state.online === undefined ? '-' : state.online ? 'yes' : 'no',
      state.differences.length === 0 ? 'agrees' : 'differs',
    ]);
  }
  return rows;
}

/** One line per host that differs from the config or could not be read: "h2: not joined …; config wants …". */
export function meshProblemLines(hosts: MeshRowHost[]): string[] {
  return hosts.flatMap((host) => {
    if (!host.reachable || host.mesh === undefined)
      return [`${host.name}: ${host.error ?? 'could not be read'}`];
    const state = host.mesh;
    if (state.differences.length === 0) return [];
    const wants =
      state.backendState === 'Running'
        ? ''
        : `; config wants ${state.wanted.dnsName} with tags ${tagNames(state.wanted.tags)} (stagecraft setup)`;
    return [`${host.name}: ${state.differences.join('; ')}${wants}`];
  });
}

/** The human text of `stagecraft mesh status`. Pure. */
export function renderMeshStatus(report: MeshStatusReport): string {
  const agree = report.hosts.filter((host) => host.mesh?.differences.length === 0).length;
  return [
    `${report.project} ${report.environment}: mesh ${report.provider}, tailnet ${report.tailnet}`,
    '',
    formatTable(meshRows(report.hosts)),
    '',
    `${agree}/${report.hosts.length} host${report.hosts.length === 1 ? '' : 's'} agree with the config`,
    ...meshProblemLines(report.hosts),
  ].join('\n');
}

/** A host's mesh state in `--json` (snake_case, nulls), shared by `mesh status` and `status`. */
export function meshStateJson(state: MeshHostState | undefined): unknown {
  if (state === undefined) return null;
  return {
    version: state.version ?? null,
    backend_state: state.backendState ?? null,
    mesh_ip: state.address ?? null,
    magicdns_name: state.dnsName ?? null,
    tailnet: state.tailnet ?? null,
    tags: state.tags,
    online: state.online ?? null,
    wanted: { tailnet: state.wanted.tailnet, magicdns_name: state.wanted.dnsName, tags: state.wanted.tags },
    agrees: state.differences.length === 0,
    differences: state.differences,
  };
}

/** The `--json` document of `stagecraft mesh status` (stable schema: snake_case keys, nulls). */
export function meshStatusJson(report: MeshStatusReport): unknown {
  return {
    project: report.project,
    environment: report.environment,
    provider: report.provider,
    tailnet: report.tailnet,
    hosts: report.hosts.map((host) => ({
      name: host.name,
      roles: host.roles,
      reachable: host.reachable,
      error: host.error ?? null,
      mesh: meshStateJson(host.mesh),
    })),
    summary: {
      hosts: report.hosts.length,
      agree: report.hosts.filter((host) => host.mesh?.differences.length === 0).length,
      unreachable: report.hosts.filter((host) => !host.reachable).length,
    },
  };
}
