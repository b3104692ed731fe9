import { createInterface } from 'node:readline/promises';
import { UserError } from '../util/errors.js';
import type { CommandContext } from './context.js';

/**
 * Asks for a yes on a TTY; --yes answers it; without a TTY and without --yes it refuses (UserError,
 * exit 1) saying why it asks: `environment` when the environment's `require_confirmation: true` asks
 * (deploy, rollback), `command` when the command always does (remove, lock release, …).
 */
export async function confirm(
  context: CommandContext,
  question: string,
  asks: 'environment' | 'command' = 'command',
): Promise<void> {
  if (context.globals.yes) return;
  if (process.stdin.isTTY !== true) {
    const why =
      asks === 'environment'
        ? 'This environment requires confirmation (require_confirmation: true)'
        : 'This asks for a yes, and there is no terminal to answer on';
    throw new UserError(`${question} ${why}`, {
      hint: 'pass --yes (or STAGECRAFT_YES=true) to confirm',
    });
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await prompt.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new UserError('cancelled', { hint: 'nothing was changed' });
  } finally {
    prompt.close();
  }
}
