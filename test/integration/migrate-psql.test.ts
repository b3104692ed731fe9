// The deploy-time psql script (renderPsqlScript, via prepareRawDeployMigration) against a real
// PostgreSQL server with the machine's psql: the same behaviours as the raw engine.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PSQL_URL_ENV } from '../../src/migrate/connection.js';
import { rawDeployOutcome } from '../../src/migrate/deploy.js';
import { applyRawMigrations, planRawMigrations } from '../../src/migrate/postgres.js';
import { parsePsqlOutput, psqlCommand, renderPsqlScript } from '../../src/migrate/psql-script.js';
import { sha256Hex } from '../../src/migrate/sql-files.js';
import { isStagecraftError } from '../../src/util/errors.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import {
  deployRaw,
  engineOptions,
  freshDatabase,
  type Project,
  publicTables,
  removeScratchDirs,
  runPsql,
  tempProject,
} from './migrate-helpers.js';

let server: PgServer;

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
  removeScratchDirs();
});

function newDatabase() {
  return freshDatabase(server, 'psql');
}

/** Runs argv as the one-off container does (see runPsql), with this server's psql. */
function run(argv: string[], url: string) {
  return runPsql(server.binDir, argv, url);
}

/** Does what the pipeline does: upload the files and the script into a folder, run psql on it. */
function deploy(project: Project, url: string, table?: string) {
  return deployRaw(server.binDir, project, url, table);
}

async function tracked(database: string) {
  return server.query<{ id: string; checksum: string | null; duration_ms: number }>(
    'SELECT id, checksum, duration_ms FROM stagecraft_migrations ORDER BY id',
    [],
    database,
  );
}

function tables(database: string): Promise<string[]> {
  return publicTables(server, database);
}

describe('psql script', () => {
  it('applies pending files in order and records them like the raw engine', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_products.sql', 'CREATE TABLE products (id serial PRIMARY KEY);\n');
    project.write(
      '002_orders.sql',
      'CREATE TABLE orders (id serial PRIMARY KEY, product int REFERENCES products)',
    );
    const result = await deploy(project, db.url);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n').map((line) => line.replace(/ \d+$/, ' N'))).toEqual([
      'stagecraft-migrate: lock stagecraft_migrations',
      'stagecraft-migrate: apply 001_products',
      'stagecraft-migrate: applied 001_products N',
      'stagecraft-migrate: apply 002_orders',
      'stagecraft-migrate: applied 002_orders N',
      'stagecraft-migrate: done',
      '',
    ]);
    expect(rawDeployOutcome(result.prepared, result.exitCode, result.stdout, result.stderr).applied).toEqual([
      '001_products',
      '002_orders',
    ]);
    expect(await tables(db.name)).toEqual(['orders', 'products', 'stagecraft_migrations']);
    const rows = await tracked(db.name);
    expect(rows.map((row) => [row.id, row.checksum])).toEqual([
      ['001_products', sha256Hex('CREATE TABLE products (id serial PRIMARY KEY);\n')],
      [
        '002_orders',
        sha256Hex('CREATE TABLE orders (id serial PRIMARY KEY, product int REFERENCES products)'),
      ],
    ]);
    expect(rows.every((row) => row.duration_ms >= 0)).toBe(true);
    // The raw engine sees the same state.
    const plan = await planRawMigrations(engineOptions(project, db.url));
    expect(plan.map((entry) => entry.state)).toEqual(['applied', 'applied']);
  });

  it('re-running does nothing; an added file is the only one applied', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    await deploy(project, db.url);
    const before = await tracked(db.name);
    const again = await deploy(project, db.url);
    expect(again.exitCode).toBe(0);
    expect(again.report).toMatchObject({ applied: [], skipped: ['001_a'], done: true });
    expect(await tracked(db.name)).toEqual(before);

    project.write('002_b.sql', 'CREATE TABLE b (x int);');
    const added = await deploy(project, db.url);
    expect(added.report.applied.map((entry) => entry.id)).toEqual(['002_b']);
    expect(added.report.skipped).toEqual(['001_a']);
  });

  it('refuses to run when an applied file changed (nothing applied), naming it', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    await applyRawMigrations(engineOptions(project, db.url));
    project.write('001_a.sql', 'CREATE TABLE a (x int, y int);');
    project.write('002_b.sql', 'CREATE TABLE b (x int);');
    const result = await deploy(project, db.url);
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(
      /ERROR: {2}stagecraft: migrations changed after they were applied; nothing was applied: 001_a \(applied with sha256 [0-9a-f]{12}…, file now [0-9a-f]{12}…\)/,
    );
    expect(result.report.applied).toEqual([]);
    expect(await tables(db.name)).toEqual(['a', 'stagecraft_migrations']);
    let error: unknown;
    try {
      rawDeployOutcome(result.prepared, result.exitCode, result.stdout, result.stderr);
    } catch (caught) {
      error = caught;
    }
    expect(isStagecraftError(error) && error.exitCode).toBe(1);
    expect((error as Error).message).toMatch(
      /^database main: stagecraft: migrations changed after they were applied; nothing was applied: 001_a \(/,
    );
  });

  it('a failing file is rolled back and not recorded; earlier files stay; the error has file:line', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    project.write(
      '002_bad.sql',
      'CREATE TABLE half (x int);\nINSERT INTO half VALUES (1);\nSELECT\n  x,\n  nope\nFROM half;\n',
    );
    project.write('003_c.sql', 'CREATE TABLE c (x int);');
    const result = await deploy(project, db.url);
    expect(result.exitCode).toBe(3);
    expect(result.report).toMatchObject({
      applied: [{ id: '001_a' }],
      failed: '002_bad',
      done: false,
      // psql names the line where the statement ends; PostgreSQL's LINE 3 counts from where it starts.
      error: `psql:${result.mount}/files/002_bad.sql:6: ERROR:  column "nope" does not exist`,
    });
    expect(result.stderr).toContain('LINE 3:   nope');
    expect(await tables(db.name)).toEqual(['a', 'stagecraft_migrations']);
    expect((await tracked(db.name)).map((row) => row.id)).toEqual(['001_a']);
    let error: unknown;
    try {
      rawDeployOutcome(result.prepared, result.exitCode, result.stdout, result.stderr);
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).message).toBe(
      'migration 002_bad of database main failed at migrations/002_bad.sql:5: column "nope" does not exist',
    );
    expect(isStagecraftError(error) && error.exitCode).toBe(1);
    expect(isStagecraftError(error) && error.details).toEqual(['applied before the failure: 001_a']);
    // The raw engine points at the same line.
    await server.query('DROP TABLE a; DROP TABLE stagecraft_migrations', [], db.name);
    const engineError = await applyRawMigrations(engineOptions(project, db.url)).catch(
      (caught: Error) => caught,
    );
    expect((engineError as Error).message).toBe(
      'migration 002_bad failed at migrations/002_bad.sql:5:3: column "nope" does not exist',
    );
  });

  it('runs a stagecraft:no-transaction file outside a transaction (CREATE INDEX CONCURRENTLY)', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    project.write('002_index.sql', '-- stagecraft:no-transaction\nCREATE INDEX CONCURRENTLY a_x ON a (x);\n');
    const result = await deploy(project, db.url);
    expect(result.stderr).toBe('');
    expect(result.report.applied.map((entry) => entry.id)).toEqual(['001_a', '002_index']);
  });

  it('inline SQL works too, and the psql script and the pg engine share one lock (each file once)', async () => {
    const db = await newDatabase();
    const project = tempProject();
    await server.query(
      'CREATE TABLE runs (file text NOT NULL); GRANT INSERT, SELECT ON runs TO app',
      [],
      db.name,
    );
    const files = ['001_a', '002_b', '003_c'].map((id) => {
      const sql = `INSERT INTO runs VALUES ('${id}');\nSELECT pg_sleep(0.2)`;
      project.write(`${id}.sql`, sql);
      return { id, checksum: sha256Hex(sql), sql };
    });
    const script = renderPsqlScript({ table: 'stagecraft_migrations', files });
    const scriptPath = join(project.root, 'inline.sql');
    writeFileSync(scriptPath, script);
    const [psqlRun, engineRun] = await Promise.all([
      run(psqlCommand(PSQL_URL_ENV, scriptPath), db.url),
      new Promise((resolve) => setTimeout(resolve, 50)).then(() =>
        applyRawMigrations(engineOptions(project, db.url)),
      ),
    ]);
    expect(psqlRun.exitCode).toBe(0);
    const byPsql = parsePsqlOutput(psqlRun.stdout).applied.map((entry) => entry.id);
    const byEngine = engineRun.applied.map((entry) => entry.id);
    expect([...byPsql, ...byEngine].sort()).toEqual(['001_a', '002_b', '003_c']);
    const runs = await server.query<{ file: string; n: string }>(
      'SELECT file, count(*)::text AS n FROM runs GROUP BY file ORDER BY file',
      [],
      db.name,
    );
    expect(runs.map((row) => `${row.file}:${row.n}`)).toEqual(['001_a:1', '002_b:1', '003_c:1']);
  });

  it('an unreachable database fails with psql exit 2 and an external error', async () => {
    const project = tempProject();
    project.write('001_a.sql', 'SELECT 1;');
    const result = await deploy(project, 'postgres://app:nope-secret-pw@127.0.0.1:1/x');
    expect(result.exitCode).toBe(2);
    let error: unknown;
    try {
      rawDeployOutcome(result.prepared, result.exitCode, result.stdout, result.stderr);
    } catch (caught) {
      error = caught;
    }
    expect(isStagecraftError(error) && error.exitCode).toBe(2);
    expect((error as Error).message).toMatch(/^migrations of database main could not run: /);
  });
});
