import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BareEnv, freshBareHosts, type HarnessEnv, requireHarness, run } from './support/harness.js';
import { type ShopProject, stagecraftIn } from './support/shop.js';

// driver swarm on a real three-node Docker Swarm: the bare hosts (Debian 13, Docker 26 from the package
// source) with bare1 the manager and bare2, bare3 workers, overlay networking between their namespaces.
// One project, deployed twice, then a failing health check: what a user sees (HTTP through the gateway
// on every node, exit codes, the services on the manager).

const HARNESS_CLI = fileURLToPath(new URL('../harness/cli.mjs', import.meta.url));
const API = fileURLToPath(new URL('../../examples/shop/api', import.meta.url));

let harness: HarnessEnv;
let bare: BareEnv;
let project: ShopProject;

/** docker on the manager's engine (from the operator, through the socket the harness exposes). */
async function onManager(args: string[]): Promise<string> {
  const { stdout } = await run('docker', ['-H', bare.hosts[0]!.docker_host, ...args]);
  return stdout.trim();
}

function get(address: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port: 8080, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout on ${address}${path}`)));
    req.end();
  });
}

function swarmProject(): ShopProject {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-swarm-'));
  mkdirSync(join(root, 'api'));
  cpSync(API, join(root, 'api'), { recursive: true, filter: (path) => !path.includes('node_modules') });
  writeFileSync(
    join(root, 'docker-compose.yml'),
    `services:
  api:
    build:
      context: ./api
      args:
        NODE_IMAGE: \${NODE_IMAGE:-node:20-alpine}
    environment:
      APP_VERSION: \${STAGECRAFT_VERSION:-dev}
      FAIL_HEALTH: \${FAIL_HEALTH:-}
    init: true
    stop_grace_period: 10s
  seed:
    image: 127.0.0.1:5000/stagecraft-test/busybox:latest
    command: ["sh", "-c", "echo seeded by a replicated job"]
    restart: "no"
`,
  );
  const hosts = bare.hosts.map((host) => `{ name: ${host.name}, address: ${host.address} }`).join(', ');
  writeFileSync(
    join(root, 'stagecraft.yml'),
    `project:
  name: swarmshop
  registry: 127.0.0.1:5000/swarm-e2e
services:
  api: { role: web, port: 3000, domains: ["*"], replicas: 2 }
  seed: { role: web }
ingress:
  image: 127.0.0.1:5000/stagecraft-test/caddy:2
  http_port: 8080
environments:
  production:
    driver: swarm
    manager: bare1
    ssh:
      user: root
      identity_file: ${bare.identity_file}
      known_hosts_file: ${bare.known_hosts}
    hosts:
      web: [${hosts}]
    rollout:
      health_timeout: 90s
`,
  );
  return {
    root,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/root',
      NO_COLOR: '1',
      DOCKER_HOST: harness.build_docker_host,
      NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20',
      STAGECRAFT_STATE_FILE: join(root, '.stagecraft', 'releases.json'),
    },
  };
}

beforeAll(async () => {
  harness = await requireHarness();
  bare = await freshBareHosts(3);
  project = swarmProject();
  // The product forms the swarm: `stagecraft setup` installs Docker on the fresh hosts (from the harness's
  // package source), inits the swarm on bare1, joins bare2 and bare3 and labels the nodes.
  const plan = await stagecraftIn(project, ['setup', '-e', 'production', '--dry-run']);
  expect(plan.code, plan.stderr).toBe(0);
  for (const id of ['swarm:init:bare1', 'swarm:join:bare2', 'swarm:join:bare3', 'swarm:labels:bare1'])
    expect(plan.stdout).toContain(`+ ${id} `);
  const started = Date.now();
  // --verbose: every command's output is shown, and still no token (docker swarm init prints one).
  const setup = await stagecraftIn(project, ['setup', '-e', 'production', '--verbose'], {
    timeoutMs: 600_000,
  });
  console.log(
    `swarm of 3 bare hosts formed by stagecraft setup in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  expect(setup.code, setup.stderr).toBe(0);
  expect(setup.stdout).toContain('(4 to the swarm of bare1); every host verified');
  const nodes = await onManager(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}']);
  expect(
    nodes
      .split('\n')
      .map((line) => line.trim())
      .sort(),
  ).toEqual(['bare1 Ready Leader', 'bare2 Ready', 'bare3 Ready']);
  // The join token never reached setup's output (nor its plan).
  const token = await onManager(['swarm', 'join-token', '--quiet', 'worker']);
  expect(token).toMatch(/^SWMTKN-1-/);
  for (const text of [plan.stdout, plan.stderr, setup.stdout, setup.stderr]) {
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split('-').at(-1));
  }
  const again = await stagecraftIn(project, ['setup', '-e', 'production'], { timeoutMs: 300_000 });
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout.trim()).toBe(
    'setup: 3 hosts already set up, the swarm of bare1 formed and labelled; nothing changed',
  );
  expect(`${again.stdout}${again.stderr}`).not.toContain(token);
}, 1_800_000);

afterAll(async () => {
  if (project) rmSync(project.root, { recursive: true, force: true });
  await run(process.execPath, [HARNESS_CLI, 'bare', 'down'], { timeoutMs: 120_000 }).catch(() => undefined);
}, 180_000);

describe('driver swarm on a three-node swarm', () => {
  it('plan shows the swarm steps, all on the manager, and changes nothing', async () => {
    const plan = await stagecraftIn(project, ['plan', '-e', 'production', '--version', 'v1']);
    expect(plan.code, plan.stderr).toBe(0);
    for (const id of ['lock:acquire', 'prepare:bare1', 'labels:bare1', 'job:bare1:seed', 'stack:bare1']) {
      expect(plan.stdout).toContain(id);
    }
    expect(plan.stdout).toContain('docker stack deploy swarmshop-production --prune (api 2× start-first');
    expect(await onManager(['stack', 'ls', '--format', '{{.Name}}'])).toBe('');
  }, 60_000);

  it('deploys: the job runs to completion, api runs 2 tasks, the gateway on every node answers', async () => {
    const started = Date.now();
    const deploy = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v1'], {
      timeoutMs: 400_000,
    });
    console.log(`first swarm deploy: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr).toContain('seeded by a replicated job');
    const services = await onManager(['service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}']);
    expect(services.split('\n').sort()).toEqual([
      'swarmshop-production_api replicated 2/2',
      'swarmshop-production_stagecraft-gateway global 3/3',
    ]);
    for (const host of bare.hosts) {
      const page = await get(host.address, '/api/status');
      expect(page.status).toBe(200);
      expect(JSON.parse(page.body)).toMatchObject({ service: 'api', version: 'v1' });
    }
    // The job's stack is gone once it completed; the nodes carry their role label.
    expect(await onManager(['stack', 'ls', '--format', '{{.Name}}'])).toBe('swarmshop-production');
    const labels = await onManager(['node', 'inspect', '--format', '{{json .Spec.Labels}}', 'bare2']);
    expect(JSON.parse(labels)).toEqual({ 'stagecraft.role.web': 'true' });
  }, 420_000);

  it('rolls to v2 start-first; a failing health check pauses the update, exits 2, and v2 keeps serving', async () => {
    const second = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v2'], {
      timeoutMs: 400_000,
    });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse((await get(bare.hosts[1]!.address, '/api/status')).body).version).toBe('v2');

    const failing = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v3'], {
      env: { FAIL_HEALTH: '1' },
      timeoutMs: 400_000,
    });
    expect(failing.code, failing.stderr).toBe(2);
    expect(failing.stderr).toContain('the swarm stopped the update of api: update paused');
    for (const host of bare.hosts) {
      expect(JSON.parse((await get(host.address, '/api/status')).body).version).toBe('v2');
    }
    const status = await stagecraftIn(project, ['status', '-e', 'production']);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('not yet supported on driver swarm: `stagecraft status`');
  }, 840_000);
});
