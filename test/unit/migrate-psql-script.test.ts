import { describe, expect, it } from 'vitest';
import { parsePsqlOutput, psqlCommand, renderPsqlScript } from '../../src/migrate/psql-script.js';
import { advisoryLockKey } from '../../src/migrate/status.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('renderPsqlScript', () => {
  const script = renderPsqlScript({
    table: 'stagecraft_migrations',
    files: [
      { id: '001_init', checksum: A, path: 'files/001_init.sql' },
      {
        id: "002_it's",
        checksum: B,
        sql: '-- stagecraft:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);',
      },
    ],
  });
  const lines = script.split('\n');

  it('stops on the first error, takes the table’s advisory lock, then creates the table', () => {
    const key = advisoryLockKey('stagecraft_migrations');
    expect(lines.slice(2, 5)).toEqual(['\\set ON_ERROR_STOP on', '\\set QUIET on', '\\pset pager off']);
    const lock = lines.indexOf(`SELECT true AS sc_locked FROM (SELECT pg_advisory_lock(${key})) AS l \\gset`);
    const create = lines.indexOf('CREATE TABLE IF NOT EXISTS "stagecraft_migrations" (');
    const check = lines.indexOf('DO $stagecraft$');
    const first = lines.indexOf('-- 001_init (sha256 ' + A + ')');
    expect(lock).toBeGreaterThan(0);
    expect(create).toBeGreaterThan(lock);
    expect(check).toBeGreaterThan(create);
    expect(first).toBeGreaterThan(check);
    expect(lines.at(-3)).toBe(`SELECT pg_advisory_unlock(${key}) AS sc_unlocked \\gset`);
  });

  it('checks every file’s checksum against the table before applying anything', () => {
    expect(script).toContain(
      `('001_init', '${A}'),\n    ('002_it''s', '${B}')) AS f(id, checksum) ON f.id = t.id`,
    );
    expect(script).toContain('WHERE t.checksum IS NOT NULL AND t.checksum <> f.checksum;');
    expect(script).toContain(
      "RAISE EXCEPTION 'stagecraft: migrations changed after they were applied; nothing was applied: %'",
    );
  });

  it('applies a pending file in a transaction and records it, skipping applied ones', () => {
    const start = lines.indexOf('-- 001_init (sha256 ' + A + ')');
    expect(lines.slice(start + 1, start + 16)).toEqual([
      `SELECT EXISTS (SELECT 1 FROM "stagecraft_migrations" WHERE id = '001_init') AS sc_applied \\gset`,
      '\\if :sc_applied',
      "\\echo 'stagecraft-migrate: skip' '001_init'",
      '\\else',
      "\\echo 'stagecraft-migrate: apply' '001_init'",
      'SELECT clock_timestamp() AS sc_started \\gset',
      'BEGIN;',
      "\\ir 'files/001_init.sql'",
      'INSERT INTO "stagecraft_migrations" (id, checksum, applied_at, duration_ms)',
      `  VALUES ('001_init', '${A}', clock_timestamp(),`,
      "    round(extract(epoch FROM clock_timestamp() - :'sc_started'::timestamptz) * 1000)::integer)",
      '  RETURNING duration_ms AS sc_duration \\gset',
      'COMMIT;',
      "\\echo 'stagecraft-migrate: applied' '001_init' :sc_duration",
      '\\endif',
    ]);
  });

  it('runs a no-transaction file without BEGIN/COMMIT and quotes ids for SQL and psql', () => {
    const start = lines.indexOf(`-- 002_it's (sha256 ${B}), no transaction`);
    const block = lines.slice(start, lines.indexOf('\\endif', start) + 1);
    expect(block).not.toContain('BEGIN;');
    expect(block).not.toContain('COMMIT;');
    expect(block).toContain("\\echo 'stagecraft-migrate: apply' '002_it''s'");
    expect(block).toContain('CREATE INDEX CONCURRENTLY i ON t (x);');
  });

  it('uses \\i for absolute paths and supports schema-qualified tables and explicit keys', () => {
    const other = renderPsqlScript({
      table: 'ops.log',
      lockKey: '42',
      files: [{ id: 'x', checksum: A, path: '/srv/m/x.sql', noTransaction: true }],
    });
    expect(other).toContain("\\i '/srv/m/x.sql'");
    expect(other).toContain('pg_advisory_lock(42)');
    expect(other).toContain('CREATE TABLE IF NOT EXISTS "ops"."log" (');
    expect(other).not.toContain('BEGIN;');
    expect(renderPsqlScript({ table: 't', files: [] })).not.toContain('DO $stagecraft$');
  });

  it('is deterministic', () => {
    const options = { table: 't', files: [{ id: 'a', checksum: A, path: 'a.sql' }] };
    expect(renderPsqlScript(options)).toBe(renderPsqlScript(options));
  });
});

describe('psqlCommand and parsePsqlOutput', () => {
  it('expands the URL inside the container, never in argv', () => {
    expect(psqlCommand('DATABASE_URL', '/tmp/stagecraft migrate/run.sql')).toEqual([
      'sh',
      '-c',
      `exec psql -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f '/tmp/stagecraft migrate/run.sql'`,
    ]);
    expect(() => psqlCommand('BAD;rm', 'x')).toThrow();
  });

  it('reads applied, skipped and the failing file from psql output', () => {
    const stdout = [
      'stagecraft-migrate: lock stagecraft_migrations',
      'stagecraft-migrate: skip 001_init',
      'stagecraft-migrate: apply 002_orders',
      'stagecraft-migrate: applied 002_orders 17',
      'stagecraft-migrate: apply 003_bad',
      '',
    ].join('\n');
    const stderr = 'psql:files/003_bad.sql:4: ERROR:  syntax error at or near "SELEC"\nLINE 2: SELEC 1;\n';
    expect(parsePsqlOutput(stdout, stderr)).toEqual({
      applied: [{ id: '002_orders', durationMs: 17 }],
      skipped: ['001_init'],
      failed: '003_bad',
      done: false,
      error: 'psql:files/003_bad.sql:4: ERROR:  syntax error at or near "SELEC"',
    });
    expect(parsePsqlOutput('stagecraft-migrate: done\n').done).toBe(true);
  });
});
