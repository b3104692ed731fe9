import { quoteArg } from './shell-quote.js';

const REDACTED = '[redacted]';

/**
 * What a plan shows for a value only a deploy resolves (a secret from a command, a host's address):
 * never a secret itself, so the leak checks leave it alone.
 */
export const RESOLVED_AT_DEPLOY = '(resolved at deploy)';
/** Values of at least MIN_SUBSTRING_LENGTH characters: scrubbed wherever they occur. */
const registered = new Set<string>();
/** Shorter values: scrubbed only as whole words (not inside a longer word), so that text stays readable. */
const shortValues = new Set<string>();
let shortPattern: RegExp | undefined;

/**
 * A secret value. It prints as `[redacted]` everywhere (string conversion, JSON, inspect) and is
 * registered so that the output layer can scrub it from any text as a second net.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string, register = true) {
    this.#value = value;
    if (register) registerSecretValue(value);
  }

  /**
   * A stand-in for a value that is not resolved (a plan runs no secret command): it prints as
   * `[redacted]` like any secret, and its text is not registered (it is not secret).
   */
  static placeholder(text: string): Secret {
    return new Secret(text, false);
  }

  /** The clear value: only for writing a 0600 file or a child's stdin. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** Values at least this long are scrubbed as substrings; shorter ones only as whole words. */
const MIN_SUBSTRING_LENGTH = 4;
/** Lines of a multi-line value at least this long are registered on their own too. */
const MIN_LINE_LENGTH = 8;

/**
 * The forms a value takes in text Stagecraft prints: as is, JSON-escaped (inside a JSON string, also
 * with `\uXXXX` for every non-ASCII character), Go-quoted (compose's errors print non-ASCII bytes as
 * `\xc3\xbc`), shell-quoted (a command line), percent-encoded (a URL), and for a multi-line value the
 * value with CRLF line ends and each long line on its own.
 */
export function secretEncodings(value: string): string[] {
  const forms = new Set<string>([value]);
  forms.add(JSON.stringify(value).slice(1, -1));
  if (/[^\x20-\x7e]/.test(value)) {
    forms.add(
      JSON.stringify(value)
        .slice(1, -1)
        .replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`),
    );
    forms.add(goQuotedBytes(value));
  }
  const quoted = quoteArg(value);
  forms.add(quoted);
  if (quoted.startsWith("'")) forms.add(quoted.slice(1, -1));
  forms.add(encodeURIComponent(value));
  if (/[\r\n]/.test(value)) {
    forms.add(value.replace(/\r?\n/g, '\r\n'));
    for (const line of value.split(/\r?\n/))
      if (line.trim().length >= MIN_LINE_LENGTH) forms.add(line.trim());
  }
  forms.delete('');
  return [...forms];
}

/** `value` as Go's %q prints a string of bytes: ASCII as is (`"` and `\` escaped), other bytes as `\xNN`. */
function goQuotedBytes(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte <= 0x7e) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * The fields of a value with separators (`host:Hunter2Secret:80`, a URL, `a=b;c=d`) that look like a
 * secret on their own (8+ characters, letters with digits or with both cases): a tool's error may
 * quote one field (compose: "Invalid hostPort: Hunter2Secret"). Plain words, numbers and addresses
 * are left out, so that text stays readable.
 */
function secretFields(value: string): string[] {
  const fields = value.split(/[\s:@/,;=?&#]+/);
  if (fields.length < 2) return [];
  return fields.filter(
    (field) =>
      field.length >= 8 &&
      ((/[A-Za-z]/.test(field) && /\d/.test(field)) || (/[a-z]/.test(field) && /[A-Z]/.test(field))),
  );
}

/**
 * Secret values shorter than this are not registered: a 1- or 2-character value is every such number
 * or word of the output (`replicas: 1` would read `replicas: [redacted]`), and is no secret.
 */
const MIN_SECRET_LENGTH = 3;

/** Registers a secret value (in all its encodings) the moment it is known: redact() scrubs it from then on. */
export function registerSecretValue(value: string): void {
  if (value.length < MIN_SECRET_LENGTH) return;
  for (const form of [...secretEncodings(value), ...secretFields(value)]) {
    if (form.length >= MIN_SUBSTRING_LENGTH) registered.add(form);
    else if (!/^\s+$/.test(form)) {
      shortValues.add(form);
      shortPattern = undefined;
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces every registered secret value in `text` with `[redacted]` (longest values first). */
export function redact(text: string): string {
  if (registered.size === 0 && shortValues.size === 0) return text;
  let result = text;
  const values = [...registered].sort((a, b) => b.length - a.length);
  for (const value of values) {
    if (result.includes(value)) result = result.split(value).join(REDACTED);
  }
  if (shortValues.size > 0) {
    shortPattern ??= new RegExp(
      `(?<![A-Za-z0-9_])(?:${[...shortValues]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|')})(?![A-Za-z0-9_])`,
      'g',
    );
    result = result.replace(shortPattern, REDACTED);
  }
  return result;
}

/** Deep copy of a JSON-like value with redact() applied to every string (keys included). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item)) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Secret)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[redact(key)] = redactDeep(child);
    return out as T;
  }
  return value;
}

/** Names of variables that hold secrets by convention (tokens, passwords, keys, URLs with credentials). */
export function looksSecretName(name: string): boolean {
  return (
    /(PASSWORD|PASSWD|PASSPHRASE|_PASS|_PWD|SECRET|TOKEN|AUTHKEY|CREDENTIALS|_DSN|DATABASE_URL|_URL_WITH_CREDENTIALS)$/i.test(
      name,
    ) ||
    // Any *_KEY (API_KEY, SIGNING_KEY, AWS_SECRET_ACCESS_KEY, STRIPE_KEY), but not the usual keys that are no secret.
    (/(^|_)KEY$/i.test(name) &&
      !/(PUBLIC|PUBLISHABLE|PRIMARY|FOREIGN|SORT|PARTITION|CACHE|IDEMPOTENCY)_KEY$/i.test(name))
  );
}

/** Forgets every registered value (tests only). */
export function clearSecretValuesForTests(): void {
  registered.clear();
  shortValues.clear();
  shortPattern = undefined;
}

export { REDACTED };
