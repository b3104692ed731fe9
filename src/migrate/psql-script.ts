import { parseDirectives } from './sql-files.js';
import { locationOfPosition, splitStatements } from './sql-text.js';
import { advisoryLockKey, quoteTable, sqlLiteral, trackingTableDdl } from './status.js';

/**
 * A psql script with the raw engine's semantics, for deploy time: the pipeline uploads it (and the SQL
 * files) to the lock host and runs it with psql in a one-off container on the app's network. Pure.
 */

export interface PsqlScriptFile {
  id: string;
  /** sha256 (hex) of the file's bytes, as the raw engine records it. */
  checksum: string;
  /** Path of the uploaded file, relative to the script (`\ir`) or absolute (`\i`). Preferred: psql then reports errors as file:line. */
  path?: string;
  /** The SQL inline, when no path is given (errors then name the script's lines). */
  sql?: string;
  /** Run statement by statement without a transaction; defaults to the `-- stagecraft:no-transaction` directive of `sql`. */
  noTransaction?: boolean;
  /** False: only its checksum is checked, it is not applied (left out by `migrations.selection`). Default true. */
  selected?: boolean;
}

export interface PsqlScriptOptions {
  /** Tracking table, `table` or `schema.table`. */
  table: string;
  /** In run order. */
  files: readonly PsqlScriptFile[];
  /** Advisory lock key; default advisoryLockKey(table), the one the pg engine takes. */
  lockKey?: string;
}

/** Lines the script prints on stdout, parsed by parsePsqlOutput. */
export const PSQL_MARKER = 'stagecraft-migrate:';

/** A single-quoted psql meta-command argument ('' for a quote, \\ for a backslash). */
function metaQuote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

function checkId(id: string): void {
  if (id === '' || /[\r\n]/.test(id) || id.includes('$stagecraft$')) {
    throw new Error(`migration id ${JSON.stringify(id)} cannot be put in a psql script`);
  }
}

function changedCheck(table: string, files: readonly PsqlScriptFile[]): string[] {
  const values = files
    .map((file) => `(${sqlLiteral(file.id)}, ${sqlLiteral(file.checksum)})`)
    .join(',\n    ');
  return [
    'DO $stagecraft$',
    'DECLARE',
    '  changed text;',
    'BEGIN',
    "  SELECT string_agg(format('%s (applied with sha256 %s…, file now %s…)', t.id, left(t.checksum, 12), left(f.checksum, 12)), '; ' ORDER BY t.id)",
    '    INTO changed',
    `    FROM ${quoteTable(table)} t`,
    `    JOIN (VALUES\n    ${values}) AS f(id, checksum) ON f.id = t.id`,
    '   WHERE t.checksum IS NOT NULL AND t.checksum <> f.checksum;',
    '  IF changed IS NOT NULL THEN',
    "    RAISE EXCEPTION 'stagecraft: migrations changed after they were applied; nothing was applied: %', changed",
    "      USING HINT = 'restore the files and put the change in a new migration file';",
    '  END IF;',
    'END',
    '$stagecraft$;',
  ];
}

function fileBlock(table: string, file: PsqlScriptFile): string[] {
  checkId(file.id);
  const noTransaction =
    file.noTransaction ?? (file.sql !== undefined && parseDirectives(file.sql).noTransaction);
  const id = sqlLiteral(file.id);
  const body =
    file.path !== undefined
      ? [`${file.path.startsWith('/') ? '\\i' : '\\ir'} ${metaQuote(file.path)}`]
      : [file.sql ?? '', ';'];
  if (file.path === undefined && file.sql === undefined) {
    throw new Error(`migration ${file.id} needs a path or its sql`);
  }
  return [
    `-- ${file.id} (sha256 ${file.checksum})${noTransaction ? ', no transaction' : ''}`,
    `SELECT EXISTS (SELECT 1 FROM ${quoteTable(table)} WHERE id = ${id}) AS sc_applied \\gset`,
    '\\if :sc_applied',
    `\\echo ${metaQuote(`${PSQL_MARKER} skip`)} ${metaQuote(file.id)}`,
    '\\else',
    `\\echo ${metaQuote(`${PSQL_MARKER} apply`)} ${metaQuote(file.id)}`,
    'SELECT clock_timestamp() AS sc_started \\gset',
    ...(noTransaction ? [] : ['BEGIN;']),
    ...body,
    `INSERT INTO ${quoteTable(table)} (id, checksum, applied_at, duration_ms)`,
    `  VALUES (${id}, ${sqlLiteral(file.checksum)}, clock_timestamp(),`,
    "    round(extract(epoch FROM clock_timestamp() - :'sc_started'::timestamptz) * 1000)::integer)",
    '  RETURNING duration_ms AS sc_duration \\gset',
    ...(noTransaction ? [] : ['COMMIT;']),
    `\\echo ${metaQuote(`${PSQL_MARKER} applied`)} ${metaQuote(file.id)} :sc_duration`,
    '\\endif',
    '',
  ];
}

/**
 * One psql script that takes the advisory lock, creates the tracking table if missing, fails (nothing
 * applied) if an applied id's checksum differs, then applies each pending file in its own transaction
 * and records it: the raw engine's semantics. Run it as `psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -f
 * script` (see psqlCommand); the lock is released when psql exits.
 */
export function renderPsqlScript(options: PsqlScriptOptions): string {
  const key = options.lockKey ?? advisoryLockKey(options.table);
  if (!/^-?\d+$/.test(key)) throw new Error(`advisory lock key must be an integer, got ${key}`);
  const lines = [
    '-- Generated by stagecraft: SQL migrations with the semantics of `stagecraft migrate`.',
    '-- Run: psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f <this file>',
    '\\set ON_ERROR_STOP on',
    '\\set QUIET on',
    '\\pset pager off',
    `\\echo ${metaQuote(`${PSQL_MARKER} lock`)} ${metaQuote(options.table)}`,
    `SELECT true AS sc_locked FROM (SELECT pg_advisory_lock(${key})) AS l \\gset`,
    'SET client_min_messages = warning;',
    ...trackingTableDdl(options.table).map((statement) => `${statement};`),
    'RESET client_min_messages;',
    ...(options.files.length > 0 ? changedCheck(options.table, options.files) : []),
    '',
    ...options.files
      .filter((file) => file.selected !== false)
      .flatMap((file) => fileBlock(options.table, file)),
    `SELECT pg_advisory_unlock(${key}) AS sc_unlocked \\gset`,
    `\\echo ${metaQuote(`${PSQL_MARKER} done`)}`,
    '',
  ];
  return lines.join('\n');
}

/** POSIX shell single quoting. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The argv that runs a rendered script in a container whose environment has the URL in `connectionEnv`:
 * the URL is expanded by the container's shell, so it never appears in an argv we build or log.
 */
export function psqlCommand(connectionEnv: string, scriptPath: string): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(connectionEnv)) throw new Error(`bad variable name ${connectionEnv}`);
  return [
    'sh',
    '-c',
    `exec psql -X -q -v ON_ERROR_STOP=1 -d "$${connectionEnv}" -f ${shellQuote(scriptPath)}`,
  ];
}

export interface PsqlRunReport {
  /** Files applied by this run, in order, with psql-measured durations. */
  applied: { id: string; durationMs: number }[];
  /** Files already applied (by an earlier run or a concurrent one). */
  skipped: string[];
  /** The file that was being applied when psql stopped, if any. */
  failed?: string;
  /** True when the script ran to its end. */
  done: boolean;
  /** psql's first error line (`psql:<file>:<line>: ERROR:  …`), if any. */
  error?: string;
}

/** Reads the marker lines of a run (stdout) and psql's error (stderr). */
export function parsePsqlOutput(stdout: string, stderr = ''): PsqlRunReport {
  const report: PsqlRunReport = { applied: [], skipped: [], done: false };
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(PSQL_MARKER)) continue;
    const rest = line.slice(PSQL_MARKER.length).trim();
    const space = rest.indexOf(' ');
    const verb = space === -1 ? rest : rest.slice(0, space);
    const argument = space === -1 ? '' : rest.slice(space + 1);
    if (verb === 'apply') current = argument;
    if (verb === 'skip') report.skipped.push(argument);
    if (verb === 'done') report.done = true;
    if (verb === 'applied') {
      const last = argument.lastIndexOf(' ');
      report.applied.push({ id: argument.slice(0, last), durationMs: Number(argument.slice(last + 1)) || 0 });
      current = undefined;
    }
  }
  if (current !== undefined) report.failed = current;
  const error = stderr.split('\n').find((line) => /(ERROR|FATAL):/.test(line));
  if (error !== undefined) report.error = error.trim();
  return report;
}

/**
 * The file line of a psql error: psql names the line where the failing statement ends
 * (`psql:file:LINE: ERROR:`), PostgreSQL's `LINE n:` counts from the statement's first line.
 */
export function psqlErrorLine(sql: string, reportedLine: number, statementLine: number | undefined): number {
  if (statementLine === undefined) return reportedLine;
  const statement = splitStatements(sql).find(
    (candidate) => locationOfPosition(sql, candidate.end + 1).line === reportedLine,
  );
  if (statement === undefined) return reportedLine;
  return locationOfPosition(sql, statement.start + 1).line + statementLine - 1;
}

export interface PsqlError {
  /** The file psql was reading, as it names it. */
  file: string;
  /** The line psql names (the end of the failing statement). */
  line: number;
  /** PostgreSQL's `LINE n:` (relative to the statement), when it gave a position. */
  statementLine?: number;
  /** `ERROR:  …` without the psql prefix. */
  message: string;
}

/** Reads psql's first error (`psql:<file>:<line>: ERROR:  …` and the optional `LINE n:` after it). */
export function parsePsqlError(stderr: string): PsqlError | undefined {
  const lines = stderr.split('\n');
  const index = lines.findIndex((line) => /^psql:.*:\d+: (ERROR|FATAL): /.test(line));
  if (index === -1) return undefined;
  const match = /^psql:(.*):(\d+): ((?:ERROR|FATAL): .*)$/.exec(lines[index]!)!;
  const lineMatch = /^LINE (\d+):/.exec(lines[index + 1] ?? '');
  return {
    file: match[1]!,
    line: Number(match[2]),
    ...(lineMatch === null ? {} : { statementLine: Number(lineMatch[1]) }),
    message: match[3]!.replace(/^(ERROR|FATAL):\s+/, ''),
  };
}
