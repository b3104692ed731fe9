// `stagecraft mesh status` and the mesh section of `status`: what each host's Tailscale client answers
// beside what the config wants, compared, rendered and as --json.
import { describe, expect, it } from 'vitest';
import type { HostModel } from '../../src/model/environment.js';
import {
  compareMesh,
  hostMeshState,
  type MeshStatusReport,
  meshStatusJson,
  renderMeshStatus,
} from '../../src/operations/mesh-status.js';
import { renderStatus, type StatusReport, statusJson } from '../../src/operations/status.js';
import type { TailscaleStatus } from '../../src/plan/host-facts.js';
import { RecordingRunner } from '../../src/runners/recording.js';

const running = (name: string, ip: string, tags: string[], suffix = 'acme.ts.net'): TailscaleStatus => ({
  BackendState: 'Running',
  Self: {
    HostName: name,
    DNSName: `${name}.${suffix}.`,
    TailscaleIPs: [ip, 'fd7a:115c:a1e0::1'],
    Tags: tags,
    Online: true,
  },
  MagicDNSSuffix: suffix,
  CurrentTailnet: { Name: suffix, MagicDNSSuffix: suffix, MagicDNSEnabled: true },
});
const wanted = (host: string, tags: string[]) => ({
  tailnet: 'acme.ts.net',
  dnsName: `${host}.acme.ts.net`,
  tags,
});

describe('compareMesh', () => {
  it('agrees when the host runs on the tailnet under its MagicDNS name with the same tags (any order)', () => {
    expect(
      compareMesh(
        { version: '1.76.1', status: running('h1', '100.64.0.1', ['tag:web', 'tag:stagecraft']) },
        wanted('h1', ['tag:stagecraft', 'tag:web']),
      ),
    ).toEqual({
      version: '1.76.1',
      backendState: 'Running',
      address: '100.64.0.1',
      dnsName: 'h1.acme.ts.net',
      tailnet: 'acme.ts.net',
      tags: ['tag:web', 'tag:stagecraft'],
      online: true,
      wanted: wanted('h1', ['tag:stagecraft', 'tag:web']),
      differences: [],
    });
  });

  it('names each difference: tailnet, MagicDNS name, tags, offline', () => {
    const other = running('h1', '100.64.0.1', ['tag:web'], 'other.ts.net');
    expect(compareMesh({ version: '1.76.1', status: other }, wanted('h1', ['tag:web'])).differences).toEqual([
      'on other.ts.net, config wants acme.ts.net',
    ]);
    const renamed = running('h1', '100.64.0.1', [], 'acme.ts.net');
    renamed.Self = { ...renamed.Self, DNSName: 'h1-1.acme.ts.net.', Online: false };
    expect(compareMesh({ version: '1.76.1', status: renamed }, wanted('h1', ['tag:db'])).differences).toEqual(
      [
        'MagicDNS name h1-1.acme.ts.net, config wants h1.acme.ts.net',
        'tags none, config wants tag:db',
        'offline',
      ],
    );
  });

  it('a host that has not joined, or has no client', () => {
    const out = compareMesh(
      { version: '1.76.1', status: { BackendState: 'NeedsLogin', Self: { HostName: 'h2', Online: false } } },
      wanted('h2', ['tag:web']),
    );
    expect(out).toMatchObject({
      backendState: 'NeedsLogin',
      address: undefined,
      dnsName: undefined,
      tags: [],
      online: undefined,
      differences: ['not joined (tailscale is NeedsLogin)'],
    });
    expect(compareMesh({ version: undefined, status: undefined }, wanted('h2', [])).differences).toEqual([
      'tailscale is not installed',
    ]);
  });

  it('reads the host with one read-only command', async () => {
    const runner = new RecordingRunner({
      name: 'h3',
      script: () => ({ stdout: `1.76.1\n---\n${JSON.stringify(running('h3', '100.64.0.3', ['tag:db']))}\n` }),
    });
    const host = {
      name: 'h3',
      roles: ['db'],
      mesh: { name: 'h3.acme.ts.net', tags: ['tag:db'] },
    } as HostModel;
    expect((await hostMeshState(runner, host, { tailnetDomain: 'acme.ts.net' })).differences).toEqual([]);
    expect(runner.commands).toEqual([
      [
        'sh',
        '-c',
        'tailscale version 2>/dev/null | head -n 1; echo ---; tailscale status --json 2>/dev/null',
      ],
    ]);
  });
});

const report: MeshStatusReport = {
  project: 'shop',
  environment: 'production',
  provider: 'tailscale',
  tailnet: 'acme.ts.net',
  hosts: [
    {
      name: 'h1',
      roles: ['web'],
      reachable: true,
      mesh: compareMesh(
        { version: '1.76.1', status: running('h1', '100.64.0.1', ['tag:stagecraft', 'tag:web']) },
        wanted('h1', ['tag:stagecraft', 'tag:web']),
      ),
    },
    {
      name: 'h2',
      roles: ['web'],
      reachable: true,
      mesh: compareMesh(
        { version: '1.76.1', status: { BackendState: 'NeedsLogin' } },
        wanted('h2', ['tag:web']),
      ),
    },
    {
      name: 'h3',
      roles: ['db'],
      reachable: false,
      error: 'could not reach h3 (10.0.0.3:22): Connection refused',
      mesh: undefined,
    },
  ],
};

describe('renderMeshStatus and meshStatusJson', () => {
  it('prints one row per host, a summary and each difference', () => {
    expect(renderMeshStatus(report)).toBe(
      [
        'shop production: mesh tailscale, tailnet acme.ts.net',
        '',
        'HOST  STATE        MESH IP     MAGICDNS NAME   TAGS                    ONLINE  CONFIG',
        'h1    Running      100.64.0.1  h1.acme.ts.net  tag:stagecraft,tag:web  yes     agrees',
        'h2    NeedsLogin   -           -               -                       -       differs',
        'h3    unreachable  -           -               -                       -       -',
        '',
        '1/3 hosts agree with the config',
        'h2: not joined (tailscale is NeedsLogin); config wants h2.acme.ts.net with tags tag:web (stagecraft setup)',
        'h3: could not reach h3 (10.0.0.3:22): Connection refused',
      ].join('\n'),
    );
  });

  it('has a stable snake_case --json schema with nulls', () => {
    const json = meshStatusJson(report) as { hosts: unknown[]; summary: unknown };
    expect(json.hosts[0]).toEqual({
      name: 'h1',
      roles: ['web'],
      reachable: true,
      error: null,
      mesh: {
        version: '1.76.1',
        backend_state: 'Running',
        mesh_ip: '100.64.0.1',
        magicdns_name: 'h1.acme.ts.net',
        tailnet: 'acme.ts.net',
        tags: ['tag:stagecraft', 'tag:web'],
        online: true,
        wanted: {
          tailnet: 'acme.ts.net',
          magicdns_name: 'h1.acme.ts.net',
          tags: ['tag:stagecraft', 'tag:web'],
        },
        agrees: true,
        differences: [],
      },
    });
    expect(json.hosts[2]).toEqual({
      name: 'h3',
      roles: ['db'],
      reachable: false,
      error: 'could not reach h3 (10.0.0.3:22): Connection refused',
      mesh: null,
    });
    expect(json.summary).toEqual({ hosts: 3, agree: 1, unreachable: 1 });
  });
});

describe('the mesh section of status', () => {
  const now = new Date('2025-06-01T12:00:00Z');
  const status: StatusReport = {
    project: 'shop',
    environment: 'production',
    composeProject: 'shop-production',
    release: undefined,
    historyWarning: undefined,
    mesh: { provider: 'headscale', tailnet: 'acme.ts.net' },
    hosts: [
      { name: 'h1', roles: ['web'], reachable: true, services: [], mesh: report.hosts[0]!.mesh! },
      { name: 'h2', roles: ['web'], reachable: true, services: [], mesh: report.hosts[1]!.mesh! },
    ],
  };

  it('follows the containers table; without a mesh there is none', () => {
    expect(renderStatus(status, now)).toBe(
      [
        'shop production: no completed release recorded',
        '',
        'HOST  SERVICE  CONTAINER  STATE          HEALTH  VERSION  UPTIME  RESTARTS  RELEASE',
        'h1    -        -          no containers  -       -        -       -         -',
        'h2    -        -          no containers  -       -        -       -         -',
        '',
        '0/0 containers running',
        '',
        'mesh (headscale, acme.ts.net): 1/2 hosts agree with the config',
        'HOST  STATE       MESH IP     MAGICDNS NAME   TAGS                    ONLINE  CONFIG',
        'h1    Running     100.64.0.1  h1.acme.ts.net  tag:stagecraft,tag:web  yes     agrees',
        'h2    NeedsLogin  -           -               -                       -       differs',
        'h2: not joined (tailscale is NeedsLogin); config wants h2.acme.ts.net with tags tag:web (stagecraft setup)',
      ].join('\n'),
    );
    const { mesh: _mesh, ...plain } = status;
    expect(
      renderStatus({ ...plain, hosts: plain.hosts.map(({ mesh: _m, ...host }) => host) }, now),
    ).not.toContain('mesh');
  });

  it('--json: each host’s mesh state (null without a mesh) and the mesh itself', () => {
    const json = statusJson(status, now) as { mesh: unknown; hosts: { mesh: { agrees: boolean } | null }[] };
    expect(json.mesh).toEqual({ provider: 'headscale', tailnet: 'acme.ts.net' });
    expect(json.hosts.map((host) => host.mesh?.agrees)).toEqual([true, false]);
    const { mesh: _mesh, ...plain } = status;
    const without = statusJson({ ...plain, hosts: [{ ...plain.hosts[0]!, mesh: undefined }] }, now) as {
      mesh: unknown;
      hosts: { mesh: unknown }[];
    };
    expect([without.mesh, without.hosts[0]!.mesh]).toEqual([null, null]);
  });
});
