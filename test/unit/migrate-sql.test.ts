import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compareMigrationNames,
  migrationFileFromBytes,
  parseDirectives,
  readSqlMigrations,
  sha256Hex,
} from '../../src/migrate/sql-files.js';
import { locationOfPosition, splitStatements } from '../../src/migrate/sql-text.js';
import { isStagecraftError } from '../../src/util/errors.js';

const dirs: string[] = [];
const tempRoot = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-unit-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('migration files', () => {
  it('orders names by code point, not by locale or number', () => {
    const names = ['b.sql', '10_x.sql', '2_y.sql', 'B.sql', '001_a.sql', '_z.sql'];
    expect([...names].sort(compareMigrationNames)).toEqual([
      '001_a.sql',
      '10_x.sql',
      '2_y.sql',
      'B.sql',
      '_z.sql',
      'b.sql',
    ]);
  });

  it('checksums the bytes with sha256 (hex)', () => {
    expect(sha256Hex(Buffer.from('SELECT 1;\n'))).toBe(
      'b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd',
    );
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const a = migrationFileFromBytes('001_a.sql', Buffer.from('SELECT 1;\n'), '/p/001_a.sql', 'm/001_a.sql');
    const b = migrationFileFromBytes('001_a.sql', Buffer.from('SELECT 1; \n'), '/p/001_a.sql', 'm/001_a.sql');
    expect(a.id).toBe('001_a');
    expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(a.checksum).not.toBe(b.checksum);
  });

  it('reads directives from the leading comments only', () => {
    expect(parseDirectives('-- stagecraft:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);')).toEqual({
      noTransaction: true,
      tags: [],
    });
    expect(parseDirectives('-- adds the index\n\n-- stagecraft:tags schema, data schema\nSELECT 1;')).toEqual(
      {
        noTransaction: false,
        tags: ['data', 'schema'],
      },
    );
    expect(parseDirectives('SELECT 1;\n-- stagecraft:no-transaction\n').noTransaction).toBe(false);
  });

  it('reads .sql files (any case) in order and ignores the rest', () => {
    const root = tempRoot();
    const dir = join(root, 'db', 'migrations');
    mkdirSync(join(dir, 'sub.sql'), { recursive: true });
    writeFileSync(join(dir, '002_b.SQL'), 'SELECT 2;');
    writeFileSync(join(dir, '001_a.sql'), 'SELECT 1;');
    writeFileSync(join(dir, 'README.md'), '#');
    writeFileSync(join(dir, '.hidden.sql'), 'SELECT 0;');
    const files = readSqlMigrations(dir, root, 'main');
    expect(files.map((file) => [file.id, file.displayPath])).toEqual([
      ['001_a', 'db/migrations/001_a.sql'],
      ['002_b', 'db/migrations/002_b.SQL'],
    ]);
  });

  it('reports a missing folder and duplicate ids as user errors', () => {
    const root = tempRoot();
    let error: unknown;
    try {
      readSqlMigrations(join(root, 'nope'), root, 'main');
    } catch (caught) {
      error = caught;
    }
    expect(isStagecraftError(error) && error.exitCode).toBe(1);
    expect((error as Error).message).toBe('migration folder nope of database main does not exist');
    mkdirSync(join(root, 'm'));
    writeFileSync(join(root, 'm', 'a.sql'), '');
    writeFileSync(join(root, 'm', 'a.SQL'), '');
    expect(() => readSqlMigrations(join(root, 'm'), root, 'main')).toThrow(/have the same id "a"/);
  });
});

describe('error positions', () => {
  it('maps a 1-based character position to line and column', () => {
    const sql = 'CREATE TABLE a (x int);\nSELECT 1;\n  SELEC x FROM a;';
    expect(locationOfPosition(sql, 1)).toEqual({ line: 1, column: 1 });
    expect(locationOfPosition(sql, 24)).toEqual({ line: 1, column: 24 });
    expect(locationOfPosition(sql, 25)).toEqual({ line: 2, column: 1 });
    expect(locationOfPosition(sql, 37)).toEqual({ line: 3, column: 3 });
  });

  it('counts characters, not bytes or UTF-16 units', () => {
    const sql = "SELECT 'é😀';\nSELEC 1;";
    // PostgreSQL counts é and 😀 as one character each: S of SELEC is character 14.
    expect(locationOfPosition(sql, 14)).toEqual({ line: 2, column: 1 });
  });

  it('clamps positions past the end', () => {
    expect(locationOfPosition('a\nb', 99)).toEqual({ line: 2, column: 2 });
  });
});

describe('statement splitting', () => {
  it('splits at top-level semicolons with character offsets', () => {
    const sql =
      'CREATE TABLE a (x int);\n-- a comment; not a statement\nCREATE INDEX CONCURRENTLY i ON a (x);\n';
    const statements = splitStatements(sql);
    expect(statements.map((s) => s.text.trim())).toEqual([
      'CREATE TABLE a (x int)',
      '-- a comment; not a statement\nCREATE INDEX CONCURRENTLY i ON a (x)',
    ]);
    expect(statements[1]!.offset).toBe(23);
  });

  it('keeps semicolons inside strings, identifiers, comments and dollar quotes', () => {
    const sql = [
      "INSERT INTO t VALUES ('a;b', 'it''s; ok', E'x\\';y');",
      'CREATE TABLE "we;ird" (x int);',
      '/* outer /* nested; */ still; */ SELECT 1;',
      'CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END $body$ LANGUAGE plpgsql;',
      'DO $$ BEGIN PERFORM 1; END $$;',
      'SELECT $1',
    ].join('\n');
    expect(splitStatements(sql).map((s) => s.text.trim())).toEqual([
      "INSERT INTO t VALUES ('a;b', 'it''s; ok', E'x\\';y')",
      'CREATE TABLE "we;ird" (x int)',
      '/* outer /* nested; */ still; */ SELECT 1',
      'CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END $body$ LANGUAGE plpgsql',
      'DO $$ BEGIN PERFORM 1; END $$',
      'SELECT $1',
    ]);
  });

  it('drops empty statements and counts offsets in characters', () => {
    const statements = splitStatements("SELECT '😀';;\n  ;\n-- only a comment\n");
    expect(statements).toHaveLength(1);
    const again = splitStatements("SELECT '😀'; SELECT 2;");
    expect(again[1]!.offset).toBe(11);
  });
});
