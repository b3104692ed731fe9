// `mkdir -p` that always ends. Node's `mkdir(path, { recursive: true })` steps back to the parent on
// ENOENT and forward again when the parent exists; where a directory exists but refuses new children
// with ENOENT (procfs: `mkdir /proc/x`), it alternates between the two forever and never returns.
// Here each missing level is created once, from the top down, and its error is final.
import type { Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

function errnoError(code: string, message: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}, mkdir '${path}'`), { code, syscall: 'mkdir', path });
}

/**
 * Creates `path` and its missing parents; returns the directories it created, outermost first (to
 * remove them again after a failed write). Throws the first failure with its errno code: ENOTDIR
 * when an existing ancestor is not a directory, ENOENT/EACCES/EPERM/EROFS from the level that
 * could not be created.
 */
export async function makeDirectory(path: string, mode?: number): Promise<string[]> {
  // Loaded here, not at the top: node:fs/promises brings readline and streams into start-up.
  const { mkdir, stat } = await import('node:fs/promises');
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    let found: Stats;
    try {
      found = await stat(current);
    } catch (error) {
      const parent = dirname(current);
      // ENOTDIR: a component above is a file; the walk up finds it and reports it.
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) throw error;
      missing.push(current);
      current = parent;
      continue;
    }
    if (!found.isDirectory()) throw errnoError('ENOTDIR', 'not a directory', current);
    break;
  }
  const created: string[] = [];
  for (const directory of missing.reverse()) {
    try {
      await mkdir(directory, mode === undefined ? undefined : { mode });
      created.push(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Created meanwhile by someone else: fine when it is a directory.
      if (!(await stat(directory)).isDirectory()) throw errnoError('ENOTDIR', 'not a directory', directory);
    }
  }
  return created;
}
