// Set-up several e2e files share: hosts reset to nothing of ours, a GET through a host's gateway, and
// what the `stagecraft dev` tests need on this machine.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from '../../support/dev.js';
import { type HarnessEnv, sshRun } from './harness.js';

/** The shop example's frontend (its node_modules hold Vite for `stagecraft dev`). */
export const SHOP_WEB = fileURLToPath(new URL('../../../examples/shop/web/', import.meta.url));

/**
 * Removes every container, the unused networks and ~/.stagecraft on each of `hosts` (and, with
 * `volumes`, every volume), so a file starts from hosts with nothing deployed.
 */
export async function resetHosts(
  harness: HarnessEnv,
  hosts: readonly string[],
  options: { volumes?: boolean } = {},
): Promise<void> {
  const volumes = options.volumes === true ? ' docker volume rm $(docker volume ls -q) >/dev/null 2>&1;' : '';
  for (const host of hosts) {
    await sshRun(
      harness,
      host,
      `docker rm -f $(docker ps -aq) >/dev/null 2>&1;${volumes} docker network prune -f >/dev/null 2>&1; rm -rf ~/.stagecraft; true`,
    );
  }
}

/**
 * GET `path` through the gateway at `address` with a Host header (fetch would drop it: Host is a
 * forbidden header); the body as received.
 */
export function gatewayGet(
  address: string,
  hostHeader: string,
  path: string,
  port = 8080,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address, port, path, headers: { host: hostHeader }, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * What the `stagecraft dev` e2e tests need here: mkcert, caddy and docker on PATH (an error naming
 * `who` otherwise), and Vite in the shop example's web folder (installed when missing). Returns the
 * build engine's address, where `dev` reaches published container ports: .10 on the harness network
 * (test/harness/lib.sh; hN is .(10+N)).
 */
export function devPrerequisites(harness: HarnessEnv, who: string): string {
  for (const tool of ['mkcert', 'caddy', 'docker']) {
    if (which(tool) === undefined) throw new Error(`${tool} is not installed; ${who} need it`);
  }
  if (!existsSync(join(SHOP_WEB, 'node_modules', 'vite', 'package.json'))) {
    // `npm install` (not `npm ci`): the lockfile was made against a mirror that only carries this
    // platform's optional rollup binaries, which `npm ci` rejects as out of sync.
    execFileSync('npm', ['install', '--no-audit', '--no-fund'], {
      cwd: SHOP_WEB,
      stdio: 'ignore',
      timeout: 180_000,
    });
  }
  return (harness.hosts[0]?.address ?? '10.231.0.11').replace(/\.\d+$/, '.10');
}
