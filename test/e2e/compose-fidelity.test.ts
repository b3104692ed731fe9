import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import {
  dockerOn,
  type HarnessEnv,
  harnessSshYaml,
  pushRetagged,
  requireHarness,
  sshRun,
} from './support/harness.js';
import { gatewayGet, resetHosts } from './support/preamble.js';
import { type ShopProject, stagecraftIn } from './support/shop.js';

// Issue 11 on the harness: a bind-mounted folder served from the container (kind 3) and a build with
// `platform` + `dockerfile_inline` (kind 5), deployed over SSH to h1 and read back through the gateway.

let harness: HarnessEnv;
let project: ShopProject;
const BUSYBOX = '127.0.0.1:5000/stagecraft-test/busybox:latest';

function get(hostHeader: string): Promise<{ status: number; body: string }> {
  return gatewayGet(harness.hosts.find((host) => host.name === 'h1')!.address, hostHeader, '/');
}

/** The id of the site service's running container on h1. */
async function siteContainer(): Promise<string> {
  const listed = await dockerOn(harness, 'h1', [
    'ps',
    '--filter',
    'label=com.docker.compose.project=fidelity-production',
    '--filter',
    'label=com.docker.compose.service=site',
    '--format',
    '{{.ID}}',
  ]);
  return listed.trim();
}

beforeAll(async () => {
  harness = await requireHarness();
  await resetHosts(harness, ['h1']);
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-fidelity-'));
  mkdirSync(join(root, 'www'));
  writeFileSync(join(root, 'www', 'index.html'), 'fresh bread\n');
  // An empty folder (git keeps none): the container sees it as here.
  mkdirSync(join(root, 'www', 'uploads'));
  mkdirSync(join(root, 'inline'));
  writeFileSync(
    join(root, 'docker-compose.yml'),
    `services:
  site:
    image: ${BUSYBOX}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes:
      - ./www:/www:ro
  worker:
    image: ${BUSYBOX}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    scale: 1
  inline:
    platform: linux/amd64
    build:
      context: ./inline
      platforms: [linux/amd64]
      dockerfile_inline: |
        FROM ${BUSYBOX}
        RUN mkdir /www && echo "inline build" > /www/index.html
        CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
`,
  );
  const address = harness.hosts.find((host) => host.name === 'h1')!.address;
  writeFileSync(
    join(root, 'stagecraft.yml'),
    `project:
  name: fidelity
  registry: 127.0.0.1:5000/fidelity-e2e
services:
  site: { role: web, port: 8080, domains: [site.fidelity.localhost] }
  inline: { role: web, port: 8080, domains: [inline.fidelity.localhost] }
  worker: { role: web }
ingress:
  image: 127.0.0.1:5000/stagecraft-test/caddy:2
  http_port: 8080
environments:
  production:
    driver: ssh
${harnessSshYaml(harness)}    hosts:
      web:
        - { name: h1, address: ${address} }
    rollout:
      health_timeout: 60s
`,
  );
  project = {
    root,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/root',
      NO_COLOR: '1',
      DOCKER_HOST: harness.build_docker_host,
      STAGECRAFT_STATE_FILE: join(root, '.stagecraft', 'releases.json'),
    },
  };
});

afterAll(async () => {
  if (harness) {
    await sshRun(
      harness,
      'h1',
      `docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=fidelity-production) ${gatewayName(8080, 443)} ${gatewayName(8080, 443)}-ports >/dev/null 2>&1; true`,
    );
  }
  if (project) rmSync(project.root, { recursive: true, force: true });
});

describe('compose fidelity on the harness', () => {
  it('serves a bind-mounted folder and an inline-Dockerfile image built for the compose platform', async () => {
    const run = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'f1']);
    expect(run.code, run.stderr).toBe(0);
    expect(await get('site.fidelity.localhost')).toEqual({ status: 200, body: 'fresh bread\n' });
    expect(await get('inline.fidelity.localhost')).toEqual({ status: 200, body: 'inline build\n' });
    const site = await siteContainer();
    expect((await dockerOn(harness, 'h1', ['exec', site, 'ls', '-1', '/www'])).trim().split('\n')).toEqual([
      'index.html',
      'uploads',
    ]);
    const image = (
      await dockerOn(harness, 'h1', [
        'ps',
        '--filter',
        'label=com.docker.compose.service=inline',
        '--format',
        '{{.Image}}',
      ])
    ).trim();
    expect(image).toMatch(/^127\.0\.0\.1:5000\/fidelity-e2e\/fidelity-inline(:f1|@sha256:[0-9a-f]{64})$/);
    expect(
      (
        await dockerOn(harness, 'h1', ['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}}', image])
      ).trim(),
    ).toBe('linux/amd64');
  });

  it('scale: 0 stops the service and starts nothing; the others keep serving', async () => {
    const workers = async () =>
      (
        await dockerOn(harness, 'h1', [
          'ps',
          '-a',
          '--filter',
          'label=com.docker.compose.project=fidelity-production',
          '--filter',
          'label=com.docker.compose.service=worker',
          '--format',
          '{{.State}}',
        ])
      ).trim();
    expect(await workers()).toBe('running');
    const file = join(project.root, 'docker-compose.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    scale: 1\n', '    scale: 0\n'));
    const plan = await stagecraftIn(project, ['plan', '-e', 'production', '--version', 'f2']);
    expect(plan.stdout).toContain(
      'scale worker to 0 replicas (compose scale or deploy.replicas): nothing starts',
    );
    const run = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'f2']);
    expect(run.code, run.stderr).toBe(0);
    expect(await workers()).toBe('');
    expect(await get('site.fidelity.localhost')).toEqual({ status: 200, body: 'fresh bread\n' });
  });

  it('a changed bind-mounted file is a changed service: the next deploy serves it', async () => {
    writeFileSync(join(project.root, 'www', 'index.html'), 'rye bread\n');
    const plan = await stagecraftIn(project, ['plan', '-e', 'production', '--version', 'f3']);
    expect(plan.stdout).toMatch(/rollout:h1:site +start-first site/);
    const run = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'f3']);
    expect(run.code, run.stderr).toBe(0);
    expect(await get('site.fidelity.localhost')).toEqual({ status: 200, body: 'rye bread\n' });
    // Deployed again as it is, nothing changes: the same files, and each container runs the image
    // its tag names on the host (compared by id, so a tag pulled anew would be a change).
    const again = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'f3', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const done = again.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; step?: string; status?: string })
      .filter((event) => event.event === 'step-done' && event.step?.startsWith('rollout:'));
    expect(done.map((event) => [event.step, event.status]).sort()).toEqual([
      ['rollout:h1:inline', 'unchanged'],
      ['rollout:h1:site', 'unchanged'],
      ['rollout:h1:worker', 'unchanged'],
    ]);
  });

  it('a tag pushed anew (another image under the same name) is a change: the container is replaced', async () => {
    const moving = '127.0.0.1:5000/fidelity-e2e/moving:latest';
    await pushRetagged(harness, BUSYBOX, moving);
    const file = join(project.root, 'docker-compose.yml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        `image: ${BUSYBOX}\n    command: ["httpd"`,
        `image: ${moving}\n    command: ["httpd"`,
      ),
    );
    const first = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'f4']);
    expect(first.code, first.stderr).toBe(0);
    const before = await siteContainer();
    // The tag moves: another image (one more label) is pushed under the same name.
    await dockerOn(harness, 'local', ['create', '--name', 'fidelity-moving', moving]);
    await dockerOn(harness, 'local', ['commit', '--change', 'LABEL moved=1', 'fidelity-moving', moving]);
    await dockerOn(harness, 'local', ['rm', 'fidelity-moving']);
    await dockerOn(harness, 'local', ['push', '-q', moving]);
    const again = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'f4']);
    expect(again.code, again.stderr).toBe(0);
    const after = await siteContainer();
    expect(after).not.toBe(before);
    expect(
      (
        await dockerOn(harness, 'h1', ['inspect', '--format', '{{index .Config.Labels "moved"}}', after])
      ).trim(),
    ).toBe('1');
    expect(await get('site.fidelity.localhost')).toEqual({ status: 200, body: 'rye bread\n' });
  });
});
