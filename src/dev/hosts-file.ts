import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ExternalError, UserError } from '../util/errors.js';

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

/** Reads and rewrites one hosts file; errors become clear messages with what to do next. */
export class HostsFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<string> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return '';
      throw this.#explain(error, 'read');
    }
  }

  /** Adds the managed entry for `domains`; returns whether the file changed. */
  async add(domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    const before = await this.read();
    const after = addManagedEntry(before, domains);
    if (after === before) return false;
    await this.#write(after);
    return true;
  }

  /** Removes managed entries naming `domains`; returns whether the file changed. */
  async remove(domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    const before = await this.read();
    const after = removeManagedEntries(before, domains);
    if (after === before) return false;
    await this.#write(after);
    return true;
  }

  async #write(content: string): Promise<void> {
    let mode = 0o644;
    try {
      mode = (await stat(this.path)).mode & 0o7777;
    } catch {
      // a new file
    }
    const temp = join(
      dirname(this.path),
      `.${basename(this.path)}.stagecraft-${randomBytes(4).toString('hex')}`,
    );
    try {
      const handle = await open(temp, 'wx', mode);
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await chmod(temp, mode);
      await rename(temp, this.path);
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
      const handle = await open(this.path, 'w', mode);
      try {
        await handle.writeFile(content);
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
