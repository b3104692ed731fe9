import { isAbsolute, join, resolve } from 'node:path';

/** The home folder; node:os is taken on first use (start-up: most commands expand no `~`). */
const homedir = (): string => process.getBuiltinModule('node:os').homedir();

/** Resolves `~/x` and relative paths against `base`. */
export function resolvePath(base: string, path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(base, path);
}
