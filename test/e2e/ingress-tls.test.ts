import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName, gatewayPortsContainer } from '../../src/ingress/gateway-name.js';
import { dockerOn, type HarnessEnv, requireHarness } from './support/harness.js';
import { removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

// A project of its own on h1 (ports 28080/28443, db 25432), so it never meets the other suites'.
let harness: HarnessEnv;
let project: ShopProject;
let caRoot: string;
let h1: string;

function fetchTls(path: string, servername: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: h1,
        port: 28443,
        path,
        servername,
        headers: { host: servername },
        ca: readFileSync(join(caRoot, 'rootCA.pem')),
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function fetchPlain(path: string, host: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: h1, port: 28080, path, headers: { host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  harness = await requireHarness();
  h1 = harness.hosts.find((host) => host.name === 'h1')!.address;
  caRoot = mkdtempSync(join(tmpdir(), 'stagecraft-ca-'));
  project = shopProject(harness, { hosts: { web: ['h1'], db: ['h1'] } });
  mkdirSync(join(project.root, 'tls'));
  const made = spawnSync(
    'mkcert',
    ['-cert-file', 'tls/cert.pem', '-key-file', 'tls/key.pem', 'shop.localhost', 'api.shop.localhost'],
    {
      cwd: project.root,
      env: { ...process.env, CAROOT: caRoot },
      encoding: 'utf8',
    },
  );
  if (made.status !== 0 && made.error === undefined) throw new Error(`mkcert failed: ${made.stderr}`);
  if (made.error !== undefined)
    throw new Error('mkcert is missing: `apt-get install mkcert` (.ci/run installs it)');
  const path = join(project.root, 'stagecraft.yml');
  const config = readFileSync(path, 'utf8')
    .replace('name: shop\n', 'name: shoptls\n')
    .replace(
      '  http_port: 8080\n',
      '  http_port: 28080\n  https_port: 28443\n  tls:\n    mode: custom\n    cert_file: tls/cert.pem\n    key_file: tls/key.pem\n',
    );
  writeFileSync(path, config);
  project.env['DB_PUBLISH_PORT'] = '25432';
});

afterAll(async () => {
  if (harness) {
    const ids = (
      await dockerOn(harness, 'h1', [
        'ps',
        '-aq',
        '--filter',
        'label=com.docker.compose.project=shoptls-production',
      ])
    ).trim();
    if (ids !== '') await dockerOn(harness, 'h1', ['rm', '-f', ...ids.split('\n')]);
    await dockerOn(harness, 'h1', [
      'rm',
      '-f',
      gatewayName(28080, 28443),
      gatewayPortsContainer(gatewayName(28080, 28443)),
    ]).catch(() => undefined);
  }
  if (project) removeProject(project);
});

describe('TLS at the ingress', () => {
  it('serves the routes over HTTPS with the provided certificate and redirects HTTP, never showing the key', async () => {
    const run = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'tls1']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('ingress:h1  ingress created');
    expect(await fetchTls('/version', 'shop.localhost')).toEqual({ status: 200, body: 'tls1' });
    expect(JSON.parse((await fetchTls('/api/status', 'api.shop.localhost')).body)).toMatchObject({
      version: 'tls1',
      database: true,
    });
    expect(await fetchPlain('/version', 'shop.localhost')).toEqual({
      status: 308,
      location: 'https://shop.localhost/version',
    });

    const key = readFileSync(join(project.root, 'tls/key.pem'), 'utf8');
    const keyLine = key.split('\n')[1]!;
    const plan = await stagecraftIn(project, [
      'plan',
      '-e',
      'production',
      '--version',
      'tls2',
      '--format',
      'json',
    ]);
    expect(plan.stdout).toContain('"tls": "custom"');
    for (const text of [
      run.stdout,
      run.stderr,
      plan.stdout,
      readFileSync(join(project.root, '.stagecraft', 'releases.json'), 'utf8'),
    ]) {
      expect(text).not.toContain(keyLine);
    }
  });
});
