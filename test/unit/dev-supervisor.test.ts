// The dev supervisor with real processes (node scripts): readiness, restart with backoff, required
// processes, ready timeouts, and stopping whole process trees.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  ManagedProcess,
  type ProcessEvent,
  type ProcessSpec,
} from '../../src/dev/supervisor/managed-process.js';
import { groupMembers, processAlive } from '../../src/dev/supervisor/process-group.js';
import { runLocal } from '../../src/runners/local.js';
import { ExternalError } from '../../src/util/errors.js';

const running: ManagedProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((process) => process.stop(true)));
});

function spec(script: string, extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return {
    name: 'svc',
    argv: [process.execPath, '-e', script],
    cwd: tmpdir(),
    env: { PATH: process.env['PATH'] ?? '' },
    readyTimeoutMs: 10_000,
    required: false,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 2000,
    backoff: { initialMs: 50, maxMs: 1000, factor: 2, resetAfterMs: 60_000 },
    ...extra,
  };
}

function supervise(processSpec: ProcessSpec) {
  const events: ProcessEvent[] = [];
  const waiters: { test: (event: ProcessEvent) => boolean; resolve: (event: ProcessEvent) => void }[] = [];
  const process = new ManagedProcess(processSpec, (event) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.test(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  running.push(process);
  const next = (test: (event: ProcessEvent) => boolean, timeoutMs = 8000) =>
    new Promise<ProcessEvent>((resolve, reject) => {
      const found = events.find(test);
      if (found !== undefined) {
        resolve(found);
        return;
      }
      const timer = setTimeout(
        () => reject(new Error(`no matching event; got ${JSON.stringify(events)}`)),
        timeoutMs,
      );
      waiters.push({
        test,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
      });
    });
  return { process, events, next };
}

const lines = (events: ProcessEvent[]) =>
  events.flatMap((event) => (event.type === 'output' ? [event.line] : []));

describe('dev supervisor', () => {
  it('is ready when an output line matches ready_pattern, ignoring colour codes', async () => {
    const { process, events } = supervise(
      spec(
        "console.log('booting'); setTimeout(() => console.log('\\u001b[32mlistening\\u001b[39m on 3000'), 150); setInterval(() => {}, 1000);",
        { readyPattern: /listening on/ },
      ),
    );
    expect(await process.start()).toBe('ready');
    expect(lines(events)).toEqual(['booting', '\u001b[32mlistening\u001b[39m on 3000']);
    expect(events.filter((event) => event.type === 'ready')).toHaveLength(1);
    expect(process.pgid).toBeGreaterThan(0);
  });

  it('without a pattern, is ready when its port accepts connections', async () => {
    const port = await freePort();
    const { process, events } = supervise(
      spec(`setTimeout(() => require('node:net').createServer().listen(${port}, '127.0.0.1'), 300);`, {
        readyPort: port,
      }),
    );
    const started = Date.now();
    expect(await process.start()).toBe('ready');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(events.find((event) => event.type === 'ready')).toBeDefined();
  });

  it('restarts a crashed process with growing delays until it stays up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-crash-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const counter = join(dir, 'runs');
    const script = `
      const fs = require('node:fs');
      const runs = fs.existsSync(${JSON.stringify(counter)}) ? Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')) : 0;
      fs.writeFileSync(${JSON.stringify(counter)}, String(runs + 1));
      console.log('ready run ' + runs);
      if (runs < 3) setTimeout(() => process.exit(1), 50); else setInterval(() => {}, 1000);`;
    const { process, events, next } = supervise(spec(script, { readyPattern: /^ready run/ }));
    await process.start();
    await next((event) => event.type === 'started' && event.restart === 3);
    await next((event) => event.type === 'ready' && event.restarted && lines(events).includes('ready run 3'));
    const exits = events.flatMap((event) => (event.type === 'exited' ? [event] : []));
    expect(exits.map((event) => [event.code, event.attempt, event.restartInMs])).toEqual([
      [1, 1, 50],
      [1, 2, 100],
      [1, 3, 200],
    ]);
    expect(process.ready).toBe(true);
  });

  it('a required process that crashes is fatal, with its last output', async () => {
    const { process, next } = supervise(
      spec(
        "console.log('ready'); console.error('boom: database gone'); setTimeout(() => process.exit(3), 100);",
        {
          readyPattern: /ready/,
          required: true,
        },
      ),
    );
    await process.start();
    const fatal = await next((event) => event.type === 'fatal');
    if (fatal.type !== 'fatal') throw new Error('unreachable');
    expect(fatal.error).toBeInstanceOf(ExternalError);
    expect(fatal.error.message).toBe('svc exited with code 3; it is marked required, so the dev stack stops');
    expect(fatal.error.details.join('\n')).toContain('boom: database gone');
  });

  it('fails a process that is not ready in time, with its last lines', async () => {
    const { process } = supervise(
      spec("let i = 0; setInterval(() => console.log('still booting ' + i++), 50);", {
        readyPattern: /listening/,
        readyTimeoutMs: 3000,
      }),
    );
    const error = await process.start().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toBe(
      'svc did not become ready within 3s (no output line matched /listening/)',
    );
    expect((error as ExternalError).details.join('\n')).toMatch(/still booting \d+/);
    const pgid = process.pgid!;
    await process.stop();
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('reports a command that does not exist', async () => {
    const { process } = supervise({ ...spec(''), argv: ['stagecraft-no-such-command'] });
    await expect(process.start()).rejects.toThrow('svc: command not found: stagecraft-no-such-command');
  });

  it('stops the whole tree with the configured signal', async () => {
    const { process, next } = supervise(
      spec(
        `const child = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
         console.log('child ' + child.pid);
         process.on('SIGINT', () => { console.log('got SIGINT'); process.exit(0); });
         setInterval(() => {}, 1000);`,
        { readyPattern: /^child/, stopSignal: 'SIGINT' },
      ),
    );
    await process.start();
    const line = await next((event) => event.type === 'output' && event.line.startsWith('child '));
    const grandchild = Number((line as { line: string }).line.split(' ')[1]);
    const pgid = process.pgid!;
    expect(groupMembers(pgid).sort()).toEqual([pgid, grandchild].sort());
    expect(await process.stop()).toBe('exited');
    expect(groupMembers(pgid)).toEqual([]);
    expect(processAlive(grandchild)).toBe(false);
  });

  it('kills a tree that ignores the stop signal after the timeout', async () => {
    const { process } = supervise(
      spec("process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000);", {
        readyPattern: /up/,
        stopTimeoutMs: 300,
      }),
    );
    await process.start();
    const pgid = process.pgid!;
    const started = Date.now();
    expect(await process.stop()).toBe('killed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(groupMembers(pgid)).toEqual([]);
  });
});

describe('one-shot commands (runners/local, in a process group of their own)', () => {
  it('pass input on stdin and capture output', async () => {
    const result = await runLocal(
      [process.execPath, '-e', "process.stdin.on('data', (d) => process.stdout.write('got ' + d))"],
      { cwd: tmpdir(), stdin: 'the value', ownProcessGroup: true },
    );
    expect(result).toMatchObject({ exitCode: 0, stdout: 'got the value' });
  });

  it('stop when aborted, with the children they started', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const child =
      "require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' }); setInterval(() => {}, 1000)";
    const run = runLocal([process.execPath, '-e', child], {
      cwd: tmpdir(),
      signal: controller.signal,
      ownProcessGroup: true,
    });
    await expect(run).rejects.toThrow(/was cancelled/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
