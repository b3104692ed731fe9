import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalError, UserError } from '../util/errors.js';
import type { Output } from '../util/output.js';
import { sleep } from '../util/sleep.js';
import type { DevFlags } from './settings.js';
import { cleanupFromState, type DevRuntime, DevStack, ensureNotRunning } from './stack.js';
import { devDir, readState } from './state.js';
import { spawnDaemon } from './supervisor/daemon.js';
import { processAlive } from './supervisor/process-group.js';

/*
 * `stagecraft dev` (SPEC §6). Start-up order: compose infrastructure (`docker compose -p <project>-<env>
 * up --detach --wait <services>` with the generated .stagecraft/dev/compose.override.yml) → backend →
 * frontend → the HTTPS front door (mkcert certificate + Caddy). Everything it starts is recorded in
 * .stagecraft/dev/state.json and undone on Ctrl+C / SIGTERM / `dev down`.
 *
 * Environment knobs (flags win over these, these win over stagecraft.yml):
 *   STAGECRAFT_HOSTS_FILE          hosts file to edit (dev.hosts_file; default /etc/hosts)
 *   STAGECRAFT_DEV_DOCKER_ADDRESS  where published container ports are reachable and bound (default: the
 *                                  host of a tcp:// or ssh:// DOCKER_HOST, else 127.0.0.1)
 *   STAGECRAFT_DEV_READY_TIMEOUT   how long a dev process may take to become ready (60s; encore 180s)
 *   STAGECRAFT_DEV_DAEMON          internal: set in the background process that --detach starts
 */

export type { DevFlags } from './settings.js';
export type { DevRuntime } from './stack.js';

/** Set in the environment of the background process that `dev --detach` starts. */
export const DAEMON_ENV = 'STAGECRAFT_DEV_DAEMON';

function tail(file: string, lines: number): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

/** `stagecraft dev`: runs the stack in the foreground, or hands it to a background process with --detach. */
export async function runDev(runtime: DevRuntime, flags: DevFlags, argv: readonly string[]): Promise<number> {
  const root = runtime.loaded.root;
  const daemon = runtime.env[DAEMON_ENV] === '1';
  await ensureNotRunning(root, runtime.output);
  if (flags.detach && !daemon) return startDetached(runtime, argv);
  return new DevStack(runtime, flags, daemon ? 'detached' : 'foreground').run();
}

/**
 * --detach: the same `stagecraft dev` runs in the background (its own session, output in
 * .stagecraft/dev/dev.log), supervising and restarting as in the foreground. This process waits until
 * it is ready (or failed), prints the URLs and exits.
 */
async function startDetached(runtime: DevRuntime, argv: readonly string[]): Promise<number> {
  const { output } = runtime;
  const root = runtime.loaded.root;
  const logFile = join(devDir(root), 'dev.log');
  await rm(logFile, { force: true });
  const args = argv.slice(1).filter((arg) => arg !== '--detach');
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(runtime.env)) if (value !== undefined) env[key] = value;
  env[DAEMON_ENV] = '1';
  const { pid, exited } = await spawnDaemon([process.execPath, ...process.execArgv, ...args], {
    cwd: process.cwd(),
    env,
    logFile,
  });
  output.info(`▸ starting the dev stack in the background (pid ${pid}); output goes to ${logFile}`);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (;;) {
      const state = readState(root);
      if (state?.pid === pid && state.status === 'ready' && !interrupted) {
        if (runtime.json) output.json({ pid, log_file: logFile, urls: state.urls });
        const width = Math.max(0, ...state.urls.map((entry) => entry.name.length));
        output.info('✓ dev stack ready in the background');
        for (const entry of state.urls) output.info(`  ${entry.name.padEnd(width)}  ${entry.url}`);
        output.info('Stop it with `stagecraft dev down`.');
        return 0;
      }
      if (!processAlive(pid)) {
        if (interrupted) return 0;
        const code = await Promise.race([exited, sleep(500).then(() => undefined)]);
        // Exit 1 is the user's (a bad --only, a config error): so is this one.
        const Failure = code === 1 ? UserError : ExternalError;
        throw new Failure('the dev stack stopped while starting in the background', {
          details: ['last output:', ...tail(logFile, 25).map((line) => `  ${line}`)],
          hint: `see ${logFile}, or run \`stagecraft dev\` without --detach to watch it start`,
        });
      }
      await sleep(100);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `stagecraft dev down`: stops the stack of this project (detached, or running in another terminal). */
export async function devDown(root: string, output: Output): Promise<number> {
  const state = readState(root);
  if (state === undefined) {
    output.info('no dev stack is running here');
    return 0;
  }
  const started = Date.now();
  if (processAlive(state.pid, state.identity)) {
    output.info(`▸ stopping the dev stack (pid ${state.pid})`);
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (processAlive(state.pid, state.identity) && Date.now() < deadline) await sleep(50);
    if (processAlive(state.pid, state.identity)) {
      output.warn(`the dev stack (pid ${state.pid}) did not stop within 60s; killing it`);
      process.kill(state.pid, 'SIGKILL');
      await sleep(200);
    }
  }
  const left = readState(root);
  if (left !== undefined) await cleanupFromState(left, root, output);
  output.info(`✓ dev stack stopped in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return 0;
}
