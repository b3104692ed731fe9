/**
 * Text that came from outside (a ledger, a lock's info.json, a host) made safe to print on a
 * terminal: control characters (C0 but tab, DEL, C1 — so every escape sequence) become `\xNN`, and
 * bidirectional overrides become `\u{NNNN}`, so that no field can move the cursor, change colours,
 * set the window title or reorder what is shown. Plain text comes back unchanged.
 */
export function printable(text: string): string {
  return text
    .replace(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters it removes
      /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g,
      (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
    )
    .replace(/[\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u{${char.charCodeAt(0).toString(16)}}`);
}

/** printable() applied to every string of a JSON-like value (for human output of stored records). */
export function printableDeep<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map((item) => printableDeep(item)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) out[printable(key)] = printableDeep(child);
    return out as T;
  }
  return value;
}
