import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { type HarnessEnv, harnessSshYaml, pushRetagged, requireHarness, sshRun } from './support/harness.js';
import { type ShopProject, stagecraftIn } from './support/shop.js';

// Issue 15.4 on the harness, through the real gateway on h1 (a project of its own on port 28180):
// a path prefix with basic auth from a secret, and the maintenance switch, which a deploy keeps on.

let harness: HarnessEnv;
let project: ShopProject;
let h1: string;
const BUSYBOX = '127.0.0.1:5000/stagecraft-test/busybox:latest';
const PASSWORD = 'e2e-Staging-pw-71c3';
const DOMAIN = 'routes.localhost';
const CADDY = '127.0.0.1:5000/stagecraft-test/caddy:2';
const CADDY_NEXT = '127.0.0.1:5000/stagecraft-test/caddy:2-next';

interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
  authenticate: string | undefined;
}

function get(path: string, auth?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: DOMAIN };
    if (auth !== undefined) headers['authorization'] = `Basic ${Buffer.from(auth).toString('base64')}`;
    const req = request({ host: h1, port: 28180, path, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          retryAfter: res.headers['retry-after'],
          authenticate: res.headers['www-authenticate'],
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const httpd = (text: string) =>
  `["sh", "-c", "mkdir -p /www && echo '${text}' > /www/index.html && exec httpd -f -p 8080 -h /www"]`;

beforeAll(async () => {
  harness = await requireHarness();
  h1 = harness.hosts.find((host) => host.name === 'h1')!.address;
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-routes-'));
  writeFileSync(
    join(root, 'docker-compose.yml'),
    `services:
  site:
    image: ${BUSYBOX}
    command: ${httpd('the site')}
  admin:
    image: ${BUSYBOX}
    command: ${httpd('the admin area')}
`,
  );
  writeFileSync(
    join(root, 'stagecraft.yml'),
    `project:
  name: routes
services:
  site: { role: web, port: 8080, domains: [${DOMAIN}], health: { path: /index.html } }
  admin:
    role: web
    port: 8080
    domains: [${DOMAIN}/admin]
    max_body: 1KB
    basic_auth: { user: admin, password_secret: ADMIN_PASSWORD }
    health: { stable_for: 1s }
ingress:
  image: ${CADDY}
  http_port: 28180
environments:
  staging:
    driver: ssh
${harnessSshYaml(harness)}    hosts:
      web:
        - { name: h1, address: ${h1} }
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
      ADMIN_PASSWORD: PASSWORD,
    },
  };
});

afterAll(async () => {
  if (harness) {
    await sshRun(
      harness,
      'h1',
      `docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=routes-staging) ${gatewayName(28180, 443)} ${gatewayName(28180, 443)}-ports >/dev/null 2>&1; docker volume rm ${gatewayName(28180, 443)}-data >/dev/null 2>&1; rm -rf ~/.stagecraft/routes-staging; true`,
    );
  }
  if (project) rmSync(project.root, { recursive: true, force: true });
});

describe('routes through the real gateway', () => {
  it('basic auth on a stripped path prefix; maintenance on answers 503, survives a deploy, off restores', async () => {
    const outputs: string[] = [];
    const cli = async (args: string[]) => {
      const run = await stagecraftIn(project, ['-e', 'staging', ...args]);
      outputs.push(run.stdout, run.stderr);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
      return run;
    };
    const plan = await cli(['plan', '--version', 'r1']);
    await cli(['deploy', '--version', 'r1']);
    expect(await get('/')).toMatchObject({ status: 200, body: 'the site\n' });
    // health.path is a real probe: the rollout waited for Docker to call the container healthy.
    expect(plan.stdout).toMatch(/start-first site \(1 replica\) → routes\.localhost; healthy within 2m\b/);
    const health = await sshRun(
      harness,
      'h1',
      'docker inspect --format "{{.State.Health.Status}} {{json .Config.Healthcheck.Test}}" $(docker ps -q --filter label=com.docker.compose.project=routes-staging --filter label=com.docker.compose.service=site)',
    );
    expect(health.trim()).toBe(
      `healthy ["CMD-SHELL","wget -q -O /dev/null 'http://127.0.0.1:8080/index.html' 2\u003e/dev/null || curl -fsS -o /dev/null 'http://127.0.0.1:8080/index.html' 2\u003e/dev/null || node -e 'fetch(process.argv[1]).then((r) =\u003e process.exit(r.ok ? 0 : 1), () =\u003e process.exit(1))' 'http://127.0.0.1:8080/index.html'"]`,
    );
    expect(await get('/admin/')).toMatchObject({ status: 401, authenticate: 'Basic realm="restricted"' });
    expect(await get('/admin/', 'admin:wrong')).toMatchObject({ status: 401 });
    expect(await get('/admin/', `admin:${PASSWORD}`)).toMatchObject({
      status: 200,
      body: 'the admin area\n',
    });

    const on = await cli(['maintenance', 'on', '--retry-after', '2m']);
    expect(on.stdout).toContain(
      `✓ Maintenance on for routes staging: ${DOMAIN}, ${DOMAIN}/admin answer 503 (Retry-After 120 s) on h1`,
    );
    const down = await get('/');
    expect(down).toMatchObject({ status: 503, retryAfter: '120' });
    expect(down.body).toContain('<h1>Down for maintenance</h1>');
    expect(await get('/admin/', `admin:${PASSWORD}`)).toMatchObject({ status: 503, retryAfter: '120' });

    // A deploy while on keeps it on, says so, and finds the gateway's config as it wants it (the
    // password's hash kept): the gateway is not reloaded.
    const redeploy = await cli(['deploy', '--version', 'r2']);
    expect(redeploy.stderr).toContain('maintenance is on for routes staging since');
    expect(redeploy.stderr).toMatch(/ingress:h1 {2}ingress running/);
    expect(await get('/')).toMatchObject({ status: 503, retryAfter: '120' });

    const off = await cli(['maintenance', 'off']);
    expect(off.stdout).toContain(
      `✓ Maintenance off for routes staging: ${DOMAIN}, ${DOMAIN}/admin served again on h1`,
    );
    expect(await get('/')).toMatchObject({ status: 200, body: 'the site\n' });
    expect(await get('/admin/')).toMatchObject({ status: 401 });
    expect(await get('/admin/', `admin:${PASSWORD}`)).toMatchObject({
      status: 200,
      body: 'the admin area\n',
    });
    // A new gateway image: the route and its password's hash come over into the new gateway (so the
    // deploy after finds nothing to change).
    await pushRetagged(harness, CADDY, CADDY_NEXT);
    const file = join(project.root, 'stagecraft.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(`image: ${CADDY}`, `image: ${CADDY_NEXT}`));
    const moved = await cli(['deploy', '--version', 'r2']);
    expect(moved.stderr).toContain(
      `ingress.image changed: this deploy replaces the gateway ${gatewayName(28180, 443)} (${CADDY} → ${CADDY_NEXT}) beside the old one, which drains: no request refused`,
    );
    expect(moved.stderr).toContain(`ingress:h1  ingress replaced: runs ${CADDY_NEXT}`);
    expect(await get('/admin/')).toMatchObject({ status: 401 });
    expect(await get('/admin/', `admin:${PASSWORD}`)).toMatchObject({
      status: 200,
      body: 'the admin area\n',
    });
    const same = await cli(['deploy', '--version', 'r2']);
    expect(same.stderr).toMatch(/ingress:h1 {2}ingress running/);
    expect(same.stderr).not.toContain('ingress.image changed');

    const recorded = await sshRun(harness, 'h1', 'cat ~/.stagecraft/routes-staging/maintenance.jsonl');
    expect(
      recorded
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line).state),
    ).toEqual(['on', 'off']);
    // The password is in no output, no record and no label (only its bcrypt hash, inside the gateway).
    const labels = await sshRun(
      harness,
      'h1',
      `docker inspect --format "{{json .Config.Labels}}" $(docker ps -q --filter label=com.docker.compose.project=routes-staging) ${gatewayName(28180, 443)}`,
    );
    for (const text of [
      ...outputs,
      recorded,
      labels,
      readFileSync(join(project.root, '.stagecraft', 'releases.json'), 'utf8'),
    ]) {
      expect(text).not.toContain(PASSWORD);
    }
  });
});
