import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { DevProcessSpec } from '../../providers/app.js';
import { ExternalError } from '../../util/errors.js';
import { sleep } from '../../util/sleep.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, RestartTracker } from './backoff.js';
import { LineRing, readLines, stripAnsi } from './lines.js';
import { groupMembers, type StopOutcome, spawnGroup, stopGroup } from './process-group.js';

/** A long-running process: what providers describe (DevProcessSpec) plus display and restart policy. */
export interface ProcessSpec extends DevProcessSpec {
  /** Rewrites an output line for display, or drops it (undefined). */
  formatLine?: (line: string) => string | undefined;
  backoff?: BackoffPolicy;
}

export type ProcessEvent =
  | { type: 'output'; name: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'started'; name: string; pid: number; restart: number }
  | { type: 'ready'; name: string; afterMs: number; restarted: boolean }
  | {
      type: 'exited';
      name: string;
      code: number | null;
      signal: NodeJS.Signals | null;
      restartInMs: number;
      attempt: number;
    }
  | { type: 'fatal'; name: string; error: ExternalError };

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `was killed by ${signal}`;
  return `exited with code ${code ?? '?'}`;
}

function portOpen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether something accepts TCP connections on `port` at 127.0.0.1 or ::1. */
export async function localPortOpen(port: number): Promise<boolean> {
  return (await portOpen(port, '127.0.0.1')) || (await portOpen(port, '::1'));
}

/**
 * Runs one process in its own process group: prefixed output, readiness (pattern or port), restart with
 * exponential backoff after a crash (or a fatal event when it is required), and a stop that takes the
 * whole tree down with the configured signal, then SIGKILL after the timeout.
 */
export class ManagedProcess {
  readonly spec: ProcessSpec;
  readonly #emit: (event: ProcessEvent) => void;
  readonly #tracker: RestartTracker;
  readonly #ring = new LineRing(40);
  #child: ChildProcess | undefined;
  #pgid: number | undefined;
  #stopping = false;
  #everReady = false;
  #readyThisRun = false;
  #run = 0;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #settleStart: ((outcome: 'ready' | 'stopped') => void) | undefined;
  #failStart: ((error: ExternalError) => void) | undefined;

  constructor(spec: ProcessSpec, emit: (event: ProcessEvent) => void) {
    this.spec = spec;
    this.#emit = emit;
    this.#tracker = new RestartTracker(spec.backoff ?? DEFAULT_BACKOFF);
  }

  /** The current process group (the leader's pid), if running. */
  get pgid(): number | undefined {
    return this.#pgid;
  }

  get ready(): boolean {
    return this.#readyThisRun;
  }

  lastLines(): string[] {
    return this.#ring.lines();
  }

  /**
   * Starts the process and resolves when it is ready for the first time (`stopped` if stop() came
   * first); rejects when it cannot start, crashes while required, or is not ready in time.
   */
  start(): Promise<'ready' | 'stopped'> {
    this.#startedAt = Date.now();
    return new Promise((resolve, reject) => {
      this.#settleStart = resolve;
      this.#failStart = reject;
      this.#deadlineTimer = setTimeout(() => {
        if (this.#everReady || this.#stopping) return;
        const seconds = (this.spec.readyTimeoutMs / 1000).toString();
        this.#fail(
          `${this.spec.name} did not become ready within ${seconds}s${this.#readinessText()}`,
          'check the output above; raise the limit with STAGECRAFT_DEV_READY_TIMEOUT (e.g. 2m) if it is just slow',
        );
      }, this.spec.readyTimeoutMs);
      this.#spawn();
    });
  }

  #readinessText(): string {
    if (this.spec.readyPattern !== undefined)
      return ` (no output line matched /${this.spec.readyPattern.source}/)`;
    if (this.spec.readyPort !== undefined)
      return ` (nothing accepted connections on port ${this.spec.readyPort})`;
    return '';
  }

  #spawn(): void {
    if (this.#stopping) return;
    const run = ++this.#run;
    this.#readyThisRun = false;
    let child: ChildProcess;
    try {
      child = spawnGroup(this.spec.argv, {
        cwd: this.spec.cwd,
        env: this.spec.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      this.#fail(`${this.spec.name}: cannot start ${this.spec.argv[0]}: ${(error as Error).message}`);
      return;
    }
    this.#child = child;
    this.#pgid = child.pid;
    let closed = false;
    const closedPromise = new Promise<void>((resolve) => child.once('close', () => resolve()));
    void closedPromise.then(() => {
      closed = true;
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (run !== this.#run) return;
      const what =
        error.code === 'ENOENT'
          ? `command not found: ${this.spec.argv[0]}`
          : `cannot start: ${error.message}`;
      this.#fail(`${this.spec.name}: ${what}`, this.spec.hint);
    });
    if (child.pid === undefined) return; // the 'error' event follows
    this.#tracker.started();
    this.#emit({ type: 'started', name: this.spec.name, pid: child.pid, restart: run - 1 });
    readLines(child.stdout, (line) => this.#line(run, 'stdout', line));
    readLines(child.stderr, (line) => this.#line(run, 'stderr', line));
    child.once('exit', (code, signal) => {
      void (async () => {
        // Whatever the leader left in its group goes too, so a restart finds its port free.
        if (child.pid !== undefined && groupMembers(child.pid).length > 0) {
          await stopGroup(child.pid, 'SIGTERM', 2000).catch(() => undefined);
        }
        if (!closed) await Promise.race([closedPromise, sleep(500)]);
        this.#exited(run, code, signal);
      })();
    });
    if (this.spec.readyPattern === undefined) {
      if (this.spec.readyPort !== undefined) void this.#probePort(run, this.spec.readyPort);
      else this.#markReady(run);
    }
  }

  async #probePort(run: number, port: number): Promise<void> {
    while (run === this.#run && !this.#readyThisRun && !this.#stopping) {
      if (await localPortOpen(port)) {
        if (run === this.#run && this.#child?.exitCode === null) this.#markReady(run);
        return;
      }
      await sleep(150);
    }
  }

  #line(run: number, stream: 'stdout' | 'stderr', raw: string): void {
    const plain = stripAnsi(raw);
    const shown = this.spec.formatLine === undefined ? raw : this.spec.formatLine(raw);
    // The last lines a failure shows are the ones shown as they came (not those formatLine hides).
    if (shown !== undefined) this.#ring.push(stripAnsi(shown));
    if (shown !== undefined) this.#emit({ type: 'output', name: this.spec.name, stream, line: shown });
    if (run === this.#run && !this.#readyThisRun && this.spec.readyPattern?.test(plain)) {
      this.#markReady(run);
    }
  }

  #markReady(run: number): void {
    if (run !== this.#run || this.#readyThisRun || this.#stopping) return;
    this.#readyThisRun = true;
    const restarted = this.#everReady;
    this.#everReady = true;
    this.#emit({ type: 'ready', name: this.spec.name, afterMs: Date.now() - this.#startedAt, restarted });
    if (!restarted) {
      if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
      this.#settleStart?.('ready');
      this.#settleStart = undefined;
      this.#failStart = undefined;
    }
  }

  #exited(run: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (run !== this.#run || this.#stopping) return;
    this.#child = undefined;
    this.#pgid = undefined;
    if (this.spec.required) {
      this.#fail(
        `${this.spec.name} ${describeExit(code, signal)}; it is marked required, so the dev stack stops`,
        this.spec.hint,
      );
      return;
    }
    const { attempt, delayMs } = this.#tracker.crashed();
    this.#emit({ type: 'exited', name: this.spec.name, code, signal, restartInMs: delayMs, attempt });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#spawn();
    }, delayMs);
  }

  #fail(message: string, hint?: string): void {
    if (this.#stopping) return;
    const lines = this.lastLines().slice(-15);
    const error = new ExternalError(message, {
      details: lines.length === 0 ? ['(no output)'] : ['last output:', ...lines.map((line) => `  ${line}`)],
      hint,
    });
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    if (this.#failStart !== undefined) {
      const fail = this.#failStart;
      this.#settleStart = undefined;
      this.#failStart = undefined;
      fail(error);
    } else {
      this.#emit({ type: 'fatal', name: this.spec.name, error });
    }
  }

  /** Stops the process and its whole group; no restart afterwards. `force` skips the grace period. */
  async stop(force = false): Promise<StopOutcome> {
    this.#stopping = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#settleStart?.('stopped');
    this.#settleStart = undefined;
    this.#failStart = undefined;
    const pgid = this.#pgid;
    if (pgid === undefined) return 'gone';
    const outcome = await stopGroup(
      pgid,
      force ? 'SIGKILL' : this.spec.stopSignal,
      force ? 0 : this.spec.stopTimeoutMs,
    );
    this.#child = undefined;
    this.#pgid = undefined;
    return outcome;
  }
}
