import { syncSecrets } from '../../operations/secrets.js';
import { UserError } from '../../util/errors.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';

export interface SyncFlags {
  keys?: string;
  restart?: boolean;
}

function keyList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const keys = value
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
  if (keys.length === 0)
    throw new UserError('--keys needs at least one name', { hint: 'e.g. --keys API_TOKEN,DB_PASSWORD' });
  return keys;
}

/** `stagecraft secrets sync [--keys a,b] [--restart]`. */
export async function sync(context: CommandContext, flags: SyncFlags): Promise<number> {
  const keys = keyList(flags.keys);
  const restart = flags.restart === true;
  return syncSecrets(context, {
    keys,
    restart,
    // --restart replaces running containers: an environment that asks before a deploy asks here too.
    beforeHosts: async (model) => {
      if (restart && !context.globals.dryRun && model.requireConfirmation)
        await confirm(
          context,
          `Sync the secrets of ${model.environment} and restart the services that use them?`,
          'environment',
        );
    },
  });
}

export const run = sync;
