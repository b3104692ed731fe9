// The raw engine against a real PostgreSQL server (test/support/postgres.ts).
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRawMigrations, planRawMigrations, type RawEngineEvent } from '../../src/migrate/postgres.js';
import { sha256Hex } from '../../src/migrate/sql-files.js';
import { isStagecraftError } from '../../src/util/errors.js';
import { redact } from '../../src/util/secret.js';
import { APP_PASSWORD, type PgServer, startPostgres } from '../support/postgres.js';
import {
  engineOptions,
  freshDatabase,
  publicTables,
  rejection,
  removeScratchDirs,
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
  return freshDatabase(server, 'raw');
}

async function tracked(database: string, table = 'stagecraft_migrations') {
  return server.query<{ id: string; checksum: string; applied_at: Date; duration_ms: number }>(
    `SELECT id, checksum, applied_at, duration_ms FROM ${table} ORDER BY id`,
    [],
    database,
  );
}

function tables(database: string): Promise<string[]> {
  return publicTables(server, database);
}

describe('raw engine on PostgreSQL', () => {
  it('applies files in name order, each recorded with its checksum and duration', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write(
      '002_orders.sql',
      'CREATE TABLE orders (id serial PRIMARY KEY, product_id int REFERENCES products (id));\n',
    );
    project.write('001_products.sql', 'CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL);\n');
    const events: RawEngineEvent[] = [];
    const result = await applyRawMigrations(engineOptions(project, db.url, { events }));
    expect(result.applied.map((entry) => entry.id)).toEqual(['001_products', '002_orders']);
    expect(events.map((event) => `${event.type}${'id' in event ? ` ${event.id}` : ''}`)).toEqual([
      'apply 001_products',
      'applied 001_products',
      'apply 002_orders',
      'applied 002_orders',
    ]);
    expect(await tables(db.name)).toEqual(['orders', 'products', 'stagecraft_migrations']);
    const rows = await tracked(db.name);
    expect(rows.map((row) => [row.id, row.checksum])).toEqual([
      ['001_products', sha256Hex('CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL);\n')],
      [
        '002_orders',
        sha256Hex('CREATE TABLE orders (id serial PRIMARY KEY, product_id int REFERENCES products (id));\n'),
      ],
    ]);
    for (const row of rows) {
      expect(row.duration_ms).toBeGreaterThanOrEqual(0);
      expect(row.applied_at).toBeInstanceOf(Date);
    }
    expect(result.status.every((entry) => entry.state === 'applied')).toBe(true);
  });

  it('re-applying does nothing; an added file is the only one applied', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    await applyRawMigrations(engineOptions(project, db.url));
    const before = await tracked(db.name);

    const again = await applyRawMigrations(engineOptions(project, db.url));
    expect(again.applied).toEqual([]);
    expect(await tracked(db.name)).toEqual(before);

    project.write('002_b.sql', 'CREATE TABLE b (x int);');
    const added = await applyRawMigrations(engineOptions(project, db.url));
    expect(added.applied.map((entry) => entry.id)).toEqual(['002_b']);
    const after = await tracked(db.name);
    expect(after[0]).toEqual(before[0]);
    expect(after.map((row) => row.id)).toEqual(['001_a', '002_b']);
  });

  it('refuses to run when an applied file changed, naming it, and applies nothing', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    await applyRawMigrations(engineOptions(project, db.url));
    project.write('001_a.sql', 'CREATE TABLE a (x int, y int);');
    project.write('002_b.sql', 'CREATE TABLE b (x int);');
    const error = await rejection(applyRawMigrations(engineOptions(project, db.url)));
    expect(isStagecraftError(error) && error.exitCode).toBe(1);
    expect(error.message).toBe(
      'migration migrations/001_a.sql of database main changed after it was applied; nothing was applied',
    );
    expect(await tables(db.name)).toEqual(['a', 'stagecraft_migrations']);
    expect((await tracked(db.name)).map((row) => row.id)).toEqual(['001_a']);
  });

  it('a failing file is rolled back and not recorded; earlier files stay; the error has file:line', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    project.write(
      '002_bad.sql',
      'CREATE TABLE half (x int);\nINSERT INTO half VALUES (1);\n\n  SELEC x FROM half;\n',
    );
    project.write('003_c.sql', 'CREATE TABLE c (x int);');
    const events: RawEngineEvent[] = [];
    const error = await rejection(applyRawMigrations(engineOptions(project, db.url, { events })));
    expect(isStagecraftError(error) && error.exitCode).toBe(1);
    expect(error.message).toBe(
      'migration 002_bad failed at migrations/002_bad.sql:4:3: syntax error at or near "SELEC"',
    );
    expect(isStagecraftError(error) && error.details).toEqual([
      '   4 |   SELEC x FROM half;',
      '     |   ^',
      'SQLSTATE: 42601',
    ]);
    expect(isStagecraftError(error) && error.hint).toContain(
      'it was rolled back, earlier migrations stay applied',
    );
    expect(await tables(db.name)).toEqual(['a', 'stagecraft_migrations']);
    expect((await tracked(db.name)).map((row) => row.id)).toEqual(['001_a']);
    expect(
      events.filter((event) => event.type === 'applied').map((event) => 'id' in event && event.id),
    ).toEqual(['001_a']);
  });

  it('reports runtime errors at the statement PostgreSQL points to, with DETAIL', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write(
      '001_a.sql',
      'CREATE TABLE a (x int PRIMARY KEY);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (1);\n',
    );
    project.write('002_b.sql', 'CREATE TABLE b (x int);\nSELECT nope FROM b;\n');
    const error = await rejection(applyRawMigrations(engineOptions(project, db.url)));
    expect(error.message).toBe(
      'migration 001_a failed at migrations/001_a.sql: duplicate key value violates unique constraint "a_pkey"',
    );
    expect(isStagecraftError(error) && error.details).toContain('DETAIL: Key (x)=(1) already exists.');
    project.write('001_a.sql', 'CREATE TABLE a (x int PRIMARY KEY);\n');
    const second = await rejection(applyRawMigrations(engineOptions(project, db.url)));
    expect(second.message).toBe(
      'migration 002_b failed at migrations/002_b.sql:2:8: column "nope" does not exist',
    );
  });

  it('runs a stagecraft:no-transaction file statement by statement (CREATE INDEX CONCURRENTLY)', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    project.write(
      '002_index.sql',
      '-- stagecraft:no-transaction\nCREATE INDEX CONCURRENTLY a_x ON a (x);\nCREATE INDEX CONCURRENTLY a_x2 ON a ((x + 1));\n',
    );
    const result = await applyRawMigrations(engineOptions(project, db.url));
    expect(result.applied.map((entry) => entry.id)).toEqual(['001_a', '002_index']);
    const indexes = await server.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE tablename = 'a' ORDER BY 1",
      [],
      db.name,
    );
    expect(indexes.map((row) => row.indexname)).toEqual(['a_x', 'a_x2']);

    project.write(
      '003_bad.sql',
      '-- stagecraft:no-transaction\nCREATE INDEX CONCURRENTLY a_y ON a (x);\n  SELECT nope FROM a;\n',
    );
    const error = await rejection(applyRawMigrations(engineOptions(project, db.url)));
    expect(error.message).toBe(
      'migration 003_bad failed at migrations/003_bad.sql:3:10: column "nope" does not exist',
    );
    expect(isStagecraftError(error) && error.hint).toContain(
      'statements before the failing one stay applied',
    );
    const after = await server.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE tablename = 'a' ORDER BY 1",
      [],
      db.name,
    );
    expect(after.map((row) => row.indexname)).toEqual(['a_x', 'a_x2', 'a_y']);
    expect((await tracked(db.name)).map((row) => row.id)).toEqual(['001_a', '002_index']);
  });

  it('two concurrent runners apply each file exactly once (advisory lock, ids re-read)', async () => {
    const db = await newDatabase();
    const project = tempProject();
    await server.query('CREATE TABLE runs (file text NOT NULL)', [], db.name);
    await server.query('GRANT INSERT, SELECT ON runs TO app', [], db.name);
    for (const name of ['001_a', '002_b', '003_c']) {
      project.write(`${name}.sql`, `INSERT INTO runs VALUES ('${name}');\nSELECT pg_sleep(0.2);\n`);
    }
    const events: RawEngineEvent[][] = [[], []];
    const started = Date.now();
    const results = await Promise.all(
      events.map((list) => applyRawMigrations(engineOptions(project, db.url, { events: list }))),
    );
    const elapsed = Date.now() - started;
    const runs = await server.query<{ file: string; n: string }>(
      'SELECT file, count(*)::text AS n FROM runs GROUP BY file ORDER BY file',
      [],
      db.name,
    );
    expect(runs).toEqual([
      { file: '001_a', n: '1' },
      { file: '002_b', n: '1' },
      { file: '003_c', n: '1' },
    ]);
    const applied = results.flatMap((result) => result.applied.map((entry) => entry.id)).sort();
    expect(applied).toEqual(['001_a', '002_b', '003_c']);
    expect(events.flat().filter((event) => event.type === 'lock-wait')).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(600);
  });

  it('plans from the real database: applied, pending, changed and missing, without creating anything', async () => {
    const db = await newDatabase();
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    project.write('002_b.sql', 'CREATE TABLE b (x int);');
    const fresh = await planRawMigrations(engineOptions(project, db.url));
    expect(fresh.map((entry) => [entry.id, entry.state])).toEqual([
      ['001_a', 'pending'],
      ['002_b', 'pending'],
    ]);
    expect(await tables(db.name)).toEqual([]);

    await applyRawMigrations(engineOptions(project, db.url));
    project.write('002_b.sql', 'CREATE TABLE b (x bigint);');
    project.remove('001_a.sql');
    project.write('003_c.sql', 'CREATE TABLE c (x int);');
    const plan = await planRawMigrations(engineOptions(project, db.url));
    expect(plan.map((entry) => [entry.id, entry.state])).toEqual([
      ['001_a', 'missing'],
      ['002_b', 'changed'],
      ['003_c', 'pending'],
    ]);
    expect(plan[1]!.appliedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await tables(db.name)).toEqual(['a', 'b', 'stagecraft_migrations']);
  });

  it('uses a configured (schema-qualified) table and honours the selection', async () => {
    const db = await newDatabase();
    await server.query('CREATE SCHEMA ops AUTHORIZATION app', [], db.name);
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    project.write('002_b.sql', '-- stagecraft:tags data\nCREATE TABLE b (x int);');
    project.write('003_c.sql', 'CREATE TABLE c (x int);');
    const options = engineOptions(project, db.url, {
      table: 'ops.schema_log',
      selection: { all: false, ids: ['001_a'], tags: ['data'] },
    });
    const result = await applyRawMigrations(options);
    expect(result.applied.map((entry) => entry.id)).toEqual(['001_a', '002_b']);
    expect((await tracked(db.name, 'ops.schema_log')).map((row) => row.id)).toEqual(['001_a', '002_b']);
    expect(result.status.find((entry) => entry.id === '003_c')).toMatchObject({
      state: 'pending',
      selected: false,
    });
  });

  it('adopts a tracking table of the original design (no checksum column)', async () => {
    const db = await newDatabase();
    await server.query(
      'CREATE TABLE stagecraft_migrations (id VARCHAR(255) PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT NOW()); ' +
        "INSERT INTO stagecraft_migrations (id) VALUES ('001_a'); ALTER TABLE stagecraft_migrations OWNER TO app; CREATE TABLE a (x int); ALTER TABLE a OWNER TO app",
      [],
      db.name,
    );
    const project = tempProject();
    project.write('001_a.sql', 'CREATE TABLE a (x int);');
    project.write('002_b.sql', 'CREATE TABLE b (x int);');
    const result = await applyRawMigrations(engineOptions(project, db.url));
    expect(result.applied.map((entry) => entry.id)).toEqual(['002_b']);
    const rows = await tracked(db.name);
    expect(rows.map((row) => [row.id, row.checksum === null])).toEqual([
      ['001_a', true],
      ['002_b', false],
    ]);
  });

  it('connection failures: unreachable, bad password, missing database — exit 2, no password', async () => {
    const project = tempProject();
    project.write('001_a.sql', 'SELECT 1;');
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as { port: number }).port;
        probe.close(() => resolve(port));
      });
    });
    const secret = 'very-secret-password-1';
    const unreachable = await rejection(
      applyRawMigrations(engineOptions(project, `postgres://app:${secret}@127.0.0.1:${closed}/x`)),
    );
    expect(isStagecraftError(unreachable) && unreachable.exitCode).toBe(2);
    expect(unreachable.message).toBe(`cannot reach PostgreSQL at 127.0.0.1:${closed}: connection refused`);

    const badPassword = await rejection(
      planRawMigrations(engineOptions(project, `postgres://app:${secret}@127.0.0.1:${server.port}/postgres`)),
    );
    expect(isStagecraftError(badPassword) && badPassword.exitCode).toBe(2);
    expect(badPassword.message).toBe(
      `PostgreSQL at 127.0.0.1:${server.port} rejected the password of user app`,
    );

    const noDatabase = await rejection(
      planRawMigrations(
        engineOptions(project, `postgres://app:${APP_PASSWORD}@127.0.0.1:${server.port}/nope`),
      ),
    );
    expect(isStagecraftError(noDatabase) && noDatabase.exitCode).toBe(2);
    expect(noDatabase.message).toBe(
      `database "nope" does not exist on PostgreSQL at 127.0.0.1:${server.port}`,
    );

    for (const error of [unreachable, badPassword, noDatabase]) {
      expect(`${error.message} ${String(error.hint)}`).not.toContain(secret);
      expect(redact(String((error.cause as Error | undefined)?.message))).not.toContain(secret);
    }
  });

  it('times a run of 50 migrations', async () => {
    const db = await newDatabase();
    const project = tempProject();
    for (let i = 1; i <= 50; i++) {
      project.write(
        `${String(i).padStart(3, '0')}_t.sql`,
        `CREATE TABLE t${i} (id serial PRIMARY KEY, v text);\nINSERT INTO t${i} (v) SELECT g::text FROM generate_series(1, 100) g;\n`,
      );
    }
    const started = performance.now();
    const result = await applyRawMigrations(engineOptions(project, db.url));
    const elapsed = performance.now() - started;
    const noop = performance.now();
    await applyRawMigrations(engineOptions(project, db.url));
    const noopElapsed = performance.now() - noop;
    console.log(
      `raw engine: 50 migrations applied in ${Math.round(elapsed)} ms; a no-op run took ${Math.round(noopElapsed)} ms`,
    );
    expect(result.applied).toHaveLength(50);
  });
});
