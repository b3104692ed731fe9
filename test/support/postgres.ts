// A throwaway PostgreSQL cluster for integration tests: Debian's server binaries (package `postgresql`),
// initdb into a temp folder, loopback TCP on a free port, fsync off, stopped and deleted afterwards.
// A missing server is an error (with the fix), never a skip.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PgServer {
  host: string;
  port: number;
  /** Superuser `postgres` with this password (scram over TCP). */
  password: string;
  /** Folder of the server binaries (initdb, pg_ctl, psql…). */
  binDir: string;
  /** psql of the same version. */
  psql: string;
  /** postgres://user:password@127.0.0.1:port/database */
  url(database?: string, user?: string, password?: string): string;
  /** Runs SQL as the superuser on `database` (default `postgres`). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<T[]>;
  /** A fresh, empty database owned by `app` (password `app-secret-pw`); returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export const APP_USER = 'app';
export const APP_PASSWORD = 'app-secret-pw';

/** The server's bin folder: $STAGECRAFT_PG_BIN, else /usr/lib/postgresql/<newest>/bin, else pg_config. */
export function findPostgresBin(): string {
  const fromEnv = process.env['STAGECRAFT_PG_BIN'];
  if (fromEnv && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(base, versions[0], 'bin');
  }
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0 && existsSync(join(pgConfig.stdout.trim(), 'initdb')))
    return pgConfig.stdout.trim();
  throw new Error(
    'PostgreSQL server binaries not found (initdb, pg_ctl): install the `postgresql` package (apt-get install -y postgresql) or set STAGECRAFT_PG_BIN',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: as root, the cluster belongs to the `postgres` OS user. */
function osUser(): { argvPrefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { argvPrefix: [] };
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { argvPrefix: ['runuser', '-u', 'postgres', '--'], uid, gid };
}

function runAs(prefix: string[], argv: string[]): void {
  const [file, ...args] = [...prefix, ...argv];
  const result = spawnSync(file!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new Error(`${argv.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
}

const running = new Set<() => void>();
process.once('exit', () => {
  for (const stop of running) stop();
});

/** Starts a cluster; about a second. Call stop() in afterAll. */
export async function startPostgres(): Promise<PgServer> {
  const binDir = findPostgresBin();
  const user = osUser();
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  mkdirSync(socketDir);
  const password = `pg-super-${Math.random().toString(36).slice(2, 10)}`;
  const pwfile = join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user.uid !== undefined && user.gid !== undefined) {
    for (const path of [root, socketDir, pwfile]) chownSync(path, user.uid, user.gid);
  }
  chmodSync(root, 0o700);

  runAs(user.argvPrefix, [
    join(binDir, 'initdb'),
    '-D',
    dataDir,
    '-U',
    'postgres',
    `--pwfile=${pwfile}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);

  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const options = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${socketDir}`,
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c synchronous_commit=off',
      '-c max_connections=50',
    ].join(' ');
    try {
      runAs(user.argvPrefix, [
        join(binDir, 'pg_ctl'),
        '-D',
        dataDir,
        '-l',
        join(root, 'server.log'),
        '-o',
        options,
        '-w',
        '-t',
        '30',
        'start',
      ]);
      break;
    } catch (error) {
      if (attempt >= 2) throw error;
    }
  }

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    running.delete(stopSync);
    const [file, ...args] = [
      ...user.argvPrefix,
      join(binDir, 'pg_ctl'),
      '-D',
      dataDir,
      '-m',
      'immediate',
      'stop',
    ];
    spawnSync(file!, args, { stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
  };
  running.add(stopSync);

  const host = '127.0.0.1';
  const url = (database = 'postgres', name = 'postgres', pass = password) =>
    `postgres://${encodeURIComponent(name)}:${encodeURIComponent(pass)}@${host}:${port}/${encodeURIComponent(database)}`;

  const query = async <T extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    database = 'postgres',
  ) => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  await query(`CREATE ROLE ${APP_USER} LOGIN PASSWORD '${APP_PASSWORD}'`);

  return {
    host,
    port,
    password,
    binDir,
    psql: join(binDir, 'psql'),
    url,
    query,
    async createDatabase(name) {
      await query(`CREATE DATABASE "${name}" OWNER ${APP_USER}`);
      return url(name, APP_USER, APP_PASSWORD);
    },
    async stop() {
      stopSync();
    },
  };
}
