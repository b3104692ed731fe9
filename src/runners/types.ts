import type { Readable } from 'node:stream';
import type { Secret } from '../util/secret.js';

export interface ExecOptions {
  /** Sent on the command's stdin; a Secret is revealed only into the pipe, never into argv or logs. */
  stdin?: string | Secret;
  /**
   * Bytes streamed to the command's stdin as they are read (large payloads such as an image
   * archive, never held in memory); used instead of `stdin`. Never a secret: it is not redacted.
   */
  stdinStream?: Readable;
  /** Extra environment for a local command (ignored by the ssh runner: put secrets in 0600 files). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Resolve with the exit code instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
  /** Called with each line of output as it arrives (stdout and stderr). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/**
 * Where a step's commands run: this machine, or one host over SSH. Commands are argv arrays; a
 * runner quotes them once, in one place. Relative paths are relative to the user's home folder.
 */
export interface Runner {
  /** Host name for messages, e.g. "local" or "h1". */
  readonly name: string;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Writes a file atomically (temp + rename) with the given mode, creating folders; content travels on stdin. */
  upload(path: string, content: string | Buffer | Secret, mode: number): Promise<void>;
  /** Reads a file, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  close(): Promise<void>;
}
