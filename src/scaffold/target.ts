// Where `new` and `attach` write, checked before the first file is written: every folder they need
// must be creatable (its first existing ancestor a writable directory on an ordinary file system),
// and a file they replace must be a file. A path that cannot hold a project is a UserError that
// names it and why, instead of an errno from the middle of the writes.
import { accessSync, constants, lstatSync, type Stats, statfsSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { CHOOSE_ANOTHER, fileSystemError } from '../util/fs-errors.js';

/** Kernel pseudo-filesystems mounted here on Linux (and /dev on macOS): never a project's place. */
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

/** statfs(2) magic numbers of Linux pseudo-filesystems (linux/magic.h), wherever they are mounted. */
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
]);

function pseudoRoot(path: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  return PSEUDO_ROOTS.find((root) => path === root || path.startsWith(`${root}${sep}`));
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fileSystemError(error, path, 'inspect');
  }
}

/** The nearest existing entry at or above `path`, which must be a directory (a symlink to one). */
function existingAncestor(path: string, target: string): string {
  let current = path;
  for (;;) {
    const found = lstatOrUndefined(current);
    if (found !== undefined) {
      let resolved: Stats;
      try {
        resolved = found.isSymbolicLink() ? statSync(current) : found;
      } catch {
        throw new UserError(
          `cannot write the project in ${target}: ${current} is a symbolic link to nothing`,
          {
            hint: `point ${current} at an existing folder, or ${CHOOSE_ANOTHER}`,
          },
        );
      }
      if (!resolved.isDirectory()) {
        throw new UserError(`cannot write the project in ${target}: ${current} is not a directory`, {
          hint: `${current} is a file: choose another path, or move it away`,
        });
      }
      return current;
    }
    const parent = dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

/** The folder must be on an ordinary file system and writable by us. */
function checkWritable(directory: string, target: string): void {
  let type: number | undefined;
  try {
    type = statfsSync(directory).type;
  } catch {
    type = undefined;
  }
  const name = type === undefined ? undefined : PSEUDO_FILESYSTEMS.get(type);
  if (name !== undefined) {
    throw new UserError(
      `cannot write the project in ${target}: ${directory} is on ${name}, a kernel pseudo-filesystem`,
      {
        hint: CHOOSE_ANOTHER,
      },
    );
  }
  try {
    accessSync(directory, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS') {
      throw new UserError(
        `cannot write the project in ${target}: ${directory} is on a read-only file system`,
        {
          hint: CHOOSE_ANOTHER,
        },
      );
    }
    throw new UserError(`cannot write the project in ${target}: permission denied to write in ${directory}`, {
      hint: `${CHOOSE_ANOTHER}, or change the permissions of ${directory}`,
    });
  }
}

/**
 * Checks, without changing anything, that `files` (relative paths) can be written under `root`:
 * not the file system's root, not under /proc, /sys or /dev; every folder's first existing ancestor a writable directory on an
 * ordinary file system; no file to write already there as a directory. Errors: UserError.
 */
export function checkWriteTarget(root: string, files: readonly string[]): void {
  if (dirname(root) === root) {
    throw new UserError(`cannot write the project in ${root}: it is the root of the file system`, {
      hint: CHOOSE_ANOTHER,
    });
  }
  const pseudo = pseudoRoot(root);
  if (pseudo !== undefined) {
    throw new UserError(
      `cannot write the project in ${root}: ${pseudo} is a kernel pseudo-filesystem, not a folder for files`,
      {
        hint: CHOOSE_ANOTHER,
      },
    );
  }
  const checked = new Set<string>();
  for (const folder of new Set([root, ...files.map((file) => dirname(join(root, file)))])) {
    const ancestor = existingAncestor(folder, root);
    if (checked.has(ancestor)) continue;
    checked.add(ancestor);
    checkWritable(ancestor, root);
  }
  for (const file of files) {
    const path = join(root, file);
    if (lstatOrUndefined(path)?.isDirectory() === true) {
      throw new UserError(`cannot write ${path}: it exists and is a directory`, {
        hint: `move ${path} away, or choose another folder`,
      });
    }
  }
}
