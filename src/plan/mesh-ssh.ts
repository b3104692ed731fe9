// Whether the cloud firewall may close SSH to the public: only when this machine (the operator's) can
// reach every host of the environment over the mesh, as its own `tailscale status --json` says. Pure:
// the status is read by the operations layer (operations/mesh.ts) and passed in.
import { type MeshModel, magicDnsName, meshTags } from '../model/mesh.js';
import { type TailscalePeer, type TailscaleStatus, tailnetOf } from './host-facts.js';

/** A host as the mesh names it: `dnsName` is `<host>.<tailnet_domain>`, `tags` what setup joins it with. */
export interface MeshHost {
  name: string;
  dnsName: string;
  tags: string[];
}

/** How this machine reaches a host over the mesh. */
export interface MeshRoute {
  /** The host's MagicDNS name, e.g. "web-1.acme.ts.net". */
  dnsName: string;
  /** Its first mesh address (TailscaleIPs[0], 100.64.0.0/10); undefined when the status gives none. */
  address: string | undefined;
}

/** This machine's `tailscale status --json`, or why there is none. */
export type LocalMeshStatus =
  | { status: TailscaleStatus }
  /** e.g. "tailscale is not installed on this machine", "tailscale status printed no JSON". */
  | { status: undefined; problem: string };

export interface MeshSshInput {
  /** The environment's mesh; undefined when network.provider is none. */
  mesh: Pick<MeshModel, 'tailnetDomain'> | undefined;
  /** Every host the firewall covers. */
  hosts: MeshHost[];
  local: LocalMeshStatus;
  /** The provider's escape hatch (firewall.public_ssh: true): SSH stays open whatever the mesh. */
  publicSsh: boolean;
}

export interface MeshSshDecision {
  /** True: the firewall drops tcp/22 and opens udp/41641 (Tailscale's direct connections) instead. */
  closePublicSsh: boolean;
  /** Host name → route, for each host that is an online peer of this machine's tailnet. */
  reachedOverMesh: Map<string, MeshRoute>;
  /** Why tcp/22 stays open and what to do about it; only when a mesh is configured and it stays open. */
  note?: string;
}

/** Tailscale's default UDP port for direct (peer-to-peer) WireGuard connections; without it peers relay through DERP. */
export const TAILSCALE_DIRECT_PORT = 41641;

const AGAIN = '`stagecraft infra up` again closes public SSH';

/** The hosts of an environment as the mesh names them (roles → tags as setup advertises them). */
export function meshHosts(
  mesh: Pick<MeshModel, 'tailnetDomain' | 'defaultTags' | 'roleTags'>,
  hosts: { name: string; roles: string[] }[],
): MeshHost[] {
  return hosts.map((host) => ({
    name: host.name,
    dnsName: magicDnsName(host.name, mesh.tailnetDomain),
    tags: meshTags(mesh, host.roles),
  }));
}

function dnsOf(name: string | undefined): string {
  return (name ?? '').replace(/\.+$/, '').toLowerCase();
}

/**
 * The peer that is `host`: its DNSName is the host's MagicDNS name, or (a peer without a DNSName) its
 * HostName is the host's name. A peer named "web-1-1" (Tailscale's rename of a second "web-1") is not it.
 */
function peerOf(status: TailscaleStatus, host: MeshHost): TailscalePeer | undefined {
  const peers = Object.values(status.Peer ?? {});
  return (
    peers.find((peer) => dnsOf(peer.DNSName) === dnsOf(host.dnsName)) ??
    peers.find((peer) => dnsOf(peer.DNSName) === '' && dnsOf(peer.HostName) === host.name.toLowerCase())
  );
}

/**
 * Why `host` is not reached over the mesh ("web-2 is not a peer of this machine's tailnet", "web-1
 * (web-1.acme.ts.net) is offline", "web-1.acme.ts.net lacks web-1's tags tag:web (it has none)"), or
 * its route. A peer without the tags setup gives the host may be another machine under its name.
 */
function routeOf(status: TailscaleStatus, host: MeshHost): MeshRoute | string {
  const peer = peerOf(status, host);
  if (peer === undefined) return `${host.name} is not a peer of this machine's tailnet`;
  const tags = peer.Tags ?? [];
  const missing = host.tags.filter((tag) => !tags.includes(tag));
  if (missing.length > 0) {
    return `${host.dnsName} lacks ${host.name}'s tags ${host.tags.join(', ')} (it has ${tags.length === 0 ? 'none' : tags.join(', ')})`;
  }
  if (peer.Online !== true) return `${host.name} (${host.dnsName}) is offline`;
  return { dnsName: dnsOf(peer.DNSName) || host.dnsName, address: peer.TailscaleIPs?.[0] };
}

/**
 * The hosts this machine reaches over the mesh: those that are online peers of its tailnet under their
 * MagicDNS name with the tags setup gives them, plus, for the others, why not (in host order). When
 * this machine is not running on `tailnetDomain`: no routes, and `unreached` lists every host's name.
 */
export function reachedOverMesh(
  local: LocalMeshStatus,
  tailnetDomain: string,
  hosts: MeshHost[],
): { routes: Map<string, MeshRoute>; unreached: string[] } {
  const routes = new Map<string, MeshRoute>();
  const unreached: string[] = [];
  const { status } = local;
  if (status === undefined || status.BackendState !== 'Running' || tailnetOf(status) !== tailnetDomain)
    return { routes, unreached: hosts.map((host) => host.name) };
  for (const host of hosts) {
    const route = routeOf(status, host);
    if (typeof route === 'string') unreached.push(route);
    else routes.set(host.name, route);
  }
  return { routes, unreached };
}

/** Why this machine is not on `tailnetDomain`, from its status. */
function offTailnet(local: LocalMeshStatus, tailnetDomain: string): string | undefined {
  if (local.status === undefined) return local.problem;
  if (local.status.BackendState !== 'Running') return `tailscale is ${local.status.BackendState}`;
  const tailnet = tailnetOf(local.status);
  if (tailnet !== tailnetDomain) return `it is on ${tailnet || 'a tailnet without MagicDNS'}`;
  return undefined;
}

/**
 * Decides whether the cloud firewall may close SSH (tcp/22) to the public. It closes only when the
 * environment has a mesh, `publicSsh` is false, and every one of `hosts` (at least one) is an online
 * peer of this machine's tailnet (`tailnet_domain`) under its MagicDNS name with its tags. Otherwise
 * SSH stays open, with a note naming the reason and the fix when a mesh is configured (no note without
 * a mesh or with public_ssh: those are the config's own choice).
 */
export function meshSsh(input: MeshSshInput): MeshSshDecision {
  const { mesh, hosts, local } = input;
  if (mesh === undefined) return { closePublicSsh: false, reachedOverMesh: new Map() };
  const { routes, unreached } = reachedOverMesh(local, mesh.tailnetDomain, hosts);
  if (input.publicSsh || hosts.length === 0) return { closePublicSsh: false, reachedOverMesh: routes };
  const away = offTailnet(local, mesh.tailnetDomain);
  if (away !== undefined) {
    return {
      closePublicSsh: false,
      reachedOverMesh: routes,
      note: `SSH stays open to ssh_sources: this machine is not on the tailnet ${mesh.tailnetDomain} (${away}); join it (\`tailscale up\`), then ${AGAIN}`,
    };
  }
  if (unreached.length > 0) {
    return {
      closePublicSsh: false,
      reachedOverMesh: routes,
      note: `SSH stays open to ssh_sources: ${unreached.join('; ')}; once every host is an online peer (\`stagecraft setup\` joins them), ${AGAIN}`,
    };
  }
  return { closePublicSsh: true, reachedOverMesh: routes };
}
