import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { parsePsqlError, psqlErrorLine } from '../../src/migrate/psql-script.js';
import { splitStatements } from '../../src/migrate/sql-text.js';
import {
  DEFAULT_MIGRATION_TIMEOUT_MS,
  deployMigrationTargets,
  migrationSettings,
  migrationTargets,
} from '../../src/migrate/targets.js';
import { migrationsModel } from '../../src/model/migrations.js';
import { migrationEngines } from '../../src/providers/migration/engines.js';
import { parseDuration } from '../../src/util/duration.js';

function config(extra: Partial<Config> = {}): Config {
  return {
    project: { name: 'shop' },
    databases: {
      main: {
        connection_env: 'DATABASE_URL',
        migrations: {
          engine: 'raw',
          path: './migrations',
          strategy: 'pre_deploy',
          table: 'stagecraft_migrations',
        },
      },
      analytics: {
        connection_env: 'ANALYTICS_URL',
        migrations: {
          engine: 'prisma',
          path: 'prisma',
          strategy: 'post_deploy',
          table: 'stagecraft_migrations',
          timeout: '1m30s',
          service: 'worker',
        },
      },
      reports: {
        connection_env: 'REPORTS_URL',
        migrations: {
          engine: 'command',
          path: 'reports',
          strategy: 'manual',
          table: 'stagecraft_migrations',
          command: ['make', 'migrate'],
        },
      },
      cache: { connection_env: 'CACHE_URL' },
    },
    environments: {
      dev: { driver: 'local' },
      production: {
        driver: 'ssh',
        hosts: { web: ['h1'] },
        databases: { reports: { strategy: 'post_deploy' } },
      },
    },
    ...extra,
  } as Config;
}

const input = (envName: string, cfg = config()) =>
  migrationsModel({
    config: cfg,
    root: '/srv/shop',
    envName,
    engines: migrationEngines,
  });

describe('migration targets', () => {
  it('migrate: every database with migrations, in name order, with resolved settings', () => {
    const targets = migrationTargets(input('dev'));
    expect(
      targets.map((target) => [target.database, target.kind, target.strategy, target.command ?? null]),
    ).toEqual([
      ['analytics', 'command', 'post_deploy', ['npx', 'prisma', 'migrate', 'deploy']],
      ['main', 'raw', 'pre_deploy', null],
      ['reports', 'command', 'manual', ['make', 'migrate']],
    ]);
    expect(targets[0]).toMatchObject({
      dir: '/srv/shop/prisma',
      displayDir: 'prisma',
      timeoutMs: 90_000,
      service: 'worker',
    });
    expect(targets[1]).toMatchObject({
      dir: '/srv/shop/migrations',
      displayDir: 'migrations',
      timeoutMs: DEFAULT_MIGRATION_TIMEOUT_MS,
    });
  });

  it('--database picks one, and explains unknown names and databases without migrations', () => {
    expect(migrationTargets(input('dev'), 'main').map((target) => target.database)).toEqual(['main']);
    expect(() => migrationTargets(input('dev'), 'mian')).toThrow(
      'database "mian" not found in config (did you mean "main"?); available: analytics, cache, main, reports',
    );
    expect(() => migrationTargets(input('dev'), 'cache')).toThrow(
      'database "cache" has no migrations configured',
    );
    expect(() => migrationTargets(input('dev', config({ databases: {} })))).toThrow(
      'no database has migrations configured',
    );
  });

  it('deploy: only the phase’s strategy, with per-environment overrides; manual never', () => {
    expect(deployMigrationTargets(input('dev'), 'pre_deploy').map((target) => target.database)).toEqual([
      'main',
    ]);
    expect(deployMigrationTargets(input('dev'), 'post_deploy').map((target) => target.database)).toEqual([
      'analytics',
    ]);
    expect(
      deployMigrationTargets(input('production'), 'post_deploy').map((target) => target.database),
    ).toEqual(['analytics', 'reports']);
  });

  it('the global migrations block: enabled and selection, a present env field replacing the global one', () => {
    const cfg = config({
      migrations: {
        default_engine: 'raw',
        selection: { all: false, tags: ['schema', 'data', 'schema'] },
        env: { production: { enabled: false }, dev: { selection: { ids: ['002_b', '001_a'] } } },
      },
    } as Partial<Config>);
    expect(migrationSettings(cfg, 'staging')).toEqual({
      enabled: true,
      selection: { all: false, ids: [], tags: ['data', 'schema'] },
    });
    expect(migrationSettings(cfg, 'dev')).toEqual({
      enabled: true,
      selection: { all: false, ids: ['001_a', '002_b'], tags: [] },
    });
    expect(migrationSettings(cfg, 'production').enabled).toBe(false);
    expect(deployMigrationTargets(input('production', cfg), 'pre_deploy')).toEqual([]);
    expect(migrationSettings(config(), 'dev')).toEqual({
      enabled: true,
      selection: { all: true, ids: [], tags: [] },
    });
  });

  it('the model carries what migrate reads of the environment: env_file, confirmation, database names', () => {
    const cfg = config();
    cfg.environments['production'] = {
      ...cfg.environments['production']!,
      env_file: '.env.production',
      require_confirmation: true,
    };
    expect(input('production', cfg)).toMatchObject({
      environment: 'production',
      envFile: '.env.production',
      requireConfirmation: true,
      enabled: true,
      databases: ['analytics', 'cache', 'main', 'reports'],
    });
    expect(input('dev', cfg)).toMatchObject({ envFile: undefined, requireConfirmation: false });
    expect(input('production', cfg).targets.map((target) => [target.database, target.strategy])).toEqual([
      ['analytics', 'post_deploy'],
      ['main', 'pre_deploy'],
      ['reports', 'post_deploy'],
    ]);
  });

  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
  });
});

describe('psql error lines', () => {
  const sql = 'CREATE TABLE half (x int);\nINSERT INTO half VALUES (1);\nSELECT\n  x,\n  nope\nFROM half;\n';

  it('knows where statements start and end (as psql sends them)', () => {
    const statements = splitStatements('-- intro\n\nSELECT 1;\n  /* c */ SELECT\n 2;');
    expect(statements.map((s) => [s.start, s.end])).toEqual([
      [10, 18],
      [22, 39],
    ]);
  });

  it('maps psql’s line (end of statement) and LINE n (from its start) to the file line', () => {
    expect(psqlErrorLine(sql, 6, 3)).toBe(5);
    expect(psqlErrorLine(sql, 2, 1)).toBe(2);
    expect(psqlErrorLine(sql, 6, undefined)).toBe(6);
    expect(psqlErrorLine(sql, 99, 1)).toBe(99);
  });

  it('reads psql’s first error and its LINE', () => {
    const stderr =
      'psql:/m/files/002_bad.sql:6: ERROR:  column "nope" does not exist\nLINE 3:   nope\n          ^\n';
    expect(parsePsqlError(stderr)).toEqual({
      file: '/m/files/002_bad.sql',
      line: 6,
      statementLine: 3,
      message: 'column "nope" does not exist',
    });
    expect(
      parsePsqlError('psql:/m/run.sql:40: ERROR:  stagecraft: migrations changed\nCONTEXT: PL/pgSQL'),
    ).toEqual({
      file: '/m/run.sql',
      line: 40,
      message: 'stagecraft: migrations changed',
    });
    expect(parsePsqlError('psql: error: connection to server failed')).toBeUndefined();
  });
});
