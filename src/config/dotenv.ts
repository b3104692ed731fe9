import { UserError } from '../util/errors.js';
import { readUserUtf8 } from '../util/user-file.js';
import { type Lookup, SubstitutionError, substitute } from './substitute.js';

/**
 * Env files read with docker compose v2's rules (compose-spec/compose-go `dotenv`, the syntax
 * documented at https://docs.docker.com/compose/environment-variables/variable-interpolation/#env-file-syntax):
 *
 * - `KEY=value`, `KEY: value`, `export KEY=value`; blank lines and lines starting with `#` are skipped;
 *   a key is letters, digits, `_ . - [ ]`; a bare `KEY` line takes KEY from the lookup (if set);
 * - unquoted values: up to the end of the line, cut at the first ` #` (a `#` with a space before
 *   it; `abc#123` stays whole), trailing whitespace trimmed, variables expanded;
 * - single-quoted values: literal, may span lines (only `\'` is unescaped);
 * - double-quoted values: may span lines; `\n \r \t \\ \" \$ \a \b \f \v \0ooo` escapes, then
 *   variables expanded (`\$` stays a literal `$`);
 * - expansion (`${A}`, `$A`, `${A:-default}`, …, see substitute.ts) looks a name up in the lookup
 *   first (the shell environment), then in the keys read so far; later keys override earlier ones.
 */

/** A problem in an env file: compose refuses the file, and so does Stagecraft. */
export class DotenvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface DotenvOptions {
  /** Variables looked up before the file's own (compose: the process environment). */
  lookup?: Lookup;
  /** Keys already read (earlier files); the result includes them. */
  into?: Record<string, string>;
  /** Called for each `${NAME}` that is set nowhere (it becomes empty, as in compose). */
  onUnset?: (name: string, line: number) => void;
}

/** Parses one env file's text; throws DotenvSyntaxError (with the line) where compose would refuse it. */
export function parseDotenv(text: string, options: DotenvOptions = {}): Record<string, string> {
  // A byte order mark (Windows editors write one) is not part of the first name, as in compose.
  return new Parser(text.startsWith('\ufeff') ? text.slice(1) : text, options).parse();
}

const SPACE = new Set(['\t', '\v', '\f', '\r', ' ', '\u0085', '\u00a0']);
const isSpace = (char: string | undefined) => char !== undefined && SPACE.has(char);
const isUnicodeSpace = (char: string) => isSpace(char) || char === '\n';
const KEY_CHAR = /^[\p{L}\p{N}_.\-[\]]$/u;
const ESCAPE = /\\(?:[abcfnrtv$"\\]|0\d{0,3})/g;

/** The longest value a line may expand to, in characters (1 MiB). */
const MAX_EXPANDED_VALUE = 1024 * 1024;
/** The most all of a file's values may expand to together, in characters (16 MiB). */
const MAX_EXPANDED_FILE = 16 * 1024 * 1024;

class Parser {
  private line = 1;
  private readonly out: Record<string, string>;
  private readonly lookup: Lookup;

  constructor(
    private readonly text: string,
    private readonly options: DotenvOptions,
  ) {
    this.out = options.into ?? {};
    this.lookup = options.lookup ?? (() => undefined);
  }

  parse(): Record<string, string> {
    let at = 0;
    for (;;) {
      at = this.statementStart(at);
      if (at === -1) break;
      const key = this.key(at);
      at = key.rest;
      if (key.inherited) {
        const value = this.lookup(key.name);
        if (value !== undefined) this.out[key.name] = value;
        continue;
      }
      const value = this.value(at);
      this.out[key.name] = value.value;
      at = value.rest;
    }
    return this.out;
  }

  /** The index where the next statement starts (comments and whitespace skipped), or -1 at the end. */
  private statementStart(from: number): number {
    let at = from;
    for (;;) {
      while (at < this.text.length && isUnicodeSpace(this.text[at]!)) {
        if (this.text[at] === '\n') this.line++;
        at++;
      }
      if (at >= this.text.length) return -1;
      if (this.text[at] !== '#') return at;
      const newline = this.text.indexOf('\n', at);
      if (newline === -1) return -1;
      at = newline;
    }
  }

  private key(from: number): { name: string; rest: number; inherited: boolean } {
    let at = from;
    if (/^export\s+/.test(this.text.slice(at, at + 16))) {
      at += 'export'.length;
      while (isSpace(this.text[at])) at++;
    }
    const start = at;
    let end = -1;
    let inherited = false;
    for (; at < this.text.length; at++) {
      const char = this.text[at]!;
      if (isSpace(char)) continue;
      if (char === '=' || char === ':' || char === '\n') {
        end = at;
        inherited = char === '\n';
        break;
      }
      if (!KEY_CHAR.test(char)) {
        // The name as far as it goes (no `=` yet): the rest of the line may be a value, never shown.
        throw new DotenvSyntaxError(
          this.line,
          `unexpected character "${char}" in variable name "${this.text.slice(start, at + 1)}"`,
        );
      }
    }
    // Text that ends without `=` or a newline: compose reads it as the value of an empty key.
    if (end === -1) return { name: '', rest: start, inherited: false };
    const raw = this.text.slice(start, end);
    const name = raw.replace(/\s+$/u, '');
    if (name.includes(' ')) throw new DotenvSyntaxError(this.line, 'key cannot contain a space');
    // No process environment holds a variable without a name (compose fails: "setenv: invalid argument").
    if (name === '' && !inherited)
      throw new DotenvSyntaxError(
        this.line,
        `no variable name before the ${this.text[end]}: write NAME=value`,
      );
    if (inherited && end < this.text.length) this.line++;
    let rest = end + 1;
    while (isSpace(this.text[rest])) rest++;
    return { name, rest, inherited };
  }

  private value(from: number): { value: string; rest: number } {
    const quote = this.text[from];
    if (quote !== '"' && quote !== "'") {
      const newline = this.text.indexOf('\n', from);
      const end = newline === -1 ? this.text.length : newline;
      const line = this.line;
      this.line++;
      let value = this.text.slice(from, end);
      const comment = value.indexOf(' #');
      if (comment !== -1) value = value.slice(0, comment);
      value = value.replace(/[\s\u0085\u00a0]+$/u, '');
      return { value: this.expand(value, line), rest: newline === -1 ? end : newline + 1 };
    }
    const line = this.line;
    let chars = '';
    let escaped = false;
    for (let at = from + 1; at < this.text.length; at++) {
      const char = this.text[at]!;
      if (char === '\n') this.line++;
      if (char !== quote) {
        if (!escaped && char === '\\') {
          escaped = true;
          continue;
        }
        if (escaped) {
          escaped = false;
          chars += '\\';
        }
        chars += char;
        continue;
      }
      if (escaped) {
        escaped = false;
        chars += char;
        continue;
      }
      const value = quote === '"' ? this.expand(unescapeDoubleQuoted(chars), line) : chars;
      return { value, rest: at + 1 };
    }
    // The value itself is not shown: it may be a secret, which no registry knows yet.
    throw new DotenvSyntaxError(
      line,
      `unterminated quoted value: the ${quote} that opens it is never closed (close it, or escape a ${quote} inside it)`,
    );
  }

  /** Characters the file's values have expanded to so far (MAX_EXPANDED_FILE bounds them). */
  private expanded = 0;

  private expand(value: string, line: number): string {
    // Each reference adds its value: lines that double the one before (`B=${A}${A}`) grow without end.
    let size = value.length;
    const lookup = (name: string) => {
      const found = this.lookup(name) ?? this.out[name];
      size += found?.length ?? 0;
      if (size > MAX_EXPANDED_VALUE) {
        throw new DotenvSyntaxError(
          line,
          `the value expands to more than ${MAX_EXPANDED_VALUE / 1024 / 1024} MiB (through \${${name}}): an env value holds a setting, not data`,
        );
      }
      return found;
    };
    try {
      const result = substitute(value, lookup, (name) => this.options.onUnset?.(name, line));
      this.expanded += result.length;
      if (this.expanded > MAX_EXPANDED_FILE) {
        throw new DotenvSyntaxError(
          line,
          `the file's values expand to more than ${MAX_EXPANDED_FILE / 1024 / 1024} MiB together: env values hold settings, not data`,
        );
      }
      return result;
    } catch (error) {
      if (error instanceof SubstitutionError)
        throw new DotenvSyntaxError(
          line,
          error.message.startsWith('Invalid template')
            ? 'invalid ${…} reference in the value (unclosed, or not a variable name): write $$ for a literal $'
            : error.message,
        );
      throw error;
    }
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\u0007',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '"': '"',
  '\\': '\\',
};

/** Compose's escapes inside double quotes; `\$` becomes `$$`, which expansion turns into a literal `$`. */
function unescapeDoubleQuoted(text: string): string {
  return text.replace(ESCAPE, (match) => {
    const char = match.slice(1);
    if (char === '$') return '$$';
    const simple = SIMPLE_ESCAPES[char];
    if (simple !== undefined) return simple;
    // `\0ooo`: three octal digits after the 0 (Go's \ooo); anything else stays as written.
    const octal = char.slice(1);
    if (/^[0-7]{3}$/.test(octal)) {
      const code = Number.parseInt(octal, 8);
      if (code <= 255) return String.fromCharCode(code);
    }
    return match;
  });
}

/** A file the environment names that is not there: compose refuses it (`couldn't find env file`). */
export function missingEnvFileError(file: string, path: string, setting: string): UserError {
  return new UserError(`env file ${file} does not exist (${path})`, {
    hint: `create it, or fix ${setting} in stagecraft.yml (docker compose refuses a missing env file too)`,
  });
}

/**
 * Reads env files in order as `docker compose --env-file a --env-file b` does: one map shared by the
 * files, each value expanded with `processEnv` first, then the keys of the files before, then the
 * keys read so far in its own file (compose v2.26, measured). Returns only the
 * files' keys (the caller overlays the process environment). A missing file is skipped when
 * `missing(file)` returns undefined, else the UserError it returns is thrown. Throws UserError for a
 * path that is not a regular file (a folder, a device such as /dev/zero, a pipe), a file over
 * MAX_USER_FILE_BYTES, or a syntax error (`file:line: message`).
 */
export function readDotenvFiles(
  files: { path: string; display: string }[],
  processEnv: Record<string, string | undefined>,
  missing: (file: { path: string; display: string }) => UserError | undefined,
  onUnset?: (name: string, where: string) => void,
): Record<string, string> {
  const into: Record<string, string> = {};
  for (const file of files) {
    const text = readUserUtf8(file.path, {
      display: `env file ${file.display}`,
      hint: 'point env_file at a regular file of KEY=value lines',
    });
    if (text === undefined) {
      const refusal = missing(file);
      if (refusal !== undefined) throw refusal;
      continue;
    }
    const nul = text.indexOf('\0');
    if (nul !== -1) {
      const line = text.slice(0, nul).split('\n').length;
      throw new UserError(`${file.display}:${line}: a NUL byte: no process environment can hold it`, {
        hint: 'remove it from the env file (docker compose refuses it too: "setenv: invalid argument")',
      });
    }
    // As compose-go's GetEnvFromFile: a name is looked up in the process environment, then in the
    // files before this one, and only then in this file's own lines above (`SAME=b` then `${SAME}` in
    // a second file still gives the first file's SAME).
    const before = { ...into };
    try {
      parseDotenv(text, {
        into,
        lookup: (name) => processEnv[name] ?? before[name],
        onUnset: (name, line) => onUnset?.(name, `${file.display}:${line}`),
      });
    } catch (error) {
      if (error instanceof DotenvSyntaxError) {
        throw new UserError(`${file.display}:${error.line}: ${error.message.replace(/^line \d+: /, '')}`, {
          hint: 'fix the env file: see https://docs.docker.com/compose/environment-variables/variable-interpolation/#env-file-syntax',
        });
      }
      throw error;
    }
  }
  return into;
}
