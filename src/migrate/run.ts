import { type LocalExec, runCommandMigrations } from './command-engine.js';
import { type ConnectionTarget, resolveConnection } from './connection.js';
import { type AppliedFile, applyRawMigrations, planRawMigrations, type RawEngineEvent } from './postgres.js';
import { readSqlMigrations } from './sql-files.js';
import type { MigrationSelection, MigrationStatus } from './status.js';
import type { MigrationStrategy, MigrationTarget } from './targets.js';

export type MigrateEvent =
  | RawEngineEvent
  | { type: 'start'; database: string; engine: string; target: ConnectionTarget }
  | { type: 'command'; database: string; argv: readonly string[] }
  | { type: 'output'; database: string; line: string; stream: 'stdout' | 'stderr' }
  | { type: 'done'; database: string; report: DatabaseReport };

/** What `migrate` did (or, in plan mode, found) for one database. */
export interface DatabaseReport {
  database: string;
  engine: string;
  strategy: MigrationStrategy;
  /** host:port/database, never the password. */
  target: string;
  /** Raw engine: the tracking table and every migration's state (after the run in run mode). */
  table?: string;
  migrations?: MigrationStatus[];
  /** Raw engine: the files this run applied, in order. */
  applied: AppliedFile[];
  /** Command engines: the argv that runs (or would run). */
  command?: readonly string[];
  durationMs: number;
}

export interface MigrateRequest {
  mode: 'plan' | 'run';
  targets: readonly MigrationTarget[];
  /** Project root: command engines run there. */
  root: string;
  envName: string | undefined;
  envFile: string | string[] | undefined;
  /** The environment's variables (env_file overlaid by process env). */
  variables: Record<string, string>;
  selection: MigrationSelection;
  onEvent?: (event: MigrateEvent) => void;
  /** Stream command-engine output (as `output` events); otherwise it is attached to a failure. */
  streamOutput?: boolean;
  exec?: LocalExec;
}

/**
 * Plans or applies the migrations of the given databases, one after another in the given order. The
 * first failure stops the run (its error is thrown; databases before it are done and were reported
 * with a `done` event).
 */
export async function migrate(request: MigrateRequest): Promise<DatabaseReport[]> {
  const reports: DatabaseReport[] = [];
  const done = (report: DatabaseReport) => {
    reports.push(report);
    request.onEvent?.({ type: 'done', database: report.database, report });
  };
  for (const target of request.targets) {
    const started = Date.now();
    const connection = resolveConnection({
      database: target.database,
      connectionEnv: target.connectionEnv,
      variables: request.variables,
      envName: request.envName,
      envFile: request.envFile,
    });
    request.onEvent?.({
      type: 'start',
      database: target.database,
      engine: target.engine,
      target: connection.target,
    });
    const base = {
      database: target.database,
      engine: target.engine,
      strategy: target.strategy,
      target: connection.target.display,
    };
    if (target.kind === 'command') {
      const argv = target.command ?? [];
      if (request.mode === 'run') {
        request.onEvent?.({ type: 'command', database: target.database, argv });
        await runCommandMigrations({
          database: target.database,
          engine: target.engine,
          argv,
          cwd: request.root,
          variables: request.variables,
          connectionEnv: target.connectionEnv,
          connection,
          exec: request.exec,
          onLine:
            request.streamOutput === true
              ? (line, stream) =>
                  request.onEvent?.({ type: 'output', database: target.database, line, stream })
              : undefined,
        });
      }
      done({ ...base, command: argv, applied: [], durationMs: Date.now() - started });
      continue;
    }
    const files = readSqlMigrations(target.dir, request.root, target.database);
    const options = {
      database: target.database,
      connectionEnv: target.connectionEnv,
      connection,
      table: target.table,
      files,
      selection: request.selection,
      onEvent: request.onEvent,
    };
    if (request.mode === 'plan') {
      const migrations = await planRawMigrations(options);
      done({
        ...base,
        table: target.table,
        migrations,
        applied: [],
        durationMs: Date.now() - started,
      });
    } else {
      const result = await applyRawMigrations(options);
      done({
        ...base,
        table: target.table,
        migrations: result.status,
        applied: result.applied,
        durationMs: Date.now() - started,
      });
    }
  }
  return reports;
}
