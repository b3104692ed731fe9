import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

export const CONFIG_FILE_NAME = 'stagecraft.yml';

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * Finds stagecraft.yml: the explicit path (flag or STAGECRAFT_CONFIG), else the nearest one from `cwd`
 * upward, stopping at the repository root (a folder with .git).
 */
export function locateConfig(cwd: string, explicit?: string): string {
  if (explicit !== undefined && explicit !== '') {
    const path = resolve(cwd, explicit);
    if (!isFile(path)) {
      throw new UserError(`stagecraft config not found at ${path}`, {
        hint: 'check the --config path (or STAGECRAFT_CONFIG), or run `stagecraft init` to create one',
      });
    }
    return path;
  }
  let folder = resolve(cwd);
  for (;;) {
    const candidate = join(folder, CONFIG_FILE_NAME);
    if (isFile(candidate)) return candidate;
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
