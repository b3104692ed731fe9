// One migration set, two raw-SQL engines: `stagecraft migrate` (migrate/run.ts → the `pg` engine in
// migrate/postgres.ts, from the laptop) and a deploy's migrate step (the psql script of
// migrate/psql-script.ts, run by psql as on the lock host, read by rawDeployOutcome). Each case runs
// through both paths on fresh databases of one real PostgreSQL server and must leave the same rows and
// tables, apply the same files in the same order, and fail with the same error: exit code, migration,
// file:line and PostgreSQL's message. The laptop path is the reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawDeployOutcome } from '../../src/migrate/deploy.js';
import { migrate } from '../../src/migrate/run.js';
import { sha256Hex } from '../../src/migrate/sql-files.js';
import { SELECT_ALL } from '../../src/migrate/status.js';
import { isStagecraftError } from '../../src/util/errors.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import {
  deployRaw,
  freshDatabase,
  type Project,
  publicTables,
  rawTarget,
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

/** What a run did, in terms both paths can be compared in. */
interface Outcome {
  /** Ids this run applied, in order. */
  applied: string[];
  error: null | {
    exitCode: number;
    /** The failing migration and where (file:line; the column only the pg engine knows is dropped). */
    migration?: string;
    at?: string;
    message?: string;
    /** Applied files whose checksum changed: id, recorded and current sha256 (12 hex digits each). */
    changed?: string[];
  };
}

type Path = (project: Project, url: string) => Promise<Outcome>;

function exitCodeOf(error: unknown): number {
  if (!isStagecraftError(error)) throw error;
  return error.exitCode;
}

/** `stagecraft migrate` on the laptop: migrate() with the pg engine. */
const laptop: Path = async (project, url) => {
  const applied: string[] = [];
  try {
    await migrate({
      mode: 'run',
      targets: [rawTarget(project)],
      root: project.root,
      envName: 'dev',
      envFile: '.env',
      variables: { DATABASE_URL: url },
      selection: SELECT_ALL,
      onEvent: (event) => {
        if (event.type === 'applied') applied.push(event.id);
      },
    });
    return { applied, error: null };
  } catch (error) {
    const exitCode = exitCodeOf(error);
    const message = (error as Error).message;
    const failed = /^migration (\S+) failed at ([^:]+(?::\d+)?)(?::\d+)?: (.*)$/.exec(message);
    if (failed !== null) {
      return { applied, error: { exitCode, migration: failed[1]!, at: failed[2]!, message: failed[3]! } };
    }
    if (/changed after it was applied/.test(message)) {
      const changed = ((error as { details?: string[] }).details ?? []).map((line) => {
        const match = /^migrations\/(\S+)\.sql: applied .* with sha256 (\w+)…, now (\w+)…$/.exec(line)!;
        return `${match[1]} ${match[2]} ${match[3]}`;
      });
      return { applied, error: { exitCode, changed } };
    }
    // Anything else (the server unreachable…): the exit code; the wording is each path's own.
    return { applied, error: { exitCode } };
  }
};

/** A deploy's migrate step: the psql script on the uploaded files, then rawDeployOutcome. */
const deploy: Path = async (project, url) => {
  const result = await deployRaw(server.binDir, project, url);
  const applied = result.report.applied.map((entry) => entry.id);
  try {
    rawDeployOutcome(result.prepared, result.exitCode, result.stdout, result.stderr);
    return { applied, error: null };
  } catch (error) {
    const exitCode = exitCodeOf(error);
    const message = (error as Error).message;
    const failed = /^migration (\S+) of database main failed at ([^:]+(?::\d+)?): (.*)$/.exec(message);
    if (failed !== null) {
      return { applied, error: { exitCode, migration: failed[1]!, at: failed[2]!, message: failed[3]! } };
    }
    const changed =
      /^database main: stagecraft: migrations changed after they were applied; nothing was applied: (.*)$/.exec(
        message,
      );
    if (changed !== null) {
      return {
        applied,
        error: {
          exitCode,
          changed: changed[1]!.split('; ').map((entry) => {
            const match = /^(\S+) \(applied with sha256 (\w+)…, file now (\w+)…\)$/.exec(entry)!;
            return `${match[1]} ${match[2]} ${match[3]}`;
          }),
        },
      };
    }
    // Anything else (the server unreachable…): the exit code; the wording is each path's own.
    return { applied, error: { exitCode } };
  }
};

interface Case {
  name: string;
  /** Runs before the compared run, through the same path (e.g. to apply a file that then changes). */
  before?: Record<string, string>;
  files: Record<string, string>;
  /** Tables the case creates before anything runs (owned by the app user). */
  setup?: string;
  /** Run against a port nothing listens on instead of the database. */
  unreachable?: boolean;
  expected: Outcome & { rows: string[]; tables: string[] };
  /** A query whose rows (joined) both paths must leave the same. */
  probe?: string;
  probed?: string[];
}

const bad = 'CREATE TABLE half (x int);\nINSERT INTO half VALUES (1);\nSELECT\n  x,\n  nope\nFROM half;\n';

const cases: Case[] = [
  {
    name: 'names sort by code point: 10 runs before 9',
    setup: 'CREATE TABLE runs (n serial PRIMARY KEY, id text NOT NULL)',
    files: {
      '9_nine.sql': "INSERT INTO runs (id) VALUES ('9_nine');",
      '10_ten.sql': "INSERT INTO runs (id) VALUES ('10_ten');",
      '1_one.sql': "INSERT INTO runs (id) VALUES ('1_one');",
    },
    expected: {
      applied: ['10_ten', '1_one', '9_nine'],
      error: null,
      rows: ['10_ten', '1_one', '9_nine'],
      tables: ['runs', 'stagecraft_migrations'],
    },
    probe: 'SELECT id FROM runs ORDER BY n',
    probed: ['10_ten', '1_one', '9_nine'],
  },
  {
    name: 'a failure mid-file: the file rolled back, earlier files stay, later ones do not run',
    files: {
      '001_a.sql': 'CREATE TABLE a (x int);',
      '002_bad.sql': bad,
      '003_c.sql': 'CREATE TABLE c (x int);',
    },
    expected: {
      applied: ['001_a'],
      error: {
        exitCode: 1,
        migration: '002_bad',
        at: 'migrations/002_bad.sql:5',
        message: 'column "nope" does not exist',
      },
      rows: ['001_a'],
      tables: ['a', 'stagecraft_migrations'],
    },
  },
  {
    name: 'a runtime error PostgreSQL gives no position for: the file, not a line',
    files: {
      '001_a.sql':
        'CREATE TABLE a (x int PRIMARY KEY);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (1);\n',
    },
    expected: {
      applied: [],
      error: {
        exitCode: 1,
        migration: '001_a',
        at: 'migrations/001_a.sql',
        message: 'duplicate key value violates unique constraint "a_pkey"',
      },
      rows: [],
      tables: ['stagecraft_migrations'],
    },
  },
  {
    name: 'a stagecraft:no-transaction file that fails: statements before the failing one stay',
    files: {
      '001_index.sql': '-- stagecraft:no-transaction\nCREATE TABLE a (x int);\n  SELECT nope FROM a;\n',
    },
    expected: {
      applied: [],
      error: {
        exitCode: 1,
        migration: '001_index',
        at: 'migrations/001_index.sql:3',
        message: 'column "nope" does not exist',
      },
      rows: [],
      tables: ['a', 'stagecraft_migrations'],
    },
  },
  {
    name: 'an unreachable server: exit 2, nothing recorded',
    unreachable: true,
    files: { '001_a.sql': 'CREATE TABLE a (x int);' },
    expected: { applied: [], error: { exitCode: 2 }, rows: [], tables: [] },
  },
  {
    name: 'a changed applied file: nothing applied, the file named with both checksums',
    before: { '001_a.sql': 'CREATE TABLE a (x int);' },
    files: { '001_a.sql': 'CREATE TABLE a (x int, y int);', '002_b.sql': 'CREATE TABLE b (x int);' },
    expected: {
      applied: [],
      error: {
        exitCode: 1,
        changed: [
          `001_a ${sha256Hex('CREATE TABLE a (x int);').slice(0, 12)} ${sha256Hex('CREATE TABLE a (x int, y int);').slice(0, 12)}`,
        ],
      },
      rows: ['001_a'],
      tables: ['a', 'stagecraft_migrations'],
    },
  },
  {
    name: 'an empty file and a comment-only file are applied and recorded',
    files: {
      '001_empty.sql': '',
      '002_comment.sql': '-- nothing yet\n',
      '003_a.sql': 'CREATE TABLE a (x int);',
    },
    expected: {
      applied: ['001_empty', '002_comment', '003_a'],
      error: null,
      rows: ['001_empty', '002_comment', '003_a'],
      tables: ['a', 'stagecraft_migrations'],
    },
  },
  {
    name: 'a file with its own BEGIN/COMMIT runs and is recorded',
    files: {
      '001_tx.sql': 'BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;\n',
      '002_b.sql': 'CREATE TABLE b (x int);',
    },
    expected: {
      applied: ['001_tx', '002_b'],
      error: null,
      rows: ['001_tx', '002_b'],
      tables: ['b', 'stagecraft_migrations', 't'],
    },
  },
  {
    name: 'a file that fails after its own COMMIT: what it committed stays, it is not recorded',
    files: {
      '001_tx.sql': 'BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;\nSELECT nope FROM t;\n',
    },
    expected: {
      applied: [],
      error: {
        exitCode: 1,
        migration: '001_tx',
        at: 'migrations/001_tx.sql:4',
        message: 'column "nope" does not exist',
      },
      rows: [],
      tables: ['stagecraft_migrations', 't'],
    },
  },
];

async function runCase(path: Path, testCase: Case) {
  const db = await freshDatabase(server, 'conf');
  if (testCase.setup !== undefined) {
    await server.query(`${testCase.setup}; ALTER TABLE runs OWNER TO app`, [], db.name);
  }
  const project = tempProject();
  if (testCase.before !== undefined) {
    for (const [name, sql] of Object.entries(testCase.before)) project.write(name, sql);
    expect((await path(project, db.url)).error).toBeNull();
  }
  for (const [name, sql] of Object.entries(testCase.files)) project.write(name, sql);
  const outcome = await path(
    project,
    testCase.unreachable === true ? 'postgres://app:nope-secret-pw@127.0.0.1:1/x' : db.url,
  );
  const tables = await publicTables(server, db.name);
  const rows = tables.includes('stagecraft_migrations')
    ? await server.query<{ id: string; checksum: string; duration_ms: number }>(
        'SELECT id, checksum, duration_ms FROM stagecraft_migrations ORDER BY id',
        [],
        db.name,
      )
    : [];
  // A file in `before` was applied with its first content (the compared run changes it).
  const appliedContent = { ...testCase.files, ...testCase.before };
  return {
    ...outcome,
    // Every row carries the sha256 of the file's bytes as they were applied, and a duration.
    rows: rows.map((row) =>
      row.checksum === sha256Hex(appliedContent[`${row.id}.sql`] ?? '') &&
      Number.isInteger(row.duration_ms) &&
      row.duration_ms >= 0
        ? row.id
        : `${row.id} (checksum ${row.checksum}, duration ${row.duration_ms})`,
    ),
    tables,
    probed:
      testCase.probe === undefined
        ? undefined
        : (await server.query<{ id: string }>(testCase.probe, [], db.name)).map((row) => row.id),
  };
}

describe('the two raw-SQL engines conform', () => {
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const expected = { ...testCase.expected, probed: testCase.probed };
      const byLaptop = await runCase(laptop, testCase);
      const byDeploy = await runCase(deploy, testCase);
      expect(byLaptop).toEqual(expected);
      expect(byDeploy).toEqual(byLaptop);
    });
  }
});
