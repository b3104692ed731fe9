// Whether `infra` may close public SSH: this machine's `tailscale status --json` against the
// environment's hosts (plan/mesh-ssh.ts), the firewall DigitalOcean then wants, the note on the plan,
// and how the status is read on this machine (operations/mesh.ts).
import { describe, expect, it } from 'vitest';
import type { HostModel } from '../../src/model/environment.js';
import { hostsReachedOverMesh, localMeshStatus } from '../../src/operations/mesh.js';
import type { TailscalePeer, TailscaleStatus } from '../../src/plan/host-facts.js';
import { infraPlanText, planInfraUp } from '../../src/plan/infra.js';
import { type LocalMeshStatus, type MeshHost, meshHosts, meshSsh } from '../../src/plan/mesh-ssh.js';
import { digitalOceanProvider } from '../../src/providers/cloud/digitalocean.js';
import type { CloudContext, CloudInventory } from '../../src/providers/cloud/types.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { ExternalError } from '../../src/util/errors.js';
import { Secret } from '../../src/util/secret.js';

const MESH = { tailnetDomain: 'acme.ts.net', defaultTags: ['tag:stagecraft'], roleTags: { db: ['tag:db'] } };
const HOSTS: MeshHost[] = meshHosts(MESH, [
  { name: 'web-1', roles: ['web'] },
  { name: 'db-1', roles: ['db'] },
]);

let key = 0;
function peer(
  name: string,
  ip: string,
  tags: string[],
  online = true,
  dns = `${name}.acme.ts.net.`,
): [string, TailscalePeer] {
  key += 1;
  const node: TailscalePeer = {
    HostName: name,
    DNSName: dns,
    TailscaleIPs: [ip, 'fd7a:115c:a1e0::9'],
    Tags: tags,
    Online: online,
  };
  return [`nodekey:${key}`, node];
}

function status(peers: [string, TailscalePeer][], suffix = 'acme.ts.net'): LocalMeshStatus {
  const value: TailscaleStatus = {
    BackendState: 'Running',
    Self: { HostName: 'laptop', DNSName: `laptop.${suffix}.`, TailscaleIPs: ['100.64.0.1'], Online: true },
    Peer: Object.fromEntries(peers),
    MagicDNSSuffix: suffix,
    CurrentTailnet: { Name: 'acme', MagicDNSSuffix: suffix, MagicDNSEnabled: true },
  };
  return { status: value };
}

const ALL_ONLINE = status([
  peer('web-1', '100.64.0.11', ['tag:stagecraft']),
  peer('db-1', '100.64.0.12', ['tag:stagecraft', 'tag:db']),
  peer('printer', '100.64.0.99', []),
]);

const AGAIN = '`stagecraft infra up` again closes public SSH';

describe('meshSsh', () => {
  it('names hosts as the mesh does: MagicDNS name and the tags setup advertises', () => {
    expect(HOSTS).toEqual([
      { name: 'web-1', dnsName: 'web-1.acme.ts.net', tags: ['tag:stagecraft'] },
      { name: 'db-1', dnsName: 'db-1.acme.ts.net', tags: ['tag:stagecraft', 'tag:db'] },
    ]);
  });

  it('without a mesh keeps public SSH, with no note and no routes', () => {
    expect(meshSsh({ mesh: undefined, hosts: HOSTS, local: ALL_ONLINE, publicSsh: false })).toEqual({
      closePublicSsh: false,
      reachedOverMesh: new Map(),
    });
  });

  it('closes public SSH when every host is an online peer of this machine’s tailnet, with their routes', () => {
    expect(meshSsh({ mesh: MESH, hosts: HOSTS, local: ALL_ONLINE, publicSsh: false })).toEqual({
      closePublicSsh: true,
      reachedOverMesh: new Map([
        ['web-1', { dnsName: 'web-1.acme.ts.net', address: '100.64.0.11' }],
        ['db-1', { dnsName: 'db-1.acme.ts.net', address: '100.64.0.12' }],
      ]),
    });
  });

  it('keeps it when one host is offline, naming it and the fix', () => {
    const local = status([
      peer('web-1', '100.64.0.11', ['tag:stagecraft']),
      peer('db-1', '100.64.0.12', ['tag:stagecraft', 'tag:db'], false),
    ]);
    const decision = meshSsh({ mesh: MESH, hosts: HOSTS, local, publicSsh: false });
    expect(decision.closePublicSsh).toBe(false);
    expect([...decision.reachedOverMesh.keys()]).toEqual(['web-1']);
    expect(decision.note).toBe(
      `SSH stays open to ssh_sources: db-1 (db-1.acme.ts.net) is offline; once every host is an online peer (\`stagecraft setup\` joins them), ${AGAIN}`,
    );
  });

  it('keeps it when a host is not a peer at all (the exact note)', () => {
    const local = status([peer('web-1', '100.64.0.11', ['tag:stagecraft'])]);
    expect(meshSsh({ mesh: MESH, hosts: HOSTS, local, publicSsh: false }).note).toBe(
      `SSH stays open to ssh_sources: db-1 is not a peer of this machine's tailnet; once every host is an online peer (\`stagecraft setup\` joins them), ${AGAIN}`,
    );
  });

  it('keeps it when this machine is not on the tailnet: no tailscale, logged out, another tailnet', () => {
    const decide = (local: LocalMeshStatus) => meshSsh({ mesh: MESH, hosts: HOSTS, local, publicSsh: false });
    const missing = decide({ status: undefined, problem: 'tailscale was not found on PATH' });
    expect(missing).toEqual({
      closePublicSsh: false,
      reachedOverMesh: new Map(),
      note: `SSH stays open to ssh_sources: this machine is not on the tailnet acme.ts.net (tailscale was not found on PATH); join it (\`tailscale up\`), then ${AGAIN}`,
    });
    const loggedOut = decide({ status: { ...ALL_ONLINE.status!, BackendState: 'NeedsLogin' } });
    expect(loggedOut.closePublicSsh).toBe(false);
    expect(loggedOut.note).toBe(
      `SSH stays open to ssh_sources: this machine is not on the tailnet acme.ts.net (tailscale is NeedsLogin); join it (\`tailscale up\`), then ${AGAIN}`,
    );
    const other = decide(
      status(
        [
          peer('web-1', '100.64.0.11', ['tag:stagecraft'], true, 'web-1.other.ts.net.'),
          peer('db-1', '100.64.0.12', ['tag:stagecraft', 'tag:db'], true, 'db-1.other.ts.net.'),
        ],
        'other.ts.net',
      ),
    );
    expect(other.closePublicSsh).toBe(false);
    expect(other.reachedOverMesh.size).toBe(0);
    expect(other.note).toBe(
      `SSH stays open to ssh_sources: this machine is not on the tailnet acme.ts.net (it is on other.ts.net); join it (\`tailscale up\`), then ${AGAIN}`,
    );
  });

  it('firewall.public_ssh keeps it open with no note, still knowing the routes', () => {
    expect(meshSsh({ mesh: MESH, hosts: HOSTS, local: ALL_ONLINE, publicSsh: true })).toEqual({
      closePublicSsh: false,
      reachedOverMesh: new Map([
        ['web-1', { dnsName: 'web-1.acme.ts.net', address: '100.64.0.11' }],
        ['db-1', { dnsName: 'db-1.acme.ts.net', address: '100.64.0.12' }],
      ]),
    });
  });

  it('matches by MagicDNS name (a renamed second "db-1" is not it), by HostName only without a DNSName, and wants the tags', () => {
    // Tailscale names a second node that asks for "db-1" db-1-1: that one is the droplet, db-1 is someone else's.
    const renamed = status([
      peer('web-1', '100.64.0.11', ['tag:stagecraft']),
      peer('db-1', '100.64.0.12', ['tag:stagecraft', 'tag:db'], true, 'db-1-1.acme.ts.net.'),
    ]);
    expect(meshSsh({ mesh: MESH, hosts: HOSTS, local: renamed, publicSsh: false }).note).toContain(
      ": db-1 is not a peer of this machine's tailnet;",
    );
    const noDns = status([
      peer('WEB-1', '100.64.0.11', ['tag:stagecraft'], true, ''),
      peer('db-1', '100.64.0.12', ['tag:stagecraft', 'tag:db']),
    ]);
    const byHostName = meshSsh({ mesh: MESH, hosts: HOSTS, local: noDns, publicSsh: false });
    expect(byHostName.closePublicSsh).toBe(true);
    expect(byHostName.reachedOverMesh.get('web-1')).toEqual({
      dnsName: 'web-1.acme.ts.net',
      address: '100.64.0.11',
    });
    const untagged = status([
      peer('web-1', '100.64.0.11', ['tag:stagecraft']),
      peer('db-1', '100.64.0.12', ['tag:stagecraft']),
    ]);
    const decision = meshSsh({ mesh: MESH, hosts: HOSTS, local: untagged, publicSsh: false });
    expect(decision.closePublicSsh).toBe(false);
    expect(decision.note).toBe(
      `SSH stays open to ssh_sources: db-1.acme.ts.net lacks db-1's tags tag:stagecraft, tag:db (it has tag:stagecraft); once every host is an online peer (\`stagecraft setup\` joins them), ${AGAIN}`,
    );
  });

  it('never closes for an environment without hosts (nothing proves the mesh reaches them)', () => {
    expect(meshSsh({ mesh: MESH, hosts: [], local: ALL_ONLINE, publicSsh: false })).toEqual({
      closePublicSsh: false,
      reachedOverMesh: new Map(),
    });
  });

  it('lists every host that is not reached, in host order', () => {
    const local = status([peer('db-1', '100.64.0.12', [], false)]);
    expect(meshSsh({ mesh: MESH, hosts: HOSTS, local, publicSsh: false }).note).toBe(
      `SSH stays open to ssh_sources: web-1 is not a peer of this machine's tailnet; db-1.acme.ts.net lacks db-1's tags tag:stagecraft, tag:db (it has none); once every host is an online peer (\`stagecraft setup\` joins them), ${AGAIN}`,
    );
  });
});

const context = (firewall: Record<string, unknown>): CloudContext => ({
  project: 'shop',
  environment: 'production',
  config: { token_env: 'DO_TOKEN', ssh_key_name: 'laptop', firewall, hosts: {} },
  token: new Secret('t'),
  log: () => undefined,
});

describe('the DigitalOcean firewall and the mesh', () => {
  it('over the mesh: no tcp/22, udp/41641 from anywhere, gateway ports unchanged; ssh_sources not needed', () => {
    expect(
      digitalOceanProvider.desiredFirewall(context({}), {
        sshSources: [],
        ports: [443, 80],
        sshOverMesh: true,
      }),
    ).toEqual({
      name: 'stagecraft-shop-production',
      inbound: [
        { protocol: 'tcp', ports: '80', addresses: ['0.0.0.0/0', '::/0'] },
        { protocol: 'tcp', ports: '443', addresses: ['0.0.0.0/0', '::/0'] },
        { protocol: 'udp', ports: '41641', addresses: ['0.0.0.0/0', '::/0'] },
      ],
    });
  });

  it('public_ssh: true keeps tcp/22 from ssh_sources even over the mesh', () => {
    const config = context({ ssh_sources: ['198.51.100.7/32'], public_ssh: true });
    expect(digitalOceanProvider.publicSsh(config)).toBe(true);
    expect(digitalOceanProvider.publicSsh(context({}))).toBe(false);
    expect(
      digitalOceanProvider.desiredFirewall(config, { sshSources: [], ports: [80], sshOverMesh: true }),
    ).toEqual({
      name: 'stagecraft-shop-production',
      inbound: [
        { protocol: 'tcp', ports: '22', addresses: ['198.51.100.7/32'] },
        { protocol: 'tcp', ports: '80', addresses: ['0.0.0.0/0', '::/0'] },
      ],
    });
  });
});

describe('the note on the infra plan', () => {
  const inventory: CloudInventory = {
    machines: [],
    volumes: [],
    firewall: undefined,
    regions: ['nyc3'],
    sizes: ['s-1vcpu-1gb'],
    sshKey: { id: '1', name: 'laptop' },
    machinesLeft: 5,
  };

  it('goes on the firewall step and under its line in the text', () => {
    const plan = planInfraUp({
      provider: 'digitalocean',
      project: 'shop',
      environment: 'production',
      desired: [],
      inventory,
      firewall: {
        name: 'stagecraft-shop-production',
        inbound: [{ protocol: 'tcp', ports: '22', addresses: ['198.51.100.7/32'] }],
      },
      firewallNote: 'SSH stays open to ssh_sources: web-1 is not a peer',
      sshKeyName: 'laptop',
      configPath: 'cloud.providers.digitalocean',
    });
    expect(plan.steps.map((step) => step.note)).toEqual([
      'SSH stays open to ssh_sources: web-1 is not a peer',
    ]);
    expect(infraPlanText(plan)).toBe(
      [
        'infra production (digitalocean, project shop): 1 change',
        '  + create cloud firewall stagecraft-shop-production: tcp/22 from 198.51.100.7/32',
        '    note: SSH stays open to ssh_sources: web-1 is not a peer',
        '',
      ].join('\n'),
    );
  });
});

describe('localMeshStatus (this machine)', () => {
  it('runs `tailscale status --json` as argv and parses it', async () => {
    const runner = new RecordingRunner({
      script: { 'tailscale status --json': { stdout: JSON.stringify(ALL_ONLINE.status) } },
    });
    expect(await localMeshStatus(runner)).toEqual(ALL_ONLINE);
    expect(runner.commands).toEqual([['tailscale', 'status', '--json']]);
  });

  it('says why there is no status: not installed, or no JSON', async () => {
    const missing = new RecordingRunner({
      script: () => {
        throw new ExternalError('tailscale was not found on PATH');
      },
    });
    expect(await localMeshStatus(missing)).toEqual({
      status: undefined,
      problem: 'tailscale was not found on PATH',
    });
    const stopped = new RecordingRunner({
      script: {
        tailscale: {
          exitCode: 1,
          stderr: 'failed to connect to local tailscaled; it doesn’t appear to be running\n',
        },
      },
    });
    expect(await localMeshStatus(stopped)).toEqual({
      status: undefined,
      problem:
        '`tailscale status --json` printed no status: failed to connect to local tailscaled; it doesn’t appear to be running',
    });
  });
});

describe('hostsReachedOverMesh (setup’s way in)', () => {
  const host = (name: string, tags: string[], setupTarget?: string): HostModel => ({
    name,
    target: `${name}.acme.ts.net`,
    user: undefined,
    port: undefined,
    roles: ['web'],
    mesh: { name: `${name}.acme.ts.net`, tags },
    ...(setupTarget === undefined ? {} : { setupTarget }),
  });

  it('names the hosts that are online peers, so setup connects to them by MagicDNS name', async () => {
    const runner = new RecordingRunner({
      script: { 'tailscale status --json': { stdout: JSON.stringify(ALL_ONLINE.status) } },
    });
    const hosts = [
      host('web-1', ['tag:stagecraft'], '192.0.2.11'),
      host('db-1', ['tag:stagecraft', 'tag:db'], '192.0.2.12'),
      host('web-2', [], '192.0.2.13'),
    ];
    expect([...(await hostsReachedOverMesh(MESH, hosts, runner))]).toEqual(['web-1', 'db-1']);
  });

  it('reads nothing without a mesh or when no host has another way in', async () => {
    const runner = new RecordingRunner({
      script: { 'tailscale status --json': { stdout: JSON.stringify(ALL_ONLINE.status) } },
    });
    expect((await hostsReachedOverMesh(undefined, [host('web-1', [], '192.0.2.11')], runner)).size).toBe(0);
    expect((await hostsReachedOverMesh(MESH, [host('web-1', ['tag:stagecraft'])], runner)).size).toBe(0);
    expect(runner.commands).toEqual([]);
  });
});
