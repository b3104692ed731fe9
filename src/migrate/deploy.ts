import { readFileSync } from 'node:fs';
import { ExternalError, type StagecraftError, UserError } from '../util/errors.js';
import { PSQL_URL_ENV } from './connection.js';
import {
  type PsqlRunReport,
  parsePsqlError,
  parsePsqlOutput,
  psqlCommand,
  psqlErrorLine,
  renderPsqlScript,
} from './psql-script.js';
import { readSqlMigrations, sha256Hex } from './sql-files.js';
import { isSelected, type MigrationSelection } from './status.js';
import type { MigrationTarget } from './targets.js';

/**
 * The pieces the deploy pipeline uses to run `pre_deploy` / `post_deploy` migrations as a one-off
 * container on the lock host. Which databases run in a phase: deployMigrationTargets (targets.ts).
 */

/** A file to upload next to the script, in the folder mounted into the one-off container. */
export interface MigrationUpload {
  /** Relative to the mounted folder, e.g. `files/001_init.sql`. */
  path: string;
  content: Buffer;
  sha256: string;
  mode: number;
}

export interface RawDeployMigration {
  database: string;
  /** The migration folder relative to the project root, for messages. */
  displayDir: string;
  connectionEnv: string;
  /** Every file (selected or not: all are checksum-checked), in run order. */
  files: { id: string; name: string; selected: boolean }[];
  /** Uploads: the SQL files, then `run.sql` (the psql script); all under one folder. */
  uploads: MigrationUpload[];
  /** The script's path relative to that folder. */
  script: string;
  /** Ids of the selected files in run order (the pending ones among them will be applied). */
  ids: string[];
  /**
   * argv for the container: `sh -c 'exec psql … -d "$STAGECRAFT_PSQL_URL" -f <mount>/run.sql'`, the URL
   * without its password, which psql reads from PGPASSWORD (psqlConnectionEnv gives both).
   */
  command(mountDir: string): string[];
}

const SCRIPT = 'run.sql';

/**
 * Reads a raw target's SQL files and renders the psql script that applies them with the raw engine's
 * semantics (advisory lock, tracking table, changed-checksum refusal, one transaction per file).
 */
export function prepareRawDeployMigration(
  target: MigrationTarget,
  root: string,
  selection: MigrationSelection,
): RawDeployMigration {
  if (target.kind !== 'raw') throw new Error(`database ${target.database} does not use the raw engine`);
  const files = readSqlMigrations(target.dir, root, target.database);
  const uploads: MigrationUpload[] = files.map((file) => {
    const content = readFileSync(file.path);
    return { path: `files/${file.name}`, content, sha256: sha256Hex(content), mode: 0o644 };
  });
  const script = renderPsqlScript({
    table: target.table,
    files: files.map((file) => ({
      id: file.id,
      checksum: file.checksum,
      path: `files/${file.name}`,
      noTransaction: file.noTransaction,
      selected: isSelected(file, selection),
    })),
  });
  const scriptBytes = Buffer.from(script, 'utf8');
  uploads.push({ path: SCRIPT, content: scriptBytes, sha256: sha256Hex(scriptBytes), mode: 0o644 });
  return {
    database: target.database,
    displayDir: target.displayDir,
    connectionEnv: target.connectionEnv,
    files: files.map((file) => ({ id: file.id, name: file.name, selected: isSelected(file, selection) })),
    uploads,
    script: SCRIPT,
    ids: files.filter((file) => isSelected(file, selection)).map((file) => file.id),
    command: (mountDir) => psqlCommand(PSQL_URL_ENV, `${mountDir.replace(/\/$/, '')}/${SCRIPT}`),
  };
}

/** The argv a command-based target runs in the one-off container (the configured or default command). */
export function commandDeployArgv(target: MigrationTarget): string[] {
  if (target.kind !== 'command' || target.command === undefined) {
    throw new Error(`database ${target.database} has no migration command`);
  }
  return [...target.command];
}

export interface DeployMigrationOutcome {
  /** Ids applied by this run (raw engine): recorded in the release. */
  applied: string[];
  report: PsqlRunReport;
}

/**
 * Interprets a finished raw migration container: the applied ids on success, or the error the phase
 * fails with (the failing file with its file:line, the database's message). `exitCode` is psql's (3: a
 * script error with ON_ERROR_STOP; 2: connection refused or lost; 1: fatal).
 */
export function rawDeployOutcome(
  prepared: RawDeployMigration,
  exitCode: number,
  stdout: string,
  stderr: string,
): DeployMigrationOutcome {
  const report = parsePsqlOutput(stdout, stderr);
  const applied = report.applied.map((entry) => entry.id);
  if (exitCode === 0 && report.done) return { applied, report };
  throw rawDeployError(prepared, exitCode, report, applied, stderr);
}

function rawDeployError(
  prepared: RawDeployMigration,
  exitCode: number,
  report: PsqlRunReport,
  applied: string[],
  stderr: string,
): StagecraftError {
  const error = parsePsqlError(stderr);
  const message = error?.message ?? report.error ?? `psql exited with code ${exitCode}`;
  const details = applied.length > 0 ? [`applied before the failure: ${applied.join(', ')}`] : [];
  const failed = prepared.files.find((file) => file.id === report.failed);
  if (failed !== undefined) {
    const path = `${prepared.displayDir}/${failed.name}`;
    let where = path;
    const upload = prepared.uploads.find((entry) => entry.path === `files/${failed.name}`);
    // A line only where PostgreSQL gave a position (`LINE n:`), as `stagecraft migrate` does (the pg
    // engine runs a file as one query, so without a position it knows the file, not the statement).
    if (
      error?.statementLine !== undefined &&
      upload !== undefined &&
      error.file.endsWith(`/files/${failed.name}`)
    ) {
      where = `${path}:${psqlErrorLine(upload.content.toString('utf8'), error.line, error.statementLine)}`;
    }
    return new UserError(
      `migration ${failed.id} of database ${prepared.database} failed at ${where}: ${message}`,
      {
        details,
        hint: `fix ${path} and deploy again; it was rolled back, earlier migrations stay applied`,
      },
    );
  }
  if (/changed after they were applied/.test(message)) {
    return new UserError(`database ${prepared.database}: ${message}`, {
      hint: 'applied migrations must not change: restore the files and put the change in a new migration file',
    });
  }
  return new ExternalError(`migrations of database ${prepared.database} could not run: ${message}`, {
    details,
    hint: `check that ${prepared.connectionEnv} reaches the database from the migration container`,
  });
}
