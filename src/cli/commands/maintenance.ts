import { runMaintenanceSwitch } from '../../operations/maintenance.js';
import { parseDuration } from '../../util/duration.js';
import { UserError } from '../../util/errors.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { lockWaitMs } from './deploy.js';

/** `--retry-after` in whole seconds (at least 1). Throws UserError for a value that is not a duration. */
export function retryAfterSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    ms = Number.NaN;
  }
  if (!Number.isFinite(ms) || ms < 1000) {
    throw new UserError(`invalid --retry-after "${value}"`, {
      hint: 'pass a duration of at least 1s, such as 30s or 10m',
    });
  }
  return Math.round(ms / 1000);
}

/** `stagecraft maintenance on|off [--retry-after D] [-m text]` (operations/maintenance.ts). */
export async function run(
  context: CommandContext,
  state: 'on' | 'off',
  flags: { retryAfter?: string; message?: string; lockWait?: string },
): Promise<number> {
  const seconds = retryAfterSeconds(flags.retryAfter);
  return runMaintenanceSwitch(context, {
    state,
    ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }),
    ...(flags.message === undefined ? {} : { message: flags.message }),
    lockWaitMs: lockWaitMs(flags.lockWait),
    confirm: (question) => confirm(context, question, 'environment'),
  });
}
