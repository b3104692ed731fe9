import { readLines } from './lines.js';
import { signalGroup, spawnGroup, stopGroup } from './process-group.js';

export interface RunOptions {
  cwd: string;
  env: Record<string, string>;
  /** Written to the child's stdin, then stdin is closed (secrets go here, never in argv). */
  input?: string;
  /** Aborting stops the command's whole process group. */
  signal?: AbortSignal;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A command could not be started at all (usually not installed). */
export class SpawnError extends Error {
  readonly code: string | undefined;

  constructor(file: string, cause: NodeJS.ErrnoException) {
    super(`cannot run ${file}: ${cause.message}`, { cause });
    this.code = cause.code;
  }
}

/**
 * Runs a short command to completion (docker compose, mkcert, encore secret set) in its own process
 * group, so Ctrl+C reaches Stagecraft first and an abort stops the command's whole tree.
 */
export function runCommand(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnGroup(argv, {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    readLines(child.stdout, (line) => {
      stdout += `${line}\n`;
      options.onLine?.(line, 'stdout');
    });
    readLines(child.stderr, (line) => {
      stderr += `${line}\n`;
      options.onLine?.(line, 'stderr');
    });
    const onAbort = () => {
      if (child.pid !== undefined) void stopGroup(child.pid, 'SIGTERM', 3000).catch(() => undefined);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(new SpawnError(argv[0] ?? '', error));
    });
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      // The leader is gone; anything it left in its group goes with it.
      try {
        if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      } catch {
        // not ours to signal any more
      }
      resolve({ code, signal, stdout, stderr });
    });
    if (options.input !== undefined && child.stdin !== null) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
    if (options.signal?.aborted === true) onAbort();
  });
}
