import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from '../../bench/lib/load.mjs';
import {
  type HarnessEnv,
  harnessSshYaml,
  projectEnv,
  pushRetagged,
  requireHarness,
  sshRun,
} from './support/harness.js';
import { gatewayGet } from './support/preamble.js';
import { type ShopProject, stagecraftIn } from './support/shop.js';

// Issue 15.4 on the harness: two apps on one host share its one gateway on port 80 (`stagecraft-gateway`),
// each owning its routes by domain. One is redeployed under load while the other is under load too,
// and one is removed while the other keeps serving.

let harness: HarnessEnv;
let h1: string;
const BUSYBOX = '127.0.0.1:5000/stagecraft-test/busybox:latest';
const GATEWAY = 'stagecraft-gateway';
const CADDY = '127.0.0.1:5000/stagecraft-test/caddy:2';
/** The same image under another tag: an ingress.image change. */
const CADDY_NEXT = '127.0.0.1:5000/stagecraft-test/caddy:2-next';
/** And a third: the change after the gateway moved into its ports container. */
const CADDY_THIRD = '127.0.0.1:5000/stagecraft-test/caddy:2-third';
const PORTS = `${GATEWAY}-ports`;
const apps: Record<string, ShopProject> = {};
/** Keep-alive connections of each load. */
const CONNECTIONS = 2;

/** GET / of `domain` through h1's port 80. */
const get = (domain: string) => gatewayGet(h1, domain, '/', 80);

/** A one-service app on h1 (environment `staging`) answering `$BODY` on `domain`, on the default ports. */
function app(name: string, domain: string, secondPort = false): ShopProject {
  const root = mkdtempSync(join(tmpdir(), `stagecraft-${name}-`));
  writeFileSync(
    join(root, 'docker-compose.yml'),
    `services:
  site:
    image: ${BUSYBOX}
    # httpd, as PID 1, ignores SIGTERM: a short grace period keeps the test quick.
    stop_grace_period: 1s
    environment:
      BODY: \${BODY:-v1}
    command: ["sh", "-c", "mkdir -p /www /www2 && echo \\"$$BODY\\" > /www/index.html && echo \\"$$BODY on 9090\\" > /www2/index.html && httpd -p 9090 -h /www2 && exec httpd -f -p 8080 -h /www"]
`,
  );
  writeFileSync(
    join(root, 'stagecraft.yml'),
    `project:
  name: ${name}
services:
  site:
    role: web
    port: 8080
    domains: [${domain}]
    health: { path: /index.html }
${secondPort ? `    routes: [{ port: 9090, domains: [ws.${domain}] }]\n` : ''}
ingress:
  image: ${CADDY}
environments:
  staging:
    driver: ssh
${harnessSshYaml(harness)}    hosts:
      web:
        - { name: h1, address: ${h1} }
`,
  );
  return { root, env: projectEnv(harness, root) };
}

const cli = (name: string, args: string[], body = 'v1') =>
  stagecraftIn(apps[name]!, [...args, '-e', 'staging'], { env: { BODY: `${name}-${body}` } });

/** Load on `domain` through h1's port 80 until stopped. */
function loadOn(domain: string, controller: { stop: boolean }) {
  return load({
    host: h1,
    port: 80,
    path: '/',
    hostHeader: domain,
    connections: CONNECTIONS,
    durationMs: 170_000,
    maxRequests: 400_000,
    stopWhen: () => controller.stop,
  });
}

const gateways = async () =>
  // The gateways on port 80 (other suites leave theirs on their own ports).
  (
    await sshRun(
      harness,
      'h1',
      `docker ps -a --filter label=stagecraft.ingress-ports=80:80 --format '{{.Names}}'`,
    )
  )
    .split('\n')
    .filter((line) => line.trim() !== '')
    .sort();

async function cleanup(): Promise<void> {
  await sshRun(
    harness,
    'h1',
    `for p in gwa-staging gwb-staging gwc-staging; do docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=$p) >/dev/null 2>&1; rm -rf ~/.stagecraft/$p; done; docker rm -f ${GATEWAY} ${PORTS} >/dev/null 2>&1; docker volume rm ${GATEWAY}-data >/dev/null 2>&1; true`,
  );
}

beforeAll(async () => {
  harness = await requireHarness();
  h1 = harness.hosts.find((host) => host.name === 'h1')!.address;
  await cleanup();
  apps['gwa'] = app('gwa', 'a.localhost');
  // A second routed port of its one service.
  apps['gwb'] = app('gwb', 'b.localhost', true);
  // Asks for a domain gwa routes.
  apps['gwc'] = app('gwc', 'a.localhost');
  // The gateway as versions before ports containers made it (rollout/ingress.ts then): it publishes
  // port 80 itself. The first deploys use it; the first image change moves it into its ports container.
  await sshRun(
    harness,
    'h1',
    `docker network create --label stagecraft.ingress=${GATEWAY} ${GATEWAY} >/dev/null && docker volume create --label stagecraft.ingress=${GATEWAY} ${GATEWAY}-data >/dev/null && docker run -d --name ${GATEWAY} --restart unless-stopped --network ${GATEWAY} -p 80:80 -v ${GATEWAY}-data:/data --label stagecraft.ingress=${GATEWAY} --label stagecraft.ingress-data=${GATEWAY}-data --label stagecraft.ingress-ports=80:80 --label stagecraft.ingress-image=${CADDY} ${CADDY} caddy run --resume >/dev/null`,
  );
});

afterAll(async () => {
  if (harness) await cleanup();
  for (const project of Object.values(apps)) rmSync(project.root, { recursive: true, force: true });
});

describe('one gateway per host, shared by two apps', () => {
  it('serves two apps on port 80 by domain through one gateway', async () => {
    for (const name of ['gwa', 'gwb']) {
      const run = await cli(name, ['deploy', '--version', 'v1']);
      expect(run.code, run.stderr).toBe(0);
    }
    expect(await get('a.localhost')).toEqual({ status: 200, body: 'gwa-v1\n' });
    expect(await get('b.localhost')).toEqual({ status: 200, body: 'gwb-v1\n' });
    expect(await get('ws.b.localhost')).toEqual({ status: 200, body: 'gwb-v1 on 9090\n' });
    expect(await gateways()).toEqual([GATEWAY]);
  });

  it('redeploys one app under load while the other is under load: 0 failed requests on both', async () => {
    const controller = { stop: false };
    const loads = [loadOn('a.localhost', controller), loadOn('b.localhost', controller)];
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const run = await cli('gwa', ['deploy', '--version', 'v2'], 'v2');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    controller.stop = true;
    const [a, b] = await Promise.all(loads);
    expect(run.code, run.stderr).toBe(0);
    expect(a!.failureSamples).toEqual([]);
    expect(a!.failures).toBe(0);
    expect(Object.keys(a!.bodies).sort()).toEqual(['gwa-v1', 'gwa-v2']);
    expect(b!.failureSamples).toEqual([]);
    expect(b!.failures).toBe(0);
    expect(b!.requests).toBeGreaterThan(100);
    expect(Object.keys(b!.bodies)).toEqual(['gwb-v1']);
  });

  it("replaces a gateway made before ports containers when ingress.image changes: both apps' routes and maintenance kept, a bounded gap, once", async () => {
    await pushRetagged(harness, CADDY, CADDY_NEXT);
    const on = await cli('gwb', ['maintenance', 'on', '--retry-after', '2m']);
    expect(on.code, on.stderr).toBe(0);
    const file = join(apps['gwa']!.root, 'stagecraft.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(`image: ${CADDY}`, `image: ${CADDY_NEXT}`));
    // `plan` reads no host; `plan --refresh` reads the gateway and says what the deploy will do.
    const plain = await cli('gwa', ['plan', '--version', 'v2'], 'v2');
    expect(plain.stdout).not.toContain('replaces the gateway');
    const plan = await cli('gwa', ['plan', '--refresh', '--version', 'v2'], 'v2');
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(
      `ensure caddy ingress on port 80; replaces the gateway ${GATEWAY} (${CADDY} → ${CADDY_NEXT}) and moves its ports into ${PORTS}: requests to h1 are refused for 1–6 s, this once`,
    );

    const controller = { stop: false };
    const during = loadOn('a.localhost', controller);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const run = await cli('gwa', ['deploy', '--version', 'v2'], 'v2');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    controller.stop = true;
    const a = await during;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      `the gateway ${GATEWAY} on h1 also serves gwb-staging: it moves to ${CADDY_NEXT} for them too; give every app on this host the same ingress.image or the next deploy of another moves it back`,
    );
    expect(run.stdout + run.stderr).toContain(`ingress replaced: runs ${CADDY_NEXT}`);
    const gapMs = a.failureSpan === undefined ? 0 : a.failureSpan.last - a.failureSpan.first;
    console.log(
      `gateway image change under load (${CONNECTIONS} keep-alive connections): ${a.failures} of ${a.requests} requests refused over ${gapMs} ms; samples ${JSON.stringify(a.failureSamples)}`,
    );
    expect(a.failures).toBeGreaterThan(0);
    expect(a.failureSamples.filter((sample) => sample.startsWith('HTTP '))).toEqual([]);
    expect(Object.keys(a.bodies)).toEqual(['gwa-v2']);
    const inspected = await sshRun(
      harness,
      'h1',
      `docker inspect --format '{{.Config.Image}} {{index .Config.Labels "stagecraft.ingress-image"}}' ${GATEWAY}`,
    );
    expect(inspected.trim()).toBe(`${CADDY_NEXT} ${CADDY_NEXT}`);
    // Both apps' routes came over, gwb's still in maintenance.
    expect(await get('a.localhost')).toEqual({ status: 200, body: 'gwa-v2\n' });
    expect((await get('b.localhost')).status).toBe(503);
    expect((await get('ws.b.localhost')).status).toBe(503);
    // As the warning says: gwb's ingress.image too, else its next gateway step moves the gateway back.
    const fileB = join(apps['gwb']!.root, 'stagecraft.yml');
    writeFileSync(fileB, readFileSync(fileB, 'utf8').replace(`image: ${CADDY}`, `image: ${CADDY_NEXT}`));
    const off = await cli('gwb', ['maintenance', 'off']);
    expect(off.code, off.stderr).toBe(0);
    expect(await get('b.localhost')).toEqual({ status: 200, body: 'gwb-v1\n' });
    expect(await get('ws.b.localhost')).toEqual({ status: 200, body: 'gwb-v1 on 9090\n' });
    expect(await gateways()).toEqual([GATEWAY, PORTS]);
    const inPorts = await sshRun(
      harness,
      'h1',
      `docker inspect --format '{{.HostConfig.NetworkMode}} {{len .HostConfig.PortBindings}}' ${GATEWAY}; docker inspect --format '{{.Id}}' ${PORTS}`,
    );
    const [mode, portsId] = inPorts.trim().split('\n');
    expect(mode).toBe(`container:${portsId} 0`);

    // The same image again: nothing replaced, nothing refused.
    const same = { stop: false };
    const after = loadOn('a.localhost', same);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const again = await cli('gwa', ['deploy', '--version', 'v2'], 'v2');
    same.stop = true;
    const b = await after;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).not.toContain('replaces the gateway');
    expect(again.stdout + again.stderr).toContain('ingress running');
    expect(b.failureSamples).toEqual([]);
    expect(b.failures).toBe(0);
    expect(b.requests).toBeGreaterThan(100);
    // Last, so that a slow gap leaves both apps as the next tests expect. The plan says 1–6 s (0.9–2.0 s
    // measured on the harness, 3.7 s and 5.2 s in full CI runs at load); a slower machine gets room.
    expect(gapMs).toBeLessThan(7000);
  });

  it('replaces the gateway in its ports container beside the old one: 0 failed requests on both apps', async () => {
    await pushRetagged(harness, CADDY, CADDY_THIRD);
    for (const name of ['gwa', 'gwb']) {
      const file = join(apps[name]!.root, 'stagecraft.yml');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace(`image: ${CADDY_NEXT}`, `image: ${CADDY_THIRD}`),
      );
    }
    const plan = await cli('gwa', ['plan', '--refresh', '--version', 'v2'], 'v2');
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(
      `ensure caddy ingress on port 80; replaces the gateway ${GATEWAY} (${CADDY_NEXT} → ${CADDY_THIRD}) beside the old one, which drains: no request refused`,
    );
    const controller = { stop: false };
    const loads = [loadOn('a.localhost', controller), loadOn('b.localhost', controller)];
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const run = await cli('gwa', ['deploy', '--version', 'v2'], 'v2');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    controller.stop = true;
    const [a, b] = await Promise.all(loads);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).toContain(`ingress replaced: runs ${CADDY_THIRD}`);
    console.log(
      `gateway image change in its ports container under load: gwa ${a!.failures} of ${a!.requests} failed, gwb ${b!.failures} of ${b!.requests}`,
    );
    expect(a!.failureSamples).toEqual([]);
    expect(a!.failures).toBe(0);
    expect(a!.requests).toBeGreaterThan(100);
    expect(Object.keys(a!.bodies)).toEqual(['gwa-v2']);
    expect(b!.failureSamples).toEqual([]);
    expect(b!.failures).toBe(0);
    expect(b!.requests).toBeGreaterThan(100);
    expect(Object.keys(b!.bodies)).toEqual(['gwb-v1']);
    const inspected = await sshRun(
      harness,
      'h1',
      `docker inspect --format '{{index .Config.Labels "stagecraft.ingress-image"}} {{.HostConfig.NetworkMode}}' ${GATEWAY}; docker inspect --format '{{.Id}}' ${PORTS}`,
    );
    const [gateway, portsId] = inspected.trim().split('\n');
    expect(gateway).toBe(`${CADDY_THIRD} container:${portsId}`);
    expect(await gateways()).toEqual([GATEWAY, PORTS]);
    expect(await get('ws.b.localhost')).toEqual({ status: 200, body: 'gwb-v1 on 9090\n' });
  });

  it('refuses a domain another app routes there, and the first app keeps it', async () => {
    const run = await cli('gwc', ['deploy', '--version', 'v1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'a.localhost of site is already routed by gwa-staging (service site) on the gateway stagecraft-gateway on h1',
    );
    expect(await get('a.localhost')).toEqual({ status: 200, body: 'gwa-v2\n' });
    const removed = await cli('gwc', ['remove', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
  });

  it('removes one app while the other keeps serving (no error answers), and the gateway goes with the last app', async () => {
    const dry = await cli('gwa', ['remove', '--dry-run']);
    expect(dry.stdout).toContain(
      "take gwa-staging's routes off the gateway stagecraft-gateway (it keeps serving gwb-staging)",
    );
    const controller = { stop: false };
    const during = loadOn('b.localhost', controller);
    const removed = await cli('gwa', ['remove', '--yes']);
    controller.stop = true;
    const b = await during;
    expect(removed.code, removed.stderr).toBe(0);
    // Taking gwa's routes off is a new config, which a new gateway starts with beside the old one (in
    // the ports container since the image change above): gwb's keep-alive connections are closed
    // between responses, never under a request (a config reload would reset them, docs/routes.md).
    console.log(`during the removal of gwa: ${b.requests} requests to gwb, ${b.failures} failed`);
    expect(b.failureSamples).toEqual([]);
    expect(b.failures).toBe(0);
    expect(b.requests).toBeGreaterThan(100);
    expect(Object.keys(b.bodies)).toEqual(['gwb-v1']);
    // No route answers a.localhost any more; b.localhost is as it was.
    expect((await get('a.localhost')).body).not.toContain('gwa');
    expect(await get('b.localhost')).toEqual({ status: 200, body: 'gwb-v1\n' });
    expect(await gateways()).toEqual([GATEWAY, PORTS]);

    const last = await cli('gwb', ['remove', '--yes']);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout + last.stderr).toContain(
      `remove the gateway ${GATEWAY}, its ports container ${PORTS}`,
    );
    expect(await gateways()).toEqual([]);
    const networks = await sshRun(harness, 'h1', `docker network ls --format '{{.Name}}'`);
    expect(networks.split('\n')).not.toContain(GATEWAY);
  });
});
