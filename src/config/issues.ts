import { redact } from '../util/secret.js';
/** One problem in a config file, with the place it was found. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Key path such as `environments.prod.hosts.app[0]`; empty for the document itself. */
  path: string;
  message: string;
}

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === '' ? `${where} ${issue.message}` : `${where} ${issue.path}: ${issue.message}`;
}

export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path));
}

/** A short description of a value for "found …" in messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    // Redacted before it is shortened: a cut secret no longer matches its registered value.
    const shown = redact(value);
    return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown);
  }
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value)
      ? 'NaN (not a number)'
      : `${value > 0 ? '' : '-'}infinity (too large a number)`;
  return `${typeof value} ${String(value)}`;
}
