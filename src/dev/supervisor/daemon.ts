import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { spawnGroup } from './process-group.js';

/**
 * Starts `argv` as a background daemon: its own session and process group, no terminal, stdout and
 * stderr appended to `logFile`. Stagecraft can exit while it keeps running. Returns its pid, and its
 * exit code once it has ended while this process still runs (null when a signal ended it).
 */
export function spawnDaemon(
  argv: readonly string[],
  options: { cwd: string; env: Record<string, string>; logFile: string },
): Promise<{ pid: number; exited: Promise<number | null> }> {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a', 0o600);
  try {
    const child = spawnGroup(argv, { cwd: options.cwd, env: options.env, stdio: ['ignore', fd, fd] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => {
        child.unref();
        resolve({ pid: child.pid ?? -1, exited });
      });
    });
  } finally {
    closeSync(fd);
  }
}
