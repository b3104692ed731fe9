import type { Readable } from 'node:stream';

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** The text of a line without colour and cursor escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Calls `onLine` for every line of a stream (without its terminator); a last partial line is flushed at end. */
export function readLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (stream === null) return;
  stream.setEncoding('utf8');
  let pending = '';
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let index = pending.indexOf('\n');
    while (index !== -1) {
      const line = pending.slice(0, index);
      pending = pending.slice(index + 1);
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      index = pending.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (pending !== '') onLine(pending);
    pending = '';
  });
}

/** The last `size` lines seen, for error messages. */
export class LineRing {
  readonly #size: number;
  readonly #lines: string[] = [];

  constructor(size = 30) {
    this.#size = size;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#size) this.#lines.shift();
  }

  lines(): string[] {
    return [...this.#lines];
  }
}
