import { relative } from 'node:path';
import type { MigrationEngineEntry } from '../config/catalog.js';
import type { Config } from '../config/schema.js';
import { didYouMean } from '../util/did-you-mean.js';
import { parseDuration } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import type { MigrationSelection } from './status.js';

export type MigrationStrategy = 'pre_deploy' | 'post_deploy' | 'manual';

/** Everything needed to migrate one database in one environment, resolved from the config. Pure. */
export interface MigrationTarget {
  /** The config name (`main`). */
  database: string;
  connectionEnv: string;
  engine: string;
  /** `raw`: SQL files run by Stagecraft; `command`: a tool run with the URL in its environment. */
  kind: 'raw' | 'command';
  /** The migration folder, absolute. */
  dir: string;
  /** The migration folder relative to the project root, for messages. */
  displayDir: string;
  /** The environment's strategy (environments.<env>.databases.<name>.strategy overrides). */
  strategy: MigrationStrategy;
  table: string;
  /** `migrations.timeout` in milliseconds (deploy runs; default 10m). */
  timeoutMs: number;
  /** Compose service whose image, networks and env run deploy-time migrations. */
  service: string | undefined;
  /** Command engines: the configured `command`, else the engine's default argv. */
  command: string[] | undefined;
}

/** The global `migrations` block for one environment (a present env field replaces the global one). */
export interface MigrationSettings {
  enabled: boolean;
  selection: MigrationSelection;
}

export const DEFAULT_MIGRATION_TIMEOUT_MS = 10 * 60_000;

/** "1m30s" → 90000 (the schema's duration format). */

function normalizeSelection(selection: { all?: boolean; ids?: string[]; tags?: string[] } | undefined) {
  const ids = [...new Set(selection?.ids ?? [])].sort();
  const tags = [...new Set(selection?.tags ?? [])].sort();
  return { all: selection?.all ?? (ids.length === 0 && tags.length === 0), ids, tags };
}

export function migrationSettings(config: Config, envName: string | undefined): MigrationSettings {
  const global = config.migrations;
  const override = envName === undefined ? undefined : global?.env?.[envName];
  return {
    enabled: override?.enabled ?? global?.enabled ?? true,
    selection: normalizeSelection(override?.selection ?? global?.selection),
  };
}

export interface TargetInput {
  config: Config;
  root: string;
  envName: string | undefined;
  engines: readonly MigrationEngineEntry[];
}

function target(input: TargetInput, name: string): MigrationTarget {
  const database = input.config.databases![name]!;
  const migrations = database.migrations!;
  const engine = input.engines.find((entry) => entry.id === migrations.engine);
  const dir = resolvePath(input.root, migrations.path);
  const override = input.envName === undefined ? undefined : input.config.environments[input.envName];
  return {
    database: name,
    connectionEnv: database.connection_env,
    engine: migrations.engine,
    kind: migrations.engine === 'raw' ? 'raw' : 'command',
    dir,
    displayDir: relative(input.root, dir) || '.',
    strategy: override?.databases?.[name]?.strategy ?? migrations.strategy,
    table: migrations.table,
    timeoutMs:
      migrations.timeout === undefined ? DEFAULT_MIGRATION_TIMEOUT_MS : parseDuration(migrations.timeout),
    service: migrations.service,
    command: migrations.engine === 'raw' ? undefined : (migrations.command ?? engine?.defaultCommand),
  };
}

/**
 * The databases `migrate` acts on: the one named by --database, else every database with a migrations
 * block, in name order.
 */
export function migrationTargets(input: TargetInput, requested?: string): MigrationTarget[] {
  const databases = input.config.databases ?? {};
  const names = Object.keys(databases).sort();
  if (requested !== undefined) {
    if (databases[requested] === undefined) {
      const suggestion = didYouMean(requested, names);
      throw new UserError(
        `database "${requested}" not found in config${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; available: ${names.join(', ') || 'none'}`,
        { hint: 'pass --database with one of the names under `databases:` in stagecraft.yml' },
      );
    }
    if (databases[requested]?.migrations === undefined) {
      throw new UserError(`database "${requested}" has no migrations configured`, {
        hint: `add databases.${requested}.migrations with engine and path to stagecraft.yml`,
      });
    }
    return [target(input, requested)];
  }
  const withMigrations = names.filter((name) => databases[name]?.migrations !== undefined);
  if (withMigrations.length === 0) {
    throw new UserError('no database has migrations configured', {
      hint: 'add databases.main with connection_env and migrations: { engine: raw, path: ./migrations } to stagecraft.yml',
    });
  }
  return withMigrations.map((name) => target(input, name));
}

/**
 * The databases a deploy migrates in a phase: the environment's strategy must be the phase's
 * (`manual` never runs in a deploy), in name order; none when migrations are disabled for the env.
 */
export function deployMigrationTargets(
  input: TargetInput,
  strategy: 'pre_deploy' | 'post_deploy',
): MigrationTarget[] {
  if (!migrationSettings(input.config, input.envName).enabled) return [];
  const databases = input.config.databases ?? {};
  return Object.keys(databases)
    .sort()
    .filter((name) => databases[name]?.migrations !== undefined)
    .map((name) => target(input, name))
    .filter((entry) => entry.strategy === strategy);
}
