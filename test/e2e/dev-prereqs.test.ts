// Missing tools: `stagecraft dev` names what to install, exits 2 and changes nothing (no hosts entry, no
// state, no process). PATH is a folder holding only the tools a case allows.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  binDirs,
  binDirWith,
  cliEnv,
  freePort,
  get,
  processesWith,
  runCli,
  startCli,
  stopStartedClis,
} from '../support/dev.js';

const folders: string[] = [];
const HOSTS = '127.0.0.1 localhost\n';

afterAll(async () => {
  await stopStartedClis();
  for (const folder of [...folders, ...binDirs]) rmSync(folder, { recursive: true, force: true });
});

async function project(options: { compose?: boolean; encore?: boolean; squatHttpPort?: boolean } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-dev-pre-'));
  folders.push(root);
  const id = `sc-pre-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const [apiPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  // squatHttpPort: the backend also listens on the proxy's HTTP port, after the start-up port check.
  const squat = options.squatHttpPort
    ? `; require('node:net').createServer().listen(${httpPort}, '127.0.0.1')`
    : '';
  const backend = options.encore
    ? `backend:\n  provider: encore-ts\n  providers:\n    encore-ts:\n      dev: { listen: "127.0.0.1:${apiPort}" }\n`
    : `backend:
  provider: generic
  providers:
    generic:
      dev:
        command: [node, -e, "require('node:http').createServer((q, s) => s.end('up')).listen(${apiPort}, '127.0.0.1')${squat}", ${id}]
        port: ${apiPort}
`;
  writeFileSync(
    join(root, 'stagecraft.yml'),
    `project: { name: pre }\n${backend}dev:\n  domains: { backend: api.pre.test }\n  proxy: { http_port: ${httpPort}, https_port: ${httpsPort} }\nenvironments:\n  dev: { driver: local }\n`,
  );
  if (options.compose) {
    writeFileSync(join(root, 'docker-compose.yml'), 'services:\n  db:\n    image: postgres:16-alpine\n');
  }
  const hosts = join(root, 'hosts');
  writeFileSync(hosts, HOSTS);
  return {
    root,
    id,
    hosts,
    apiPort,
    httpPort,
    env: (path: string) => cliEnv({ PATH: path, STAGECRAFT_HOSTS_FILE: hosts }),
  };
}

function nothingChanged(p: { root: string; id: string; hosts: string }, ran = false): void {
  expect(readFileSync(p.hosts, 'utf8')).toBe(HOSTS);
  expect(existsSync(join(p.root, '.stagecraft', 'dev', 'state.json'))).toBe(false);
  if (!ran) expect(existsSync(join(p.root, '.stagecraft'))).toBe(false);
  expect(processesWith(p.id)).toEqual([]);
}

describe('stagecraft dev without the tools it needs', () => {
  it('missing docker: names it, how to install it and the --only way out; exit 2', async () => {
    const p = await project({ compose: true });
    const result = await runCli(['dev'], { cwd: p.root, env: p.env(binDirWith(['caddy', 'mkcert'])) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: docker is not installed (not found on PATH): it runs the compose infrastructure services',
    );
    expect(result.stderr).toMatch(/hint: install Docker Engine .*docs\.docker\.com.*--only backend,frontend/);
    nothingChanged(p);
  });

  it('missing mkcert: names it with the install and --no-https hints; exit 2', async () => {
    const p = await project();
    const result = await runCli(['dev'], { cwd: p.root, env: p.env(binDirWith(['caddy', 'docker'])) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: mkcert is not installed (not found on PATH)');
    expect(result.stderr).toMatch(
      /hint: install mkcert \(apt install mkcert, brew install mkcert.*`mkcert -install`/,
    );
    expect(result.stderr).toContain('stagecraft dev --no-https');
    nothingChanged(p);
  });

  it('without mkcert, --no-https serves plain HTTP (and --no-hosts leaves the hosts file alone)', async () => {
    const p = await project();
    const dev = startCli(['dev', '--no-https', '--no-hosts'], {
      cwd: p.root,
      env: p.env(binDirWith(['caddy'])),
    });
    await dev.waitFor(/Press Ctrl\+C to stop/, 20_000);
    expect(dev.output()).toContain(`backend  http://api.pre.test:${p.httpPort}`);
    expect(dev.output()).toContain('--no-hosts: make sure api.pre.test resolves to 127.0.0.1');
    expect(readFileSync(p.hosts, 'utf8')).toBe(HOSTS);
    expect(await get(`http://api.pre.test:${p.httpPort}/`)).toMatchObject({ status: 200, body: 'up' });
    dev.child.kill('SIGINT');
    expect((await dev.exited).code).toBe(0);
    nothingChanged(p, true);
  });

  it('missing caddy: names it and how to install it; exit 2', async () => {
    const p = await project();
    const result = await runCli(['dev'], { cwd: p.root, env: p.env(binDirWith(['mkcert', 'docker'])) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: caddy is not installed (not found on PATH): it is the HTTPS front door',
    );
    expect(result.stderr).toMatch(/hint: install Caddy 2 \(apt install caddy/);
    nothingChanged(p);
  });

  it('missing encore for an encore-ts backend: names it and how to install it; exit 2', async () => {
    const p = await project({ encore: true });
    const result = await runCli(['dev'], {
      cwd: p.root,
      env: p.env(binDirWith(['caddy', 'mkcert', 'docker'])),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: encore is not installed (not found on PATH): the backend provider encore-ts runs `encore run`',
    );
    expect(result.stderr).toContain(
      'hint: install the Encore CLI: curl -L https://encore.dev/install.sh | bash',
    );
    nothingChanged(p);
  });

  it('several missing tools are reported together', async () => {
    const p = await project({ compose: true, encore: true });
    const result = await runCli(['dev', '--only', 'backend'], { cwd: p.root, env: p.env(binDirWith([])) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: stagecraft dev needs tools that are not installed: encore, caddy, mkcert',
    );
    nothingChanged(p);
  });
});

/** `dev --no-https --no-hosts` in project `p` with only caddy on PATH, expected to fail: exit 2, never "ready". */
async function devRefused(p: Awaited<ReturnType<typeof project>>) {
  const result = await runCli(['dev', '--no-https', '--no-hosts'], {
    cwd: p.root,
    env: p.env(binDirWith(['caddy'])),
    timeoutMs: 30_000,
  });
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).not.toContain('dev stack ready');
  return result;
}

describe('stagecraft dev when another program takes the proxy port after the start-up check', () => {
  it('reports Caddy’s own bind failure instead of taking the other listener for the proxy; exit 2', async () => {
    const p = await project({ squatHttpPort: true });
    const result = await devRefused(p);
    expect(result.stderr).toContain(`listen tcp 127.0.0.1:${p.httpPort}: bind: address already in use`);
    expect(result.stderr).toContain(`hint: check the ports ${p.httpPort}/`);
    // Caddy's own log lines below error level stay hidden, in the failure's last lines too.
    expect(result.stderr).not.toContain('"level":"info"');
    expect(existsSync(join(p.root, '.stagecraft', 'dev', 'state.json'))).toBe(false);
    expect(processesWith(p.id)).toEqual([]);
  });

  it('refuses a program bound beside Caddy with SO_REUSEPORT (connections would be split); exit 2', async () => {
    const p = await project();
    // The backend first starts a second Caddy on the proxy's HTTP port (Caddy binds with SO_REUSEPORT,
    // as a second `stagecraft dev` on the same ports does), then serves: ready once the port is shared.
    writeFileSync(
      join(p.root, 'squat-caddy.json'),
      JSON.stringify({
        admin: { disabled: true },
        storage: { module: 'file_system', root: join(p.root, 'squat-data') },
        apps: { http: { servers: { squat: { listen: [`127.0.0.1:${p.httpPort}`], routes: [] } } } },
      }),
    );
    writeFileSync(
      join(p.root, 'squat.js'),
      `const { spawn } = require('node:child_process');
const squat = spawn('caddy', ['run', '--config', 'squat-caddy.json'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: __dirname, XDG_DATA_HOME: __dirname, XDG_CONFIG_HOME: __dirname } });
let text = '';
squat.stderr.on('data', (chunk) => {
  text += chunk;
  if (text.includes('serving initial configuration')) {
    text = '';
    require('node:http').createServer((q, s) => s.end('up')).listen(${p.apiPort}, '127.0.0.1');
  }
});
`,
    );
    const config = readFileSync(join(p.root, 'stagecraft.yml'), 'utf8').replace(
      /command: \[node, -e, .*\]/,
      `command: [node, squat.js, ${p.id}]`,
    );
    writeFileSync(join(p.root, 'stagecraft.yml'), config);
    const result = await devRefused(p);
    expect(result.stderr).toContain(
      `error: another program listens on port ${p.httpPort} beside the proxy (both bound with SO_REUSEPORT): connections would be split between them`,
    );
    expect(existsSync(join(p.root, '.stagecraft', 'dev', 'state.json'))).toBe(false);
    expect(processesWith(p.id)).toEqual([]);
  });
});
