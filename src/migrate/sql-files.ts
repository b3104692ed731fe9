import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UserError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import { leadingCommentLines } from './sql-text.js';

/** One `.sql` file of the raw engine. */
export interface SqlMigrationFile {
  /** The file name without `.sql`: what the tracking table records. */
  id: string;
  /** The file name, e.g. `001_init.sql`. */
  name: string;
  /** Absolute path. */
  path: string;
  /** Path relative to the project root, for messages (`migrations/001_init.sql`). */
  displayPath: string;
  /** sha256 (hex) of the file's bytes. */
  checksum: string;
  sql: string;
  /** `-- stagecraft:no-transaction` in the leading comments: run statement by statement, no transaction. */
  noTransaction: boolean;
  /** `-- stagecraft:tags a, b` in the leading comments: for `migrations.selection.tags`. */
  tags: string[];
}

/** Re-exported: the one sha256 helper lives in util/hash.ts. */
export { sha256Hex };

const SQL_FILE = /\.sql$/i;

/** Migration ids in run order: plain code-point order of the file names (locale-independent). */
export function compareMigrationNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The id of a migration file name: the name without its `.sql` extension. */
export function migrationIdOf(fileName: string): string {
  return fileName.replace(SQL_FILE, '');
}

export interface MigrationDirectives {
  noTransaction: boolean;
  tags: string[];
}

/** Reads `-- stagecraft:…` directives from the leading comment lines of a file. */
export function parseDirectives(sql: string): MigrationDirectives {
  const directives: MigrationDirectives = { noTransaction: false, tags: [] };
  for (const line of leadingCommentLines(sql)) {
    const match = /^stagecraft:([a-z-]+)\s*(.*)$/.exec(line);
    if (match === null) continue;
    if (match[1] === 'no-transaction') directives.noTransaction = true;
    if (match[1] === 'tags') {
      directives.tags = [
        ...new Set(
          match[2]!
            .split(/[,\s]+/)
            .map((tag) => tag.trim())
            .filter((tag) => tag !== ''),
        ),
      ].sort();
    }
  }
  return directives;
}

/** Builds a migration file record from its bytes (pure: used by the reader and by tests). */
export function migrationFileFromBytes(
  name: string,
  bytes: Buffer,
  path: string,
  displayPath: string,
): SqlMigrationFile {
  const sql = bytes.toString('utf8');
  const directives = parseDirectives(sql);
  return {
    id: migrationIdOf(name),
    name,
    path,
    displayPath,
    checksum: sha256Hex(bytes),
    sql,
    noTransaction: directives.noTransaction,
    tags: directives.tags,
  };
}

/**
 * Reads the `.sql` files (case-insensitive extension, regular files, no dot-files) of a migration folder
 * in run order. A missing folder is an error; an empty folder is not (there is simply nothing to run).
 */
export function readSqlMigrations(dir: string, root: string, database: string): SqlMigrationFile[] {
  const displayDir = relative(root, dir) || '.';
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
  } catch {
    throw new UserError(`migration folder ${displayDir} of database ${database} does not exist`, {
      hint: `create it or fix databases.${database}.migrations.path in stagecraft.yml (relative to ${root})`,
    });
  }
  const files = names
    .filter((name) => SQL_FILE.test(name) && !name.startsWith('.'))
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort(compareMigrationNames)
    .map((name) => {
      const path = join(dir, name);
      return migrationFileFromBytes(name, readFileSync(path), path, relative(root, path));
    });
  const seen = new Map<string, string>();
  for (const file of files) {
    const other = seen.get(file.id);
    if (other !== undefined) {
      throw new UserError(`migration files ${other} and ${file.displayPath} have the same id "${file.id}"`, {
        hint: 'rename one of them: ids are file names without .sql and must be unique',
      });
    }
    seen.set(file.id, file.displayPath);
  }
  return files;
}
