import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compareStrings } from '../../compose/canonical.js';
import { writeFileAtomic } from '../../util/atomic-file.js';

/** The cache folder of `context xray`, in the scanned root. */
export const XRAY_CACHE_DIR = '.xraycache';
const CACHE_FILE = 'files.json';
const FORMAT = 1;

/** What the scan keeps per file. Valid while the file's size and mtime (ms) are the same. */
export interface FileFacts {
  size: number;
  mtime_ms: number;
  sha256: string;
  /** Newline count (+1 when the last line has no newline); 0 for binary files. */
  lines: number;
  binary: boolean;
}

/** Per-file facts keyed by path, with hit/miss counts for this run. */
export class XrayCache {
  readonly #root: string;
  readonly #previous: Record<string, FileFacts>;
  readonly #next: Record<string, FileFacts> = {};
  hits = 0;
  misses = 0;

  private constructor(root: string, previous: Record<string, FileFacts>) {
    this.#root = root;
    this.#previous = previous;
  }

  /** Opens the cache of `root`; a missing, unreadable or other-format cache is an empty one. */
  static open(root: string): XrayCache {
    const path = join(root, XRAY_CACHE_DIR, CACHE_FILE);
    try {
      const document = JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown; files?: unknown };
      if (document.format === FORMAT && document.files !== null && typeof document.files === 'object')
        return new XrayCache(root, document.files as Record<string, FileFacts>);
    } catch {
      // no cache yet, or a damaged one: start over
    }
    return new XrayCache(root, {});
  }

  /**
   * Facts of one file (path relative to the root): from the cache when its size and mtime match the
   * stat, else read, hashed and counted now. Undefined when the file is gone or not a regular file.
   */
  facts(path: string): FileFacts | undefined {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(join(this.#root, path));
    } catch {
      return undefined;
    }
    if (!stat.isFile()) return undefined;
    const cached = this.#previous[path];
    if (cached !== undefined && cached.size === stat.size && cached.mtime_ms === stat.mtimeMs) {
      this.hits++;
      this.#next[path] = cached;
      return cached;
    }
    this.misses++;
    const bytes = readFileSync(join(this.#root, path));
    const binary = bytes.subarray(0, 8192).includes(0);
    let lines = 0;
    if (!binary) {
      for (const byte of bytes) if (byte === 10) lines++;
      if (bytes.length > 0 && bytes[bytes.length - 1] !== 10) lines++;
    }
    const facts: FileFacts = {
      size: stat.size,
      mtime_ms: stat.mtimeMs,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      lines,
      binary,
    };
    this.#next[path] = facts;
    return facts;
  }

  /** Writes the cache (entries of the files seen this run, sorted) when it changed; returns whether it wrote. */
  async save(): Promise<boolean> {
    const files = Object.fromEntries(
      Object.keys(this.#next)
        .sort(compareStrings)
        .map((path) => [path, this.#next[path]]),
    );
    const text = `${JSON.stringify({ format: FORMAT, key: 'path, size, mtime_ms', files })}\n`;
    const dir = join(this.#root, XRAY_CACHE_DIR);
    const path = join(dir, CACHE_FILE);
    if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
    await writeFileAtomic(path, text);
    if (!existsSync(join(dir, '.gitignore'))) await writeFileAtomic(join(dir, '.gitignore'), '*\n');
    return true;
  }
}
