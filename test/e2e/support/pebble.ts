// Pebble, Let's Encrypt's ACME test server (Debian package `pebble`), run on the operator's address
// for the harness hosts: its own HTTPS certificate from a throwaway mkcert CA, and its DNS from
// pebble-challtestsrv, which answers every A query with the address of the host under test, so
// Pebble's HTTP-01 and TLS-ALPN-01 validations really connect to that host's gateway.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The operator's address on the harness network: the hosts reach it, and so their containers. */
const OPERATOR = '10.231.0.1';
const ACME_PORT = 14000;
const MANAGEMENT_PORT = 15000;
const DNS_PORT = 8053;

export interface Pebble {
  /** The ACME directory URL, for `ingress.tls.acme_ca`. */
  directory: string;
  /** PEM of the CA behind the directory's own HTTPS certificate, for `ingress.tls.acme_ca_root`. */
  httpsRoot: string;
  /** PEM of the root that signs the certificates Pebble issues (new on every start of Pebble). */
  issuingRoot(): Promise<string>;
  stop(): void;
}

function getText(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

function need(tool: string, why: string): void {
  if (spawnSync(tool, ['-h'], { stdio: 'ignore' }).error !== undefined) {
    throw new Error(`${tool} is missing: ${why}`);
  }
}

/**
 * Starts Pebble for validations against `validateAt` (an IPv4 address) on `httpPort` (HTTP-01) and
 * `tlsPort` (TLS-ALPN-01), and waits until its directory answers. Throws when pebble, its challenge
 * test server or mkcert is missing (`apt-get install pebble mkcert`; .ci/run installs them).
 */
export async function startPebble(options: {
  validateAt: string;
  httpPort: number;
  tlsPort: number;
}): Promise<Pebble> {
  need('pebble', '`apt-get install pebble` (.ci/run installs it)');
  need('mkcert', '`apt-get install mkcert` (.ci/run installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'stagecraft-acme-'));
  const made = spawnSync(
    'mkcert',
    ['-cert-file', join(dir, 'cert.pem'), '-key-file', join(dir, 'key.pem'), OPERATOR],
    { env: { ...process.env, CAROOT: dir }, encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`mkcert failed: ${made.stderr}`);
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `${OPERATOR}:${ACME_PORT}`,
        managementListenAddress: `${OPERATOR}:${MANAGEMENT_PORT}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const children: ChildProcess[] = [];
  const stop = () => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const log: string[] = [];
  const start = (command: string, args: string[], env: Record<string, string> = {}) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    children.push(child);
  };
  start('pebble-challtestsrv', [
    '-defaultIPv4',
    options.validateAt,
    '-defaultIPv6',
    '',
    '-dns01',
    `${OPERATOR}:${DNS_PORT}`,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-management',
    `${OPERATOR}:8055`,
  ]);
  // No random sleeps before validations and no random nonce rejections: the test is about Stagecraft.
  start('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `${OPERATOR}:${DNS_PORT}`], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
  });
  const httpsRoot = readFileSync(join(dir, 'rootCA.pem'), 'utf8');
  const directory = `https://${OPERATOR}:${ACME_PORT}/dir`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await getText(directory, httpsRoot)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`pebble did not start:\n${log.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    directory,
    httpsRoot,
    issuingRoot: async () =>
      (await getText(`https://${OPERATOR}:${MANAGEMENT_PORT}/roots/0`, httpsRoot)).body,
    stop,
  };
}
