import { causeChain, ExitCode, isStagecraftError } from '../util/errors.js';
import { fileSystemError } from '../util/fs-errors.js';
import { diagnosticText, type Output } from '../util/output.js';
import { redact } from '../util/secret.js';

const REPORT_URL = 'https://github.com/stagecraft-dev/stagecraft/issues';

/**
 * Prints an error the one way the CLI does it and returns the exit code: `error:`, details and `hint:`
 * on stderr; with `json` (`--json`, `--format json`) also one line on stdout,
 * `{"event":"error","message","details"?,"hint"?,"exit_code"}`, after the JSON lines that came before
 * it, unless the command wrote its own JSON document (which then says how it failed).
 */
export function reportError(error: unknown, output: Output, verbose: boolean, json = false): number {
  const mapped = fromFileSystem(error);
  if (mapped !== error) return reportError(mapped, output, verbose, json);
  if (json && !output.documentWritten) {
    const known = isStagecraftError(error);
    const message = error instanceof Error ? error.message : String(error);
    output.result(
      JSON.stringify({
        event: 'error',
        message: known ? message : `internal error: ${message}`,
        ...(known && error.details.length > 0 ? { details: error.details } : {}),
        ...(known && error.hint !== undefined ? { hint: error.hint } : {}),
        exit_code: known ? error.exitCode : ExitCode.internal,
      }),
    );
  }
  if (isStagecraftError(error)) {
    output.error(error.message);
    for (const line of error.details) process.stderr.write(`  ${diagnosticText(line)}\n`);
    if (error.hint !== undefined)
      process.stderr.write(`${output.colors.dim('hint:')} ${diagnosticText(error.hint)}\n`);
    if (verbose) {
      if (error.command !== undefined) process.stderr.write(`command: ${diagnosticText(error.command)}\n`);
      for (const line of causeChain(error)) process.stderr.write(`caused by: ${diagnosticText(line)}\n`);
    }
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  output.error(`internal error: ${message}`);
  process.stderr.write(
    `${output.colors.dim('hint:')} this is a bug in Stagecraft; please report it at ${REPORT_URL} with the output of the same command run with --verbose\n`,
  );
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${redact(error.stack)}\n`);
  return ExitCode.internal;
}

/**
 * A file-system error on a path of the user's (a FIFO where a folder must be made, a read-only
 * disk) that no command turned into its own error: a user error (exit 1) or a full disk (exit 2)
 * naming the path, never "a bug in Stagecraft". ENOENT is left alone: a file that went missing
 * under us is more likely our fault.
 */
function fromFileSystem(error: unknown): unknown {
  const errno = error as NodeJS.ErrnoException | undefined;
  if (
    !(error instanceof Error) ||
    typeof errno?.code !== 'string' ||
    typeof errno.syscall !== 'string' ||
    typeof errno.path !== 'string' ||
    errno.code === 'ENOENT'
  )
    return error;
  const verb =
    {
      mkdir: 'create the folder',
      rename: 'write',
      open: 'open',
      write: 'write',
      scandir: 'read the folder',
      read: 'read',
      unlink: 'remove',
      rmdir: 'remove',
    }[errno.syscall] ?? errno.syscall;
  return fileSystemError(error, errno.path, verb);
}
