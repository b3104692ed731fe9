/**
 * Parses an env file with the original design's rules (§1.5): `KEY=value` lines, optional `export `,
 * `#` comments outside quotes, double quotes with \\ \" \n \t \r escapes, single quotes verbatim,
 * later keys override earlier ones. No multi-line values and no `$VAR` expansion.
 */
export function parseDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const rawLine of text.split('\n')) {
    let line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice('export '.length).trimStart();
    const equals = line.indexOf('=');
    if (equals === -1) continue;
    const key = line.slice(0, equals).trim();
    if (key === '') continue;
    values[key] = parseValue(line.slice(equals + 1).trim());
  }
  return values;
}

function parseValue(raw: string): string {
  const quote = raw[0];
  if (quote === '"' || quote === "'") {
    const end = findClosingQuote(raw, quote);
    if (end !== -1) {
      const inner = raw.slice(1, end);
      return quote === "'" ? inner : unescapeDoubleQuoted(inner);
    }
  }
  const comment = raw.indexOf('#');
  return (comment === -1 ? raw : raw.slice(0, comment)).trim();
}

function findClosingQuote(raw: string, quote: string): number {
  for (let i = 1; i < raw.length; i++) {
    if (quote === '"' && raw[i] === '\\') {
      i++;
      continue;
    }
    if (raw[i] === quote) return i;
  }
  return -1;
}

function unescapeDoubleQuoted(inner: string): string {
  return inner.replace(/\\([\\"ntr])/g, (_, char: string) => {
    switch (char) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      default:
        return char;
    }
  });
}
