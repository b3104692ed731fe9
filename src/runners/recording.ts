// A runner that runs nothing: it records what it was asked to do and answers from a script. Used by
// the unit tests of the step handlers (test/unit/engine-handlers.test.ts) and of the rollout.
import { redact, Secret } from '../util/secret.js';
import { displayArgv, exitError, stripHomePrefix } from './common.js';
import type { ExecOptions, ExecResult, Runner } from './types.js';

/** What a RecordingRunner was asked to do, in order. Secret contents are recorded as "[secret]". */
export type RecordedCall =
  | { kind: 'exec'; host: string; argv: string[]; stdin?: string; env?: Record<string, string> }
  | { kind: 'upload'; host: string; path: string; mode: number; content: string }
  | { kind: 'read'; host: string; path: string }
  | { kind: 'close'; host: string };

/** What a scripted exec answers: missing fields default to exit 0 and empty output. */
export type ScriptedResult = Partial<ExecResult>;

/**
 * How exec calls are answered: a function (undefined = default success), or a map from an argv
 * prefix (the argv joined with spaces) to a result; the longest matching prefix wins.
 */
export type ExecScript =
  | ((
      argv: readonly string[],
      options: ExecOptions,
    ) => ScriptedResult | undefined | Promise<ScriptedResult | undefined>)
  | Record<string, ScriptedResult>;

export interface RecordingRunnerOptions {
  /** Default "local". */
  name?: string;
  script?: ExecScript;
  /** Files read() finds, by path; upload() adds to them. */
  files?: Record<string, string>;
  /** A shared log, so that calls on several hosts can be asserted in one order. */
  log?: RecordedCall[];
}

const SECRET = '[secret]';

/** Records every call and answers from its script; a non-zero scripted exit throws like a real runner. */
export class RecordingRunner implements Runner {
  readonly name: string;
  readonly calls: RecordedCall[];
  readonly #script: ExecScript | undefined;
  readonly #files: Map<string, string>;

  constructor(options: RecordingRunnerOptions = {}) {
    this.name = options.name ?? 'local';
    this.calls = options.log ?? [];
    this.#script = options.script;
    this.#files = new Map(
      Object.entries(options.files ?? {}).map(([path, content]) => [stripHomePrefix(path), content]),
    );
  }

  /** The argv of every exec on this runner, in order. */
  get commands(): string[][] {
    return this.calls.flatMap((call) => (call.kind === 'exec' && call.host === this.name ? [call.argv] : []));
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const call: RecordedCall = { kind: 'exec', host: this.name, argv: [...argv] };
    if (options.stdin !== undefined)
      call.stdin = options.stdin instanceof Secret ? SECRET : redact(options.stdin);
    if (options.env !== undefined) {
      call.env = Object.fromEntries(Object.entries(options.env).map(([key, value]) => [key, redact(value)]));
    }
    this.calls.push(call);
    const scripted = await this.#answer(argv, options);
    const result: ExecResult = {
      exitCode: scripted?.exitCode ?? 0,
      stdout: scripted?.stdout ?? '',
      stderr: scripted?.stderr ?? '',
      durationMs: scripted?.durationMs ?? 0,
    };
    if (options.onLine !== undefined) {
      for (const stream of ['stdout', 'stderr'] as const) {
        const text = result[stream].endsWith('\n') ? result[stream].slice(0, -1) : result[stream];
        if (text !== '') for (const line of text.split('\n')) options.onLine(line, stream);
      }
    }
    if (result.exitCode !== 0 && options.allowFailure !== true) {
      throw exitError(argv, result, {
        command: displayArgv(argv),
        ...(this.name === 'local' ? {} : { host: this.name }),
      });
    }
    return result;
  }

  async upload(path: string, content: string | Buffer | Secret, mode: number): Promise<void> {
    const recorded = content instanceof Secret ? SECRET : redact(content.toString());
    this.calls.push({ kind: 'upload', host: this.name, path, mode, content: recorded });
    this.#files.set(stripHomePrefix(path), content instanceof Secret ? content.reveal() : content.toString());
  }

  async read(path: string): Promise<string | undefined> {
    this.calls.push({ kind: 'read', host: this.name, path });
    return this.#files.get(stripHomePrefix(path));
  }

  async close(): Promise<void> {
    this.calls.push({ kind: 'close', host: this.name });
  }

  async #answer(argv: readonly string[], options: ExecOptions): Promise<ScriptedResult | undefined> {
    const script = this.#script;
    if (script === undefined) return undefined;
    if (typeof script === 'function') return script(argv, options);
    const joined = argv.join(' ');
    let best: string | undefined;
    for (const prefix of Object.keys(script)) {
      if (joined.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
    }
    return best === undefined ? undefined : script[best];
  }
}
