// Shared by the migration integration tests: a project folder with a migrations folder, and the engine
// options for one database of the throwaway cluster.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { psqlConnectionEnv, resolveConnection } from '../../src/migrate/connection.js';
import { prepareRawDeployMigration } from '../../src/migrate/deploy.js';
import type { RawEngineEvent, RawEngineOptions } from '../../src/migrate/postgres.js';
import { parsePsqlOutput } from '../../src/migrate/psql-script.js';
import { readSqlMigrations } from '../../src/migrate/sql-files.js';
import { type MigrationSelection, SELECT_ALL } from '../../src/migrate/status.js';
import type { MigrationTarget } from '../../src/migrate/targets.js';
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

/** The raw target of database `main` over the project's migrations folder (as the model resolves it). */
export function rawTarget(project: Project, table = 'stagecraft_migrations'): MigrationTarget {
  return {
    database: 'main',
    connectionEnv: 'DATABASE_URL',
    engine: 'raw',
    kind: 'raw',
    dir: project.dir,
    displayDir: 'migrations',
    strategy: 'pre_deploy',
    table,
    timeoutMs: 600_000,
    service: 'api',
    command: undefined,
  };
}

export interface PsqlRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv with the connection in the environment as the one-off container gets it (the URL without
 * its password, and PGPASSWORD) and the server's psql (from binDir) on PATH.
 */
export function runPsql(binDir: string, argv: string[], url: string): Promise<PsqlRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: `${binDir}:${process.env['PATH']}`, ...psqlConnectionEnv(url, 'DATABASE_URL') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
  });
}

/**
 * What a deploy's migrate step does: uploads the files and the psql script into a folder (the mount)
 * and runs psql on it; returns psql's result, the mount, the prepared migration and the parsed report.
 */
export async function deployRaw(binDir: string, project: Project, url: string, table?: string) {
  const prepared = prepareRawDeployMigration(rawTarget(project, table), project.root, SELECT_ALL);
  const mount = scratchDir('sc-upload-');
  for (const upload of prepared.uploads) {
    mkdirSync(dirname(join(mount, upload.path)), { recursive: true });
    writeFileSync(join(mount, upload.path), upload.content, { mode: upload.mode });
  }
  const result = await runPsql(binDir, prepared.command(mount), url);
  return { ...result, mount, prepared, report: parsePsqlOutput(result.stdout, result.stderr) };
}
