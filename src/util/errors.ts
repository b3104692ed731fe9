/** Exit codes of the CLI, one per error kind (SPEC §2). */
export const ExitCode = {
  ok: 0,
  user: 1,
  external: 2,
  internal: 3,
  partial: 10,
  cancelled: 130,
} as const;

export type ErrorKind = 'user' | 'external' | 'internal' | 'partial' | 'cancelled';

export interface ErrorOptions {
  /** One line that tells the user what to do next. */
  hint?: string;
  cause?: unknown;
  /** The command that failed, shown with --verbose. */
  command?: string;
  /** Further lines printed under the message (for example every config error). */
  details?: string[];
}

/** Base class of every error Stagecraft raises on purpose; the CLI maps `kind` to an exit code. */
export abstract class StagecraftError extends Error {
  abstract readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly command: string | undefined;
  readonly details: string[];

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.command = options.command;
    this.details = options.details ?? [];
  }

  get exitCode(): number {
    return ExitCode[this.kind];
  }
}

/** Bad input from the user: flags, config, missing files. Exit 1. */
export class UserError extends StagecraftError {
  readonly kind = 'user' as const;
}

/** A file the user named that cannot be read as one: `path` is the file, the message says why. */
export class UserFileError extends UserError {
  constructor(
    readonly path: string,
    message: string,
    options: { hint: string; cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Something outside Stagecraft failed: docker, ssh, a registry, a database, a cloud API. Exit 2. */
export class ExternalError extends StagecraftError {
  readonly kind = 'external' as const;
}

/** A command that did not finish in its time and was stopped. Exit 2. */
export class TimedOutError extends ExternalError {}

/** A bug in Stagecraft. Exit 3. */
export class InternalError extends StagecraftError {
  readonly kind = 'internal' as const;
}

/** Some hosts succeeded and some failed. Exit 10. */
export class PartialFailure extends StagecraftError {
  readonly kind = 'partial' as const;
}

/**
 * The user stopped Stagecraft (Ctrl+C, SIGTERM) before it could finish cleanly. Exit 130, as a shell
 * reports a process ended by SIGINT. Also used inside a command for "interrupted on purpose".
 */
export class CancelledError extends StagecraftError {
  readonly kind = 'cancelled' as const;

  constructor(message = 'cancelled', options: ErrorOptions = {}) {
    super(message, options);
  }
}

export function isStagecraftError(error: unknown): error is StagecraftError {
  return error instanceof StagecraftError;
}

/** The chain of causes under an error, outermost first, as one line each. */
export function causeChain(error: unknown): string[] {
  const lines: string[] = [];
  let current: unknown = error instanceof Error ? error.cause : undefined;
  while (current !== undefined && lines.length < 10) {
    lines.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines;
}
