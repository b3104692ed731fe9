import { createHash } from 'node:crypto';
import type { MigrationSelection } from '../model/migrations.js';
import { compareMigrationNames, type SqlMigrationFile } from './sql-files.js';

/**
 * applied: recorded with the same checksum; pending: not recorded; changed: recorded with another
 * checksum (an error before anything runs); missing: recorded, but the file is gone (reported only).
 */
export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing';

/** A row of the tracking table. Older tables (the original design's) have no checksum or duration. */
export interface AppliedMigration {
  id: string;
  checksum: string | null;
  appliedAt: string | null;
  durationMs: number | null;
}

export interface MigrationStatus {
  id: string;
  state: MigrationState;
  /** False when the global `migrations.selection` leaves this migration out. */
  selected: boolean;
  /** The file, relative to the project root (absent for `missing`). */
  file?: string;
  checksum?: string;
  appliedChecksum?: string | null;
  appliedAt?: string | null;
  durationMs?: number | null;
}

/** Which migrations a run includes: resolved in model/migrations.ts. */
export type { MigrationSelection };

export const SELECT_ALL: MigrationSelection = { all: true, ids: [], tags: [] };

export function isSelected(
  file: Pick<SqlMigrationFile, 'id' | 'name' | 'tags'>,
  selection: MigrationSelection,
) {
  if (selection.all) return true;
  if (selection.ids.includes(file.id) || selection.ids.includes(file.name)) return true;
  return file.tags.some((tag) => selection.tags.includes(tag));
}

/** Compares the files with the tracking table: one entry per id, in run order. Pure. */
export function migrationStatus(
  files: readonly SqlMigrationFile[],
  applied: readonly AppliedMigration[],
  selection: MigrationSelection = SELECT_ALL,
): MigrationStatus[] {
  const byId = new Map(applied.map((row) => [row.id, row]));
  const entries: MigrationStatus[] = files.map((file) => {
    const row = byId.get(file.id);
    const base = {
      id: file.id,
      file: file.displayPath,
      checksum: file.checksum,
      selected: isSelected(file, selection),
    };
    if (row === undefined) return { ...base, state: 'pending' };
    const same = row.checksum === null || row.checksum === file.checksum;
    return {
      ...base,
      state: same ? 'applied' : 'changed',
      appliedChecksum: row.checksum,
      appliedAt: row.appliedAt,
      durationMs: row.durationMs,
    };
  });
  const fileIds = new Set(files.map((file) => file.id));
  for (const row of applied) {
    if (fileIds.has(row.id)) continue;
    entries.push({
      id: row.id,
      state: 'missing',
      selected: false,
      appliedChecksum: row.checksum,
      appliedAt: row.appliedAt,
      durationMs: row.durationMs,
    });
  }
  return entries.sort((a, b) => compareMigrationNames(a.id, b.id));
}

export interface StatusSummary {
  applied: number;
  pending: number;
  changed: number;
  missing: number;
}

export function summarize(entries: readonly MigrationStatus[]): StatusSummary {
  const summary: StatusSummary = { applied: 0, pending: 0, changed: 0, missing: 0 };
  for (const entry of entries) summary[entry.state] += 1;
  return summary;
}

/**
 * The advisory-lock key of a tracking table: the first 8 bytes of sha256("stagecraft-migrations:" +
 * table) as a signed 64-bit integer, so every runner of the same table (this process, psql on a host,
 * another operator) takes the same lock. Returned as a decimal string (a bigint literal).
 */
export function advisoryLockKey(table: string): string {
  const digest = createHash('sha256').update(`stagecraft-migrations:${table.toLowerCase()}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** `schema.table` or `table` as a quoted SQL identifier. */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}

/** A SQL string literal (standard_conforming_strings, the default since PostgreSQL 9.1). */
export function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The DDL of the tracking table; ADD COLUMN upgrades a table created by the original design. */
export function trackingTableDdl(table: string): string[] {
  const name = quoteTable(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (
  id text PRIMARY KEY,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  duration_ms integer NOT NULL
)`,
    `ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS checksum text`,
    `ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS duration_ms integer`,
  ];
}
