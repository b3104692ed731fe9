import { runPrune } from '../../operations/prune.js';
import type { CommandContext } from '../context.js';
import { lockWaitMs } from './deploy.js';

/** `stagecraft prune [--dry-run] [--json]`: retention on demand (operations/prune.ts). */
export async function run(context: CommandContext, flags: { lockWait?: string }): Promise<number> {
  return runPrune(context, { lockWaitMs: lockWaitMs(flags.lockWait) });
}
