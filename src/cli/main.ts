import { buildProgram } from './program.js';

/** ExitCode.cancelled (util/errors.ts), inlined so that start-up loads nothing it does not need. */
const EXIT_CANCELLED = 130;

// A reader that stops early (`stagecraft --help | head -1`) closes the pipe: the rest of the output
// has nowhere to go, which is not an error. The command still finishes (a deploy must not stop
// half-way because `| head` went away); what it writes later is dropped.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
    // Stopped by the user without a clean finish (CancelledError): whatever is still pending (a
    // teardown waiting on children) must not keep the process alive.
    if (process.exitCode === EXIT_CANCELLED) process.exit(EXIT_CANCELLED);
  } catch (error) {
    const code = (error as { exitCode?: number; code?: string }).exitCode;
    const commanderCode = (error as { code?: string }).code;
    if (commanderCode === 'commander.helpDisplayed' || commanderCode === 'commander.version') {
      process.exitCode = 0;
      return;
    }
    if (typeof code === 'number' && commanderCode?.startsWith('commander.')) {
      // `stagecraft help <command>` printed that command's help: nothing went wrong.
      if (code === 0) {
        process.exitCode = 0;
        return;
      }
      const { Output, shouldUseColor } = await import('../util/output.js');
      const output = new Output({
        color: shouldUseColor(process.stderr, false),
        quiet: false,
        verbose: false,
        json: false,
      });
      // Set by program.ts on every command's parse errors: "ci init" for `stagecraft ci init`.
      const path = (error as { commandPath?: string }).commandPath;
      process.stderr.write(
        path === undefined || path === ''
          ? `${output.colors.dim('hint:')} run \`stagecraft --help\` for the list of commands and flags\n`
          : `${output.colors.dim('hint:')} run \`stagecraft ${path} --help\` for its usage\n`,
      );
      process.exitCode = 1;
      return;
    }
    throw error;
  }
}

// No top-level await: the one-file executable (scripts/build-sea.mjs) bundles this entry as CommonJS.
// A rejection still ends the process with the error printed, as an awaited one did.
void main();
