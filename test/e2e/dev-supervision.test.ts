// Supervision by `stagecraft dev`, with real processes and the built CLI: a crashed backend is
// restarted with backoff (or stops the stack when required), a backend that never becomes ready fails
// with its last lines, shutdown uses the configured signal and then SIGKILL on whole process trees, and
// an encore-ts backend is run through an `encore` executable on PATH that records what it is asked.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cliEnv,
  eventually,
  freePort,
  get,
  liveGroupMembers,
  processesWith,
  runCli,
  startCli,
  stopStartedClis,
  which,
} from '../support/dev.js';

const roots: string[] = [];

afterAll(async () => {
  await stopStartedClis();
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-dev-sup-'));
  roots.push(root);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
  return root;
}

function token(): string {
  return `sc-token-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

const CRASHING_SERVER = `
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const runs = existsSync('runs') ? Number(readFileSync('runs', 'utf8')) : 0;
writeFileSync('runs', String(runs + 1));
console.log('listening on run ' + runs);
if (runs < Number(process.env.CRASHES ?? 2)) setTimeout(() => { console.error('crash in run ' + runs); process.exit(1); }, 300);
else setInterval(() => {}, 1000);
`;

function backendConfig(command: string[], extra = ''): string {
  return `project: { name: sup }
backend:
  provider: generic
  providers:
    generic:
      dev:
        command: ${JSON.stringify(command)}
        ready_pattern: "listening on"
${extra}environments:
  dev: { driver: local }
`;
}

describe('stagecraft dev supervision', () => {
  it('restarts a crashed backend with growing delays, then stops cleanly on SIGINT', async () => {
    const id = token();
    const root = project({
      'server.mjs': CRASHING_SERVER,
      'stagecraft.yml': backendConfig(['node', 'server.mjs', id]),
    });
    const dev = startCli(['dev'], { cwd: root, env: cliEnv() });
    await dev.waitFor(/(✓ backend is ready again[\s\S]*){2}/, 20_000);
    await dev.waitFor(/listening on run 2/, 1000);
    const output = dev.output();
    expect(output).toMatch(/^backend \| crash in run 0$/m);
    expect(output).toContain('backend exited with code 1; restarting in 0.5s (attempt 1)');
    expect(output).toContain('backend exited with code 1; restarting in 1.0s (attempt 2)');
    expect(output).toMatch(/^backend \| listening on run 2$/m);
    expect(readFileSync(join(root, 'runs'), 'utf8')).toBe('3');
    expect(processesWith(id)).toHaveLength(1);
    dev.child.kill('SIGINT');
    expect((await dev.exited).code).toBe(0);
    expect(processesWith(id)).toEqual([]);
  });

  it('stops the whole stack when a required backend crashes, exit 2 with its last lines', async () => {
    const id = token();
    const root = project({
      'server.mjs': CRASHING_SERVER,
      'stagecraft.yml': backendConfig(['node', 'server.mjs', id]).replace(
        'ready_pattern: "listening on"',
        'ready_pattern: "listening on"\n        required: true',
      ),
    });
    const result = await runCli(['dev'], { cwd: root, env: cliEnv(), timeoutMs: 20_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: backend exited with code 1; it is marked required, so the dev stack stops',
    );
    expect(result.stderr).toContain('crash in run 0');
    expect(readFileSync(join(root, 'runs'), 'utf8')).toBe('1');
    expect(processesWith(id)).toEqual([]);
  });

  it('fails a backend that never becomes ready, with its last log lines, exit 2, nothing left running', async () => {
    const id = token();
    const root = project({
      'slow.mjs': "let i = 0; setInterval(() => console.log('booting step ' + i++), 100);",
      'stagecraft.yml': backendConfig(['node', 'slow.mjs', id]),
    });
    const result = await runCli(['dev'], {
      cwd: root,
      env: cliEnv({ STAGECRAFT_DEV_READY_TIMEOUT: '2s' }),
      timeoutMs: 20_000,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: backend did not become ready within 2s (no output line matched /listening on/)',
    );
    expect(result.stderr).toMatch(/last output:\n(\s+booting step \d+\n)+/);
    expect(result.stderr).toContain('hint: ');
    expect(result.ms).toBeLessThan(10_000);
    expect(processesWith(id)).toEqual([]);
    expect(() => readFileSync(join(root, '.stagecraft', 'dev', 'state.json'))).toThrow();

    // The same with --detach: the background stack fails, and the command says why.
    const detached = await runCli(['dev', '--detach'], {
      cwd: root,
      env: cliEnv({ STAGECRAFT_DEV_READY_TIMEOUT: '2s' }),
      timeoutMs: 20_000,
    });
    expect(detached.code).toBe(2);
    expect(detached.stderr).toContain('error: the dev stack stopped while starting in the background');
    expect(detached.stderr).toContain('backend did not become ready within 2s');
    expect(detached.stderr).toMatch(/booting step \d+/);
    expect(processesWith(id)).toEqual([]);

    // A user's error in the background stack (a bad --only) is the user's here too: exit 1.
    const badOnly = await runCli(['dev', '--detach', '--only', 'nosuch'], {
      cwd: root,
      env: cliEnv(),
      timeoutMs: 20_000,
    });
    expect(badOnly.stderr).toContain('--only: nothing named "nosuch" runs in dev');
    expect(badOnly.code).toBe(1);
  });

  it('--only starts just the frontend; shutdown sends its signal, then SIGKILLs the whole tree after its timeout', async () => {
    const id = token();
    const root = project({
      'stubborn.mjs': `
        import { spawn } from 'node:child_process';
        const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${id}-grandchild'], { stdio: 'ignore' });
        process.on('SIGTERM', () => console.log('got SIGTERM, ignoring it'));
        console.log('Local: ready, child ' + child.pid);
        setInterval(() => {}, 1000);`,
      'stagecraft.yml': `project: { name: sup }
backend:
  provider: generic
  providers:
    generic:
      dev: { command: [node, -e, "console.log('listening on'); setInterval(() => {}, 1000)", ${id}-backend] }
frontend:
  provider: generic
  providers:
    generic:
      dev:
        command: [node, stubborn.mjs, ${id}]
        ready_pattern: "Local:"
        shutdown: { signal: SIGTERM, timeout_ms: 1000 }
environments:
  dev: { driver: local }
`,
    });
    const dev = startCli(['dev', '--only', 'frontend'], { cwd: root, env: cliEnv() });
    await dev.waitFor(/Press Ctrl\+C to stop/, 20_000);
    expect(dev.output()).not.toContain('starting backend');
    expect(processesWith(`${id}-backend`)).toEqual([]);
    expect(processesWith(id)).toHaveLength(2); // the frontend and its grandchild
    const sent = Date.now();
    dev.child.kill('SIGINT');
    const exit = await dev.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeGreaterThanOrEqual(1000);
    expect(exit.at - sent).toBeLessThan(5000);
    expect(dev.output()).toContain('frontend | got SIGTERM, ignoring it');
    expect(dev.output()).toContain('frontend did not stop within 1.0s of SIGTERM; killed');
    expect(processesWith(id)).toEqual([]);
  });

  it('after the supervisor is killed with SIGKILL, `dev down` stops what it left and removes the hosts entry', async () => {
    if (which('caddy') === undefined) throw new Error('caddy is not installed; the dev e2e tests need it');
    const id = token();
    const [apiPort, httpPort] = [await freePort(), await freePort()];
    const hostsBefore = '127.0.0.1 localhost\n';
    const root = project({
      'stagecraft.yml': `project: { name: sup }
backend:
  provider: generic
  providers:
    generic:
      dev:
        command: [node, -e, "require('node:http').createServer((q, s) => s.end('up')).listen(${apiPort}, '127.0.0.1')", ${id}]
        port: ${apiPort}
dev:
  domains: { backend: api.sup.test }
  proxy: { http_port: ${httpPort} }
environments:
  dev: { driver: local }
`,
      hosts: hostsBefore,
    });
    const env = cliEnv({ STAGECRAFT_HOSTS_FILE: join(root, 'hosts') });
    const dev = startCli(['dev', '--no-https'], { cwd: root, env });
    await dev.waitFor(/Press Ctrl\+C to stop/, 20_000);
    const state = JSON.parse(readFileSync(join(root, '.stagecraft', 'dev', 'state.json'), 'utf8')) as {
      processes: { pgid: number }[];
    };
    dev.child.kill('SIGKILL');
    await dev.exited;
    // Its process groups outlive it (they are not in its group), as does the hosts entry.
    expect(processesWith(id)).toHaveLength(1);
    expect(readFileSync(join(root, 'hosts'), 'utf8')).toContain('api.sup.test');
    const down = await runCli(['dev', 'down'], { cwd: root, env });
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(/stopped backend \(process group \d+\)/);
    expect(down.stderr).toMatch(/stopped proxy \(process group \d+\)/);
    expect(down.stderr).toContain('removed the hosts entries for api.sup.test');
    for (const { pgid } of state.processes) expect(liveGroupMembers(pgid)).toEqual([]);
    expect(processesWith(id)).toEqual([]);
    expect(readFileSync(join(root, 'hosts'), 'utf8')).toBe(hostsBefore);
  });

  it('runs an encore-ts backend: secrets on stdin, `encore run --watch --listen`, env_file, telemetry and CA env', async () => {
    if (which('caddy') === undefined) throw new Error('caddy is not installed; the dev e2e tests need it');
    const id = token();
    const [apiPort, httpPort] = [await freePort(), await freePort()];
    const secret = `s3cret-${id}`;
    const root = project({
      'stagecraft.yml': `project: { name: enc }
backend:
  provider: encore-ts
  providers:
    encore-ts:
      dev:
        listen: "127.0.0.1:${apiPort}"
        env_file: .env.encore
        disable_telemetry: true
        node_extra_ca_certs: ./certs/ca.pem
        encore_secrets: { from_env: [StripeKey, MissingKey] }
dev:
  proxy: { http_port: ${httpPort} }
environments:
  dev: { driver: local }
`,
      '.env.encore': `StripeKey=${secret}\nFROM_ENV_FILE=yes\n`,
    });
    const bin = mkdtempSync(join(tmpdir(), 'stagecraft-fake-encore-'));
    roots.push(bin);
    const log = join(root, 'encore-calls.jsonl');
    writeFileSync(
      join(bin, 'encore'),
      `#!${process.execPath}
// A stand-in for the Encore CLI: records each call, answers like the real one.
const fs = require('node:fs');
const argv = process.argv.slice(2);
const record = (extra) => fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv, ...extra }) + '\\n');
if (argv[0] === 'secret') {
  let stdin = '';
  process.stdin.on('data', (d) => (stdin += d));
  process.stdin.on('end', () => { record({ stdin }); console.log('Successfully updated secret value.'); });
} else if (argv[0] === 'run') {
  const e = process.env;
  record({ env: { DISABLE_ENCORE_TELEMETRY: e.DISABLE_ENCORE_TELEMETRY, NODE_EXTRA_CA_CERTS: e.NODE_EXTRA_CA_CERTS, FROM_ENV_FILE: e.FROM_ENV_FILE } });
  const [host, port] = argv[argv.indexOf('--listen') + 1].split(':');
  require('node:http').createServer((q, s) => s.end('encore says hi')).listen(Number(port), host, () =>
    console.log('Encore development server running! ${id}'));
  process.on('SIGINT', () => process.exit(0));
} else { process.exit(2); }
`,
    );
    chmodSync(join(bin, 'encore'), 0o755);
    const env = cliEnv({ PATH: `${bin}:${process.env['PATH']}` });
    const dev = startCli(['dev', '--no-https'], { cwd: root, env });
    await dev.waitFor(/Press Ctrl\+C to stop/, 30_000);
    const answer = await get(`http://api.localhost:${httpPort}/`);
    expect(answer).toMatchObject({ status: 200, body: 'encore says hi' });
    dev.child.kill('SIGINT');
    expect((await dev.exited).code).toBe(0);

    const calls = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { argv: string[]; stdin?: string; env?: Record<string, string> });
    expect(calls).toEqual([
      { argv: ['secret', 'set', '--type', 'dev,preview,local', 'StripeKey'], stdin: secret },
      {
        argv: ['run', '--watch', '--listen', `127.0.0.1:${apiPort}`],
        env: {
          DISABLE_ENCORE_TELEMETRY: '1',
          NODE_EXTRA_CA_CERTS: join(root, 'certs', 'ca.pem'),
          FROM_ENV_FILE: 'yes',
        },
      },
    ]);
    expect(dev.output()).toContain(
      'encore secret MissingKey: no value in the environment or env_file; not set',
    );
    expect(dev.output()).toContain('encore secrets set: StripeKey');
    expect(dev.output()).not.toContain(secret);
    expect(await eventually(() => processesWith(id).length === 0, 2000)).toBe(true);
  });
});
