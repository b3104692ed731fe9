// Commands a person drives: `stagecraft ssh` and `stagecraft exec` hand the terminal (stdin, stdout,
// stderr) to the OpenSSH client, `tailscale ssh` or docker, and pass their exit code through.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { ExternalError } from '../util/errors.js';
import { quoteArgv } from '../util/shell-quote.js';
import { installHint } from '../util/tools.js';

/** `tailscale ssh [user@]host [command]`: Tailscale's own SSH over the mesh (identity from the tailnet). */
export function tailscaleSshArgv(
  host: string,
  user: string | undefined,
  remote: readonly string[] | string | undefined,
): string[] {
  const target = user === undefined ? host : `${user}@${host}`;
  const argv = ['tailscale', 'ssh', target];
  if (remote === undefined) return argv;
  return [...argv, typeof remote === 'string' ? remote : quoteArgv(remote)];
}

/**
 * Runs argv with this process's terminal (stdin, stdout and stderr inherited) and resolves with its
 * exit code (128 + the signal number when a signal ended it). Ctrl+C goes to the child (it is in the
 * terminal's foreground group); this process waits for the child instead of dying first.
 */
export function runInteractive(argv: readonly string[], options: { cwd?: string } = {}): Promise<number> {
  const [file, ...args] = argv;
  if (file === undefined || file === '') throw new RangeError('runInteractive needs a non-empty argv');
  return new Promise((resolve, reject) => {
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    const forward = () => child.kill('SIGTERM');
    process.on('SIGTERM', forward);
    const cleanup = () => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      process.off('SIGTERM', forward);
    };
    const child = spawn(file, args, { stdio: 'inherit', cwd: options.cwd });
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        error.code === 'ENOENT'
          ? new ExternalError(`${file} was not found on PATH`, {
              hint: installHint(file),
            })
          : new ExternalError(`could not run ${file}: ${error.message}`, {
              hint: `check that ${file} is an executable you may run`,
            }),
      );
    });
    child.once('exit', (code, signal) => {
      cleanup();
      if (code !== null) resolve(code);
      else {
        const number = signal === null ? undefined : osConstants.signals[signal];
        resolve(128 + (number ?? 1));
      }
    });
  });
}
