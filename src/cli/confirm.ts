import { createInterface } from 'node:readline/promises';
import { UserError } from '../util/errors.js';
import type { CommandContext } from './context.js';

/** Asks for a yes on a TTY; --yes answers it; without a TTY and without --yes it refuses. */
export async function confirm(context: CommandContext, question: string): Promise<void> {
  if (context.globals.yes) return;
  if (process.stdin.isTTY !== true) {
    throw new UserError(`${question} This environment requires confirmation`, {
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
