import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ExternalError, type StagecraftError, UserError } from '../util/errors.js';
import { redact } from '../util/secret.js';
import { type ConnectionTarget, connectionError, type DatabaseConnection } from './connection.js';
import type { SqlMigrationFile } from './sql-files.js';
import { locationOfPosition, splitStatements } from './sql-text.js';
import {
  type AppliedMigration,
  advisoryLockKey,
  type MigrationSelection,
  type MigrationStatus,
  migrationStatus,
  quoteTable,
  SELECT_ALL,
  trackingTableDdl,
} from './status.js';

/** Progress of a raw run, for the CLI's output and the release record. */
export type RawEngineEvent =
  | { type: 'lock-wait'; database: string }
  | { type: 'apply'; database: string; id: string; file: string }
  | { type: 'applied'; database: string; id: string; file: string; durationMs: number };

export interface RawEngineOptions {
  /** The config name of the database (`main`): used in messages. */
  database: string;
  /** The variable the URL came from: used in hints. */
  connectionEnv: string;
  connection: DatabaseConnection;
  /** Tracking table, `table` or `schema.table`. */
  table: string;
  files: readonly SqlMigrationFile[];
  selection?: MigrationSelection;
  onEvent?: (event: RawEngineEvent) => void;
  connectTimeoutMs?: number;
}

export interface AppliedFile {
  id: string;
  file: string;
  durationMs: number;
}

export interface RawRunResult {
  applied: AppliedFile[];
  /** The state after the run. */
  status: MigrationStatus[];
  durationMs: number;
}

async function connect(options: RawEngineOptions): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.connection.url.reveal(),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: 'stagecraft-migrate',
  });
  // An idle connection that drops emits 'error'; the next query reports it.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(error, options.connection.target, options.database, options.connectionEnv);
  }
  return client;
}

function iso(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

/** The rows of the tracking table, or none when it does not exist yet. */
async function readApplied(client: pg.Client, table: string): Promise<AppliedMigration[]> {
  const exists = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    quoteTable(table),
  ]);
  if (exists.rows[0]?.present !== true) return [];
  // to_jsonb reads tables of the original design too (no checksum, no duration_ms).
  const result = await client.query<{ row: Record<string, unknown> }>(
    `SELECT to_jsonb(t) AS row FROM ${quoteTable(table)} t`,
  );
  return result.rows.map(({ row }) => ({
    id: String(row['id']),
    checksum: typeof row['checksum'] === 'string' ? row['checksum'] : null,
    appliedAt: iso(row['applied_at']),
    durationMs: typeof row['duration_ms'] === 'number' ? row['duration_ms'] : null,
  }));
}

/** A dropped connection (not an error the server reported about a statement): exit 2. */
function lostConnection(error: unknown, target: ConnectionTarget): StagecraftError | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code !== 'string' && !/connection|terminat|socket|closed|timeout/i.test(message))
    return undefined;
  return new ExternalError(`lost the connection to PostgreSQL at ${target.host}:${target.port}: ${message}`, {
    hint: 'check the server and the network, then run `stagecraft migrate` again',
    cause: error,
  });
}

/** Plan: the real state of every migration, read from the database without changing anything. */
export async function planRawMigrations(options: RawEngineOptions): Promise<MigrationStatus[]> {
  const client = await connect(options);
  try {
    const applied = await readApplied(client, options.table);
    return migrationStatus(options.files, applied, options.selection ?? SELECT_ALL);
  } catch (error) {
    throw lostConnection(error, options.connection.target) ?? databaseError(error, options);
  } finally {
    await client.end().catch(() => {});
  }
}

function databaseError(error: unknown, options: RawEngineOptions): StagecraftError {
  const message = error instanceof Error ? error.message : String(error);
  return new ExternalError(
    `PostgreSQL at ${options.connection.target.display} failed while reading ${options.table}: ${message}`,
    {
      hint: `check that the user of ${options.connectionEnv} may read and create ${options.table}`,
      cause: error,
    },
  );
}

/** SQLSTATE classes that are about the server, not the migration's SQL: exit 2 rather than 1. */
const EXTERNAL_SQLSTATE = /^(08|40|53|57|58|XX)/;

/** What went wrong in a migration file, with file:line:column from PostgreSQL's error position. */
export function migrationFailure(
  error: unknown,
  file: SqlMigrationFile,
  offset: number,
  target: ConnectionTarget,
): StagecraftError {
  const lost = lostConnection(error, target);
  if (lost !== undefined) return lost;
  const pgError = error as {
    message: string;
    code?: string;
    position?: string;
    detail?: string;
    hint?: string;
    where?: string;
  };
  const position = Number(pgError.position);
  const details: string[] = [];
  let where = file.displayPath;
  if (Number.isInteger(position) && position > 0) {
    const location = locationOfPosition(file.sql, offset + position);
    where = `${file.displayPath}:${location.line}:${location.column}`;
    const sourceLine = file.sql.split('\n')[location.line - 1];
    if (sourceLine !== undefined) {
      details.push(`${String(location.line).padStart(4)} | ${sourceLine.replace(/\t/g, ' ')}`);
      details.push(`${' '.repeat(4)} | ${' '.repeat(Math.max(0, location.column - 1))}^`);
    }
  }
  if (pgError.detail) details.push(`DETAIL: ${pgError.detail}`);
  if (pgError.hint) details.push(`HINT: ${pgError.hint}`);
  if (pgError.where) details.push(`CONTEXT: ${pgError.where.split('\n')[0]}`);
  if (pgError.code) details.push(`SQLSTATE: ${pgError.code}`);
  const message = `migration ${file.id} failed at ${where}: ${pgError.message}`;
  const hint = file.noTransaction
    ? `fix ${file.displayPath} and run \`stagecraft migrate\` again; it runs without a transaction (stagecraft:no-transaction), so statements before the failing one stay applied`
    : `fix ${file.displayPath} and run \`stagecraft migrate\` again; it was rolled back, earlier migrations stay applied`;
  const options = { hint, details: details.map(redact), cause: error };
  return pgError.code !== undefined && EXTERNAL_SQLSTATE.test(pgError.code)
    ? new ExternalError(message, options)
    : new UserError(message, options);
}

/** The error for applied files whose content changed: nothing is applied when there is one. */
export function changedMigrationsError(changed: readonly MigrationStatus[], database: string): UserError {
  const first = changed[0]!;
  const others = changed.length > 1 ? ` (and ${changed.length - 1} more)` : '';
  return new UserError(
    `migration ${first.file ?? first.id} of database ${database} changed after it was applied${others}; nothing was applied`,
    {
      details: changed.map(
        (entry) =>
          `${entry.file ?? entry.id}: applied ${entry.appliedAt ?? '(unknown time)'} with sha256 ${entry.appliedChecksum?.slice(0, 12)}…, now ${entry.checksum?.slice(0, 12)}…`,
      ),
      hint: 'applied migrations must not change: restore the file (e.g. git checkout) and put the change in a new migration file',
    },
  );
}

async function applyFile(
  client: pg.Client,
  file: SqlMigrationFile,
  table: string,
  target: ConnectionTarget,
): Promise<number> {
  const record = `INSERT INTO ${quoteTable(table)} (id, checksum, applied_at, duration_ms) VALUES ($1, $2, clock_timestamp(), $3)`;
  const started = performance.now();
  if (file.noTransaction) {
    for (const statement of splitStatements(file.sql)) {
      try {
        await client.query(statement.text);
      } catch (error) {
        throw migrationFailure(error, file, statement.offset, target);
      }
    }
    const durationMs = Math.round(performance.now() - started);
    try {
      await client.query(record, [file.id, file.checksum, durationMs]);
    } catch (error) {
      throw lostConnection(error, target) ?? migrationFailure(error, file, 0, target);
    }
    return durationMs;
  }
  await client.query('BEGIN');
  try {
    // One query string: PostgreSQL runs every statement of the file and reports positions in it.
    await client.query(file.sql);
    const durationMs = Math.round(performance.now() - started);
    await client.query(record, [file.id, file.checksum, durationMs]);
    await client.query('COMMIT');
    return durationMs;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw migrationFailure(error, file, 0, target);
  }
}

/**
 * Applies the pending (selected) files in order, each in its own transaction, recorded in the tracking
 * table. A session advisory lock serializes runners of the same table; the applied ids are read again
 * once it is held. Changed files stop the run before anything is applied; a failing file is rolled back
 * and stops the run (earlier files stay applied).
 */
export async function applyRawMigrations(options: RawEngineOptions): Promise<RawRunResult> {
  const runStarted = performance.now();
  const target = options.connection.target;
  const client = await connect(options);
  const key = advisoryLockKey(options.table);
  const applied: AppliedFile[] = [];
  try {
    let status: MigrationStatus[];
    try {
      const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
        key,
      ]);
      if (locked.rows[0]?.ok !== true) {
        options.onEvent?.({ type: 'lock-wait', database: options.database });
        await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
      }
      for (const statement of trackingTableDdl(options.table)) await client.query(statement);
      status = migrationStatus(
        options.files,
        await readApplied(client, options.table),
        options.selection ?? SELECT_ALL,
      );
    } catch (error) {
      throw lostConnection(error, target) ?? databaseError(error, options);
    }
    const changed = status.filter((entry) => entry.state === 'changed');
    if (changed.length > 0) throw changedMigrationsError(changed, options.database);
    const byId = new Map(options.files.map((file) => [file.id, file]));
    for (const entry of status) {
      if (entry.state !== 'pending' || !entry.selected) continue;
      const file = byId.get(entry.id)!;
      options.onEvent?.({ type: 'apply', database: options.database, id: file.id, file: file.displayPath });
      const durationMs = await applyFile(client, file, options.table, target);
      applied.push({ id: file.id, file: file.displayPath, durationMs });
      options.onEvent?.({
        type: 'applied',
        database: options.database,
        id: file.id,
        file: file.displayPath,
        durationMs,
      });
    }
    const after = migrationStatus(
      options.files,
      await readApplied(client, options.table),
      options.selection ?? SELECT_ALL,
    );
    return { applied, status: after, durationMs: Math.round(performance.now() - runStarted) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => {});
    await client.end().catch(() => {});
  }
}
