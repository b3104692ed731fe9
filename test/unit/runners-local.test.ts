import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORCE_KILL_AFTER_MS, LocalRunner, runLocal } from '../../src/runners/local.js';
import { ExternalError, TimedOutError } from '../../src/util/errors.js';
import { Secret } from '../../src/util/secret.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stagecraft-local-runner-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<ExternalError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExternalError);
  return error as ExternalError;
}

describe('LocalRunner.exec', () => {
  it('runs argv without a shell, in the home folder by default, with raw output', async () => {
    const runner = new LocalRunner();
    expect(runner.name).toBe('local');
    const result = await runner.exec(['sh', '-c', 'pwd; printf "%s|" "$@"', 'sh', 'a b', '$HOME', '*', '']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`${homedir()}\na b|$HOME|*||`);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('uses the cwd option and adds env to the inherited environment', async () => {
    const runner = new LocalRunner({ cwd: dir });
    const result = await runner.exec(
      ['sh', '-c', 'pwd; echo "$STAGECRAFT_T1"; test -n "$PATH" && echo path'],
      {
        env: { STAGECRAFT_T1: 'one' },
      },
    );
    expect(result.stdout).toBe(`${dir}\none\npath\n`);
  });

  it('sends a string or a Secret on stdin and gives /dev/null otherwise', async () => {
    const runner = new LocalRunner();
    expect((await runner.exec(['cat'], { stdin: 'plain\n' })).stdout).toBe('plain\n');
    expect((await runner.exec(['cat'], { stdin: new Secret('s3cret-value') })).stdout).toBe('s3cret-value');
    expect((await runner.exec(['cat'])).stdout).toBe('');
  });

  it('streams stdout and stderr lines as they arrive, including a last line without newline', async () => {
    const lines: string[] = [];
    await new LocalRunner().exec(['sh', '-c', 'echo one; echo two >&2; printf three'], {
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    expect(lines.sort()).toEqual(['stderr:two', 'stdout:one', 'stdout:three']);
  });

  it('throws an ExternalError naming the command, its exit code and the last stderr line', async () => {
    const error = await rejection(
      new LocalRunner().exec(['sh', '-c', 'echo a >&2; echo "it broke" >&2; exit 3', 'extra']),
    );
    expect(error.message).toBe(
      `sh -c 'echo a >&2; echo "it broke" >&2; exit 3' … exited with code 3: it broke`,
    );
    expect(error.command).toBe(`sh -c 'echo a >&2; echo "it broke" >&2; exit 3' extra`);
    expect(error.hint).toMatch(/--verbose/);
    expect(error.exitCode).toBe(2);
  });

  it('redacts registered secrets in failure messages and commands', async () => {
    const secret = new Secret('hunter2-token');
    const error = await rejection(
      new LocalRunner().exec(['sh', '-c', `echo ${secret.reveal()} >&2; exit 1`]),
    );
    expect(error.message).not.toContain('hunter2-token');
    expect(error.command).not.toContain('hunter2-token');
    expect(error.message).toContain('[redacted]');
  });

  it('resolves with the exit code when allowFailure is set', async () => {
    const result = await new LocalRunner().exec(['sh', '-c', 'echo out; exit 7'], { allowFailure: true });
    expect(result).toMatchObject({ exitCode: 7, stdout: 'out\n' });
  });

  it('reports a process killed by a signal as 128 + the signal number', async () => {
    const result = await new LocalRunner().exec(['sh', '-c', 'kill -9 $$'], { allowFailure: true });
    expect(result.exitCode).toBe(137);
  });

  it('names a missing binary and what to install', async () => {
    const missing = await rejection(new LocalRunner().exec(['stagecraft-no-such-binary', 'x']));
    expect(missing.message).toBe('stagecraft-no-such-binary was not found on PATH');
    expect(missing.hint).toMatch(/install stagecraft-no-such-binary/);
  });

  it('says "install Docker Engine and the compose v2 plugin" when docker is missing', async () => {
    const emptyBin = join(dir, 'empty-bin');
    const original = process.env.PATH;
    process.env.PATH = emptyBin;
    try {
      const error = await rejection(runLocal(['docker', 'compose', 'version']));
      expect(error.message).toBe('docker was not found on PATH');
      expect(error.hint).toMatch(/^install Docker Engine and the compose v2 plugin/);
    } finally {
      process.env.PATH = original;
    }
  });

  it('says when the working folder does not exist', async () => {
    const error = await rejection(new LocalRunner({ cwd: join(dir, 'nope') }).exec(['true']));
    expect(error.message).toMatch(/working folder .*nope does not exist/);
  });

  it('stops a command at its timeout', async () => {
    const started = Date.now();
    const error = await rejection(new LocalRunner().exec(['sleep', '5'], { timeoutMs: 200 }));
    expect(error.message).toBe('sleep 5 timed out after 0.2s');
    expect(error).toBeInstanceOf(TimedOutError);
    expect((error as TimedOutError).exitCode).toBe(2);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('does not wait for children that keep the output pipes open after a timeout', async () => {
    const started = Date.now();
    await rejection(new LocalRunner().exec(['sh', '-c', 'sleep 4 & sleep 4'], { timeoutMs: 200 }));
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('kills a command and its process group that ignore SIGTERM, FORCE_KILL_AFTER_MS after a timeout', async () => {
    const started = Date.now();
    const marker = join(tmpdir(), `stagecraft-orphan-${process.pid}`);
    const script = `trap '' TERM; (trap '' TERM; sleep 6; touch ${marker}) & wait`;
    const error = await rejection(
      new LocalRunner({ ownProcessGroup: true }).exec(['sh', '-c', script], { timeoutMs: 200 }),
    );
    expect(error).toBeInstanceOf(TimedOutError);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(200 + FORCE_KILL_AFTER_MS - 50);
    expect(elapsed).toBeLessThan(200 + FORCE_KILL_AFTER_MS + 2500);
    await new Promise((done) => setTimeout(done, 6500 - elapsed));
    await expect(stat(marker)).rejects.toThrow(/ENOENT/);
  }, 15_000);

  it('stops a command when its signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(new LocalRunner().exec(['sleep', '5'], { signal: controller.signal }));
    expect(error.message).toBe('sleep 5 was cancelled');
  });
});

describe('LocalRunner files', () => {
  it('uploads atomically with the exact mode, creating folders, relative to cwd', async () => {
    const runner = new LocalRunner({ cwd: dir });
    await runner.upload('a/b/secret.env', new Secret('TOKEN=abc\n'), 0o600);
    const path = join(dir, 'a/b/secret.env');
    expect(await readFile(path, 'utf8')).toBe('TOKEN=abc\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await runner.upload('a/b/secret.env', 'replaced', 0o644);
    expect(await readFile(path, 'utf8')).toBe('replaced');
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    await runner.upload(join(dir, 'abs.bin'), Buffer.from([0, 1, 2]), 0o640);
    expect([...(await readFile(join(dir, 'abs.bin')))]).toEqual([0, 1, 2]);
  });

  it('reads a file, or undefined when it is missing', async () => {
    const runner = new LocalRunner({ cwd: dir });
    await writeFile(join(dir, 'read-me.txt'), 'content\n');
    expect(await runner.read('read-me.txt')).toBe('content\n');
    expect(await runner.read('missing.txt')).toBeUndefined();
    expect(await runner.read(join(dir, 'missing-dir', 'x'))).toBeUndefined();
  });

  it('runLocal runs one-off commands in the given cwd', async () => {
    expect((await runLocal(['pwd'], { cwd: dir })).stdout).toBe(`${dir}\n`);
  });
});
