import { describe, expect, it } from 'vitest';
import { type ConnectionSource, psqlConnectionEnv, resolveConnection } from '../../src/migrate/connection.js';
import { migrationFileFromBytes, type SqlMigrationFile } from '../../src/migrate/sql-files.js';
import {
  advisoryLockKey,
  isSelected,
  migrationStatus,
  quoteTable,
  summarize,
} from '../../src/migrate/status.js';
import { isStagecraftError } from '../../src/util/errors.js';
import { redact } from '../../src/util/secret.js';

function file(name: string, sql: string): SqlMigrationFile {
  return migrationFileFromBytes(name, Buffer.from(sql), `/p/m/${name}`, `m/${name}`);
}

describe('migration status', () => {
  const a = file('001_a.sql', 'SELECT 1;');
  const b = file('002_b.sql', 'SELECT 2;');
  const c = file('003_c.sql', '-- stagecraft:tags data\nSELECT 3;');

  it('compares files with the tracking table: applied, pending, changed, missing', () => {
    const status = migrationStatus(
      [a, b, c],
      [
        { id: '001_a', checksum: a.checksum, appliedAt: '2025-01-01T00:00:00.000Z', durationMs: 3 },
        { id: '002_b', checksum: 'f'.repeat(64), appliedAt: '2025-01-02T00:00:00.000Z', durationMs: 4 },
        { id: '000_gone', checksum: 'e'.repeat(64), appliedAt: '2024-12-31T00:00:00.000Z', durationMs: 1 },
      ],
    );
    expect(status.map((entry) => [entry.id, entry.state, entry.file ?? null])).toEqual([
      ['000_gone', 'missing', null],
      ['001_a', 'applied', 'm/001_a.sql'],
      ['002_b', 'changed', 'm/002_b.sql'],
      ['003_c', 'pending', 'm/003_c.sql'],
    ]);
    expect(summarize(status)).toEqual({ applied: 1, pending: 1, changed: 1, missing: 1 });
    expect(status[2]).toMatchObject({ appliedChecksum: 'f'.repeat(64), checksum: b.checksum });
  });

  it('treats rows without a checksum (the original design’s table) as applied', () => {
    const status = migrationStatus([a], [{ id: '001_a', checksum: null, appliedAt: null, durationMs: null }]);
    expect(status[0]!.state).toBe('applied');
  });

  it('selects by id (with or without .sql) or by tag', () => {
    const selection = { all: false, ids: ['002_b.sql'], tags: ['data'] };
    expect([a, b, c].map((entry) => isSelected(entry, selection))).toEqual([false, true, true]);
    expect(migrationStatus([a, b, c], [], selection).map((entry) => entry.selected)).toEqual([
      false,
      true,
      true,
    ]);
    expect(isSelected(a, { all: true, ids: [], tags: [] })).toBe(true);
  });

  it('derives a stable signed 64-bit lock key from the table name', () => {
    const key = advisoryLockKey('stagecraft_migrations');
    expect(key).toMatch(/^-?\d+$/);
    expect(BigInt(key) >= -(2n ** 63n) && BigInt(key) < 2n ** 63n).toBe(true);
    expect(advisoryLockKey('stagecraft_migrations')).toBe(key);
    expect(advisoryLockKey('Stagecraft_Migrations')).toBe(key);
    expect(advisoryLockKey('other_table')).not.toBe(key);
  });

  it('quotes table names, schema-qualified too', () => {
    expect(quoteTable('stagecraft_migrations')).toBe('"stagecraft_migrations"');
    expect(quoteTable('ops.schema_log')).toBe('"ops"."schema_log"');
  });
});

describe('connection URL', () => {
  const source = (value: string | undefined): ConnectionSource => ({
    database: 'main',
    connectionEnv: 'DATABASE_URL',
    variables: value === undefined ? {} : { DATABASE_URL: value },
    envName: 'production',
    envFile: '.env.production',
  });

  it('parses host, port and database and registers the password as a secret', () => {
    const connection = resolveConnection(
      source('postgres://shop:p%40ss-w0rd-xyz@db.internal:6543/shop?sslmode=disable'),
    );
    expect(connection.target).toEqual({
      host: 'db.internal',
      port: 6543,
      database: 'shop',
      user: 'shop',
      display: 'db.internal:6543/shop',
    });
    expect(String(connection.url)).toBe('[redacted]');
    expect(redact('password p@ss-w0rd-xyz and p%40ss-w0rd-xyz')).toBe('password [redacted] and [redacted]');
  });

  it('defaults the port to 5432 and the database to the user', () => {
    expect(resolveConnection(source('postgresql://app:pw-long-one@127.0.0.1')).target.display).toBe(
      '127.0.0.1:5432/app',
    );
  });

  it('a missing variable is a user error whose hint names the env_file', () => {
    let error: unknown;
    try {
      resolveConnection(source(undefined));
    } catch (caught) {
      error = caught;
    }
    expect(isStagecraftError(error) && error.exitCode).toBe(1);
    expect((error as Error).message).toBe(
      'DATABASE_URL is not set: database main takes its connection URL from it (connection_env)',
    );
    expect(isStagecraftError(error) && error.hint).toContain(
      '.env.production (env_file of environment production)',
    );
  });

  it('rejects URLs that are not PostgreSQL without printing them', () => {
    expect(() => resolveConnection(source('mysql://root:hunter2-long@db/x'))).toThrow(
      'DATABASE_URL is a mysql URL; database main needs PostgreSQL',
    );
    expect(() => resolveConnection(source('not a url with-secret-inside'))).toThrow(
      'DATABASE_URL is not a valid URL (database main)',
    );
  });

  it('a malformed %-escape is a user error (exit 1) naming the part, never the value', () => {
    for (const [url, part] of [
      ['postgres://shop:pw@db/sh%zzop', 'database name'],
      ['postgres://sh%op:pw-long-one@db/shop', 'user name'],
    ] as const) {
      let error: unknown;
      try {
        resolveConnection(source(url));
      } catch (caught) {
        error = caught;
      }
      expect(isStagecraftError(error) && error.exitCode).toBe(1);
      expect((error as Error).message).toBe(`DATABASE_URL has a malformed %-escape in its ${part}`);
    }
  });
});

describe('psql connection environment', () => {
  it('moves the password out of the URL into PGPASSWORD (decoded), from user info and query', () => {
    expect(
      psqlConnectionEnv('postgres://shop:p%40ss-w0rd-xyz@db:5432/shop?sslmode=disable', 'DATABASE_URL'),
    ).toEqual({
      STAGECRAFT_PSQL_URL: 'postgres://shop@db:5432/shop?sslmode=disable',
      PGPASSWORD: 'p@ss-w0rd-xyz',
    });
    expect(
      psqlConnectionEnv(
        'postgresql://shop@h1:5432,h2:5433/shop?password=q%2Fz-secret&application_name=x',
        'DB',
      ),
    ).toEqual({
      STAGECRAFT_PSQL_URL: 'postgresql://shop@h1:5432,h2:5433/shop?application_name=x',
      PGPASSWORD: 'q/z-secret',
    });
    expect(psqlConnectionEnv('postgres://db/shop', 'DATABASE_URL')).toEqual({
      STAGECRAFT_PSQL_URL: 'postgres://db/shop',
    });
    expect(redact('q/z-secret')).toBe('[redacted]');
  });

  it('refuses a conninfo string and a malformed escape in the password (exit 1, no value shown)', () => {
    for (const [url, message] of [
      ['host=db password=hunter2-long', 'DATABASE_URL is not a postgres:// URL, which raw migrations need'],
      ['postgres://shop:hun%ter2@db/shop', 'DATABASE_URL has a malformed %-escape in its password'],
    ] as const) {
      let error: unknown;
      try {
        psqlConnectionEnv(url, 'DATABASE_URL');
      } catch (caught) {
        error = caught;
      }
      expect(isStagecraftError(error) && error.exitCode).toBe(1);
      expect((error as Error).message).toBe(message);
    }
  });
});
