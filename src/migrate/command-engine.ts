import { type RunLocalOptions, runLocal } from '../runners/local.js';
import type { ExecResult } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { redact } from '../util/secret.js';
import type { DatabaseConnection } from './connection.js';

/** Runs one local command: runners/local's runLocal, or a stand-in in tests. */
export type LocalExec = (argv: readonly string[], options: RunLocalOptions) => Promise<ExecResult>;

export interface CommandEngineOptions {
  /** The config name of the database. */
  database: string;
  engine: string;
  /** The configured `migrations.command`, or the engine's default. */
  argv: readonly string[];
  /** The project root: the tool runs where the project keeps its config (drizzle.config.ts, prisma/…). */
  cwd: string;
  /** The child's environment (the environment's variables); the URL is added under `connectionEnv`. */
  variables: Record<string, string>;
  connectionEnv: string;
  connection: DatabaseConnection;
  /** Each output line as it arrives. Without it, the last lines are attached to a failure. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  timeoutMs?: number;
  exec?: LocalExec;
}

export interface CommandRunResult {
  durationMs: number;
}

/**
 * Runs the tool the project already uses (drizzle-kit, prisma, knex, any argv) in the project root with
 * the connection URL in the environment variable named by connection_env, never in argv.
 */
export async function runCommandMigrations(options: CommandEngineOptions): Promise<CommandRunResult> {
  const exec = options.exec ?? runLocal;
  const shown = options.argv.join(' ');
  // A missing program, a timeout or a cancellation is the runner's ExternalError (exit 2).
  const result = await exec(options.argv, {
    cwd: options.cwd,
    env: { ...options.variables, [options.connectionEnv]: options.connection.url.reveal() },
    onLine: options.onLine,
    timeoutMs: options.timeoutMs,
    allowFailure: true,
  });
  if (result.exitCode !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(-20)
      .map(redact);
    throw new ExternalError(
      `migration command of database ${options.database} (${shown}) exited with code ${result.exitCode}`,
      {
        details: options.onLine === undefined ? tail : [],
        hint: `read the ${options.engine} output${options.onLine === undefined ? '' : ' above'}, fix the cause and run \`stagecraft migrate\` again`,
        command: redact(shown),
      },
    );
  }
  return { durationMs: result.durationMs };
}
