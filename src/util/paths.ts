import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** Resolves `~/x` and relative paths against `base`. */
export function resolvePath(base: string, path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(base, path);
}
