const REDACTED = '[redacted]';
const registered = new Set<string>();

/**
 * A secret value. It prints as `[redacted]` everywhere (string conversion, JSON, inspect) and is
 * registered so that the output layer can scrub it from any text as a second net.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    registerSecretValue(value);
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

/** Values shorter than this are not scrubbed from text: they would mangle ordinary words. */
const MIN_SCRUB_LENGTH = 4;

export function registerSecretValue(value: string): void {
  if (value.length >= MIN_SCRUB_LENGTH) registered.add(value);
}

/** Replaces every registered secret value in `text` with `[redacted]`. */
export function redact(text: string): string {
  if (registered.size === 0) return text;
  let result = text;
  for (const value of registered) {
    if (result.includes(value)) result = result.split(value).join(REDACTED);
  }
  return result;
}

/** Names of variables that hold secrets by convention (tokens, passwords, keys, URLs with credentials). */
export function looksSecretName(name: string): boolean {
  return /(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|AUTH_KEY|AUTHKEY|CREDENTIALS|_DSN|DATABASE_URL|_URL_WITH_CREDENTIALS)$/i.test(
    name,
  );
}

export { REDACTED };
