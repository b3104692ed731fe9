import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StandInRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Each stand-in's calls, in order: its arguments joined by spaces. */
  calls: Record<string, string[]>;
  /** How long the command ran, in ms. */
  ms: number;
}

/**
 * Runs `argv` (e.g. a remote command's `['sh', '-c', SCRIPT, 'sh', …]`) with stand-in programs first on
 * PATH. Each stand-in, `programs[name]`, is a shell body given `$@` that logs its call; `$STATE` is a
 * folder the bodies may keep counters in. `hangUpAfterMs` sends SIGHUP to the command then (an SSH
 * session that died).
 */
export function runWithStandIns(
  argv: string[],
  programs: Record<string, string>,
  options: { hangUpAfterMs?: number } = {},
): Promise<StandInRun> {
  const dir = mkdtempSync(join(tmpdir(), 'stagecraft-stand-in-'));
  for (const [name, body] of Object.entries(programs)) {
    writeFileSync(
      join(dir, name),
      `#!/bin/sh\necho "$*" >> "${join(dir, `${name}.calls`)}"\n${body}\nexit 0\n`,
      {
        mode: 0o755,
      },
    );
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, STATE: dir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    if (options.hangUpAfterMs !== undefined) setTimeout(() => child.kill('SIGHUP'), options.hangUpAfterMs);
    child.on('close', (code) => {
      const calls: Record<string, string[]> = {};
      for (const name of Object.keys(programs)) {
        const log = join(dir, `${name}.calls`);
        calls[name] = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, calls, ms: Date.now() - started });
    });
  });
}
