import { randomBytes } from 'node:crypto';
import { chmod, chown, open, readFile, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, UserError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';

/**
 * The hosts file, edited the way the original design describes (§5.3) but byte-exact: Stagecraft adds
 * one line per dev stack, `127.0.0.1    <domains sorted>    # Stagecraft managed`, and removes only
 * such lines. Every other byte (comments, blank lines, spacing, CRLF, a missing final newline) is kept.
 */

export const HOSTS_MARKER = '# Stagecraft managed';

/** The hosts file of this platform. */
export function defaultHostsFile(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'C:\\Windows\\System32\\drivers\\etc\\hosts' : '/etc/hosts';
}

function normalise(domains: readonly string[]): string[] {
  return [
    ...new Set(domains.map((domain) => domain.trim().toLowerCase()).filter((domain) => domain !== '')),
  ].sort();
}

export function managedLine(domains: readonly string[], address = '127.0.0.1'): string {
  return `${address}    ${normalise(domains).join(' ')}    ${HOSTS_MARKER}`;
}

interface Segment {
  /** The line without its terminator. */
  text: string;
  /** '\n', '\r\n' or '' for a last line without one. */
  eol: string;
}

function segments(content: string): Segment[] {
  const result: Segment[] = [];
  let start = 0;
  while (start < content.length) {
    const index = content.indexOf('\n', start);
    if (index === -1) {
      result.push({ text: content.slice(start), eol: '' });
      break;
    }
    const line = content.slice(start, index);
    if (line.endsWith('\r')) result.push({ text: line.slice(0, -1), eol: '\r\n' });
    else result.push({ text: line, eol: '\n' });
    start = index + 1;
  }
  return result;
}

function joinSegments(parts: readonly Segment[]): string {
  return parts.map((part) => part.text + part.eol).join('');
}

function isManaged(text: string): boolean {
  return text.includes(HOSTS_MARKER);
}

/** The domains named on a managed line. */
function domainsOf(text: string): string[] {
  const withoutComment = text.slice(0, text.indexOf('#'));
  return withoutComment.trim().split(/\s+/).slice(1);
}

/**
 * Removes managed lines: all of them, or those naming any of `domains`. A managed line that was the
 * last line without a final newline also takes the newline Stagecraft put before it.
 */
export function removeManagedEntries(content: string, domains?: readonly string[]): string {
  const wanted = domains === undefined ? undefined : new Set(normalise(domains));
  const parts = segments(content);
  const kept: Segment[] = [];
  for (const part of parts) {
    const drop =
      isManaged(part.text) &&
      (wanted === undefined || domainsOf(part.text).some((domain) => wanted.has(domain.toLowerCase())));
    if (!drop) {
      kept.push(part);
      continue;
    }
    if (part.eol === '') {
      const previous = kept[kept.length - 1];
      if (previous !== undefined) kept[kept.length - 1] = { text: previous.text, eol: '' };
    }
  }
  return joinSegments(kept);
}

/**
 * Adds the managed line for `domains` (idempotent: an identical managed line means no change; stale
 * managed lines naming these domains are replaced).
 */
export function addManagedEntry(content: string, domains: readonly string[], address = '127.0.0.1'): string {
  const line = managedLine(domains, address);
  const wanted = new Set(normalise(domains));
  const naming = segments(content).filter(
    (part) => isManaged(part.text) && domainsOf(part.text).some((domain) => wanted.has(domain.toLowerCase())),
  );
  if (naming.length === 1 && naming[0]?.text === line) return content;
  const base = removeManagedEntries(content, domains);
  if (base === '') return `${line}\n`;
  const eol = base.includes('\r\n') ? '\r\n' : '\n';
  if (base.endsWith('\n')) return `${base}${line}${eol}`;
  // No final newline: keep it that way, so removing the line restores the exact bytes.
  return `${base}${eol}${line}`;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** True when a process with this id runs (signal 0 probes without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/**
 * Reads and rewrites one hosts file; errors become clear messages with what to do next.
 *
 * The file is read and written as bytes (latin1 maps each byte to one character and back), so bytes
 * that are not UTF-8 are kept exactly. A hosts file that is a symlink is followed: the file it points
 * to is edited (atomically in its own folder) and the link stays, as `echo … >> /etc/hosts` would do;
 * replacing the link by a plain file would silently detach the system's real hosts file. A write is a
 * temp file in the same folder with the file's mode and owner, renamed over it. A read-modify-write
 * runs under a lock (a file in the temp folder named by the hosts file's path, holding the pid), so
 * two `stagecraft dev` at once cannot lose each other's line; a lock whose process is gone is taken.
 */
export class HostsFile {
  readonly path: string;
  readonly #lockWaitMs: number;

  constructor(path: string, options: { lockWaitMs?: number } = {}) {
    this.path = path;
    this.#lockWaitMs = options.lockWaitMs ?? 10_000;
  }

  async read(): Promise<string> {
    try {
      return await readFile(this.path, 'latin1');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return '';
      throw this.#explain(error, 'read');
    }
  }

  /** Adds the managed entry for `domains`; returns whether the file changed. */
  async add(domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    return this.#edit((before) => addManagedEntry(before, domains));
  }

  /** Removes managed entries naming `domains`; returns whether the file changed. */
  async remove(domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    return this.#edit((before) => removeManagedEntries(before, domains));
  }

  /** The lock file of this hosts file (in the temp folder: nothing is added beside /etc/hosts). */
  lockPath(): string {
    return join(tmpdir(), `stagecraft-hosts-${sha256Hex(this.path).slice(0, 16)}.lock`);
  }

  async #edit(change: (before: string) => string): Promise<boolean> {
    const lock = this.lockPath();
    const deadline = Date.now() + this.#lockWaitMs;
    for (;;) {
      try {
        const handle = await open(lock, 'wx', 0o644);
        await handle.writeFile(String(process.pid));
        await handle.close();
        break;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw this.#explain(error, 'write');
        const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
          await unlink(lock).catch(() => undefined);
          continue;
        }
        if (Date.now() > deadline) {
          throw new ExternalError(`another stagecraft dev (pid ${holder || '?'}) is editing ${this.path}`, {
            hint: `wait for it, or remove ${lock} if no such process runs`,
          });
        }
        await sleep(20);
      }
    }
    try {
      const before = await this.read();
      const after = change(before);
      if (after === before) return false;
      await this.#write(after);
      return true;
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }

  async #write(content: string): Promise<void> {
    let mode = 0o644;
    let owner: { uid: number; gid: number } | undefined;
    // A symlinked hosts file: the file it points to is the one written.
    const target = await realpath(this.path).catch(() => this.path);
    try {
      const info = await stat(target);
      mode = info.mode & 0o7777;
      owner = { uid: info.uid, gid: info.gid };
    } catch {
      // a new file
    }
    const temp = join(dirname(target), `.${basename(target)}.stagecraft-${randomBytes(4).toString('hex')}`);
    try {
      const handle = await open(temp, 'wx', mode);
      try {
        await handle.writeFile(content, 'latin1');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await chmod(temp, mode);
      if (owner !== undefined && (process.getuid?.() === 0 || owner.uid === process.getuid?.())) {
        await chown(temp, owner.uid, owner.gid).catch(() => undefined);
      }
      await rename(temp, target);
      return;
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      // A bind-mounted file (containers) cannot be replaced; a read-only folder has no room for a temp
      // file: write in place then.
      if (!['EBUSY', 'EXDEV', 'EACCES', 'EPERM', 'EROFS'].includes(errorCode(error) ?? '')) {
        throw this.#explain(error, 'write');
      }
    }
    try {
      const handle = await open(target, 'w', mode);
      try {
        await handle.writeFile(content, 'latin1');
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw this.#explain(error, 'write');
    }
  }

  #explain(error: unknown, action: 'read' | 'write'): Error {
    const code = errorCode(error);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new UserError(`cannot ${action} the hosts file ${this.path}: permission denied`, {
        cause: error,
        hint: 'run with sudo, or use --no-hosts and add the entries yourself (domains under .localhost need none)',
      });
    }
    return new ExternalError(`cannot ${action} the hosts file ${this.path}: ${(error as Error).message}`, {
      cause: error,
      hint: 'close other programs that may hold the hosts file, or use --no-hosts',
    });
  }
}
