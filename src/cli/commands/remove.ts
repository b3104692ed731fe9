import { runRemove } from '../../operations/remove.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { lockWaitMs } from './deploy.js';

/** `stagecraft remove [--volumes]`: the app off its hosts after a confirmation (operations/remove.ts). */
export async function run(
  context: CommandContext,
  flags: { volumes?: boolean; lockWait?: string },
): Promise<number> {
  return runRemove(context, {
    volumes: flags.volumes === true,
    lockWaitMs: lockWaitMs(flags.lockWait),
    confirm: (question) => confirm(context, question),
  });
}
