// `stagecraft dev` on the shop example, with real parts: the harness's Docker engine for the database
// container, the real Node backend and Vite frontend as host processes, real mkcert certificates and a
// real Caddy as the HTTPS front door. The CLI runs as a subprocess, exactly as a user runs it.
//
// The harness engine lives in its own network namespace (10.231.0.10), so published container ports
// are reached there, not at 127.0.0.1: the test sets STAGECRAFT_DEV_DOCKER_ADDRESS (where `dev` binds
// and reaches published ports) and gives the backend a DATABASE_URL at that address.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import {
  cliEnv,
  type DevRun,
  eventually,
  freePort,
  get,
  liveGroupMembers,
  openWebSocket,
  runCli,
  startCli,
  stopStartedClis,
} from '../support/dev.js';
import { dockerOn, type HarnessEnv, requireHarness, run } from './support/harness.js';
import { devPrerequisites } from './support/preamble.js';

const SHOP = fileURLToPath(new URL('../../examples/shop/', import.meta.url));
const HOSTS_BEFORE = '127.0.0.1\tlocalhost\n# keep this comment   exactly\n\n::1 localhost ip6-localhost';
const POSTGRES_IMAGE = 'stagecraft-test/postgres';

let harness: HarnessEnv;
let root: string;
let project: string;
let env: Record<string, string>;
let ca: Buffer;
let hostsFile: string;
let httpPort: number;
let httpsPort: number;
let dev: DevRun;
let startupMs: number;
let databaseImage: string;
/** The build engine's address: where `dev` reaches published container ports. */
let engine: string;

async function registryHas(h: HarnessEnv, repository: string, tag: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${h.registry}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    return response.ok;
  } catch {
    return false;
  }
}

/** A copy of examples/shop with test ports, a test hosts file and a unique compose project. */
async function prepareProject(): Promise<void> {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-dev-shop-'));
  for (const entry of ['api', 'migrations', 'docker-compose.yml', 'stagecraft.yml']) {
    cpSync(join(SHOP, entry), join(root, entry), { recursive: true });
  }
  mkdirSync(join(root, 'web'));
  for (const entry of ['index.html', 'src', 'package.json', 'vite.config.js']) {
    cpSync(join(SHOP, 'web', entry), join(root, 'web', entry), { recursive: true });
  }
  symlinkSync(join(SHOP, 'web', 'node_modules'), join(root, 'web', 'node_modules'));

  [httpPort, httpsPort] = [await freePort(), await freePort()];
  const [apiPort, webPort] = [await freePort(), await freePort()];
  project = `shop${process.pid}`;
  const config = parseDocument(readFileSync(join(root, 'stagecraft.yml'), 'utf8'));
  config.setIn(['project', 'name'], project);
  config.setIn(['backend', 'providers', 'generic', 'dev', 'port'], apiPort);
  config.setIn(['backend', 'providers', 'generic', 'dev', 'env', 'PORT'], String(apiPort));
  config.setIn(
    ['frontend', 'providers', 'generic', 'dev', 'command'],
    ['npx', 'vite', '--host', '127.0.0.1', '--port', String(webPort), '--strictPort'],
  );
  config.setIn(['frontend', 'providers', 'generic', 'dev', 'port'], webPort);
  config.setIn(['frontend', 'providers', 'generic', 'dev', 'env'], {
    SHOP_API_ORIGIN: `http://127.0.0.1:${apiPort}`,
  });
  // api.shop.test is outside .localhost: it needs the managed hosts entry.
  config.setIn(['dev', 'domains', 'backend'], 'api.shop.test');
  config.setIn(['dev', 'proxy'], { http_port: httpPort, https_port: httpsPort });
  writeFileSync(join(root, 'stagecraft.yml'), config.toString());

  if (await registryHas(harness, POSTGRES_IMAGE, '15')) {
    databaseImage = `${harness.registry}/${POSTGRES_IMAGE}:15`;
  } else {
    // Stand-in until the harness has PostgreSQL: busybox httpd answering on 5432, with a health check.
    databaseImage = `${harness.registry}/stagecraft-test/busybox:latest`;
    const compose = parseDocument(readFileSync(join(root, 'docker-compose.yml'), 'utf8'));
    compose.setIn(
      ['services', 'db', 'command'],
      ['sh', '-c', 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 5432 -h /www'],
    );
    compose.setIn(['services', 'db', 'init'], true);
    compose.setIn(['services', 'db', 'expose'], ['5432']);
    compose.setIn(
      ['services', 'db', 'healthcheck', 'test'],
      ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:5432/'],
    );
    writeFileSync(join(root, 'docker-compose.yml'), compose.toString());
  }

  // The compose file may publish the database port itself (`${DB_PUBLISH_PORT:-5432}:5432`); otherwise
  // the dev override publishes 5432. Either way the backend finds it at the engine's address.
  const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
  const dbPort = composeText.includes('DB_PUBLISH_PORT') ? 20_000 + (process.pid % 20_000) : 5432;

  hostsFile = join(root, 'hosts');
  writeFileSync(hostsFile, HOSTS_BEFORE);
  const caroot = join(root, 'mkcert-ca');
  mkdirSync(caroot);
  const address = engine;
  env = cliEnv({
    DOCKER_HOST: harness.build_docker_host,
    STAGECRAFT_DEV_DOCKER_ADDRESS: address,
    DATABASE_URL: `postgres://shop:shop@${address}:${dbPort}/shop`,
    DB_PUBLISH_PORT: String(dbPort),
    POSTGRES_IMAGE: databaseImage,
    STAGECRAFT_HOSTS_FILE: hostsFile,
    CAROOT: caroot,
  });
}

async function composePs(all: boolean): Promise<string[]> {
  const out = await dockerOn(harness, 'local', [
    'ps',
    ...(all ? ['--all'] : []),
    '--filter',
    `label=com.docker.compose.project=${project}-dev`,
    '--format',
    '{{.Names}} {{.State}}',
  ]);
  return out
    .trim()
    .split('\n')
    .filter((line) => line !== '');
}

function devState(): {
  processes: { name: string; pid: number; pgid: number }[];
  status: string;
  mode: string;
} {
  return JSON.parse(readFileSync(join(root, '.stagecraft', 'dev', 'state.json'), 'utf8'));
}

beforeAll(async () => {
  harness = await requireHarness();
  engine = devPrerequisites(harness, 'the dev e2e tests (see .ci/run)');
  await prepareProject();
  const started = Date.now();
  dev = startCli(['dev'], { cwd: root, env });
  await dev.waitFor(/Press Ctrl\+C to stop/, 120_000);
  startupMs = Date.now() - started;
  ca = readFileSync(join(root, 'mkcert-ca', 'rootCA.pem'));
  console.log(`stagecraft dev: all ready ${startupMs} ms after start (database image ${databaseImage})`);
}, 300_000);

afterAll(async () => {
  await stopStartedClis();
  if (root !== undefined && existsSync(join(root, '.stagecraft', 'dev', 'state.json'))) {
    await runCli(['dev', 'down'], { cwd: root, env }).catch(() => undefined);
  }
  if (harness !== undefined && project !== undefined) {
    await run('docker', ['-H', harness.build_docker_host, 'compose', '-p', `${project}-dev`, 'down', '-v'], {
      timeoutMs: 60_000,
    }).catch(() => undefined);
  }
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
}, 120_000);

describe('stagecraft dev (shop: compose database, Node backend, Vite frontend)', () => {
  it('starts the database container, the backend, the frontend and the proxy, and says so', () => {
    const output = dev.output();
    expect(output).toMatch(/✓ containers db up \(db at [\d.]+:\d+\)/);
    expect(output).toMatch(/✓ backend ready in/);
    expect(output).toMatch(/✓ frontend ready in/);
    expect(output).toMatch(/✓ proxy ready in/);
    expect(output).toContain(`backend   https://api.shop.test:${httpsPort}`);
    expect(output).toContain(`frontend  https://app.localhost:${httpsPort}`);
    // Multiplexed output with a prefix per service (no colour: NO_COLOR and not a TTY).
    expect(dev.stdout()).toMatch(/^backend {2}\| api dev listening on :\d+$/m);
    expect(dev.stdout()).toMatch(/^frontend \| .*VITE v7/m);
    expect(dev.stdout()).not.toContain('\u001b[');
    expect(devState()).toMatchObject({ status: 'ready', mode: 'foreground' });
  });

  it('answers on both domains over HTTPS with a certificate that mkcert’s CA verifies', async () => {
    const app = await get(`https://app.localhost:${httpsPort}/`, { ca });
    expect(app.status).toBe(200);
    expect(app.authorized).toBe(true);
    expect(app.body).toContain('<h1 id="title">Shop</h1>');
    expect(app.body).toContain('/@vite/client');
    const api = await get(`https://api.shop.test:${httpsPort}/health`, { ca });
    expect(api).toMatchObject({ status: 200, body: 'ok\n', authorized: true });
    expect(api.subjectAltName).toContain('DNS:api.shop.test');
    expect(api.subjectAltName).toContain('DNS:app.localhost');
    // Without mkcert's CA the certificate is not trusted: it really is mkcert's.
    await expect(get(`https://app.localhost:${httpsPort}/`)).rejects.toThrow(/certificate/);
  });

  it('redirects HTTP to HTTPS and answers unknown hosts with a clear 404', async () => {
    const redirect = await get(`http://app.localhost:${httpPort}/some/path?q=1`);
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe(`https://app.localhost:${httpsPort}/some/path?q=1`);
    const unknown = await get(`https://app.localhost:${httpsPort}/`, { ca, hostHeader: 'nothing.localhost' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('no app is served at nothing.localhost');
  });

  it('adds a managed hosts entry for api.shop.test only, keeping every other byte', () => {
    const hosts = readFileSync(hostsFile, 'utf8');
    expect(hosts).toBe(`${HOSTS_BEFORE}\n127.0.0.1    api.shop.test    # Stagecraft managed`);
  });

  it('the backend reaches the database (directly and through the frontend’s /api proxy)', async () => {
    const status = await get(`https://api.shop.test:${httpsPort}/api/status`, { ca });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ service: 'api', database: true });
    const viaFrontend = await get(`https://app.localhost:${httpsPort}/api/status`, { ca });
    expect(JSON.parse(viaFrontend.body)).toMatchObject({ service: 'api', database: true });
    expect(await composePs(false)).toEqual([`${project}-dev-db-1 running`]);
  });

  it('serves a frontend change without a restart, pushed over Vite’s HMR WebSocket through the proxy', async () => {
    const frontendPid = devState().processes.find((entry) => entry.name === 'frontend')?.pid;
    const client = await get(`https://app.localhost:${httpsPort}/@vite/client`, { ca });
    const token = /const wsToken = "([^"]+)"/.exec(client.body)?.[1];
    expect(token).toBeDefined();
    const socket = await openWebSocket(`wss://app.localhost:${httpsPort}/?token=${token}`, {
      ca,
      protocol: 'vite-hmr',
    });
    try {
      expect(socket.protocol).toBe('vite-hmr');
      await socket.next((message) => message.includes('"connected"'));
      const before = await get(`https://app.localhost:${httpsPort}/src/main.js`, { ca });
      expect(before.body).toContain('API unreachable');
      const file = join(root, 'web', 'src', 'main.js');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace("'API unreachable'", "'API is unreachable (edited)'"),
      );
      const update = await socket.next((message) => /"type":"(full-reload|update)"/.test(message), 15_000);
      expect(update).toMatch(/main\.js|full-reload/);
      const after = await get(`https://app.localhost:${httpsPort}/src/main.js`, { ca });
      expect(after.body).toContain('API is unreachable (edited)');
    } finally {
      socket.close();
    }
    expect(devState().processes.find((entry) => entry.name === 'frontend')?.pid).toBe(frontendPid);
    expect(dev.output()).not.toMatch(/frontend (restarted|exited)/);
  });

  it('Ctrl+C stops every process group, the containers and the hosts entry within 10 s, exit 0', async () => {
    const groups = devState().processes.map((entry) => entry.pgid);
    expect(groups).toHaveLength(3);
    for (const pgid of groups) expect(liveGroupMembers(pgid).length).toBeGreaterThan(0);
    const sent = Date.now();
    dev.child.kill('SIGINT');
    const exit = await Promise.race([
      dev.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000)),
    ]);
    const shutdownMs = Date.now() - sent;
    console.log(`stagecraft dev: stopped ${shutdownMs} ms after SIGINT`);
    expect(exit, `still running 10 s after SIGINT; output:\n${dev.output()}`).toBeDefined();
    expect(exit?.code).toBe(0);
    for (const pgid of groups) expect(liveGroupMembers(pgid)).toEqual([]);
    expect(await composePs(false)).toEqual([]);
    expect(await composePs(true)).toEqual([expect.stringMatching(new RegExp(`^${project}-dev-db-1 exited`))]);
    expect(readFileSync(hostsFile)).toEqual(Buffer.from(HOSTS_BEFORE));
    expect(existsSync(join(root, '.stagecraft', 'dev', 'state.json'))).toBe(false);
    expect(dev.output()).toMatch(/✓ dev stack stopped in/);
  });

  it('--detach leaves the stack running in the background; `dev down` stops all of it', async () => {
    const detached = await runCli(['dev', '--detach'], { cwd: root, env, timeoutMs: 120_000 });
    expect(detached.code, detached.stderr).toBe(0);
    expect(detached.stderr).toContain('dev stack ready in the background');
    expect(detached.stderr).toContain('stagecraft dev down');
    const state = devState();
    expect(state).toMatchObject({ status: 'ready', mode: 'detached' });
    const api = await get(`https://api.shop.test:${httpsPort}/api/status`, { ca });
    expect(JSON.parse(api.body)).toMatchObject({ database: true });
    expect(readFileSync(hostsFile, 'utf8')).toContain('# Stagecraft managed');

    const again = await runCli(['dev'], { cwd: root, env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/a dev stack is already running here/);

    const down = await runCli(['dev', 'down'], { cwd: root, env, timeoutMs: 30_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(down.ms).toBeLessThan(10_000);
    for (const entry of state.processes) {
      expect(await eventually(() => liveGroupMembers(entry.pgid).length === 0, 2000)).toBe(true);
    }
    expect(await composePs(false)).toEqual([]);
    expect(readFileSync(hostsFile)).toEqual(Buffer.from(HOSTS_BEFORE));
    expect((await runCli(['dev', 'down'], { cwd: root, env })).stderr).toContain(
      'no dev stack is running here',
    );
  });
});
