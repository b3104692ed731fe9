import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName, gatewayPortsContainer } from '../../src/ingress/gateway-name.js';
import { requireHarness } from './support/harness.js';

const DEMO = fileURLToPath(new URL('../../scripts/demo.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The demo's output, whose last line says how to stop it. */
let stopLine = '';

/** GET /api/status on the demo's gateway, by the API's domain, or (without one) as the printed URL's page does. */
function apiStatus(domain?: string): Promise<{ version: string; database: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '10.231.0.10',
        port: 8080,
        path: '/api/status',
        headers: domain === undefined ? {} : { host: domain },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(JSON.parse(body)));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  await requireHarness();
});

// The demo leaves the shop running for the reader; the tests after this one need its ports (8080, 5432).
afterAll(async () => {
  const harness = await requireHarness();
  const env = { ...process.env, DOCKER_HOST: harness.build_docker_host };
  spawnSync('docker', ['compose', '-p', 'shop-local', 'down', '--volumes'], { env, stdio: 'ignore' });
  spawnSync('docker', ['rm', '-f', gatewayName(8080, 443), gatewayPortsContainer(gatewayName(8080, 443))], {
    env,
    stdio: 'ignore',
  });
  spawnSync('docker', ['volume', 'rm', `${gatewayName(8080, 443)}-data`], { env, stdio: 'ignore' });
});

describe('npm run demo (the README main command)', () => {
  it('deploys the bundled example with driver local twice, with zero failed requests', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env['DOCKER_HOST'];
    const result = spawnSync(process.execPath, [DEMO], { env, encoding: 'utf8', timeout: 240_000 });
    stopLine = result.stdout;
    expect(result.stderr).toContain('✓ Deployed shop demo-1 to local');
    expect(result.stderr).toContain('✓ Deployed shop demo-2 to local');
    expect(result.stdout).toMatch(
      /During the second deploy \(load for \d+ s, from before it started until after it ended\): \d+ requests, 0 failed \(\d+ from demo-1, \d+ from demo-2\)\./,
    );
    // The harness's engine is not the default one: the printed commands must name it.
    expect(result.stdout).toMatch(
      /Stop it: cd examples\/shop && DOCKER_HOST=unix:\/\/\/run\/stagecraft-harness\/local\/docker.sock (\S+ )*node \.\.\/\.\.\/bin\/stagecraft\.js remove -e local --yes\n/,
    );
    expect(result.stdout).toMatch(
      /Try: cd examples\/shop && DOCKER_HOST=\S+ NODE_IMAGE=\S+ POSTGRES_IMAGE=\S+ INGRESS_IMAGE=\S+ node /,
    );
    // NO_COLOR (and no terminal): plain headings.
    expect(result.stderr).toContain('\n== stagecraft deploy -e local --version demo-1\n');
    expect(result.stderr).not.toContain('\u001b[1m');
    expect(result.stdout).toMatch(/rel-\d{8}-\d{9}\s+demo-2\s+deploy\s+completed/);
    expect(result.stdout).toContain('http://10.231.0.10:8080/');
    expect(result.status).toBe(0);
  }, 240_000);

  it('leaves the second version serving, connected to its database', async () => {
    expect(await apiStatus('api.shop.localhost')).toMatchObject({ version: 'demo-2', database: true });
  });

  it('serves the printed URL’s page with a working API call (its own origin’s /api/status)', async () => {
    expect(await apiStatus()).toMatchObject({ service: 'api', version: 'demo-2', database: true });
  });

  it('stops with the command it prints: no container of the shop and no gateway left', async () => {
    const harness = await requireHarness();
    const printed = /Stop it: (.+)\n/.exec(stopLine)?.[1];
    expect(printed).toBeDefined();
    const stopped = spawnSync('sh', ['-c', printed!], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(stopped.status, stopped.stderr).toBe(0);
    const left = spawnSync('docker', ['ps', '-a', '--format', '{{.Names}}'], {
      env: { ...process.env, DOCKER_HOST: harness.build_docker_host },
      encoding: 'utf8',
    }).stdout;
    expect(
      left
        .split('\n')
        .filter(
          (name) =>
            name.startsWith('shop-local') ||
            name === gatewayName(8080, 443) ||
            name === gatewayPortsContainer(gatewayName(8080, 443)),
        ),
    ).toEqual([]);
  }, 120_000);
});
