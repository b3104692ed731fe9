// One runner per host for a whole command: every read and every step of one deploy shares a host's
// multiplexed ssh connection, opened on first use and closed once at the end (also when the command
// fails or is interrupted).
import { InternalError } from '../util/errors.js';
import type { Secret } from '../util/secret.js';
import { type RunnerEnvironment, runnerFor } from './factory.js';
import type { ExecOptions, ExecResult, Runner } from './types.js';

/** Opens the runner of one host of an environment (default: runnerFor, a new ssh connection). */
export type OpenRunner = (env: RunnerEnvironment, host: string) => Runner;

/**
 * A host's shared runner as its borrowers see it: commands go to the shared runner, close() does
 * nothing (the pool closes the shared runner once). One view per host, so maps keyed by runner
 * (the engine's per-host batches) see one host as one runner.
 */
class BorrowedRunner implements Runner {
  readonly name: string;
  readonly #shared: Runner;

  constructor(shared: Runner) {
    this.name = shared.name;
    this.#shared = shared;
  }

  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return this.#shared.exec(argv, options);
  }

  upload(path: string, content: string | Buffer | Secret, mode: number): Promise<void> {
    return this.#shared.upload(path, content, mode);
  }

  read(path: string): Promise<string | undefined> {
    return this.#shared.read(path);
  }

  /** Does nothing: the pool closes the shared runner. */
  async close(): Promise<void> {}
}

/**
 * The runners of one command, one per host and environment, opened on first use (`get`) and closed
 * together (`close`). With `closeOnInterrupt`, SIGINT/SIGTERM close them and end the process (exit
 * 130) unless a release run is handling the signal itself (`handlingInterrupts`).
 */
export class RunnerPool {
  readonly #open: OpenRunner;
  readonly #shared = new Map<RunnerEnvironment, Map<string, { runner: Runner; view: BorrowedRunner }>>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #handlers = 0;
  #removeSignalHandlers: (() => void) | undefined;

  constructor(open: OpenRunner = runnerFor) {
    this.#open = open;
  }

  /**
   * The shared runner of `host` of `env`: the same object on every call, opened on the first.
   * Throws UserError for a host the environment does not have (runnerFor), InternalError once the
   * pool is closed.
   */
  get(env: RunnerEnvironment, host: string): Runner {
    if (this.#closed) throw new InternalError(`runner pool already closed (asked for ${host})`);
    let hosts = this.#shared.get(env);
    if (hosts === undefined) {
      hosts = new Map();
      this.#shared.set(env, hosts);
    }
    let entry = hosts.get(host);
    if (entry === undefined) {
      const runner = this.#open(env, host);
      entry = { runner, view: new BorrowedRunner(runner) };
      hosts.set(host, entry);
    }
    return entry.view;
  }

  /** How many runners the pool opened (one per host and environment asked for). */
  get size(): number {
    let count = 0;
    for (const hosts of this.#shared.values()) count += hosts.size;
    return count;
  }

  /**
   * Closes every runner once, side by side (their errors ignored), and the signal handlers; later
   * calls wait for the first. `get` throws afterwards.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      this.#removeSignalHandlers?.();
      const runners = [...this.#shared.values()].flatMap((hosts) => [...hosts.values()]);
      this.#shared.clear();
      await Promise.all(runners.map(({ runner }) => runner.close().catch(() => undefined)));
    })();
    return this.#closing;
  }

  /**
   * Until close(): on SIGINT or SIGTERM the runners are closed and the process ends with exit 130
   * (Ctrl+C before the release run, e.g. while the hosts are read), unless `handlingInterrupts` runs:
   * then its own handler stops the work and the caller closes the pool when it returns.
   */
  closeOnInterrupt(exit: (code: number) => void = (code) => process.exit(code)): void {
    if (this.#removeSignalHandlers !== undefined || this.#closed) return;
    const onSignal = () => {
      if (this.#handlers > 0) return;
      void this.close().finally(() => exit(130));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    this.#removeSignalHandlers = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      this.#removeSignalHandlers = undefined;
    };
  }

  /** Runs `work`, which handles SIGINT/SIGTERM itself (a release run cancels its plan): the pool leaves them to it. */
  async handlingInterrupts<T>(work: () => Promise<T>): Promise<T> {
    this.#handlers += 1;
    try {
      return await work();
    } finally {
      this.#handlers -= 1;
    }
  }
}

/** `host`'s runner: the pool's shared one, else a new one (runnerFor: the caller closes it). */
export function borrowRunner(runners: RunnerPool | undefined, env: RunnerEnvironment, host: string): Runner {
  return runners === undefined ? runnerFor(env, host) : runners.get(env, host);
}
