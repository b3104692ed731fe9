import { hostname, userInfo } from 'node:os';
import { loadEnvironment } from '../../operations/environment.js';
import { lockHostRunner } from '../../operations/history.js';
import {
  acquireLock,
  defaultHolder,
  describeLock,
  lockEventMessage,
  lockStatus,
  releaseLock,
} from '../../state/lock.js';
import { systemClock } from '../../util/clock.js';
import { printable } from '../../util/printable.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { lockWaitMs } from './deploy.js';

async function withLockHost<T>(
  context: CommandContext,
  work: (
    env: Awaited<ReturnType<typeof loadEnvironment>>,
    runner: ReturnType<typeof lockHostRunner>,
  ) => Promise<T>,
): Promise<T> {
  const env = await loadEnvironment(context, 'deploy');
  const runner = lockHostRunner(env);
  try {
    return await work(env, runner);
  } finally {
    await runner.close().catch(() => undefined);
  }
}

export async function status(context: CommandContext): Promise<number> {
  return withLockHost(context, async (env, runner) => {
    const info = await lockStatus(runner, { project: env.model.project, env: env.model.environment });
    if (context.globals.json) {
      context.output.json({
        environment: env.model.environment,
        host: runner.name,
        locked: info !== undefined,
        lock: info ?? null,
      });
    } else if (info === undefined) {
      context.output.result(`${env.model.composeProject}: not locked (lock host ${runner.name})`);
    } else {
      context.output.result(
        [
          `${env.model.composeProject}: locked on ${runner.name}`,
          `  holder:   ${printable(info.holder)}@${printable(info.machine)}`,
          `  since:    ${printable(info.acquired_at)}`,
          `  expires:  ${printable(info.expires_at)}${info.expired === true ? ` (expired by ${runner.name}'s clock: the next acquire takes it over)` : ''}`,
          `  version:  ${printable(info.version)}`,
          `  message:  ${printable(info.message)}`,
        ].join('\n'),
      );
    }
    return 0;
  });
}

export async function acquire(
  context: CommandContext,
  options: { message?: string; lockWait?: string },
): Promise<number> {
  return withLockHost(context, async (env, runner) => {
    if (context.globals.dryRun) {
      const info = await lockStatus(runner, { project: env.model.project, env: env.model.environment });
      context.output.result(
        info === undefined
          ? `would acquire the lock on ${runner.name} for ${env.model.composeProject} (not locked now); nothing changed (--dry-run)`
          : `would wait for the lock on ${runner.name} for ${env.model.composeProject}, held by ${describeLock(info)}; nothing changed (--dry-run)`,
      );
      return 0;
    }
    await acquireLock(runner, {
      project: env.model.project,
      env: env.model.environment,
      version: 'manual',
      message: options.message ?? `held by ${userInfo().username}@${hostname()}`,
      expiryMs: env.model.lockExpiryMs,
      waitMs: lockWaitMs(options.lockWait),
      clock: systemClock,
      // A takeover of an expired lease is as loud here as in a deploy.
      onEvent: (event) =>
        event.kind === 'waiting'
          ? context.output.info(lockEventMessage(event))
          : context.output.warn(lockEventMessage(event)),
    });
    context.output.result(`Lock acquired on ${runner.name} for ${env.model.composeProject}`);
    return 0;
  });
}

export async function release(context: CommandContext): Promise<number> {
  return withLockHost(context, async (env, runner) => {
    if (context.globals.dryRun) {
      const info = await lockStatus(runner, { project: env.model.project, env: env.model.environment });
      context.output.result(
        info === undefined
          ? `${env.model.composeProject} is not locked on ${runner.name}: release would do nothing (--dry-run)`
          : `would release the lock on ${runner.name} for ${env.model.composeProject}, held by ${describeLock(info)}; nothing changed (--dry-run)`,
      );
      return 0;
    }
    if (env.model.requireConfirmation) {
      // Removing someone else's lock lets a second deploy run beside theirs: ask first.
      const info = await lockStatus(runner, { project: env.model.project, env: env.model.environment });
      const me = defaultHolder();
      if (info !== undefined && (info.holder !== me.holder || info.machine !== me.machine)) {
        await confirm(context, `Release the deploy lock of ${describeLock(info)}?`, 'environment');
      }
    }
    await releaseLock(runner, { project: env.model.project, env: env.model.environment, force: true });
    context.output.result(`Lock released on ${runner.name} for ${env.model.composeProject}`);
    return 0;
  });
}

export const run = status;
