import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { dockerHostOf, dockerOn, type HarnessEnv, requireHarness, run } from './support/harness.js';
import { type Pebble, startPebble } from './support/pebble.js';
import { removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

// A project of its own on h2 (ports 29080/29443, db 29432), so it never meets the other suites'.
// Certificates come from Pebble over real HTTP-01/TLS-ALPN-01 validations against h2's gateway.
const HTTP_PORT = 29080;
const HTTPS_PORT = 29443;
const DOMAIN = 'shop.pebble.test';
const GATEWAY = gatewayName(HTTP_PORT, HTTPS_PORT);
let harness: HarnessEnv;
let project: ShopProject;
let pebble: Pebble;
let h2: string;

interface Served {
  status: number;
  body: string;
  serial: string;
  issuer: string;
}

/** GET over TLS to h2's gateway for `DOMAIN`, trusting only Pebble's issuing root. */
function fetchServed(path: string, ca: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: h2, port: HTTPS_PORT, servername: DOMAIN, ca, timeout: 3000 }, () => {
      const certificate = socket.getPeerCertificate();
      let raw = '';
      socket.on('data', (chunk) => {
        raw += chunk;
      });
      socket.on('end', () => {
        const [head = '', body = ''] = raw.split('\r\n\r\n');
        resolve({
          status: Number(head.split(' ')[1]),
          body: body.trim(),
          serial: certificate.serialNumber,
          issuer: String(certificate.issuer?.CN ?? ''),
        });
      });
      // HTTP/1.0: the body comes whole, not in chunks.
      socket.write(`GET ${path} HTTP/1.0\r\nHost: ${DOMAIN}\r\n\r\n`);
    });
    socket.on('timeout', () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
  });
}

/** Caddy obtains the certificate in the background after its config loads: wait for it (≤ 60 s). */
async function waitForCertificate(path: string): Promise<Served> {
  const ca = await pebble.issuingRoot();
  const deadline = Date.now() + 60_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fetchServed(path, ca);
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const logs = await run('sh', [
    '-c',
    `docker -H ${dockerHostOf(harness, 'h2')} logs --tail 40 ${GATEWAY} 2>&1`,
  ])
    .then((out) => out.stdout)
    .catch(String);
  throw new Error(`no certificate from Pebble within 60 s: ${String(last)}\ngateway log:\n${logs}`);
}

beforeAll(async () => {
  harness = await requireHarness();
  h2 = harness.hosts.find((host) => host.name === 'h2')!.address;
  pebble = await startPebble({ validateAt: h2, httpPort: HTTP_PORT, tlsPort: HTTPS_PORT });
  project = shopProject(harness, { hosts: { web: ['h2'], db: ['h2'] } });
  mkdirSync(join(project.root, 'tls'));
  writeFileSync(join(project.root, 'tls/acme-ca.pem'), pebble.httpsRoot);
  const path = join(project.root, 'stagecraft.yml');
  const config = readFileSync(path, 'utf8')
    .replace('name: shop\n', 'name: shopacme\n')
    .replaceAll('shop.localhost', 'shop.pebble.test')
    .replace(
      '  http_port: 8080\n',
      `  http_port: ${HTTP_PORT}\n  https_port: ${HTTPS_PORT}\n  tls:\n    mode: acme\n    acme_ca: ${pebble.directory}\n    acme_ca_root: tls/acme-ca.pem\n`,
    );
  writeFileSync(path, config);
  project.env['DB_PUBLISH_PORT'] = '29432';
});

afterAll(async () => {
  pebble?.stop();
  if (harness) {
    const ids = (
      await dockerOn(harness, 'h2', [
        'ps',
        '-aq',
        '--filter',
        'label=com.docker.compose.project=shopacme-production',
      ])
    ).trim();
    if (ids !== '') await dockerOn(harness, 'h2', ['rm', '-f', ...ids.split('\n')]);
    await dockerOn(harness, 'h2', ['rm', '-f', GATEWAY]).catch(() => undefined);
    await dockerOn(harness, 'h2', ['volume', 'rm', `${GATEWAY}-data`]).catch(() => undefined);
  }
  if (project) removeProject(project);
});

describe('ACME with Pebble', () => {
  it('obtains a certificate by HTTP validation, keeps it in a volume across a new gateway, and remove --volumes deletes it', async () => {
    const first = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'acme1']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('ingress:h2  ingress created');
    const served = await waitForCertificate('/version');
    expect(served).toMatchObject({ status: 200, body: 'acme1' });
    expect(served.issuer).toMatch(/^Pebble Intermediate CA /);

    // The gateway container is lost (or replaced by an upgrade): the next deploy makes a new one,
    // which finds the certificate in the data volume instead of asking the CA again.
    await dockerOn(harness, 'h2', ['rm', '-f', GATEWAY]);
    const second = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'acme2']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('ingress:h2  ingress created');
    const again = await waitForCertificate('/version');
    expect(again).toMatchObject({ status: 200, body: 'acme2', serial: served.serial });

    const removed = await stagecraftIn(project, ['remove', '-e', 'production', '--volumes', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    const volumes = (await dockerOn(harness, 'h2', ['volume', 'ls', '--format', '{{.Name}}'])).split('\n');
    expect(volumes).not.toContain(`${GATEWAY}-data`);
    expect(volumes.filter((name) => name.startsWith('shopacme-production'))).toEqual([]);
  }, 360_000);
});
