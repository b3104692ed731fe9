// Deploy without a registry, on the harness, with the CLI as a subprocess: the shop with no
// `project.registry` deployed to h3 gets its built images over SSH (save on the build machine,
// `docker load` on h3 of the layers h3 lacks). A second deploy that changes one small file sends at
// most 10 % of the image's archive; the harness registry never sees the app's images; a rollback
// serves the first release again from the images kept on h3.
//
// Own project name (`shopnoreg`) and ports (ingress :28380, db :25632): nothing shared with the
// other suites that deploy the shop.

import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { dockerOn, type HarnessEnv, requireHarness, run, sshRun } from './support/harness.js';
import { type CliRun, removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

const PROJECT = 'shopnoreg';
const COMPOSE_PROJECT = `${PROJECT}-production`;
const PORT = 28380;

let harness: HarnessEnv;
let project: ShopProject;
const started = Date.now();

const cli = (args: string[]): Promise<CliRun> => stagecraftIn(project, ['-e', 'production', ...args]);

function get(path: string): Promise<{ status: number; body: string }> {
  const host = harness.hosts.find((candidate) => candidate.name === 'h3')!.address;
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: PORT, path, headers: { host: 'shop.localhost' }, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
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

interface StepDone {
  event: string;
  step: string;
  status: string;
  detail?: string;
  duration_ms: number;
}

/** The step-done events of a `--json` run. */
function stepsOf(stdout: string): StepDone[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as StepDone)
    .filter((event) => event.event === 'step-done');
}

/** Bytes sent and the whole archive's bytes, from a transfer step's detail. */
function transferBytes(detail: string): { sent: number; full: number } {
  const match = /; (\d+) of (\d+) bytes\)/.exec(detail);
  if (match === null) throw new Error(`no byte counts in "${detail}"`);
  return { sent: Number(match[1]), full: Number(match[2]) };
}

const releases = (): { id: string; version: string; kind: string }[] =>
  (
    JSON.parse(readFileSync(join(project.root, '.stagecraft', 'releases.json'), 'utf8')) as {
      releases: { id: string; version: string; kind: string }[];
    }
  ).releases;

async function cleanup(): Promise<void> {
  const docker = (args: string[]) => dockerOn(harness, 'h3', args).catch(() => '');
  const ids = [
    ...(await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${COMPOSE_PROJECT}`])).split(
      '\n',
    ),
    ...(await docker(['ps', '-aq', '--filter', `label=stagecraft.ingress=${gatewayName(PORT, 443)}`])).split(
      '\n',
    ),
  ].filter((id) => id.trim() !== '');
  if (ids.length > 0) await docker(['rm', '-f', ...ids]);
  await docker(['network', 'rm', `${COMPOSE_PROJECT}_default`, gatewayName(PORT, 443)]);
  await docker(['volume', 'rm', `${COMPOSE_PROJECT}_db-data`]);
  const images = (await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']))
    .split('\n')
    .filter((ref) => ref.startsWith(`${PROJECT}-`));
  if (images.length > 0) await docker(['image', 'rm', ...images]);
  await sshRun(harness, 'h3', `rm -rf .stagecraft/${COMPOSE_PROJECT}`).catch(() => undefined);
}

beforeAll(async () => {
  harness = await requireHarness();
  await cleanup();
  project = shopProject(harness, { hosts: { web: ['h3'], db: ['h3'] } });
  const path = join(project.root, 'stagecraft.yml');
  let config = readFileSync(path, 'utf8');
  config = config.replace(
    'project:\n  name: shop\n  registry: 127.0.0.1:5000/shop-e2e\n',
    `project:\n  name: ${PROJECT}\n`,
  );
  config = config.replace('http_port: 8080', `http_port: ${PORT}`);
  writeFileSync(path, config);
  project.env['DB_PUBLISH_PORT'] = '25632';
});

afterAll(async () => {
  if (harness !== undefined) await cleanup();
  if (project !== undefined) removeProject(project);
  console.log(`no-registry e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

describe('deploy without a registry (no project.registry)', () => {
  it('sends the images over SSH, then only the changed layer, and never touches the registry', async () => {
    writeFileSync(join(project.root, 'web', 'src', 'release.txt'), 'v1\n');
    const first = await cli(['deploy', '--version', 'v1', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const firstSteps = stepsOf(first.stdout).map((step) => step.step);
    expect(firstSteps.filter((id) => /^(save|transfer|push):/.test(id)).sort()).toEqual([
      'save:api',
      'save:web',
      'transfer:h3:api',
      'transfer:h3:web',
    ]);
    expect(await get('/version')).toEqual({ status: 200, body: 'v1' });

    // One small file changes: one layer of web's image; api's image is the same.
    writeFileSync(join(project.root, 'web', 'src', 'release.txt'), 'v2 with one small change\n');
    const second = await cli(['deploy', '--version', 'v2', '--json']);
    expect(second.code, second.stderr).toBe(0);
    const transfer = stepsOf(second.stdout).find((step) => step.step === 'transfer:h3:web')!;
    expect(transfer.status).toBe('completed');
    const { sent, full } = transferBytes(transfer.detail!);
    console.log(
      `second deploy, web image: sent ${sent} of ${full} bytes (${((100 * sent) / full).toFixed(2)} %) in ${transfer.duration_ms} ms`,
    );
    expect(transfer.detail).toMatch(/^shopnoreg-web:v2: sent 1 of \d+ layers: /);
    expect(sent / full).toBeLessThanOrEqual(0.1);
    const api = stepsOf(second.stdout).find((step) => step.step === 'transfer:h3:api')!;
    expect(api.detail).toMatch(/^shopnoreg-api:v2: sent 0 of \d+ layers: /);
    expect(await get('/version')).toEqual({ status: 200, body: 'v2' });

    // The images came by docker load, not from a registry: no repo digest on h3, nothing in the catalog.
    expect(
      (
        await dockerOn(harness, 'h3', [
          'image',
          'inspect',
          '--format',
          '{{json .RepoDigests}}',
          'shopnoreg-web:v2',
        ])
      ).trim(),
    ).toBe('[]');
    const catalog = await run('curl', ['-s', `http://${harness.registry}/v2/_catalog?n=1000`]);
    expect(catalog.stdout).not.toContain(PROJECT);
  }, 300_000);

  it('rolls back to the first release from the images kept on the host', async () => {
    const [v1] = releases();
    const back = await cli(['rollback', '--to-release', v1!.id]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).not.toContain('transfer:');
    expect(await get('/version')).toEqual({ status: 200, body: 'v1' });
    expect(releases().at(-1)!.kind).toBe('rollback');
  }, 120_000);
});
