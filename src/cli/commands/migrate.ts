import type { AppliedFile } from '../../migrate/postgres.js';
import { type DatabaseReport, type MigrateEvent, migrate } from '../../migrate/run.js';
import { type MigrationStatus, summarize } from '../../migrate/status.js';
import { type MigrationTarget, migrationTargets } from '../../migrate/targets.js';
import { loadedMigrationsModel } from '../../model/migrations.js';
import { isStagecraftError } from '../../util/errors.js';
import type { Output } from '../../util/output.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';

export interface MigrateFlags {
  database?: string;
  plan?: boolean;
}

/**
 * `stagecraft migrate [run|plan] [--database N] [--plan]`: applies the migrations of every strategy
 * (manual included); `plan`, `--plan` and `--dry-run` read the real state and change nothing.
 */
export async function run(
  context: CommandContext,
  action: 'run' | 'plan' | undefined,
  flags: MigrateFlags = {},
): Promise<number> {
  const mode = action === 'plan' || flags.plan === true || context.globals.dryRun ? 'plan' : 'run';
  return migrateCommand(context, flags, mode);
}

async function migrateCommand(context: CommandContext, flags: MigrateFlags, mode: 'plan' | 'run') {
  const { output } = context;
  const loaded = await context.loadConfig('any');
  const model = loadedMigrationsModel(loaded);
  const envName = model.environment;
  const targets = migrationTargets(model, flags.database);
  if (!model.enabled) {
    if (context.globals.json) {
      output.json({ mode, environment: envName, ok: true, disabled: true, databases: [] });
    } else {
      output.result(
        `migrations are disabled for environment ${envName} (migrations.enabled: false); nothing to do`,
      );
    }
    return 0;
  }
  if (!model.selection.all) {
    const selected = [
      ...model.selection.ids.map((id) => `id ${id}`),
      ...model.selection.tags.map((t) => `tag ${t}`),
    ];
    output.info(`selection (migrations.selection): ${selected.join(', ') || 'nothing'}`);
    for (const target of targets) {
      if (target.kind === 'command') {
        output.warn(
          `database ${target.database}: migrations.selection does not apply to engine ${target.engine}`,
        );
      }
    }
  }

  if (loaded.config.environments?.[envName]?.driver === 'swarm') {
    output.info(swarmNote(envName, targets));
  }
  if (mode === 'run' && model.requireConfirmation) {
    await confirm(context, `Apply the pending migrations of ${envName}?`, 'environment');
  }
  const applied = new Map<string, AppliedFile[]>();
  const reports: DatabaseReport[] = [];
  try {
    await migrate({
      mode,
      targets,
      root: loaded.root,
      envName,
      envFile: model.envFile,
      variables: loaded.variables,
      selection: model.selection,
      streamOutput: !context.globals.json && !context.globals.quiet,
      onEvent: (event) => {
        if (event.type === 'done') reports.push(event.report);
        if (event.type === 'applied') {
          const list = applied.get(event.database) ?? [];
          list.push({ id: event.id, file: event.file, durationMs: event.durationMs });
          applied.set(event.database, list);
        }
        progress(output, mode, event);
      },
    });
  } catch (error) {
    if (context.globals.json) {
      const done = new Set(reports.map((report) => report.database));
      const failing = targets.find((target) => !done.has(target.database));
      output.json({
        mode,
        environment: envName,
        ok: false,
        databases: reports.map(jsonReport),
        error: {
          database: failing?.database ?? null,
          kind: isStagecraftError(error) ? error.kind : 'internal',
          message: error instanceof Error ? error.message : String(error),
          hint: isStagecraftError(error) ? (error.hint ?? null) : null,
          details: isStagecraftError(error) ? error.details : [],
          applied: (failing === undefined ? [] : (applied.get(failing.database) ?? [])).map(jsonApplied),
        },
      });
    }
    throw error;
  }

  if (context.globals.json) {
    output.json({ mode, environment: envName, ok: true, databases: reports.map(jsonReport) });
    return 0;
  }
  output.result(reports.map((report) => (mode === 'plan' ? planText(report) : runText(report))).join('\n'));
  for (const report of reports) {
    const changed = (report.migrations ?? []).filter((entry) => entry.state === 'changed');
    if (mode === 'plan' && changed.length > 0) {
      output.warn(
        `database ${report.database}: ${changed.map((entry) => entry.file ?? entry.id).join(', ')} changed after being applied; \`migrate run\` will refuse to run until the file is restored`,
      );
    }
  }
  return 0;
}

/**
 * What `migrate` does on a swarm environment, which differs from a deploy's migrations: it connects
 * from this machine, where the stack's service names do not resolve; a deploy runs them on the swarm.
 */
function swarmNote(envName: string, targets: readonly MigrationTarget[]): string {
  const urls = [...new Set(targets.map((target) => target.connectionEnv))].join(', ');
  return `${envName} is a swarm: \`stagecraft migrate\` connects to the database from this machine with ${urls}, not from the swarm, so that URL must reach the database from here (the stack's service names resolve only on the swarm's overlay networks); \`stagecraft deploy\` runs pre_deploy and post_deploy migrations on the swarm, as replicated jobs that need no such URL (docs/swarm.md)`;
}

function progress(output: Output, mode: 'plan' | 'run', event: MigrateEvent): void {
  switch (event.type) {
    case 'start':
      output.info(
        `${event.database}: ${mode === 'plan' ? 'reading' : 'migrating'} ${event.target.display} (engine ${event.engine})`,
      );
      break;
    case 'lock-wait':
      output.info(`${event.database}: another migration run holds the lock; waiting for it to finish`);
      break;
    case 'apply':
      output.info(`${event.database}: applying ${event.id} (${event.file})`);
      break;
    case 'applied':
      output.info(`${event.database}: applied ${event.id} in ${event.durationMs} ms`);
      break;
    case 'command':
      output.info(`${event.database}: running ${event.argv.join(' ')}`);
      break;
    case 'output':
      output.info(`${event.database} | ${event.line}`);
      break;
  }
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function planLine(entry: MigrationStatus, width: number): string {
  const id = entry.id.padEnd(width);
  switch (entry.state) {
    case 'applied':
      return `  applied  ${id}  ${entry.appliedAt ?? ''}${entry.durationMs == null ? '' : `  ${entry.durationMs} ms`}`.trimEnd();
    case 'pending':
      return `  pending  ${id}${entry.selected ? '' : '  (not selected)'}`.trimEnd();
    case 'changed':
      return `  changed  ${id}  applied with sha256 ${entry.appliedChecksum?.slice(0, 12)}…, file now ${entry.checksum?.slice(0, 12)}…`;
    case 'missing':
      return `  missing  ${id}  applied ${entry.appliedAt ?? ''}, file not found`;
  }
}

function header(report: DatabaseReport): string {
  return report.table === undefined
    ? `${report.database} (${report.engine}, ${report.strategy}) at ${report.target}`
    : `${report.database} (${report.engine}, ${report.strategy}, table ${report.table}) at ${report.target}`;
}

function planText(report: DatabaseReport): string {
  if (report.migrations === undefined) {
    return `${header(report)}\n  would run: ${report.command?.join(' ') ?? ''}\n  (engine ${report.engine} keeps its own state; run its status command for details)`;
  }
  const width = Math.max(0, ...report.migrations.map((entry) => entry.id.length));
  const summary = summarize(report.migrations);
  const lines = report.migrations.map((entry) => planLine(entry, width));
  const counts = [
    `${summary.pending} pending`,
    `${summary.applied} applied`,
    `${summary.changed} changed`,
    ...(summary.missing > 0 ? [`${summary.missing} missing`] : []),
  ];
  return [
    header(report),
    ...(lines.length > 0 ? lines : ['  (no migration files)']),
    `  ${counts.join(', ')}`,
  ].join('\n');
}

function runText(report: DatabaseReport): string {
  if (report.migrations === undefined) {
    return `${report.database}: ran ${report.command?.join(' ') ?? ''} in ${report.durationMs} ms`;
  }
  const summary = summarize(report.migrations);
  const previously = summary.applied - report.applied.length;
  if (report.applied.length === 0) {
    return `${report.database}: up to date (${plural(summary.applied, 'migration')} applied)`;
  }
  const ids = report.applied.map((entry) => entry.id).join(', ');
  return `${report.database}: applied ${plural(report.applied.length, 'migration')} (${ids}) in ${report.durationMs} ms; ${previously} already applied`;
}

function jsonApplied(entry: AppliedFile) {
  return { id: entry.id, file: entry.file, duration_ms: entry.durationMs };
}

function jsonReport(report: DatabaseReport) {
  return {
    database: report.database,
    engine: report.engine,
    strategy: report.strategy,
    target: report.target,
    table: report.table ?? null,
    command: report.command ?? null,
    applied: report.applied.map(jsonApplied),
    summary: report.migrations === undefined ? null : summarize(report.migrations),
    migrations:
      report.migrations?.map((entry) => ({
        id: entry.id,
        state: entry.state,
        selected: entry.selected,
        file: entry.file ?? null,
        checksum: entry.checksum ?? null,
        applied_checksum: entry.appliedChecksum ?? null,
        applied_at: entry.appliedAt ?? null,
        duration_ms: entry.durationMs ?? null,
      })) ?? null,
    duration_ms: report.durationMs,
  };
}
