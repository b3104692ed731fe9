// Helpers shared by the runners: how a command is named in messages and how a failed exit becomes an error.
import { ExternalError } from '../util/errors.js';
import { redact, Secret } from '../util/secret.js';
import { quoteArgv } from '../util/shell-quote.js';
import type { ExecOptions, ExecResult } from './types.js';

/** How many words of an argv a message shows before `…`. */
const SUMMARY_WORDS = 3;

/** A short, redacted name for a command in messages: `docker compose up …`. */
export function summarizeArgv(argv: readonly string[]): string {
  const words = argv
    .slice(0, SUMMARY_WORDS)
    .map((word) => (word.length > 40 ? `${word.slice(0, 37)}...` : word));
  const suffix = argv.length > SUMMARY_WORDS ? ' …' : '';
  return redact(quoteArgv(words) + suffix);
}

/** The whole command as one redacted, copy-pasteable line (for `--verbose`). */
export function displayArgv(argv: readonly string[]): string {
  return redact(quoteArgv(argv));
}

/** The last non-empty line of a command's output, redacted (what a failure message quotes). */
export function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  return redact((lines[lines.length - 1] ?? '').trim());
}

/**
 * The error for a command that exited non-zero: `docker compose up … exited with code 1: <last stderr line>`
 * (`… on h1: …` for a remote host).
 */
export function exitError(
  argv: readonly string[],
  result: ExecResult,
  context: { host?: string; command: string },
): ExternalError {
  const where = context.host === undefined ? '' : ` on ${context.host}`;
  const why = lastLine(result.stderr) || lastLine(result.stdout);
  const message = `${summarizeArgv(argv)} exited with code ${result.exitCode}${where}${why === '' ? '' : `: ${why}`}`;
  return new ExternalError(message, {
    command: context.command,
    hint: 'read the command output above; rerun with --verbose to see the full command',
  });
}

/** The bytes a command receives on stdin: a Secret is revealed here and only here. */
export function stdinPayload(stdin: ExecOptions['stdin']): string | undefined {
  if (stdin === undefined) return undefined;
  return stdin instanceof Secret ? stdin.reveal() : stdin;
}

/** A file's content as bytes for a child's stdin or a file write: a Secret is revealed only here. */
export function contentPayload(content: string | Buffer | Secret): string | Buffer {
  return content instanceof Secret ? content.reveal() : content;
}

/** Remote and local paths given as `~/x` mean `x` relative to the home folder. */
export function stripHomePrefix(path: string): string {
  if (path === '~') return '.';
  return path.startsWith('~/') ? path.slice(2) : path;
}

/** The mode as the octal string `chmod` takes, e.g. 0o600 → "600". */
export function octalMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new RangeError(`invalid file mode ${mode}`);
  return mode.toString(8).padStart(3, '0');
}
