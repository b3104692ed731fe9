import pc from 'picocolors';
import { redact } from '../util/secret.js';

type Paint = (text: string) => string;

/**
 * Interleaves the output of every dev process on stdout as `name | line`, with a colour per service
 * on a colour terminal (none with NO_COLOR, --no-color or a pipe), or as JSON lines with --json.
 */
export class LogMux {
  readonly #colors: ReturnType<typeof pc.createColors>;
  readonly #json: boolean;
  readonly #write: (text: string) => void;
  readonly #paint = new Map<string, Paint>();
  #width = 0;

  constructor(options: { color: boolean; json: boolean; write?: (text: string) => void }) {
    this.#colors = pc.createColors(options.color);
    this.#json = options.json;
    this.#write = options.write ?? ((text) => process.stdout.write(text));
  }

  /** Declares the names that will print, so the prefixes line up. */
  register(names: readonly string[]): void {
    const palette: Paint[] = [
      this.#colors.cyan,
      this.#colors.magenta,
      this.#colors.green,
      this.#colors.yellow,
      this.#colors.blue,
      this.#colors.red,
    ];
    for (const name of names) {
      if (!this.#paint.has(name)) this.#paint.set(name, palette[this.#paint.size % palette.length] ?? String);
      this.#width = Math.max(this.#width, name.length);
    }
  }

  /** The prefix of a name, e.g. `backend  | `. */
  prefix(name: string): string {
    if (!this.#paint.has(name)) this.register([name]);
    const paint = this.#paint.get(name) ?? String;
    return `${paint(`${name.padEnd(this.#width)} |`)} `;
  }

  line(name: string, stream: 'stdout' | 'stderr', text: string): void {
    const clean = redact(text);
    if (this.#json) {
      this.#write(`${JSON.stringify({ event: 'log', service: name, stream, line: clean })}\n`);
      return;
    }
    this.#write(`${this.prefix(name)}${clean}\n`);
  }

  /** A structured event for --json consumers (ready, exited, …); nothing in text mode. */
  event(event: Record<string, unknown>): void {
    if (this.#json) this.#write(`${JSON.stringify(event)}\n`);
  }
}
