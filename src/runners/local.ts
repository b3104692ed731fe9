// The one place that starts short-lived child processes (DESIGN: only runners/local and dev/supervisor
// spawn). Commands are argv arrays run without a shell.
import { existsSync } from 'node:fs';
import { chmod, readFile } from 'node:fs/promises';
import { homedir, constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { writeFileAtomic } from '../util/atomic-file.js';
import { ExternalError, TimedOutError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import type { Secret } from '../util/secret.js';
import { installHint } from '../util/tools.js';
import { contentPayload, displayArgv, exitError, stdinPayload, summarizeArgv } from './common.js';
import type { ExecOptions, ExecResult, Runner } from './types.js';

/** One process to start: everything `spawnProcess` needs, already resolved. */
export interface SpawnRequest {
  file: string;
  args: readonly string[];
  cwd: string;
  /** Added to (not replacing) this process's environment. */
  env?: Record<string, string>;
  /** Bytes for stdin; stdin is /dev/null when undefined (and no inputStream). */
  input?: string | Buffer;
  /** A stream piped to stdin instead of `input` (ExecOptions.stdinStream). */
  inputStream?: Readable;
  timeoutMs?: number;
  onLine?: ExecOptions['onLine'];
  signal?: AbortSignal;
  /**
   * Start the process in a process group of its own (Ctrl+C in the terminal reaches Stagecraft, not
   * the command); a timeout or an abort then stops the whole group, and what the command leaves in
   * its group is killed when it ends. For `stagecraft dev`, which handles Ctrl+C itself.
   */
  ownProcessGroup?: boolean;
}

/** How a process ended, before any decision about errors. */
export interface SpawnOutcome extends ExecResult {
  timedOut: boolean;
  canceled: boolean;
  /** Set when the process could not be started (e.g. ENOENT, EACCES); exitCode is then -1. */
  spawnError?: { code: string | undefined; message: string };
  /** The signal that killed the process, if any (exitCode is then 128 + its number). */
  killedBy?: string;
}

/** Children running now (pid → runs in a group of its own): killed when this process ends or is signalled. */
const liveChildren = new Map<number, boolean>();
let exitHooksInstalled = false;

function killChild(pid: number, group: boolean, signal: NodeJS.Signals): void {
  try {
    process.kill(group ? -pid : pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Children die with their parent: on exit or on SIGINT, SIGTERM or SIGHUP every running child is
 * killed — its whole process group when it has one of its own (ownProcessGroup), so that
 * grandchildren such as the compose plugin under `docker` go too. When nothing else listens for the signal, this process then exits
 * with 128 + the signal number, as it would have without the handler. (A SIGKILL cannot be caught.)
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const [pid, group] of liveChildren) killChild(pid, group, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      for (const [pid, group] of liveChildren) killChild(pid, group, 'SIGTERM');
      if (process.listenerCount(signal) === 1) {
        for (const [pid, group] of liveChildren) killChild(pid, group, 'SIGKILL');
        process.exit(128 + (osConstants.signals[signal] ?? 15));
      }
    };
    process.on(signal, handler);
  }
}

/** How long a process stopped by a timeout or an abort has after SIGTERM before SIGKILL (ms). */
export const FORCE_KILL_AFTER_MS = 2_000;

/**
 * Starts a process without a shell and waits for it: never throws for a failing command, reports
 * every way it can end. Runners turn the outcome into results and errors.
 *
 * A timeout or an abort kills the process (SIGTERM, then SIGKILL to it and its own process group
 * FORCE_KILL_AFTER_MS later: `docker compose` ignores SIGTERM while it reads a device) and stops reading its output
 * at once: a multiplexed ssh client hands its stdout/stderr to the master connection, so those pipes
 * would otherwise stay open until the remote command ends (the same holds for a local command whose
 * children keep them).
 */
export async function spawnProcess(request: SpawnRequest): Promise<SpawnOutcome> {
  const { execa } = await import('execa');
  const started = performance.now();
  const subprocess = execa(request.file, [...request.args], {
    cwd: request.cwd,
    env: request.env ?? {},
    extendEnv: true,
    reject: false,
    stripFinalNewline: false,
    maxBuffer: 512 * 1024 * 1024,
    ...(request.inputStream !== undefined
      ? { stdin: 'pipe' as const }
      : request.input === undefined
        ? { stdin: 'ignore' as const }
        : { input: request.input }),
    forceKillAfterDelay: FORCE_KILL_AFTER_MS,
    detached: request.ownProcessGroup === true,
  });
  const signalGroup = (signal: NodeJS.Signals): boolean => {
    if (request.ownProcessGroup !== true || subprocess.pid === undefined) return false;
    try {
      process.kill(-subprocess.pid, signal);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  if (request.inputStream !== undefined && subprocess.stdin !== null) {
    // A command that exits early (EPIPE) fails on its exit code; the stream's error is not ours to throw.
    pipeline(request.inputStream, subprocess.stdin).catch(() => undefined);
  }
  installExitHooks();
  const pid = subprocess.pid;
  if (pid !== undefined) liveChildren.set(pid, request.ownProcessGroup === true);
  const flushers: (() => void)[] = [];
  if (request.onLine !== undefined) {
    const onLine = request.onLine;
    for (const stream of ['stdout', 'stderr'] as const) {
      const splitter = lineSplitter((line) => onLine(line, stream));
      subprocess[stream]?.on('data', splitter.push);
      flushers.push(splitter.flush);
    }
  }
  let timedOut = false;
  let canceled = false;
  let forceKill: NodeJS.Timeout | undefined;
  const stop = () => {
    if (!signalGroup('SIGTERM')) subprocess.kill('SIGTERM');
    forceKill ??= setTimeout(() => {
      if (!signalGroup('SIGKILL')) subprocess.kill('SIGKILL');
    }, FORCE_KILL_AFTER_MS);
    subprocess.stdout?.destroy();
    subprocess.stderr?.destroy();
  };
  const timer =
    request.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          stop();
        }, request.timeoutMs);
  const onAbort = () => {
    canceled = true;
    stop();
  };
  if (request.signal?.aborted === true) onAbort();
  else request.signal?.addEventListener('abort', onAbort, { once: true });
  let result: Awaited<typeof subprocess>;
  try {
    result = await subprocess;
  } finally {
    clearTimeout(timer);
    clearTimeout(forceKill);
    request.signal?.removeEventListener('abort', onAbort);
    // The leader is gone; anything it left in its group goes with it.
    signalGroup('SIGKILL');
    if (pid !== undefined) liveChildren.delete(pid);
  }
  for (const flush of flushers) flush();
  const durationMs = Math.round(performance.now() - started);
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const outcome: SpawnOutcome = {
    exitCode: result.exitCode ?? -1,
    stdout,
    stderr,
    durationMs,
    timedOut,
    canceled,
  };
  if (result.signal !== undefined) {
    outcome.killedBy = result.signal;
    const number = osConstants.signals[result.signal as keyof typeof osConstants.signals];
    if (result.exitCode === undefined && number !== undefined) outcome.exitCode = 128 + number;
  }
  if (
    result.failed &&
    result.exitCode === undefined &&
    result.signal === undefined &&
    !timedOut &&
    !canceled
  ) {
    const cause = result.cause;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? result.code;
    outcome.spawnError = {
      code,
      message: cause instanceof Error ? cause.message : (result.shortMessage ?? 'unknown error'),
    };
  }
  return outcome;
}

function lineSplitter(emit: (line: string) => void): {
  push: (chunk: Buffer | string) => void;
  flush: () => void;
} {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return {
    push: (chunk) => {
      pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        emit(pending.slice(0, newline).replace(/\r$/, ''));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    },
    flush: () => {
      pending += decoder.end();
      if (pending !== '') emit(pending.replace(/\r$/, ''));
      pending = '';
    },
  };
}

/**
 * Turns a spawn outcome into the runner contract: the result, or an ExternalError for a missing
 * binary, a timeout, a cancellation, or a non-zero exit (unless `allowFailure`).
 */
export function settle(
  argv: readonly string[],
  outcome: SpawnOutcome,
  options: { allowFailure?: boolean; timeoutMs?: number; cwd: string; host?: string; command?: string },
): ExecResult {
  const command = options.command ?? displayArgv(argv);
  const where = options.host === undefined ? '' : ` on ${options.host}`;
  if (outcome.spawnError !== undefined) {
    const binary = argv[0] ?? '';
    if (outcome.spawnError.code === 'ENOENT' && !existsSync(options.cwd)) {
      throw new ExternalError(`cannot run ${binary}: the working folder ${options.cwd} does not exist`, {
        command,
        hint: 'create the folder or run Stagecraft from an existing one',
      });
    }
    if (outcome.spawnError.code === 'ENOENT') {
      throw new ExternalError(`${binary} was not found on PATH${where}`, {
        command,
        hint: installHint(binary),
      });
    }
    throw new ExternalError(`could not run ${binary}${where}: ${outcome.spawnError.message}`, {
      command,
      hint: `check that ${binary} is an executable you may run`,
    });
  }
  if (outcome.timedOut) {
    const seconds = Math.round((options.timeoutMs ?? 0) / 100) / 10;
    throw new TimedOutError(`${summarizeArgv(argv)} timed out after ${seconds}s${where}`, {
      command,
      hint: 'the command was stopped; check what it waits for, or raise the timeout',
    });
  }
  if (outcome.canceled) {
    throw new ExternalError(`${summarizeArgv(argv)} was cancelled${where}`, { command });
  }
  const result: ExecResult = {
    exitCode: outcome.exitCode,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    durationMs: outcome.durationMs,
  };
  if (result.exitCode !== 0 && options.allowFailure !== true) {
    throw exitError(argv, result, { command, host: options.host });
  }
  return result;
}

export interface LocalRunnerOptions {
  /** Working folder of commands and base of relative paths (default: the user's home folder). */
  cwd?: string;
  /** Name for messages (default "local"). */
  name?: string;
  /** Every command in a process group of its own (see SpawnRequest.ownProcessGroup). */
  ownProcessGroup?: boolean;
}

/** Runs commands on this machine, without a shell, in the user's home folder by default. */
export class LocalRunner implements Runner {
  readonly name: string;
  readonly cwd: string;
  readonly #ownProcessGroup: boolean;

  constructor(options: LocalRunnerOptions = {}) {
    this.name = options.name ?? 'local';
    this.cwd = resolve(options.cwd ?? homedir());
    this.#ownProcessGroup = options.ownProcessGroup === true;
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return runLocal(argv, { ...options, cwd: this.cwd, ownProcessGroup: this.#ownProcessGroup });
  }

  async upload(path: string, content: string | Buffer | Secret, mode: number): Promise<void> {
    const target = this.resolve(path);
    await writeFileAtomic(target, contentPayload(content), mode);
    // The temp file was created with `mode` minus the umask; give the file exactly the mode asked for.
    await chmod(target, mode);
  }

  async read(path: string): Promise<string | undefined> {
    try {
      return await readFile(this.resolve(path), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ExternalError(`cannot read ${this.resolve(path)}: ${(error as Error).message}`, {
        hint: 'check the file permissions',
        cause: error,
      });
    }
  }

  async close(): Promise<void> {}

  /** An absolute path: `~/x` is in the home folder, a relative path is relative to `cwd`. */
  resolve(path: string): string {
    return resolvePath(this.cwd, path);
  }
}

/** Options of a one-off local command: ExecOptions plus the working folder (default: home). */
export interface RunLocalOptions extends ExecOptions {
  cwd?: string;
  /** See SpawnRequest.ownProcessGroup. */
  ownProcessGroup?: boolean;
}

/** Runs one local command (argv, no shell) with the LocalRunner's rules; see ExecOptions. */
export async function runLocal(argv: readonly string[], options: RunLocalOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined || file === '') throw new RangeError('runLocal needs a non-empty argv');
  const cwd = resolve(options.cwd ?? homedir());
  const input = stdinPayload(options.stdin);
  const outcome = await spawnProcess({
    file,
    args,
    cwd,
    env: options.env,
    input,
    ...(options.stdinStream === undefined ? {} : { inputStream: options.stdinStream }),
    timeoutMs: options.timeoutMs,
    onLine: options.onLine,
    signal: options.signal,
    ownProcessGroup: options.ownProcessGroup,
  });
  return settle(argv, outcome, { cwd, allowFailure: options.allowFailure, timeoutMs: options.timeoutMs });
}
