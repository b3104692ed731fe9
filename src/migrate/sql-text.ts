/**
 * Pure helpers over SQL text: PostgreSQL error positions to file lines, and splitting a file into
 * statements (for files that must run outside a transaction, one statement at a time).
 *
 * PostgreSQL reports positions as 1-based counts of characters (code points), not bytes and not UTF-16
 * units, so everything here counts code points.
 */

export interface TextLocation {
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
}

/** The line and column of a 1-based character position in `text` (clamped to the text). */
export function locationOfPosition(text: string, position: number): TextLocation {
  let line = 1;
  let column = 1;
  let index = 1;
  for (const char of text) {
    if (index >= position) break;
    if (char === '\n') {
      line += 1;
      column = 1;
    } else {
      column += 1;
    }
    index += 1;
  }
  return { line, column };
}

export interface SqlStatement {
  /** The statement text, without the terminating semicolon. */
  text: string;
  /** Characters (code points) before the statement in the whole text: add it to a position inside it. */
  offset: number;
  /** 0-based character index of its first character that is not whitespace or a `--` comment (where psql starts it). */
  start: number;
  /** 0-based character index of its terminating semicolon (or the end of the text). */
  end: number;
}

const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/u;

/**
 * Splits SQL into top-level statements at semicolons outside quotes, dollar quotes and comments (the
 * same lexical rules psql uses). Statements that are only whitespace and comments are dropped.
 */
export function splitStatements(sql: string): SqlStatement[] {
  const chars = Array.from(sql);
  const statements: SqlStatement[] = [];
  let start = 0;
  let first = -1;
  let meaningful = false;
  let i = 0;

  const push = (end: number) => {
    if (meaningful) {
      statements.push({ text: chars.slice(start, end).join(''), offset: start, start: first, end });
    }
    meaningful = false;
    first = -1;
  };

  while (i < chars.length) {
    const c = chars[i]!;
    const next = chars[i + 1];
    if (c === '-' && next === '-') {
      while (i < chars.length && chars[i] !== '\n') i += 1;
      continue;
    }
    if (c === '/' && next === '*') {
      if (first === -1) first = i;
      let depth = 1;
      i += 2;
      while (i < chars.length && depth > 0) {
        if (chars[i] === '/' && chars[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (chars[i] === '*' && chars[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else {
          i += 1;
        }
      }
      continue;
    }
    if (c === ';') {
      push(i);
      i += 1;
      start = i;
      continue;
    }
    if (!/\s/u.test(c)) {
      meaningful = true;
      if (first === -1) first = i;
    }
    if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(chars[i - 1]!) && (i < 2 || !/[A-Za-z0-9_]/.test(chars[i - 2]!));
      i += 1;
      while (i < chars.length) {
        if (escapes && chars[i] === '\\') {
          i += 2;
        } else if (chars[i] === "'" && chars[i + 1] === "'") {
          i += 2;
        } else if (chars[i] === "'") {
          i += 1;
          break;
        } else {
          i += 1;
        }
      }
      continue;
    }
    if (c === '"') {
      i += 1;
      while (i < chars.length) {
        if (chars[i] === '"' && chars[i + 1] === '"') i += 2;
        else if (chars[i] === '"') {
          i += 1;
          break;
        } else i += 1;
      }
      continue;
    }
    if (c === '$' && (i === 0 || !/[A-Za-z0-9_]/.test(chars[i - 1]!))) {
      const match = DOLLAR_TAG.exec(chars.slice(i, i + 64).join(''));
      if (match !== null) {
        const tag = Array.from(match[0]);
        i += tag.length;
        while (i < chars.length) {
          if (chars[i] === '$' && tag.every((t, k) => chars[i + k] === t)) {
            i += tag.length;
            break;
          }
          i += 1;
        }
        continue;
      }
    }
    i += 1;
  }
  push(chars.length);
  return statements;
}

/** The leading `--` comment lines of a file (before the first SQL), without the dashes. */
export function leadingCommentLines(sql: string): string[] {
  const lines: string[] = [];
  for (const raw of sql.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (!line.startsWith('--')) break;
    lines.push(line.slice(2).trim());
  }
  return lines;
}
