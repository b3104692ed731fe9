import { closeSync, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { UserFileError } from './errors.js';

/** What is at a path a user named: nothing, a regular file, or something that cannot be read as one. */
export type PathEntry = { kind: 'missing' } | { kind: 'file'; size: number } | { kind: 'other'; why: string };

/**
 * What is at `path` (symbolic links followed), without opening it: a FIFO or a device would block
 * or never end when read. `why` completes "<path> …" (e.g. "is a directory, not a file").
 */
export function pathEntry(path: string): PathEntry {
  try {
    lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'other', why: `cannot be read (${code ?? 'error'})` };
  }
  try {
    const info = statSync(path);
    if (info.isFile() && KERNEL_FILES.test(realpathSync(path)))
      return { kind: 'other', why: 'is a kernel file (/proc, /sys): it has no fixed size and may never end' };
    if (info.isFile()) return { kind: 'file', size: info.size };
    if (info.isDirectory()) return { kind: 'other', why: 'is a directory, not a file' };
    return { kind: 'other', why: 'is not a regular file (a device, socket or pipe)' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP')
      return { kind: 'other', why: 'is a symbolic link loop (symlink that points back at itself)' };
    if (code === 'ENOENT')
      return { kind: 'other', why: 'is a symbolic link to a file that does not exist (a dangling symlink)' };
    return { kind: 'other', why: `cannot be read (${code ?? 'error'})` };
  }
}

/** Files of the kernel's pseudo file systems: stat says "regular file, size 0", a read may never end. */
const KERNEL_FILES = /^\/(proc|sys)\//;

/** Longest file Stagecraft reads for the user unless told otherwise (bytes): env files, keys, SQL. */
export const MAX_USER_FILE_BYTES = 16 * 1024 * 1024;

export interface ReadUserFileOptions {
  /** How messages name the file, e.g. "env file .env.production" (default: the path). */
  display?: string;
  /** Most bytes read (default MAX_USER_FILE_BYTES); a longer file is refused, never half-read. */
  maxBytes?: number;
  /** The hint of every refusal (default: name a regular file). */
  hint?: string;
}

/**
 * Reads a file the user named (a config, compose or env file, a key, a migration) as bytes. Refuses
 * without blocking what is not a regular file (a directory, FIFO, device such as /dev/zero, socket, a
 * symlink loop or a dangling symlink) and a file larger than `maxBytes`; reads at most maxBytes + 1
 * bytes, so a file that grows while read (or a /proc file that says size 0) stays bounded. Returns
 * undefined when nothing is at `path`. Throws UserFileError (a UserError) naming the file and why.
 */
export function readUserFileBytes(path: string, options: ReadUserFileOptions = {}): Buffer | undefined {
  const display = options.display ?? path;
  const max = options.maxBytes ?? MAX_USER_FILE_BYTES;
  const hint = options.hint ?? `point it at a regular file of at most ${max} bytes`;
  const entry = pathEntry(path);
  if (entry.kind === 'missing') return undefined;
  if (entry.kind === 'other') throw new UserFileError(path, `${display} ${entry.why}`, { hint });
  const tooLarge = (size: string) =>
    new UserFileError(path, `${display} is ${size} bytes: larger than the ${max}-byte limit`, { hint });
  if (entry.size > max) throw tooLarge(String(entry.size));
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UserFileError(path, `${display} cannot be read (${code ?? 'error'})`, { hint, cause: error });
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UserFileError(path, `${display} is not a regular file`, { hint });
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, max + 1 - total));
      let read: number;
      try {
        read = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new UserFileError(path, `${display} cannot be read (${code ?? 'error'})`, {
          hint,
          cause: error,
        });
      }
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      total += read;
      if (total > max) throw tooLarge(`more than ${max}`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/**
 * readUserFileBytes decoded as a YAML stream is (YAML 1.2 §5.2): UTF-16 when it starts with that
 * byte order mark (an editor on Windows may save it so), else UTF-8. Undefined when missing.
 */
export function readUserYamlText(path: string, options: ReadUserFileOptions = {}): string | undefined {
  const bytes = readUserFileBytes(path, options);
  if (bytes === undefined) return undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  return decodeUtf8(bytes, path, options.display ?? path);
}

/** readUserFileBytes, decoded as UTF-8. */
export function readUserFile(path: string, options: ReadUserFileOptions = {}): string | undefined {
  return readUserFileBytes(path, options)?.toString('utf8');
}

/**
 * `bytes` decoded as UTF-8; a UserFileError at `display:line:column` (column in bytes) for the first
 * byte that is not UTF-8: replaced by U+FFFD, a value (a password) would change without a word.
 */
export function decodeUtf8(bytes: Buffer, path: string, display: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const text = bytes.toString('utf8');
    const bad = text.indexOf('\ufffd');
    const before = bytes.subarray(0, Buffer.byteLength(text.slice(0, Math.max(0, bad))));
    const line = before.toString('latin1').split('\n').length;
    const column = before.length - before.lastIndexOf(0x0a);
    const at = bytes[before.length];
    throw new UserFileError(
      path,
      `${display}:${line}:${column} is not UTF-8 (byte 0x${(at ?? 0).toString(16).padStart(2, '0')})`,
      {
        hint: `save ${display} as UTF-8 (an editor's "encoding" setting; iconv -f latin1 -t utf-8 converts it)`,
      },
    );
  }
}

/** readUserFileBytes decoded with decodeUtf8 (a byte that is not UTF-8 is an error). */
export function readUserUtf8(path: string, options: ReadUserFileOptions = {}): string | undefined {
  const bytes = readUserFileBytes(path, options);
  return bytes === undefined ? undefined : decodeUtf8(bytes, path, options.display ?? path);
}
