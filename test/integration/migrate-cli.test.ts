// `stagecraft migrate` as a user runs it: the built CLI as a subprocess, a fixture project, a real
// PostgreSQL server. Needs `npm run build` first (npm test does it).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_PASSWORD, type PgServer, startPostgres } from '../support/postgres.js';
import { removeScratchDirs, scratchDir } from './migrate-helpers.js';

const BIN = fileURLToPath(new URL('../../bin/stagecraft.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

let server: PgServer;
let counter = 0;

beforeAll(async () => {
  if (!existsSync(DIST))
    throw new Error('dist/cli.js is missing: run `npm run build` before the integration tests');
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
  removeScratchDirs();
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('STAGECRAFT_') && name !== 'DATABASE_URL',
    ),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...base, NO_COLOR: '1', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface Fixture {
  root: string;
  db: string;
  url: string;
  write(path: string, content: string): void;
}

const CONFIG = `project:
  name: shopfix
databases:
  main:
    connection_env: DATABASE_URL
    migrations:
      engine: raw
      path: ./db/migrations
environments:
  dev:
    driver: local
    env_file: .env
  production:
    driver: ssh
    env_file: .env.production
    hosts:
      web: [h1]
`;

async function fixture(config = CONFIG): Promise<Fixture> {
  counter += 1;
  const db = `cli_${counter}`;
  const url = await server.createDatabase(db);
  const root = scratchDir('sc-cli-');
  const write = (path: string, content: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  };
  write('stagecraft.yml', config);
  write('.env', `DATABASE_URL=${url}\n`);
  write(
    'db/migrations/001_create_products.sql',
    'CREATE TABLE products (id serial PRIMARY KEY, name text);\n',
  );
  write(
    'db/migrations/002_create_orders.sql',
    'CREATE TABLE orders (\n  id serial PRIMARY KEY,\n  product_id integer REFERENCES products (id)\n);\n',
  );
  return { root, db, url, write };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

describe('stagecraft migrate (CLI)', () => {
  it('plan, run, run again, plan: exact output and exit codes', async () => {
    const project = await fixture();
    const target = `127.0.0.1:${server.port}/${project.db}`;

    const plan = await cli(project.root, ['migrate', 'plan']);
    expect(plan).toEqual({
      code: 0,
      stdout: [
        `main (raw, pre_deploy, table stagecraft_migrations) at ${target}`,
        '  pending  001_create_products',
        '  pending  002_create_orders',
        '  2 pending, 0 applied, 0 changed',
        '',
      ].join('\n'),
      stderr: `main: reading ${target} (engine raw)\n`,
    });

    const run = await cli(project.root, ['migrate']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^main: applied 2 migrations \(001_create_products, 002_create_orders\) in \d+ ms; 0 already applied\n$/,
    );
    expect(run.stderr.replace(/in \d+ ms/g, 'in N ms')).toBe(
      [
        `main: migrating ${target} (engine raw)`,
        'main: applying 001_create_products (db/migrations/001_create_products.sql)',
        'main: applied 001_create_products in N ms',
        'main: applying 002_create_orders (db/migrations/002_create_orders.sql)',
        'main: applied 002_create_orders in N ms',
        '',
      ].join('\n'),
    );

    const again = await cli(project.root, ['migrate', 'run', '-q']);
    expect(again).toEqual({ code: 0, stdout: 'main: up to date (2 migrations applied)\n', stderr: '' });

    const after = await cli(project.root, ['migrate', '--plan', '-q']);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(
      new RegExp(
        [
          `^main \\(raw, pre_deploy, table stagecraft_migrations\\) at ${target.replaceAll('.', '\\.')}`,
          '  applied  001_create_products  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  \\d+ ms',
          '  applied  002_create_orders    \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  \\d+ ms',
          '  0 pending, 2 applied, 0 changed\\n$',
        ].join('\\n'),
      ),
    );
  });

  it('--json: a stable document for plan and run; --dry-run only plans', async () => {
    const project = await fixture();
    const dry = await cli(project.root, ['migrate', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout);
    expect(planned).toMatchObject({
      mode: 'plan',
      environment: 'dev',
      ok: true,
      databases: [
        {
          database: 'main',
          engine: 'raw',
          strategy: 'pre_deploy',
          target: `127.0.0.1:${server.port}/${project.db}`,
          table: 'stagecraft_migrations',
          command: null,
          applied: [],
          summary: { applied: 0, pending: 2, changed: 0, missing: 0 },
        },
      ],
    });
    expect(planned.databases[0].migrations[0]).toEqual({
      id: '001_create_products',
      state: 'pending',
      selected: true,
      file: 'db/migrations/001_create_products.sql',
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
      applied_checksum: null,
      applied_at: null,
      duration_ms: null,
    });
    expect(dry.stderr).toBe('');

    const run = await cli(project.root, ['migrate', 'run', '--json']);
    expect(run.code).toBe(0);
    const ran = JSON.parse(run.stdout);
    expect(ran.mode).toBe('run');
    expect(ran.databases[0].applied.map((entry: { id: string }) => entry.id)).toEqual([
      '001_create_products',
      '002_create_orders',
    ]);
    expect(ran.databases[0].summary).toEqual({ applied: 2, pending: 0, changed: 0, missing: 0 });
  });

  it('a changed applied file: exit 1, names the file, applies nothing', async () => {
    const project = await fixture();
    expect((await cli(project.root, ['migrate', '-q'])).code).toBe(0);
    project.write(
      'db/migrations/001_create_products.sql',
      'CREATE TABLE products (id bigserial PRIMARY KEY);\n',
    );
    project.write('db/migrations/003_more.sql', 'CREATE TABLE more (x int);\n');
    const result = await cli(project.root, ['migrate']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'error: migration db/migrations/001_create_products.sql of database main changed after it was applied; nothing was applied\n',
    );
    expect(result.stderr).toContain('hint: applied migrations must not change');
    const tables = await server.query(
      "SELECT 1 FROM information_schema.tables WHERE table_name = 'more'",
      [],
      project.db,
    );
    expect(tables).toEqual([]);

    const plan = await cli(project.root, ['migrate', 'plan']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(
      / {2}changed {2}001_create_products {2}applied with sha256 [0-9a-f]{12}…, file now [0-9a-f]{12}…\n/,
    );
    expect(plan.stderr).toContain(
      'warning: database main: db/migrations/001_create_products.sql changed after being applied',
    );
  });

  it('a failing file: exit 1 with file:line and the database message; earlier ones stay applied', async () => {
    const project = await fixture();
    project.write(
      'db/migrations/003_bad.sql',
      'ALTER TABLE products\n  ADD COLUMN price integer;\nUPDATE products SET pricee = 1;\n',
    );
    const result = await cli(project.root, ['migrate', '--json']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        'error: migration 003_bad failed at db/migrations/003_bad.sql:3:21: column "pricee" of relation "products" does not exist',
        '     3 | UPDATE products SET pricee = 1;',
        '       |                     ^',
        '  SQLSTATE: 42703',
        'hint: fix db/migrations/003_bad.sql and run `stagecraft migrate` again; it was rolled back, earlier migrations stay applied',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({
      ok: false,
      databases: [],
      error: {
        database: 'main',
        kind: 'user',
        applied: [{ id: '001_create_products' }, { id: '002_create_orders' }],
      },
    });
    const applied = await server.query<{ id: string }>(
      'SELECT id FROM stagecraft_migrations ORDER BY id',
      [],
      project.db,
    );
    expect(applied.map((row) => row.id)).toEqual(['001_create_products', '002_create_orders']);
    const column = await server.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'price'",
      [],
      project.db,
    );
    expect(column).toEqual([]);
  });

  it('a missing variable: exit 1, the hint names the env_file', async () => {
    const project = await fixture();
    project.write('.env', 'OTHER=1\n');
    const result = await cli(project.root, ['migrate']);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        'error: DATABASE_URL is not set: database main takes its connection URL from it (connection_env)',
        'hint: add DATABASE_URL=postgres://user:password@host:5432/db to .env (env_file of environment dev) or export it',
        '',
      ].join('\n'),
    });
    const production = await cli(project.root, ['migrate', '-e', 'production']);
    expect(production.code).toBe(1);
    expect(production.stderr).toContain('to .env.production (env_file of environment production)');
  });

  it('an unreachable database: exit 2, host:port in the message, never the password', async () => {
    const project = await fixture();
    const port = await freePort();
    const password = 'Unreachable-S3cret-pw';
    project.write('.env', `DATABASE_URL=postgres://app:${password}@127.0.0.1:${port}/shop\n`);
    for (const args of [['migrate'], ['migrate', 'plan', '--verbose'], ['migrate', '--json']]) {
      const result = await cli(project.root, args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `error: cannot reach PostgreSQL at 127.0.0.1:${port}: connection refused\n`,
      );
      expect(result.stderr).toContain(
        'hint: check that the server is running and reachable from here; check DATABASE_URL for database main',
      );
      expect(result.stdout + result.stderr).not.toContain(password);
    }
  });

  it('bad credentials: exit 2, the user named, never the password', async () => {
    const project = await fixture();
    const password = 'Wrong-Passw0rd-here';
    project.write('.env', `DATABASE_URL=postgres://app:${password}@127.0.0.1:${server.port}/${project.db}\n`);
    const result = await cli(project.root, ['migrate', '--verbose']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `error: PostgreSQL at 127.0.0.1:${server.port} rejected the password of user app\n`,
    );
    expect(result.stdout + result.stderr).not.toContain(password);
    expect(
      (await server.query("SELECT to_regclass('stagecraft_migrations') AS t", [], project.db))[0],
    ).toEqual({
      t: null,
    });
  });

  it('the process environment overrides the env_file', async () => {
    const project = await fixture();
    project.write('.env', 'DATABASE_URL=postgres://app:x-wrong-pw@127.0.0.1:1/nowhere\n');
    const result = await cli(project.root, ['migrate', '-q'], { DATABASE_URL: project.url });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^main: applied 2 migrations/);
  });

  it('several databases, a manual strategy, a command engine and --database', async () => {
    const project = await fixture(`project:
  name: shopfix
databases:
  main:
    connection_env: DATABASE_URL
    migrations:
      engine: raw
      path: ./db/migrations
      strategy: manual
      table: schema_log
  analytics:
    connection_env: ANALYTICS_URL
    migrations:
      engine: command
      path: ./analytics
      command: [node, tools/migrate.mjs, --up]
  cache:
    connection_env: CACHE_URL
environments:
  dev:
    driver: local
    env_file: .env
`);
    project.write(
      '.env',
      `DATABASE_URL=${project.url}\nANALYTICS_URL=postgres://app:${APP_PASSWORD}@127.0.0.1:${server.port}/analytics\n`,
    );
    project.write(
      'tools/migrate.mjs',
      [
        "const url = process.env.ANALYTICS_URL ?? '';",
        "console.log('argv', JSON.stringify(process.argv.slice(2)));",
        "console.log('cwd', process.cwd());",
        "console.log('url set', url.startsWith('postgres://'));",
        "console.log('echo', url);",
        "if (process.argv.includes('--fail')) { console.error('boom'); process.exit(4); }",
      ].join('\n'),
    );
    const result = await cli(project.root, ['migrate']);
    expect(result.code).toBe(0);
    // Name order: analytics (command) then main (raw, manual: migrate runs every strategy).
    expect(result.stdout.replace(/\d+ ms/g, 'N ms')).toBe(
      [
        'analytics: ran node tools/migrate.mjs --up in N ms',
        'main: applied 2 migrations (001_create_products, 002_create_orders) in N ms; 0 already applied',
        '',
      ].join('\n'),
    );
    expect(result.stderr).toContain('analytics: running node tools/migrate.mjs --up\n');
    expect(result.stderr).toContain('analytics | argv ["--up"]\n');
    expect(result.stderr).toContain(`analytics | cwd ${project.root}\n`);
    expect(result.stderr).toContain('analytics | url set true\n');
    expect(result.stderr).toContain('analytics | echo [redacted]\n');
    expect(result.stdout + result.stderr).not.toContain(APP_PASSWORD);
    const log = await server.query<{ id: string }>('SELECT id FROM schema_log ORDER BY id', [], project.db);
    expect(log.map((row) => row.id)).toEqual(['001_create_products', '002_create_orders']);

    const only = await cli(project.root, ['migrate', 'plan', '--database', 'analytics']);
    expect(only.code).toBe(0);
    expect(only.stdout).toBe(
      [
        `analytics (command, pre_deploy) at 127.0.0.1:${server.port}/analytics`,
        '  would run: node tools/migrate.mjs --up',
        '  (engine command keeps its own state; run its status command for details)',
        '',
      ].join('\n'),
    );
    const none = await cli(project.root, ['migrate', '--database', 'cache']);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toContain('error: database "cache" has no migrations configured\n');
    const typo = await cli(project.root, ['migrate', '--database', 'mian']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(
      'error: database "mian" not found in config (did you mean "main"?); available: analytics, cache, main\n',
    );

    project.write(
      'tools/migrate.mjs',
      "console.error('boom', process.env.ANALYTICS_URL); process.exit(4);\n",
    );
    const failing = await cli(project.root, ['migrate', '--database', 'analytics']);
    expect(failing.code).toBe(2);
    expect(failing.stderr).toContain('analytics | boom [redacted]\n');
    expect(failing.stderr).toContain(
      'error: migration command of database analytics (node tools/migrate.mjs --up) exited with code 4\n',
    );
    // Quiet: the output is not streamed, its last lines come with the error (redacted too).
    const quiet = await cli(project.root, ['migrate', '-q', '--database', 'analytics']);
    expect(quiet.code).toBe(2);
    expect(quiet.stderr).toContain('exited with code 4\n  boom [redacted]\n');
    expect(quiet.stdout + quiet.stderr).not.toContain(APP_PASSWORD);

    // --json after a partial run: the databases done before the failure are in the document.
    project.write('tools/migrate.mjs', "console.log('ok');\n");
    project.write('db/migrations/003_bad.sql', 'SELEC 1;\n');
    const partial = await cli(project.root, ['migrate', '--json']);
    expect(partial.code).toBe(1);
    const document = JSON.parse(partial.stdout);
    expect(document.ok).toBe(false);
    expect(document.databases.map((entry: { database: string }) => entry.database)).toEqual(['analytics']);
    expect(document.error).toMatchObject({ database: 'main', kind: 'user', applied: [] });
    expect(document.error.message).toBe(
      'migration 003_bad failed at db/migrations/003_bad.sql:1:1: syntax error at or near "SELEC"',
    );
  });

  it('a command engine whose program is missing: exit 2, the program named', async () => {
    const project = await fixture(`project:
  name: shopfix
databases:
  main:
    connection_env: DATABASE_URL
    migrations:
      engine: command
      path: ./db
      command: [no-such-migrator-xyz, up]
environments:
  dev:
    driver: local
    env_file: .env
`);
    const result = await cli(project.root, ['migrate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: no-such-migrator-xyz was not found on PATH\n');
  });

  it('migrations.enabled false for the environment: nothing runs', async () => {
    const project = await fixture(`${CONFIG}migrations:
  default_engine: raw
  env:
    dev:
      enabled: false
`);
    const result = await cli(project.root, ['migrate']);
    expect(result).toEqual({
      code: 0,
      stdout: 'migrations are disabled for environment dev (migrations.enabled: false); nothing to do\n',
      stderr: '',
    });
  });
});
