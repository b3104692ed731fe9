import { syncSecrets } from '../../operations/secrets.js';
import { UserError } from '../../util/errors.js';
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
  return syncSecrets(context, { keys: keyList(flags.keys), restart: flags.restart === true });
}

export const run = sync;
