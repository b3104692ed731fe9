// File-system failures (errno codes) as errors a person can act on. Apart from scaffold/target.ts so
// that the CLI's error report can use it without loading the folder checks.
import { ExternalError, UserError } from './errors.js';

export const CHOOSE_ANOTHER = 'choose a folder you can write to, e.g. under your home directory';

const USER_CODES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'read-only file system',
  ENOENT: 'cannot create it there',
  EISDIR: 'it is a directory',
  EEXIST: 'something else is already there',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

const EXTERNAL_CODES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
};

/**
 * A file-system failure at `path` as an error a person can act on: UserError for a path that cannot
 * be written (permissions, not a directory, read-only, …), ExternalError for a full or failing disk;
 * anything else is returned as it is (a bug).
 */
export function fileSystemError(error: unknown, path: string, verb: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const failing = (error as NodeJS.ErrnoException | undefined)?.path ?? path;
  if (code !== undefined && code in USER_CODES) {
    return new UserError(`cannot ${verb} ${failing}: ${USER_CODES[code]} (${code})`, {
      hint: CHOOSE_ANOTHER,
      cause: error,
    });
  }
  if (code !== undefined && code in EXTERNAL_CODES) {
    return new ExternalError(`cannot ${verb} ${failing}: ${EXTERNAL_CODES[code]} (${code})`, {
      hint: 'free some space (or fix the disk), then run this again',
      cause: error,
    });
  }
  return error;
}
