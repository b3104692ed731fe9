import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { pathEntry } from '../util/user-file.js';

export const CONFIG_FILE_NAME = 'stagecraft.yml';

function refuse(path: string, why: string): UserError {
  return new UserError(`${path} ${why}`, {
    hint: `replace it with the stagecraft.yml file itself (or pass --config <path> to another file)`,
  });
}

/**
 * Finds stagecraft.yml: the explicit path (flag or STAGECRAFT_CONFIG), else the nearest one from `cwd`
 * upward, stopping at the repository root (a folder with .git). A `stagecraft.yml` that exists but is
 * not a readable file (a folder, a symlink loop, a dangling symlink) stops the search with an error
 * that says so: it is never skipped in favour of one further up. Throws UserError.
 */
export function locateConfig(cwd: string, explicit?: string): string {
  if (explicit !== undefined && explicit !== '') {
    const path = resolve(cwd, explicit);
    const entry = pathEntry(path);
    if (entry.kind === 'file') return path;
    if (entry.kind === 'other') throw refuse(path, entry.why);
    throw new UserError(`stagecraft config not found at ${path}`, {
      hint: 'check the --config path (or STAGECRAFT_CONFIG), or run `stagecraft init` to create one',
    });
  }
  let folder = resolve(cwd);
  for (;;) {
    const candidate = join(folder, CONFIG_FILE_NAME);
    const entry = pathEntry(candidate);
    if (entry.kind === 'file') return candidate;
    if (entry.kind === 'other') throw refuse(candidate, entry.why);
    const parent = dirname(folder);
    if (existsSync(join(folder, '.git')) || parent === folder) break;
    folder = parent;
  }
  throw new UserError(
    `stagecraft config not found: no ${CONFIG_FILE_NAME} in ${resolve(cwd)} or its parents`,
    {
      hint: 'run `stagecraft init` to create one, or pass --config <path>',
    },
  );
}
