import { relative } from 'node:path';
import type { MigrationEngineEntry } from '../config/catalog.js';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';

/**
 * The migrations of one environment, resolved from stagecraft.yml: what `stagecraft migrate` and a
 * deploy's migrate steps need from the config, so neither reads the raw config. Pure.
 */

export type MigrationStrategy = 'pre_deploy' | 'post_deploy' | 'manual';

/** Which migrations a run includes (the global `migrations.selection`, per-env overrides applied). */
export interface MigrationSelection {
  all: boolean;
  ids: string[];
  tags: string[];
}

/** Everything needed to migrate one database in one environment, resolved from the config. */
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

export interface MigrationsModel extends MigrationSettings {
  environment: string;
  /** `environments.<env>.env_file` as configured (relative to the project root), for hints. */
  envFile: string | string[] | undefined;
  /** `require_confirmation`: `migrate run` asks first (unless --yes). */
  requireConfirmation: boolean;
  /** Every database under `databases:`, in name order (with or without migrations). */
  databases: string[];
  /** The databases with a `migrations` block, in name order, with the environment's overrides applied. */
  targets: MigrationTarget[];
}

export const DEFAULT_MIGRATION_TIMEOUT_MS = 10 * 60_000;

function normalizeSelection(selection: { all?: boolean; ids?: string[]; tags?: string[] } | undefined) {
  const ids = [...new Set(selection?.ids ?? [])].sort();
  const tags = [...new Set(selection?.tags ?? [])].sort();
  return { all: selection?.all ?? (ids.length === 0 && tags.length === 0), ids, tags };
}

/** `migrations.enabled` and `migrations.selection` for an environment (`migrations.env.<env>` replaces per field). */
export function migrationSettings(config: Config, envName: string | undefined): MigrationSettings {
  const global = config.migrations;
  const override = envName === undefined ? undefined : global?.env?.[envName];
  return {
    enabled: override?.enabled ?? global?.enabled ?? true,
    selection: normalizeSelection(override?.selection ?? global?.selection),
  };
}

export interface MigrationsInput {
  config: Config;
  /** The project root: migration paths are relative to it. */
  root: string;
  envName: string;
  /** The catalog's migration engines (for a command engine's default argv). */
  engines: readonly MigrationEngineEntry[];
}

function target(input: MigrationsInput, name: string): MigrationTarget {
  const database = input.config.databases![name]!;
  const migrations = database.migrations!;
  const engine = input.engines.find((entry) => entry.id === migrations.engine);
  const dir = resolvePath(input.root, migrations.path);
  const override = input.config.environments[input.envName];
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

/** Resolves the migrations of one environment (the environment need not be declared: defaults then). */
export function migrationsModel(input: MigrationsInput): MigrationsModel {
  const databases = input.config.databases ?? {};
  const names = Object.keys(databases).sort();
  const environment = input.config.environments[input.envName];
  return {
    environment: input.envName,
    envFile: environment?.env_file,
    requireConfirmation: environment?.require_confirmation === true,
    ...migrationSettings(input.config, input.envName),
    databases: names,
    targets: names
      .filter((name) => databases[name]?.migrations !== undefined)
      .map((name) => target(input, name)),
  };
}

/**
 * The migrations model of the loaded config's selected environment.
 * @throws UserError when no environment is selected (naming the environments to choose from).
 */
export function loadedMigrationsModel(loaded: LoadedConfig): MigrationsModel {
  if (loaded.envName === undefined) {
    throw new UserError(
      `choose an environment with --env: ${Object.keys(loaded.config.environments).join(', ')}`,
      { hint: 'migrate acts on one environment’s database; pass --env (or set STAGECRAFT_ENV)' },
    );
  }
  return migrationsModel({
    config: loaded.config,
    root: loaded.root,
    envName: loaded.envName,
    engines: loaded.catalog.migrationEngines,
  });
}
