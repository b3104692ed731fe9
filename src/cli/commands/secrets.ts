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
  if (flags.restart === true && !context.globals.dryRun) {
    // --restart replaces running containers: an environment that asks before a deploy asks here too.
    const loaded = await context.loadConfig('deploy');
    if (loaded.config.environments[loaded.envName ?? '']?.require_confirmation === true) {
      await confirm(context, `Sync the secrets of ${loaded.envName} and restart the services that use them?`);
    }
  }
  return syncSecrets(context, { keys, restart: flags.restart === true });
}

export const run = sync;
