import { causeChain, ExitCode, isStagecraftError } from '../util/errors.js';
import type { Output } from '../util/output.js';
import { redact } from '../util/secret.js';

const REPORT_URL = 'https://github.com/stagecraft-dev/stagecraft/issues';

/** Prints an error the one way the CLI does it and returns the exit code. */
export function reportError(error: unknown, output: Output, verbose: boolean): number {
  if (isStagecraftError(error)) {
    output.error(error.message);
    for (const line of error.details) process.stderr.write(`  ${redact(line)}\n`);
    if (error.hint !== undefined)
      process.stderr.write(`${output.colors.dim('hint:')} ${redact(error.hint)}\n`);
    if (verbose) {
      if (error.command !== undefined) process.stderr.write(`command: ${redact(error.command)}\n`);
      for (const line of causeChain(error)) process.stderr.write(`caused by: ${redact(line)}\n`);
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
