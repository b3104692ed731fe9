// `stagecraft new --template` end to end, with real parts and no edit to the generated files: the
// project is created, `stagecraft dev` serves it over HTTPS (mkcert, Caddy, the harness's Docker
// engine for PostgreSQL), `stagecraft deploy -e local` deploys it twice with zero failed requests
// under load, and cleaning up leaves no container, volume, process or state behind.
//
// Only the environment carries what this machine needs: the harness engine (DOCKER_HOST), offline
// base images (NODE_IMAGE, POSTGRES_IMAGE, INGRESS_IMAGE from the harness registry), where the engine's
// published ports are reached (STAGECRAFT_DEV_DOCKER_ADDRESS, DATABASE_URL for the dev backend), a
// private mkcert CA (CAROOT) and hosts file.
import {
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from '../../bench/lib/load.mjs';
import { parseDotenv } from '../../src/config/dotenv.js';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { cliEnv, get, runCli, stopStartedClis } from '../support/dev.js';
import { dockerOn, type HarnessEnv, requireHarness, run } from './support/harness.js';
import { devPrerequisites, SHOP_WEB } from './support/preamble.js';

const HOSTS_BEFORE = '127.0.0.1\tlocalhost\n';

let harness: HarnessEnv;
let root: string;
let engine: string;

beforeAll(async () => {
  harness = await requireHarness();
  engine = devPrerequisites(harness, 'the template e2e tests');
  root = mkdtempSync(join(tmpdir(), 'stagecraft-templates-'));
}, 300_000);

afterAll(async () => {
  await stopStartedClis();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

async function composeContainers(project: string): Promise<string[]> {
  const out = await dockerOn(harness, 'local', [
    'ps',
    '--all',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--format',
    '{{.Names}}',
  ]);
  return out.split('\n').filter((line) => line !== '');
}

async function volumes(project: string): Promise<string[]> {
  const out = await dockerOn(harness, 'local', [
    'volume',
    'ls',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--format',
    '{{.Name}}',
  ]);
  return out.split('\n').filter((line) => line !== '');
}

const cases = [
  {
    template: 'platform',
    appHost: (name: string) => `${name}.localhost`,
    appPath: '/version',
    database: true,
  },
  {
    template: 'node-api',
    appHost: (name: string) => `api.${name}.localhost`,
    appPath: '/api/status',
    database: false,
  },
] as const;

for (const testCase of cases) {
  describe(`stagecraft new --template ${testCase.template}`, () => {
    const name = `tpl-${testCase.template}-${process.pid}`;
    let dir: string;
    let ca: Buffer;
    let devEnv: Record<string, string>;
    let deployEnv: Record<string, string>;
    // The template's database publishes no port; `stagecraft dev` publishes 5432 for the backend.
    const dbPort = 5432;

    beforeAll(async () => {
      dir = join(root, name);
      const created = await runCli(['new', dir, '--template', testCase.template, '--no-install'], {
        cwd: root,
        env: cliEnv(),
      });
      expect(created.code, created.stderr).toBe(0);
      if (existsSync(join(dir, 'web')))
        symlinkSync(join(SHOP_WEB, 'node_modules'), join(dir, 'web', 'node_modules'));
      mkdirSync(join(root, `${name}-ca`));
      writeFileSync(join(root, `${name}-hosts`), HOSTS_BEFORE);
      const devPassword = parseDotenv(readFileSync(join(dir, '.env'), 'utf8'))['POSTGRES_PASSWORD'];
      devEnv = cliEnv({
        DOCKER_HOST: harness.build_docker_host,
        STAGECRAFT_DEV_DOCKER_ADDRESS: engine,
        POSTGRES_IMAGE: `${harness.registry}/stagecraft-test/postgres:15`,
        ...(devPassword === undefined
          ? {}
          : { DATABASE_URL: `postgres://app:${devPassword}@${engine}:${dbPort}/app` }),
        CAROOT: join(root, `${name}-ca`),
        STAGECRAFT_HOSTS_FILE: join(root, `${name}-hosts`),
      });
      deployEnv = cliEnv({
        DOCKER_HOST: harness.build_docker_host,
        NODE_IMAGE: `${harness.registry}/stagecraft-test/node:20`,
        POSTGRES_IMAGE: `${harness.registry}/stagecraft-test/postgres:15`,
        INGRESS_IMAGE: `${harness.registry}/stagecraft-test/caddy:2`,
      });
    }, 120_000);

    afterAll(async () => {
      await runCli(['dev', 'down'], { cwd: dir, env: devEnv }).catch(() => undefined);
      for (const project of [`${name}-dev`, `${name}-local`]) {
        await run('docker', ['-H', harness.build_docker_host, 'compose', '-p', project, 'down', '-v'], {
          timeoutMs: 60_000,
        }).catch(() => undefined);
      }
      await run('docker', ['-H', harness.build_docker_host, 'rm', '-f', gatewayName(80, 443)], {
        timeoutMs: 30_000,
      }).catch(() => undefined);
    }, 120_000);

    it('`stagecraft dev` serves it over HTTPS with mkcert’s certificate, the backend reaching its database', async () => {
      const started = await runCli(['dev', '--detach'], { cwd: dir, env: devEnv, timeoutMs: 180_000 });
      expect(started.code, started.stderr).toBe(0);
      ca = readFileSync(join(root, `${name}-ca`, 'rootCA.pem'));
      const api = await get('https://api.localhost/api/status', { ca });
      expect(api.status).toBe(200);
      expect(api.authorized).toBe(true);
      expect(JSON.parse(api.body)).toMatchObject({
        service: `${name}-api`,
        version: 'dev',
        database: testCase.database ? true : null,
      });
      if (testCase.template === 'platform') {
        const app = await get('https://app.localhost/', { ca });
        expect(app.status).toBe(200);
        expect(app.body).toContain(`<h1 id="title">${name}</h1>`);
        expect(app.body).toContain('/@vite/client');
        const proxied = await get('https://app.localhost/api/status', { ca });
        expect(JSON.parse(proxied.body)).toMatchObject({ database: true });
      }
    });

    it('`stagecraft dev down` stops it and leaves nothing running', async () => {
      const down = await runCli(['dev', 'down'], { cwd: dir, env: devEnv, timeoutMs: 60_000 });
      expect(down.code, down.stderr).toBe(0);
      expect(existsSync(join(dir, '.stagecraft', 'dev', 'state.json'))).toBe(false);
      expect(readFileSync(join(root, `${name}-hosts`), 'utf8')).toBe(HOSTS_BEFORE);
      const running = await dockerOn(harness, 'local', [
        'ps',
        '--filter',
        `label=com.docker.compose.project=${name}-dev`,
        '--format',
        '{{.Names}}',
      ]);
      expect(running.trim()).toBe('');
      await expect(get('https://api.localhost/api/status', { ca })).rejects.toThrow();
    });

    it('`stagecraft deploy -e local` deploys it, then a new version under load with 0 failed requests', {
      timeout: 600_000,
    }, async () => {
      const first = await runCli(['deploy', '-e', 'local', '--version', 'v1'], {
        cwd: dir,
        env: deployEnv,
        timeoutMs: 240_000,
      });
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain(`✓ Deployed ${name} v1 to local`);
      const traffic = { stop: false };
      const measured = load({
        host: engine,
        port: 80,
        path: testCase.appPath,
        hostHeader: testCase.appHost(name),
        connections: 8,
        // Until the deploy is over (stopWhen): a loaded machine can take minutes to deploy.
        durationMs: 400_000,
        stopWhen: () => traffic.stop,
      });
      const second = await runCli(['deploy', '-e', 'local', '--version', 'v2'], {
        cwd: dir,
        env: deployEnv,
        timeoutMs: 360_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      traffic.stop = true;
      const result = await measured;
      console.log(
        `${testCase.template}: ${result.requests} requests during the second deploy, ${result.failures} failed ${JSON.stringify(result.bodies)}`,
      );
      expect(second.code, second.stderr).toBe(0);
      expect(result.failures, result.failureSamples.join('\n')).toBe(0);
      expect(result.requests).toBeGreaterThan(50);
      expect(Object.keys(result.bodies).join(' ')).toContain('v1');
      // Once the deploy is over, the new version answers (the gateway may take its refresh to switch).
      const current = async () => {
        const answer = await get(`http://${engine}:80${testCase.appPath}`, {
          hostHeader: testCase.appHost(name),
        });
        return answer.body;
      };
      let body = await current();
      for (let attempt = 0; attempt < 30 && !body.includes('v2'); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        body = await current();
      }
      expect(body).toContain('v2');
    });

    it('cleaning up the environment leaves no container or volume behind', async () => {
      await run('docker', ['-H', harness.build_docker_host, 'compose', '-p', `${name}-local`, 'down', '-v'], {
        timeoutMs: 60_000,
      });
      await run('docker', ['-H', harness.build_docker_host, 'rm', '-f', gatewayName(80, 443)], {
        timeoutMs: 30_000,
      });
      await run('docker', ['-H', harness.build_docker_host, 'compose', '-p', `${name}-dev`, 'down', '-v'], {
        timeoutMs: 60_000,
      });
      for (const project of [`${name}-dev`, `${name}-local`]) {
        expect(await composeContainers(project)).toEqual([]);
        expect(await volumes(project)).toEqual([]);
      }
      const leftovers = await dockerOn(harness, 'local', ['ps', '--all', '--format', '{{.Names}}']);
      expect(leftovers.split('\n').filter((line) => line.startsWith(name))).toEqual([]);
    });
  });
}
