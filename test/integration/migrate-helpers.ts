// Shared by the migration integration tests: a project folder with a migrations folder, and the engine
// options for one database of the throwaway cluster.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConnection } from '../../src/migrate/connection.js';
import type { RawEngineEvent, RawEngineOptions } from '../../src/migrate/postgres.js';
import { readSqlMigrations } from '../../src/migrate/sql-files.js';
import type { MigrationSelection } from '../../src/migrate/status.js';
import type { PgServer } from '../support/postgres.js';

export interface Project {
  root: string;
  dir: string;
  write(name: string, sql: string): void;
  remove(name: string): void;
}

const scratchDirs: string[] = [];

/** Removes every folder scratchDir made (call it in afterAll). */
export function removeScratchDirs(): void {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A temp folder, removed by removeScratchDirs. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

export function tempProject(prefix = 'sc-migrate-'): Project {
  const root = scratchDir(prefix);
  const dir = join(root, 'migrations');
  mkdirSync(dir);
  return {
    root,
    dir,
    write: (name, sql) => writeFileSync(join(dir, name), sql),
    remove: (name) => rmSync(join(dir, name)),
  };
}

export function engineOptions(
  project: Project,
  url: string,
  extra: { table?: string; selection?: MigrationSelection; events?: RawEngineEvent[] } = {},
): RawEngineOptions {
  return {
    database: 'main',
    connectionEnv: 'DATABASE_URL',
    connection: resolveConnection({
      database: 'main',
      connectionEnv: 'DATABASE_URL',
      variables: { DATABASE_URL: url },
      envName: 'dev',
      envFile: '.env',
    }),
    table: extra.table ?? 'stagecraft_migrations',
    files: readSqlMigrations(project.dir, project.root, 'main'),
    selection: extra.selection,
    onEvent: extra.events === undefined ? undefined : (event) => extra.events!.push(event),
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

const databaseCounts = new Map<string, number>();

/** A new, empty database on the server, named `<prefix>_<n>`. */
export async function freshDatabase(
  server: PgServer,
  prefix: string,
): Promise<{ name: string; url: string }> {
  const count = (databaseCounts.get(prefix) ?? 0) + 1;
  databaseCounts.set(prefix, count);
  const name = `${prefix}_${count}`;
  return { name, url: await server.createDatabase(name) };
}

/** The tables of the public schema, sorted by name. */
export async function publicTables(server: PgServer, database: string): Promise<string[]> {
  const rows = await server.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    [],
    database,
  );
  return rows.map((row) => row.name);
}
