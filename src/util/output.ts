import pc from 'picocolors';
import { redact, redactDeep } from './secret.js';

export interface OutputOptions {
  color: boolean;
  quiet: boolean;
  verbose: boolean;
  json: boolean;
}

/** Colours are used only on a TTY, never with NO_COLOR or --no-color. */
export function shouldUseColor(stream: NodeJS.WriteStream, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  if (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true;
}

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Control characters other than tab and newline, bidirectional overrides and isolates, zero-width
 * characters and the byte order mark: in a key or value quoted by a diagnostic they would reorder or
 * hide what a person reads (`na\u202Eme`), so they are shown escaped.
 */
const INVISIBLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g;

/**
 * `text` as a diagnostic prints it: secrets redacted, then invisible and reordering characters as
 * `\u{202E}` escapes (see INVISIBLE). Takes and returns one string.
 */
export function diagnosticText(text: string): string {
  return redact(text).replace(
    INVISIBLE,
    (char) => `\\u{${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`,
  );
}

/** Everything the CLI prints goes through here, so secrets are scrubbed and flags honoured in one place. */
export class Output {
  readonly colors: Colors;
  readonly options: OutputOptions;

  constructor(options: OutputOptions) {
    this.options = options;
    this.colors = pc.createColors(options.color);
  }

  /** Primary output of a command (stdout): always printed, even with --quiet. */
  result(text: string): void {
    process.stdout.write(redact(text.endsWith('\n') ? text : `${text}\n`));
  }

  /** True once `json` wrote a document: stdout holds one JSON value, which nothing may follow. */
  documentWritten = false;

  /** A JSON document on stdout; secrets are redacted in its strings, so it stays valid JSON. */
  json(value: unknown): void {
    this.documentWritten = true;
    process.stdout.write(`${JSON.stringify(redactDeep(value), null, 2)}\n`);
  }

  /** Progress and information (stderr), hidden by --quiet and --json. */
  info(text: string): void {
    if (this.options.quiet || this.options.json) return;
    process.stderr.write(`${redact(text)}\n`);
  }

  /** Detail shown only with --verbose (stderr). */
  debug(text: string): void {
    if (!this.options.verbose) return;
    process.stderr.write(`${this.colors.dim(redact(text))}\n`);
  }

  warn(text: string): void {
    if (this.options.quiet) return;
    process.stderr.write(`${this.colors.yellow('warning:')} ${diagnosticText(text)}\n`);
  }

  error(text: string): void {
    process.stderr.write(`${this.colors.red('error:')} ${diagnosticText(text)}\n`);
  }
}
