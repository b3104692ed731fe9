// `stagecraft infra plan|up|down` (the built CLI, as a subprocess) against a local server speaking the
// DigitalOcean API v2 (test/support/fake-digitalocean.ts). No SSH here (`up --no-setup`); the e2e test
// runs up + setup + deploy on a harness host.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI } from '../support/cli.js';
import { FakeDigitalOcean } from '../support/fake-digitalocean.js';
import { FakeHeadscale } from '../support/fake-headscale.js';

const TOKEN = 'dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOPERATORKEY operator@laptop';

let fake: FakeDigitalOcean;
let root: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI without blocking this process (the fake API answers from it). */
function cli(
  args: string[],
  env: Record<string, string> = {},
  onStart?: (kill: () => void) => void,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: root,
      env: { PATH: process.env['PATH'] ?? '', HOME: root, NO_COLOR: '1', DO_TOKEN: TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    onStart?.(() => child.kill('SIGKILL'));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function writeProject(hosts: string, extra = ''): void {
  writeFileSync(
    join(root, 'stagecraft.yml'),
    `project:
  name: shop
cloud:
  provider: digitalocean
  providers:
    digitalocean:
      token_env: DO_TOKEN
      ssh_key_name: laptop
      api_url: ${fake.url}
      default_region: nyc3
      default_size: s-1vcpu-1gb
      firewall:
        ssh_sources: [198.51.100.7/32]
${extra}      hosts:
        production:
${hosts}
infra:
  bootstrap:
    public_key_file: key.pub
environments:
  production:
    driver: ssh
    ssh:
      user: deploy
`,
  );
}

const ONE_HOST = `          web-1:
            role: web
            volumes: [{ name: data, size_gb: 10 }]
`;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-infra-'));
  writeFileSync(join(root, 'key.pub'), `${KEY}\n`);
  writeFileSync(join(root, 'docker-compose.yml'), 'services:\n  web:\n    image: nginx\n');
  mkdirSync(join(root, '.stagecraft'));
  const keys = Array.from({ length: 250 }, (_, i) => ({
    id: 100 + i,
    name: `key-${i}`,
    public_key: `ssh-ed25519 K${i}`,
  }));
  keys[239] = { id: 512190, name: 'laptop', public_key: KEY };
  fake = new FakeDigitalOcean({
    token: TOKEN,
    addresses: ['192.0.2.11', '192.0.2.12'],
    sshKeys: keys,
    otherDroplets: 3,
  });
  await fake.start();
  writeProject(ONE_HOST);
});

afterEach(async () => {
  await fake.stop();
  rmSync(root, { recursive: true, force: true });
});

function expectNoToken(...texts: string[]): void {
  for (const text of texts) expect(text).not.toContain(TOKEN);
}

/**
 * A `tailscale` first on PATH that answers `status --json` with `status`, as the real CLI does, and
 * records each argv line in tailscale-calls. Returns the env that puts it there.
 */
function fakeTailscale(status: unknown): Record<string, string> {
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  const answer = join(root, 'tailscale-status.json');
  writeFileSync(answer, `${JSON.stringify(status, null, 2)}\n`);
  writeFileSync(
    join(bin, 'tailscale'),
    `#!/bin/sh
printf '%s\\n' "$*" >> '${join(root, 'tailscale-calls')}'
if [ "$1 $2" = "status --json" ]; then cat '${answer}'; exit 0; fi
echo "tailscale (test): unexpected $*" >&2; exit 2
`,
    { mode: 0o755 },
  );
  return { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
}

function calls(): string[] {
  const file = join(root, 'tailscale-calls');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

describe('infra plan', { timeout: 120_000 }, () => {
  it('reads the account (every list page) and prints what up would do, changing nothing', async () => {
    const plan = await cli(['infra', 'plan', '-e', 'production']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toBe(
      [
        'infra production (digitalocean, project shop): 4 changes',
        '  + create droplet shop-production-web-1 (s-1vcpu-1gb, nyc3, ubuntu-24-04-x64, role web)',
        '  + create volume shop-production-web-1-data (10 GiB, nyc3)',
        '  + attach volume shop-production-web-1-data to shop-production-web-1',
        '  + create cloud firewall stagecraft-shop-production: tcp/22 from 198.51.100.7/32; tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0',
        '',
      ].join('\n'),
    );
    expect(fake.writes()).toEqual([]);
    const paths = fake.requests.map((request) => request.path);
    expect(paths).toContain('/v2/account/keys?page=1&per_page=200');
    expect(paths).toContain('/v2/account/keys?page=2&per_page=200');
    expect(paths).toContain('/v2/droplets?tag_name=stagecraft-project-shop&page=1&per_page=200');
    expect(fake.requests.every((request) => request.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expectNoToken(plan.stdout, plan.stderr);
  });

  it('refuses bad input before anything is created: missing token, region, size, key, droplet limit', async () => {
    const noToken = await cli(['infra', 'plan', '-e', 'production'], { DO_TOKEN: '' });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain(
      'error: the DigitalOcean API token is missing: the variable DO_TOKEN is not set',
    );
    expect(fake.requests).toEqual([]);

    writeProject(`          web-1: { role: web, region: nyc9, size: s-1vcpu-3gb }\n`);
    const bad = await cli(['infra', 'up', '-e', 'production', '--no-setup']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'cloud.providers.digitalocean.hosts.production.web-1.region: "nyc9" is not a region the account can use (did you mean "nyc1"?); regions: ams3, fra1, nyc1, nyc3, sfo3',
    );
    expect(bad.stderr).toContain(
      'cloud.providers.digitalocean.hosts.production.web-1.size: "s-1vcpu-3gb" is not a size the account can use (did you mean "s-1vcpu-1gb"?)',
    );
    expect(bad.stderr).toContain('hint: nothing was created');

    writeProject(ONE_HOST.replace('web-1', 'web-1').concat(''), '');
    const text = readFileSync(join(root, 'stagecraft.yml'), 'utf8').replace(
      'ssh_key_name: laptop',
      'ssh_key_name: lapto',
    );
    writeFileSync(join(root, 'stagecraft.yml'), text);
    const key = await cli(['infra', 'up', '-e', 'production', '--no-setup']);
    expect(key.code).toBe(1);
    expect(key.stderr).toContain(
      'cloud.providers.digitalocean.ssh_key_name: the account has no SSH key named "lapto"',
    );
    expect(fake.writes()).toEqual([]);
  });

  it('refuses when the droplet limit leaves no room', async () => {
    await fake.stop();
    fake = new FakeDigitalOcean({
      token: TOKEN,
      addresses: ['192.0.2.11'],
      sshKeys: [{ id: 1, name: 'laptop', public_key: KEY }],
      dropletLimit: 3,
      otherDroplets: 3,
    });
    await fake.start();
    writeProject(ONE_HOST);
    const full = await cli(['infra', 'up', '-e', 'production', '--no-setup']);
    expect(full.code).toBe(1);
    expect(full.stderr).toContain(
      'the account may create 0 more droplets (its droplet limit), and production needs 1',
    );
    expect(fake.writes()).toEqual([]);
  });
});

describe('infra up and down', { timeout: 180_000 }, () => {
  it('creates droplet, volume, attachment and firewall with exact requests; records the hosts; a second up is a no-op', async () => {
    const up = await cli(['infra', 'up', '-e', 'production', '--no-setup']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain('infra production: 4 changes applied\n');
    const writes = fake.writes();
    expect(
      writes.map((request) => `${request.method} ${request.path.replace(/[0-9a-f-]{36}/, '<volume>')}`),
    ).toEqual([
      'POST /v2/droplets',
      'POST /v2/volumes',
      'POST /v2/volumes/<volume>/actions',
      'POST /v2/firewalls',
    ]);
    const droplet = writes[0]!.body as Record<string, unknown>;
    expect({ ...droplet, user_data: undefined }).toEqual({
      name: 'shop-production-web-1',
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      ssh_keys: [512190],
      tags: ['stagecraft', 'stagecraft-project-shop', 'stagecraft-env-production', 'stagecraft-role-web'],
      user_data: undefined,
      monitoring: true,
    });
    const userData = String(droplet['user_data']);
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    expect(userData).toContain('  - docker.io\n  - docker-compose-v2\n');
    expect(userData).toContain(KEY);
    const dropletId = [...fake.droplets.values()].find((d) => d.name === 'shop-production-web-1')!.id;
    expect(writes[1]!.body).toEqual({
      name: 'shop-production-web-1-data',
      size_gigabytes: 10,
      region: 'nyc3',
      filesystem_type: 'ext4',
      tags: ['stagecraft', 'stagecraft-project-shop', 'stagecraft-env-production'],
    });
    expect(writes[2]!.body).toEqual({ type: 'attach', droplet_id: dropletId, region: 'nyc3' });
    expect(writes[3]!.body).toEqual({
      name: 'stagecraft-shop-production',
      inbound_rules: [
        { protocol: 'tcp', ports: '22', sources: { addresses: ['198.51.100.7/32'] } },
        { protocol: 'tcp', ports: '80', sources: { addresses: ['0.0.0.0/0', '::/0'] } },
        { protocol: 'tcp', ports: '443', sources: { addresses: ['0.0.0.0/0', '::/0'] } },
      ],
      outbound_rules: [
        { protocol: 'tcp', ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
        { protocol: 'udp', ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
        { protocol: 'icmp', ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
      ],
      droplet_ids: [dropletId],
    });
    const state = readFileSync(join(root, '.stagecraft', 'infra', 'production.json'), 'utf8');
    expect(JSON.parse(state).hosts).toEqual([
      { name: 'web-1', role: 'web', id: String(dropletId), address: '192.0.2.11' },
    ]);
    expectNoToken(up.stdout, up.stderr, state, userData);

    const config = await cli(['config', '-e', 'production']);
    expect(config.stdout).toContain(
      'infra_hosts:\n  - name: web-1\n    role: web\n    address: 192.0.2.11\n',
    );

    const before = fake.writes().length;
    const again = await cli(['infra', 'up', '-e', 'production', '--no-setup']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('infra production (digitalocean, project shop): no changes');
    expect(again.stdout).toContain(
      '  = keep droplet shop-production-web-1 (s-1vcpu-1gb, nyc3, active, 192.0.2.11)',
    );
    expect(again.stdout).toContain('infra production: no changes\n');
    expect(fake.writes().length).toBe(before);
  });

  it('retries rate limits (429, retry-after) and server errors with backoff', async () => {
    fake.inject(429, 1, (method, path) => method === 'GET' && path === '/v2/account');
    fake.inject(503, 2, (method, path) => method === 'POST' && path === '/v2/droplets');
    const up = await cli(['infra', 'up', '-e', 'production', '--no-setup']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain('GET /v2/account answered 429 (rate limit); retrying in 1.0s');
    expect(up.stderr).toContain('POST /v2/droplets answered 503; retrying in 1.0s');
    expect(up.stderr).toContain('POST /v2/droplets answered 503; retrying in 2.0s');
    expect(
      fake.requests.filter((request) => request.method === 'POST' && request.path === '/v2/droplets'),
    ).toHaveLength(3);
    expect([...fake.droplets.values()].filter((d) => d.name.startsWith('shop-'))).toHaveLength(1);
  });

  it('an up killed half-way resumes: the droplet it made is kept, the rest is created', async () => {
    fake.hang((method, path) => method === 'POST' && path === '/v2/volumes');
    const killed = await cli(['infra', 'up', '-e', 'production', '--no-setup'], {}, (kill) => {
      const timer = setInterval(() => {
        if (fake.requests.some((request) => request.method === 'POST' && request.path === '/v2/volumes')) {
          clearInterval(timer);
          kill();
        }
      }, 50);
    });
    expect(killed.code).toBe(null);
    expect(existsSync(join(root, '.stagecraft', 'infra', 'production.json'))).toBe(false);
    fake.hang(undefined);
    fake.requests.length = 0;
    const resumed = await cli(['infra', 'up', '-e', 'production', '--no-setup']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('  = keep droplet shop-production-web-1');
    expect(
      fake
        .writes()
        .map((request) => `${request.method} ${request.path.replace(/[0-9a-f-]{36}/, '<volume>')}`),
    ).toEqual(['POST /v2/volumes', 'POST /v2/volumes/<volume>/actions', 'POST /v2/firewalls']);
    expect([...fake.droplets.values()].filter((d) => d.name.startsWith('shop-'))).toHaveLength(1);
  });

  it('down asks for confirmation, deletes droplets and firewall, keeps volumes unless --delete-volumes', async () => {
    expect((await cli(['infra', 'up', '-e', 'production', '--no-setup'])).code).toBe(0);
    const refused = await cli(['infra', 'down', '-e', 'production']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --yes');
    expect(fake.droplets.size).toBe(4);
    fake.requests.length = 0;
    const down = await cli(['infra', 'down', '-e', 'production', '--yes']);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain(
      '  = keep volume shop-production-web-1-data (10 GiB; --delete-volumes deletes it)',
    );
    expect(
      fake.writes().map((request) => `${request.method} ${request.path.replace(/[0-9a-f-]{36}/, '<id>')}`),
    ).toEqual([expect.stringMatching(/^DELETE \/v2\/droplets\/\d+$/), 'DELETE /v2/firewalls/<id>']);
    expect(fake.droplets.size).toBe(3);
    expect(fake.volumes.size).toBe(1);
    expect(existsSync(join(root, '.stagecraft', 'infra', 'production.json'))).toBe(false);
    const volumes = await cli(['infra', 'down', '-e', 'production', '--yes', '--delete-volumes']);
    expect(volumes.code, volumes.stderr).toBe(0);
    expect(fake.volumes.size).toBe(0);
  });
});

describe('infra down and the mesh', { timeout: 180_000 }, () => {
  const HS_KEY = 'hs-api-Q8vT2mKx9Lr4Wn7Pz1';

  function withMesh(network: string): void {
    writeFileSync(
      join(root, 'stagecraft.yml'),
      `${readFileSync(join(root, 'stagecraft.yml'), 'utf8')}${network}`,
    );
  }

  it('deletes the hosts’ Headscale nodes after the droplets, as planned steps; API errors exit 2 with the message; a rerun finishes the job', async () => {
    const headscale = new FakeHeadscale(HS_KEY);
    const server = await headscale.start();
    try {
      const node = (id: string, name: string, givenName: string, user: string) => ({
        id,
        name,
        givenName,
        ipAddresses: [`100.64.0.${id}`, `fd7a:115c:a1e0::${id}`],
        tags: ['tag:web'],
        online: true,
        user: { id: user === 'ops' ? '1' : '2', name: user },
      });
      headscale.nodes.push(
        node('7', 'web-1', 'web-1', 'ops'),
        node('8', 'laptop', 'laptop', 'ops'),
        node('9', 'web-1', 'web-1-q2x', 'someone-else'),
      );
      withMesh(`network:
  provider: headscale
  providers:
    headscale:
      login_server: ${server}
      tailnet_domain: mesh.example
      api_key_env: HS_API_KEY
      user: ops
`);
      expect((await cli(['infra', 'up', '-e', 'production', '--no-setup'])).code).toBe(0);
      fake.requests.length = 0;
      const env = { HS_API_KEY: HS_KEY };

      const planned = await cli(['infra', 'down', '-e', 'production', '--dry-run'], env);
      expect(planned.code, planned.stderr).toBe(0);
      const dropletAddress = '192.0.2.11';
      const plan = [
        'infra production (digitalocean, project shop): 3 changes',
        `  - delete droplet shop-production-web-1 (${dropletAddress})`,
        '  - delete cloud firewall stagecraft-shop-production',
        '  = keep volume shop-production-web-1-data (10 GiB; --delete-volumes deletes it)',
        `  - delete mesh node web-1 (id 7, 100.64.0.7) from Headscale at ${server}`,
        '',
      ].join('\n');
      expect(planned.stdout).toBe(plan);
      expect(headscale.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'GET /api/v1/node',
      ]);

      const refused = await cli(['infra', 'down', '-e', 'production', '--yes'], {
        HS_API_KEY: 'hs-api-WRONGkey000',
      });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('error: Headscale refused the API key (HTTP 401) listing nodes\n');
      expect(`${refused.stdout}${refused.stderr}`).not.toContain('hs-api-WRONGkey000');
      expect(fake.writes()).toEqual([]);

      headscale.failures.set('DELETE /api/v1/node/7', {
        status: 500,
        message: 'failed to delete node: database is locked',
      });
      headscale.requests.length = 0;
      const failed = await cli(['infra', 'down', '-e', 'production', '--yes'], env);
      expect(failed.code).toBe(2);
      expect(failed.stdout).toBe(plan);
      expect(failed.stderr).toContain(
        'error: Headscale answered HTTP 500 deleting node 7 (web-1): failed to delete node: database is locked\n',
      );
      expect(
        fake.writes().map((request) => `${request.method} ${request.path.replace(/[0-9a-f-]{36}/, '<id>')}`),
      ).toEqual([expect.stringMatching(/^DELETE \/v2\/droplets\/\d+$/), 'DELETE /v2/firewalls/<id>']);
      expect(headscale.requests.every((request) => request.authorization === `Bearer ${HS_KEY}`)).toBe(true);
      expect(`${failed.stdout}${failed.stderr}`).not.toContain(HS_KEY);

      headscale.failures.clear();
      headscale.requests.length = 0;
      const rerun = await cli(['infra', 'down', '-e', 'production', '--yes'], env);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stdout).toBe(
        [
          'infra production (digitalocean, project shop): 1 change',
          '  = keep volume shop-production-web-1-data (10 GiB; --delete-volumes deletes it)',
          `  - delete mesh node web-1 (id 7, 100.64.0.7) from Headscale at ${server}`,
          'infra production: deleted (1 step)',
          '',
        ].join('\n'),
      );
      expect(rerun.stderr).toContain('  … mesh node web-1 (id 7) deleted\n');
      expect(headscale.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'GET /api/v1/node',
        'DELETE /api/v1/node/7',
      ]);
      expect(headscale.nodes.map((left) => [left.id, left.givenName])).toEqual([
        ['8', 'laptop'],
        ['9', 'web-1-q2x'],
      ]);

      const again = await cli(['infra', 'down', '-e', 'production', '--yes'], env);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('infra production: nothing to delete\n');
      expect(headscale.requests.filter((request) => request.method === 'DELETE')).toHaveLength(1);
    } finally {
      await headscale.stop();
    }
  });

  it('infra up deleting a droplet that left the config deletes its Headscale node too', async () => {
    const headscale = new FakeHeadscale(HS_KEY);
    const server = await headscale.start();
    try {
      headscale.nodes.push(
        { id: '4', name: 'web-1', givenName: 'web-1', ipAddresses: ['100.64.0.4'], tags: [], online: true },
        { id: '5', name: 'web-2', givenName: 'web-2', ipAddresses: ['100.64.0.5'], tags: [], online: true },
      );
      const mesh = `network:
  provider: headscale
  providers:
    headscale:
      login_server: ${server}
      tailnet_domain: mesh.example
      api_key_env: HS_API_KEY
      user: ops
`;
      writeProject(`          web-1: { role: web }\n          web-2: { role: web }\n`);
      withMesh(mesh);
      const env = { HS_API_KEY: HS_KEY };
      expect((await cli(['infra', 'up', '-e', 'production', '--no-setup'], env)).code).toBe(0);
      expect(headscale.requests).toEqual([]);
      writeProject(`          web-1: { role: web }\n`);
      withMesh(mesh);
      const up = await cli(['infra', 'up', '-e', 'production', '--no-setup', '--yes'], {
        ...env,
        ...fakeTailscale({ BackendState: 'NeedsLogin' }),
      });
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toBe(
        [
          'infra production (digitalocean, project shop): 2 changes',
          '  = keep droplet shop-production-web-1 (s-1vcpu-1gb, nyc3, active, 192.0.2.11)',
          '  - delete droplet shop-production-web-2 (no longer in cloud.providers.digitalocean.hosts.production; its volumes are kept)',
          '  = keep cloud firewall stagecraft-shop-production: tcp/22 from 198.51.100.7/32; tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0',
          '    note: SSH stays open to ssh_sources: this machine is not on the tailnet mesh.example (tailscale is NeedsLogin); join it (`tailscale up`), then `stagecraft infra up` again closes public SSH',
          `  - delete mesh node web-2 (id 5, 100.64.0.5) from Headscale at ${server}`,
          'infra production: 2 changes applied',
          '',
        ].join('\n'),
      );
      expect(up.stderr).toContain('  … mesh node web-2 (id 5) deleted\n');
      expect(headscale.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
        'GET /api/v1/node',
        'DELETE /api/v1/node/5',
      ]);
      expect(headscale.nodes.map((node) => node.name)).toEqual(['web-1']);
    } finally {
      await headscale.stop();
    }
  });

  it('with Tailscale the plan says the nodes stay and how to remove them', async () => {
    withMesh(`network:
  provider: tailscale
  providers:
    tailscale:
      auth_key_env: TS_AUTHKEY
      tailnet_domain: acme.ts.net
`);
    const planned = await cli(['infra', 'down', '-e', 'production', '--dry-run']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toBe(
      [
        'infra production (digitalocean, project shop): no changes',
        "  = keep the mesh nodes of web-1: Tailscale's control plane keeps them: remove them in the admin console (Machines → Remove) or with its API (DELETE /api/v2/device/{id}); hosts joined with an ephemeral auth key leave by themselves",
        '',
      ].join('\n'),
    );
  });
});

describe('infra and SSH over the mesh', { timeout: 180_000 }, () => {
  const TAILSCALE = `network:
  provider: tailscale
  providers:
    tailscale:
      auth_key_env: TS_AUTHKEY
      tailnet_domain: acme.ts.net
      default_tags: [tag:stagecraft]
      role_tags:
        web: [tag:web]
`;
  const ANYWHERE = ['0.0.0.0/0', '::/0'];
  const SSH_OPEN = [
    { protocol: 'tcp', ports: '22', sources: { addresses: ['198.51.100.7/32'] } },
    { protocol: 'tcp', ports: '80', sources: { addresses: ANYWHERE } },
    { protocol: 'tcp', ports: '443', sources: { addresses: ANYWHERE } },
  ];
  const AGAIN = '`stagecraft infra up` again closes public SSH';

  /** This machine's `tailscale status --json` (ipnstate.Status), with web-1 as a peer when `web1` is given. */
  function statusOf(state: string, web1?: { online: boolean; tags: string[] }): unknown {
    const laptop = {
      HostName: 'laptop',
      DNSName: 'laptop.acme.ts.net.',
      TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'],
      Tags: null,
      Online: true,
    };
    return {
      Version: '1.76.1',
      BackendState: state,
      TailscaleIPs: state === 'Running' ? ['100.64.0.1'] : null,
      Self: state === 'Running' ? laptop : { HostName: 'laptop', DNSName: '', TailscaleIPs: null },
      Peer:
        web1 === undefined
          ? null
          : {
              'nodekey:5e0f': {
                HostName: 'web-1',
                DNSName: 'web-1.acme.ts.net.',
                TailscaleIPs: ['100.64.0.11', 'fd7a:115c:a1e0::b'],
                Tags: web1.tags,
                Online: web1.online,
                OS: 'linux',
              },
            },
      MagicDNSSuffix: state === 'Running' ? 'acme.ts.net' : '',
      CurrentTailnet:
        state === 'Running' ? { Name: 'acme', MagicDNSSuffix: 'acme.ts.net', MagicDNSEnabled: true } : null,
    };
  }

  function writeMeshProject(firewall = ''): void {
    writeProject(ONE_HOST);
    const text = readFileSync(join(root, 'stagecraft.yml'), 'utf8').replace(
      'ssh_sources: [198.51.100.7/32]\n',
      `ssh_sources: [198.51.100.7/32]\n${firewall}`,
    );
    writeFileSync(join(root, 'stagecraft.yml'), `${text}${TAILSCALE}`);
  }

  const firewallPut = () =>
    fake.writes().filter((request) => request.method === 'PUT' && request.path.startsWith('/v2/firewalls/'));

  it('keeps tcp/22 with a note until this machine reaches every host over the mesh, then closes it', async () => {
    writeMeshProject();
    const loggedOut = await cli(
      ['infra', 'up', '-e', 'production', '--no-setup'],
      fakeTailscale(statusOf('NeedsLogin')),
    );
    expect(loggedOut.code, loggedOut.stderr).toBe(0);
    expect(loggedOut.stdout).toContain(
      [
        '  + create cloud firewall stagecraft-shop-production: tcp/22 from 198.51.100.7/32; tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0',
        `    note: SSH stays open to ssh_sources: this machine is not on the tailnet acme.ts.net (tailscale is NeedsLogin); join it (\`tailscale up\`), then ${AGAIN}`,
        'infra production: 4 changes applied',
      ].join('\n'),
    );
    const created = fake.writes().find((request) => request.path === '/v2/firewalls');
    expect((created!.body as { inbound_rules: unknown }).inbound_rules).toEqual(SSH_OPEN);
    expect(calls()).toEqual(['status --json']);

    const offline = await cli(
      ['infra', 'up', '-e', 'production', '--dry-run'],
      fakeTailscale(statusOf('Running', { online: false, tags: ['tag:stagecraft', 'tag:web'] })),
    );
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toBe(
      [
        'infra production (digitalocean, project shop): no changes',
        '  = keep droplet shop-production-web-1 (s-1vcpu-1gb, nyc3, active, 192.0.2.11)',
        '  = keep volume shop-production-web-1-data (10 GiB, attached)',
        '  = keep cloud firewall stagecraft-shop-production: tcp/22 from 198.51.100.7/32; tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0',
        `    note: SSH stays open to ssh_sources: web-1 (web-1.acme.ts.net) is offline; once every host is an online peer (\`stagecraft setup\` joins them), ${AGAIN}`,
        '',
      ].join('\n'),
    );
    const json = await cli(
      ['infra', 'plan', '-e', 'production', '--json'],
      fakeTailscale(statusOf('Running', { online: true, tags: ['tag:stagecraft'] })),
    );
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).steps.find((step: { id: string }) => step.id === 'firewall')).toEqual({
      id: 'firewall',
      title:
        'keep cloud firewall stagecraft-shop-production: tcp/22 from 198.51.100.7/32; tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0',
      kind: 'firewall',
      note: `SSH stays open to ssh_sources: web-1.acme.ts.net lacks web-1's tags tag:stagecraft, tag:web (it has tag:stagecraft); once every host is an online peer (\`stagecraft setup\` joins them), ${AGAIN}`,
    });
    expect(firewallPut()).toEqual([]);

    const online = fakeTailscale(statusOf('Running', { online: true, tags: ['tag:web', 'tag:stagecraft'] }));
    const closed = await cli(['infra', 'up', '-e', 'production', '--no-setup'], online);
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout).toBe(
      [
        'infra production (digitalocean, project shop): 1 change',
        '  = keep droplet shop-production-web-1 (s-1vcpu-1gb, nyc3, active, 192.0.2.11)',
        '  = keep volume shop-production-web-1-data (10 GiB, attached)',
        '  ~ update cloud firewall stagecraft-shop-production: tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0; udp/41641 from 0.0.0.0/0 ::/0',
        'infra production: 1 change applied',
        '',
      ].join('\n'),
    );
    expect(
      firewallPut().map((request) => (request.body as { inbound_rules: unknown }).inbound_rules),
    ).toEqual([
      [
        { protocol: 'tcp', ports: '80', sources: { addresses: ANYWHERE } },
        { protocol: 'tcp', ports: '443', sources: { addresses: ANYWHERE } },
        { protocol: 'udp', ports: '41641', sources: { addresses: ANYWHERE } },
      ],
    ]);
    const again = await cli(['infra', 'plan', '-e', 'production'], online);
    expect(again.stdout).toContain(
      '  = keep cloud firewall stagecraft-shop-production: tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0; udp/41641 from 0.0.0.0/0 ::/0\n',
    );
    expect(again.stdout).not.toContain('note:');
    expect(calls()).toEqual(Array(5).fill('status --json'));
  });

  it('firewall.public_ssh: true keeps SSH public without asking tailscale', async () => {
    writeMeshProject('        public_ssh: true\n');
    const online = fakeTailscale(statusOf('Running', { online: true, tags: ['tag:web', 'tag:stagecraft'] }));
    const plan = await cli(['infra', 'plan', '-e', 'production'], online);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(
      '  + create cloud firewall stagecraft-shop-production: tcp/22 from 198.51.100.7/32; tcp/80 from 0.0.0.0/0 ::/0; tcp/443 from 0.0.0.0/0 ::/0\n',
    );
    expect(plan.stdout).not.toContain('note:');
    expect(calls()).toEqual([]);
  });
});
