import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type LoadResult, load, percentile } from '../../bench/lib/load.mjs';
import {
  type BareEnv,
  bareSshArgs,
  freshBareHosts,
  type HarnessEnv,
  requireHarness,
  run,
} from './support/harness.js';
import { type ShopProject, stagecraftIn } from './support/shop.js';

// driver swarm on a real three-node Docker Swarm: the bare hosts (Debian 13, Docker 26 from the package
// source) with bare1 the manager and bare2, bare3 workers, overlay networking between their namespaces.
// One project, deployed twice, then a failing health check: what a user sees (HTTP through the gateway
// on every node, exit codes, the services on the manager).

const HARNESS_CLI = fileURLToPath(new URL('../harness/cli.mjs', import.meta.url));
const API = fileURLToPath(new URL('../../examples/shop/api', import.meta.url));
const MIGRATIONS = fileURLToPath(new URL('../../examples/shop/migrations', import.meta.url));
const PASSWORD = 'swarm-Pg-s3cret-9d1';

let harness: HarnessEnv;
let bare: BareEnv;
let project: ShopProject;

/** docker on the manager's engine (from the operator, through the socket the harness exposes). */
async function onManager(args: string[]): Promise<string> {
  const { stdout } = await run('docker', ['-H', bare.hosts[0]!.docker_host, ...args]);
  return stdout.trim();
}

/** api's running tasks as the manager lists them: `{{.Name}} {{.Node}} {{.CurrentState}}` per task. */
async function runningApiTasks(): Promise<string[]> {
  return (
    await onManager([
      'service',
      'ps',
      '--filter',
      'desired-state=running',
      '--format',
      '{{.Name}} {{.Node}} {{.CurrentState}}',
      'swarmshop-production_api',
    ])
  )
    .split('\n')
    .filter((line) => / Running /.test(line));
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

/** Load on the gateway of each of `hosts` while `during` runs (2 keep-alive connections each). */
async function underLoad<T>(
  hosts: { address: string }[],
  during: () => Promise<T>,
): Promise<{ result: T; loads: LoadResult[] }> {
  const controller = { stop: false };
  const loads = hosts.map((host) =>
    load({
      host: host.address,
      port: 8080,
      path: '/api/status',
      hostHeader: 'swarmshop.localhost',
      connections: 2,
      durationMs: 400_000,
      maxRequests: 400_000,
      stopWhen: () => controller.stop,
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  try {
    const result = await during();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    controller.stop = true;
    return { result, loads: await Promise.all(loads) };
  } finally {
    controller.stop = true;
  }
}

/** The versions that answered during a load, by count. */
function versionsOf(loads: LoadResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of loads) {
    for (const [body, count] of Object.entries(result.bodies)) {
      const version = (JSON.parse(body) as { version: string }).version;
      counts[version] = (counts[version] ?? 0) + count;
    }
  }
  return counts;
}

function summary(loads: LoadResult[]): string {
  const latencies = loads.flatMap((result) => result.latenciesMs);
  const requests = loads.reduce((sum, result) => sum + result.requests, 0);
  const failures = loads.reduce((sum, result) => sum + result.failures, 0);
  return `${requests} requests, ${failures} failed, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`;
}

function swarmProject(): ShopProject {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-swarm-'));
  mkdirSync(join(root, 'api'));
  cpSync(API, join(root, 'api'), { recursive: true, filter: (path) => !path.includes('node_modules') });
  cpSync(MIGRATIONS, join(root, 'migrations'), { recursive: true });
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
  db:
    image: 127.0.0.1:5000/stagecraft-test/postgres:15
    environment:
      POSTGRES_USER: shop
      POSTGRES_DB: shop
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}
    volumes:
      - db-data:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "shop", "-d", "shop"]
      interval: 2s
      timeout: 3s
      retries: 10
volumes:
  db-data: {}
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
  db: { role: db, secrets: [POSTGRES_PASSWORD] }
databases:
  main:
    connection_env: DATABASE_URL
    migrations: { engine: raw, path: ./migrations }
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
      db: [{ name: ${bare.hosts[0]!.name}, address: ${bare.hosts[0]!.address} }]
    rollout:
      health_timeout: 180s
    releases: { retain: 3 }
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
      POSTGRES_PASSWORD: PASSWORD,
      DATABASE_URL: `postgres://shop:${PASSWORD}@db:5432/shop`,
    },
  };
}

beforeAll(async () => {
  harness = await requireHarness();
  bare = await freshBareHosts(3);
  project = swarmProject();
  // Before setup the manager has no Docker Engine: status says so and what to do (exit 1).
  const early = await stagecraftIn(project, ['status', '-e', 'production']);
  expect(early.code, early.stderr).toBe(1);
  expect(early.stderr).toContain('error: bare1, the manager of production, has no Docker Engine\n');
  expect(early.stderr).toContain('hint: run `stagecraft setup -e production`');
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
  // doctor checks every node of the swarm over ssh: the manager manages, the others are its workers.
  const doctor = await stagecraftIn(project, ['doctor', '-e', 'production']);
  for (const [host, place] of [
    ['bare1', 'manager'],
    ['bare2', 'worker'],
    ['bare3', 'worker'],
  ])
    expect(doctor.stdout).toMatch(
      new RegExp(`^ok +production/${host} +ssh ok \\(\\d+ ms\\), docker .*, swarm ${place}$`, 'm'),
    );
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
    // A deploy whose migrations lack their connection URL stops before it changes anything.
    const noUrl = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v0'], {
      env: { DATABASE_URL: '' },
    });
    expect(noUrl.code, noUrl.stderr).toBe(1);
    expect(noUrl.stderr).toContain('error: DATABASE_URL is not set for environment production');
    expect(await onManager(['stack', 'ls', '--format', '{{.Name}}'])).toBe('');
    expect(await onManager(['service', 'ls', '--quiet'])).toBe('');
  }, 60_000);

  it('deploys: the job runs to completion, api runs 2 tasks, the gateway on every node answers', async () => {
    const started = Date.now();
    const deploy = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v1'], {
      timeoutMs: 400_000,
    });
    console.log(`first swarm deploy: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stderr).toContain('seeded by a replicated job');
    // The pre-deploy migrations ran as a job on the swarm once db ran, and the release records them.
    expect(deploy.stderr).toContain('main: applied 001_create_products, 002_create_orders');
    expect(`${deploy.stdout}${deploy.stderr}`).not.toContain(PASSWORD);
    const services = await onManager(['service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}']);
    expect(services.split('\n').sort()).toEqual([
      'swarmshop-production_api replicated 2/2',
      'swarmshop-production_db replicated 1/1',
      'swarmshop-production_stagecraft-gateway global 3/3',
    ]);
    const tables = await onManager([
      'exec',
      await onManager([
        'ps',
        '--quiet',
        '--filter',
        'label=com.docker.swarm.service.name=swarmshop-production_db',
      ]),
      'psql',
      '-U',
      'shop',
      '-d',
      'shop',
      '-Atc',
      "select string_agg(id, ',' order by id) from stagecraft_migrations",
    ]);
    expect(tables).toBe('001_create_products,002_create_orders');
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
    expect(second.stderr).toContain('main: up to date');
    expect(JSON.parse((await get(bare.hosts[1]!.address, '/api/status')).body).version).toBe('v2');

    const failing = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v3'], {
      env: { FAIL_HEALTH: '1' },
      timeoutMs: 400_000,
    });
    expect(failing.code, failing.stderr).toBe(2);
    // The new task that failed: its node, state and error, and its own output (not the old tasks').
    expect(failing.stderr).toMatch(
      /the swarm stopped the update of api: its new task bare\d task [0-9a-z]{12} \w+( \([^)]*\))?; its old tasks keep serving/,
    );
    for (const host of bare.hosts) {
      expect(JSON.parse((await get(host.address, '/api/status')).body).version).toBe('v2');
    }
  }, 840_000);

  it('status, logs and exec read the stack through the manager and reach the task on its node', async () => {
    const serving = JSON.parse((await get(bare.hosts[0]!.address, '/api/status')).body).version as string;
    const names = bare.hosts.map((host) => host.name);
    // Where Swarm runs api now, as the manager says it: "<slot> <node>" per running task. The rollback
    // before may still be starting a task (CI saw one Running of two): wait up to 60 s for both.
    let apiTasks: string[] = [];
    for (const waitStarted = Date.now(); Date.now() - waitStarted < 60_000; ) {
      apiTasks = (await runningApiTasks())
        .map((line) => line.split(' ').slice(0, 2).join(' ').replace('swarmshop-production_', ''))
        .sort();
      if (apiTasks.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(apiTasks).toHaveLength(2);
    const update = await onManager([
      'service',
      'inspect',
      '--format',
      '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
      'swarmshop-production_api',
    ]);

    const started = Date.now();
    const json = await stagecraftIn(project, ['status', '-e', 'production', '--json']);
    console.log(`swarm status --json: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      release: { version: string } | null;
      hosts: {
        name: string;
        reachable: boolean;
        services: {
          name: string;
          kind: string;
          containers: { name: string; state: string; version: string }[];
        }[];
      }[];
      swarm: {
        manager: string;
        stack: string;
        services: { name: string; mode: string; running: number; desired: number; update: string | null }[];
        nodes: { host: string | null; state: string }[];
      };
      summary: { containers: number; running: number };
    };
    expect(report.release?.version).toBe(serving);
    expect(report.swarm.manager).toBe('bare1');
    expect(report.swarm.stack).toBe('swarmshop-production');
    expect(
      report.swarm.services.map(({ name, mode, running, desired }) => ({ name, mode, running, desired })),
    ).toEqual([
      { name: 'api', mode: 'replicated', running: 2, desired: 2 },
      { name: 'db', mode: 'replicated', running: 1, desired: 1 },
      { name: 'stagecraft-gateway', mode: 'global', running: 3, desired: 3 },
    ]);
    expect(report.swarm.services[0]!.update ?? '').toBe(update);
    expect(report.swarm.nodes).toEqual(
      names.map((host) => ({ host, hostname: host, address: expect.any(String), state: 'ready' })),
    );
    expect(report.hosts.map((host) => host.name)).toEqual(names);
    const tasks = report.hosts.flatMap((host) =>
      host.services.flatMap((service) =>
        service.containers.map((task) => ({ host: host.name, service: service.name, ...task })),
      ),
    );
    // The running ones (a paused update may keep retrying a task of the new spec beside them).
    const runningApi = tasks.filter((task) => task.service === 'api' && task.state === 'running');
    expect(runningApi.map((task) => `${task.name} ${task.host}`).sort()).toEqual(apiTasks);
    for (const task of runningApi) expect(task.version).toBe(serving);
    expect(
      tasks
        .filter((task) => task.service === 'stagecraft-gateway')
        .map((task) => `${task.host} ${task.state}`),
    ).toEqual(names.map((name) => `${name} running`));
    expect(report.summary.running).toBe(6);

    const text = await stagecraftIn(project, ['status', '-e', 'production']);
    expect(text.code, text.stderr).toBe(0);
    console.log(text.stdout);
    expect(text.stdout).toContain(
      'stack swarmshop-production (manager bare1); nodes: bare1 ready, bare2 ready, bare3 ready',
    );
    expect(text.stdout).toMatch(/^api +replicated +2\/2 +v\d /m);
    expect(text.stdout).toMatch(/^stagecraft-gateway +global +3\/3 /m);
    expect(text.stdout).toMatch(/^NODE +SERVICE +TASK +STATE/m);
    expect(text.stdout).toMatch(/^6\/\d+ tasks running/m);

    const logs = await stagecraftIn(project, ['logs', '-e', 'production', 'api', '--lines', '20']);
    expect(logs.code, logs.stderr).toBe(0);
    // Every task's lines, prefixed by node and task like `host container |` on driver ssh.
    for (const task of apiTasks) {
      const [slot = '', node = ''] = task.split(' ');
      expect(logs.stdout).toMatch(
        new RegExp(`^${node} ${slot.replace('.', '\\.')} +\\| api ${serving} listening on :3000$`, 'm'),
      );
    }
    // The v1 tasks the v2 update replaced are shut down: their lines are left out, as removed
    // containers' are on driver ssh. (The paused v3 update keeps one task desired running: it stays.)
    const versions = new Set([...logs.stdout.matchAll(/\| api (v\d+) /g)].map((match) => match[1]));
    expect(versions.has(serving)).toBe(true);
    expect(versions.has('v1')).toBe(false);
    // -f follows every task through the manager until Ctrl+C, which ends it with exit 0.
    let followed = '';
    const follow = await stagecraftIn(project, ['logs', '-e', 'production', 'api', '-f', '--tail', '5'], {
      timeoutMs: 60_000,
      onStart: (child) => {
        child.stdout?.on('data', (chunk) => {
          followed += String(chunk);
          if (followed.includes(`api ${serving} listening`)) child.kill('SIGINT');
        });
      },
    });
    expect(follow.code, follow.stderr).toBe(0);
    expect(follow.stdout).toMatch(
      new RegExp(`^bare\\d api\\.\\d +\\| api ${serving} listening on :3000$`, 'm'),
    );
    const scoped = await stagecraftIn(project, ['logs', '-e', 'production', 'api', '--hosts', 'bare9']);
    expect(scoped.code).toBe(1);
    const job = await stagecraftIn(project, ['logs', '-e', 'production', 'seed']);
    expect(job.code).toBe(1);
    expect(job.stderr).toContain('seed is a job');

    const exec = await stagecraftIn(project, [
      'exec',
      '-e',
      'production',
      '-v',
      'api',
      '--',
      'node',
      '-e',
      'console.log(process.env.APP_VERSION)',
    ]);
    expect(exec.code, exec.stderr).toBe(0);
    expect(exec.stdout.trim()).toBe(serving);
    const ranOn = /exec in (api\.\d) on (bare\d)/.exec(exec.stderr);
    expect(ranOn, exec.stderr).not.toBeNull();
    expect(apiTasks).toContain(`${ranOn![1]} ${ranOn![2]}`);
    const failing = await stagecraftIn(project, [
      'exec',
      '-e',
      'production',
      'api',
      '--',
      'sh',
      '-c',
      'exit 7',
    ]);
    expect(failing.code).toBe(7);
    const none = await stagecraftIn(project, ['exec', '-e', 'production', 'seed', '--', 'true']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no service seed in the stack swarmshop-production');
  }, 240_000);

  it('rolls a new version under load on every node: 0 failed requests; rollback returns to v1 the same way', async () => {
    const steady = await underLoad(bare.hosts, () => new Promise((resolve) => setTimeout(resolve, 3000)));
    console.log(`swarm steady state: ${summary(steady.loads)}`);

    const rolled = await underLoad(bare.hosts, () =>
      stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v4'], { timeoutMs: 400_000 }),
    );
    console.log(`swarm rollout v2 → v4 under load: ${summary(rolled.loads)}`);
    if (rolled.result.code !== 0) console.log(`swarm rollout v2 → v4 failed:\n${rolled.result.stderr}`);
    expect(rolled.result.code, rolled.result.stderr).toBe(0);
    expect(rolled.loads.flatMap((result) => result.failureSamples)).toEqual([]);
    expect(rolled.loads.map((result) => result.failures)).toEqual([0, 0, 0]);
    expect(Object.keys(versionsOf(rolled.loads)).sort()).toEqual(['v2', 'v4']);

    const plan = await stagecraftIn(project, [
      'rollback',
      '-e',
      'production',
      '--to-version',
      'v1',
      '--dry-run',
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/upload stack\.yml \(sha256 [0-9a-f]{12}, from release rel-/);
    expect(plan.stdout).toContain('copy:bare1');
    expect(plan.stdout).not.toContain('job:bare1:seed');

    const back = await underLoad(bare.hosts, () =>
      stagecraftIn(project, ['rollback', '-e', 'production', '--to-version', 'v1'], { timeoutMs: 400_000 }),
    );
    console.log(`swarm rollback v4 → v1 under load: ${summary(back.loads)}`);
    expect(back.result.code, back.result.stderr).toBe(0);
    expect(back.result.stderr).not.toContain('seeded by a replicated job');
    expect(back.loads.flatMap((result) => result.failureSamples)).toEqual([]);
    expect(back.loads.map((result) => result.failures)).toEqual([0, 0, 0]);
    for (const host of bare.hosts) {
      expect(JSON.parse((await get(host.address, '/api/status')).body).version).toBe('v1');
    }
    // The rollback is a release of its own, of the v1 images: the swarm runs the digests v1 recorded.
    const releases = await stagecraftIn(project, ['releases', 'list', '-e', 'production', '--json']);
    expect(releases.code, releases.stderr).toBe(0);
    const history = (
      JSON.parse(releases.stdout) as {
        releases: { id: string; kind: string; version: string; images: Record<string, string> }[];
      }
    ).releases;
    const latest = [...history].sort((a, b) => a.id.localeCompare(b.id)).at(-1);
    expect(latest).toMatchObject({ kind: 'rollback', version: 'v1' });
    const first = history.find((record) => record.kind === 'deploy' && record.version === 'v1')!;
    expect(latest!.images['api']).toBe(first.images['api']);
    const image = await onManager([
      'service',
      'inspect',
      '--format',
      '{{.Spec.TaskTemplate.ContainerSpec.Image}}',
      'swarmshop-production_api',
    ]);
    // retain: 3 — the manager keeps the folders of the rollback, v4 and v2 (v1's went once the
    // rollback had copied it; the failed v3's went with v4's deploy).
    const kept = history
      .filter((record) => record.kind === 'rollback' || ['v4', 'v2'].includes(record.version))
      .filter((record) => record.kind === 'rollback' || record.kind === 'deploy')
      .map((record) => record.id)
      .sort();
    const folders = await run(
      'ssh',
      bareSshArgs(bare, 'root', bare.hosts[0]!.address, 'ls .stagecraft/swarmshop-production/releases'),
    );
    expect(folders.stdout.trim().split('\n').sort()).toEqual(kept);
    // `docker stack deploy` pins the tag it was given to its digest (`repo:tag@sha256:…`).
    expect(image).toMatch(new RegExp(`@${first.images['api']!.split('@')[1]}$`));
  }, 900_000);

  it('reschedules the tasks of a worker whose engine stops, and the app keeps answering', async () => {
    const running = async () => (await runningApiTasks()).map((line) => line.split(' ')[1]!);
    // Two api tasks on three nodes: at least one runs on a worker.
    const before = await running();
    const victim = bare.hosts.slice(1).find((host) => before.includes(host.name))!;
    expect(victim).toBeDefined();
    const survivors = bare.hosts.filter((host) => host !== victim);
    const ssh = (command: string) => run('ssh', bareSshArgs(bare, 'root', victim.address, command));
    const started = Date.now();
    let rescheduled = 0;
    // The engine comes back and the node rejoins (the tests after this one use every node), also
    // when an assertion below fails.
    onTestFinished(async () => {
      await ssh('service docker start >/dev/null 2>&1; true');
      for (;;) {
        if ((await onManager(['node', 'inspect', '--format', '{{.Status.State}}', victim.name])) === 'ready')
          break;
        if (Date.now() - started > 300_000) throw new Error(`${victim.name} did not rejoin the swarm`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }, 310_000);
    const outage = await underLoad(survivors, async () => {
      // The worker's engine stops (its containers with it); the manager sees the node go down.
      await ssh('service docker stop >/dev/null 2>&1; true');
      for (;;) {
        const state = await onManager(['node', 'inspect', '--format', '{{.Status.State}}', victim.name]);
        const now = await running();
        if (state === 'down' && now.length === 2 && !now.includes(victim.name)) break;
        if (Date.now() - started > 180_000)
          throw new Error(`${victim.name} is ${state}; api tasks run on ${now.join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      rescheduled = Date.now() - started;
    });
    console.log(
      `swarm node failure: ${victim.name}'s engine stopped; api rescheduled in ${(rescheduled / 1000).toFixed(1)} s; load on the other nodes: ${summary(outage.loads)}`,
    );
    expect(outage.loads.flatMap((result) => result.failureSamples)).toEqual([]);
    expect(outage.loads.map((result) => result.failures)).toEqual([0, 0]);
    for (const host of survivors) {
      expect(JSON.parse((await get(host.address, '/api/status')).body).version).toBe('v1');
    }
  }, 600_000);

  // Keep this the last test: it takes the stack off the swarm.
  it('remove plans first, then leaves no service, network, config, secret, job stack or file of the stack, and the gateway port is closed', async () => {
    const dry = await stagecraftIn(project, ['remove', '-e', 'production', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('stack-rm:bare1');
    expect(dry.stdout).toContain('docker stack rm swarmshop-production');
    for (const host of bare.hosts) expect(dry.stdout).toContain(`drain:${host.name}`);
    const refused = await stagecraftIn(project, ['remove', '-e', 'production']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --yes');
    expect((await get(bare.hosts[0]!.address, '/api/status')).status).toBe(200);

    const started = Date.now();
    const removed = await stagecraftIn(
      project,
      ['remove', '-e', 'production', '--volumes', '--yes', '--json'],
      {
        timeoutMs: 400_000,
      },
    );
    console.log(`swarm remove: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(removed.code, removed.stderr).toBe(0);
    const summary = JSON.parse(removed.stdout.trim().split('\n').at(-1)!) as {
      event: string;
      removal: string;
      swarm: { stacks: string[]; services: string[] };
    };
    expect(summary).toMatchObject({ event: 'remove', swarm: { stacks: ['swarmshop-production'] } });
    expect(summary.swarm.services).toEqual([
      'swarmshop-production_api',
      'swarmshop-production_db',
      'swarmshop-production_stagecraft-gateway',
    ]);

    const label = 'label=com.docker.stack.namespace=swarmshop-production';
    for (const kind of ['service', 'network', 'config', 'secret']) {
      expect(await onManager([kind, 'ls', '--quiet', '--filter', label]), kind).toBe('');
    }
    expect(await onManager(['stack', 'ls', '--format', '{{.Name}}'])).toBe('');
    // The manager keeps only the release history, where the removal is recorded (as on driver ssh).
    const folder = await run(
      'ssh',
      bareSshArgs(bare, 'root', bare.hosts[0]!.address, 'ls -A .stagecraft/swarmshop-production'),
    );
    expect(folder.stdout).toBe('releases.jsonl\n');
    const releases = await stagecraftIn(project, ['releases', '-e', 'production', '--json']);
    expect(releases.code, releases.stderr).toBe(0);
    const removal = (
      JSON.parse(releases.stdout) as { releases: { id: string; kind?: string }[] }
    ).releases.find((record) => record.id === summary.removal);
    expect(removal?.kind).toBe('remove');
    for (const host of bare.hosts) {
      await expect(get(host.address, '/api/status')).rejects.toThrow(/ECONNREFUSED|timeout/);
      const left = await run('docker', ['-H', host.docker_host, 'ps', '-a', '--quiet', '--filter', label]);
      expect(left.stdout.trim(), host.name).toBe('');
      // --volumes: db's volume on bare1 went too.
      const volumes = await run('docker', [
        '-H',
        host.docker_host,
        'volume',
        'ls',
        '--quiet',
        '--filter',
        label,
      ]);
      expect(volumes.stdout.trim(), host.name).toBe('');
    }
    // The role labels stay: every stack on the swarm places its tasks with them.
    const labels = await onManager(['node', 'inspect', '--format', '{{json .Spec.Labels}}', 'bare2']);
    expect(JSON.parse(labels)).toEqual({ 'stagecraft.role.web': 'true' });
    const status = await stagecraftIn(project, ['status', '-e', 'production']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('no service of the stack swarmshop-production runs');
  }, 420_000);
});
