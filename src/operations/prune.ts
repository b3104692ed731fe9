import { stepHandler } from '../engine/handlers.js';
import { interruptOnSignals } from '../engine/interrupt.js';
import { type RunResult, runPlan } from '../engine/run.js';
import { phase } from '../plan/deploy.js';
import { decidePrune, type Retention, releasesRoot, retainSteps } from '../plan/prune.js';
import type { Plan, Step } from '../plan/types.js';
import { progressRenderer } from '../render/progress.js';
import { formatBytes, type RetainReport, readInventory } from '../rollout/retain.js';
import { runnerFor } from '../runners/factory.js';
import { LocalRunner } from '../runners/local.js';
import type { Runner } from '../runners/types.js';
import { acquireLock, releaseLock } from '../state/lock.js';
import { PHASES, type PhaseName } from '../state/types.js';
import { ExternalError } from '../util/errors.js';
import { type LoadedEnvironment, loadEnvironment } from './environment.js';
import { releaseLockRequest } from './lock-request.js';
import { retentionFor } from './retention.js';
import type { Session } from './session.js';

/** The steps of a prune or remove plan by phase (the others are skipped), as one Plan. */
export function maintenancePlan(
  env: LoadedEnvironment,
  kind: 'prune' | 'remove',
  byPhase: Partial<Record<PhaseName, Step[]>>,
  releaseId = '',
): Plan {
  const { model } = env;
  return {
    kind,
    project: model.project,
    environment: model.environment,
    version: '-',
    releaseId,
    hosts: model.hosts.map((host) => ({ name: host.name, roles: host.roles })),
    phases: PHASES.map((name) =>
      phase(name, byPhase[name] ?? [], byPhase[name] === undefined ? `${kind} does not ${name}` : undefined),
    ),
  };
}

/** The lock steps of a maintenance plan: acquire first (migrate_pre), release last (finalize). */
export function lockSteps(env: LoadedEnvironment, message: string): { acquire: Step; release: Step } {
  const lockHost = { name: env.model.lockHost };
  return {
    acquire: {
      id: 'lock:acquire',
      phase: 'migrate_pre',
      host: lockHost,
      title: `acquire the deploy lock ${env.model.composeProject} on ${env.model.lockHost}`,
      action: { kind: 'lock-acquire', message },
      dependsOn: [],
    },
    release: {
      id: 'lock:release',
      phase: 'finalize',
      host: lockHost,
      title: 'release the deploy lock',
      action: { kind: 'lock-release' },
      dependsOn: ['lock:acquire'],
    },
  };
}

/** `stagecraft prune`'s plan: the lock, a retain step per host (in parallel), the build machine's, the unlock. */
export function planPrune(env: LoadedEnvironment, kept: Retention): Plan {
  const lock = lockSteps(env, 'prune old releases');
  const steps = retainSteps(env.model, kept, {
    phase: 'rollout',
    after: [lock.acquire.id],
    bestEffort: false,
    measure: true,
    buildPhase: 'finalize',
    buildAfter: [lock.acquire.id],
  });
  return maintenancePlan(env, 'prune', {
    migrate_pre: [lock.acquire],
    rollout: steps.filter((step) => step.phase === 'rollout'),
    finalize: [...steps.filter((step) => step.phase === 'finalize'), lock.release],
  });
}

/**
 * Runs a prune or remove plan through the engine: runners per host (this machine for steps without
 * one), the deploy lock injected, `record` when given, progress printed. Never throws for a failed
 * step: see `result.ok` (the lock is released by the engine whatever happened).
 */
export async function runMaintenance(
  session: Session,
  env: LoadedEnvironment,
  plan: Plan,
  extra: { record?: () => Promise<void>; onRetain?: (report: RetainReport) => void; lockWaitMs?: number },
): Promise<RunResult> {
  const { model } = env;
  const runners = new Map<string, Runner>();
  const local = new LocalRunner({ cwd: env.loaded.root });
  const hostRunner = (host: string | undefined): Runner => {
    if (host === undefined) return local;
    let runner = runners.get(host);
    if (runner === undefined) {
      runner = runnerFor(model, host);
      runners.set(host, runner);
    }
    return runner;
  };
  const interrupt = interruptOnSignals();
  try {
    return await runPlan(plan, {
      handle: stepHandler({
        model,
        runner: hostRunner,
        pushed: {},
        lock: {
          acquire: async (runner, message) => {
            await acquireLock(
              runner,
              releaseLockRequest(session, model, {
                version: plan.version,
                message,
                waitMs: extra.lockWaitMs,
              }),
            );
          },
          release: async (runner) => {
            await releaseLock(runner, { project: model.project, env: model.environment });
          },
        },
        ...(extra.record ? { record: extra.record } : {}),
        ...(extra.onRetain ? { onRetain: extra.onRetain } : {}),
      }),
      emit: progressRenderer(session.output),
      onPhase: async () => undefined,
      parallelHosts: model.rollout.parallelHosts,
      canary: false,
      signal: interrupt.signal,
    });
  } finally {
    interrupt.dispose();
    await Promise.all([...runners.values()].map((runner) => runner.close().catch(() => undefined)));
  }
}

/** The error a failed maintenance run is reported with (exit 2: a host or command failed). */
export function maintenanceError(plan: Plan, result: RunResult): Error {
  const error = result.error;
  if (error instanceof Error && 'exitCode' in error) return error;
  return new ExternalError(`${plan.kind} failed in phase ${result.failedPhase}: ${String(error)}`, {
    cause: error,
  });
}

/**
 * What each retain step would remove now, read from the hosts and the build machine (read-only:
 * `docker image ls`, `docker ps`, `docker container inspect`, `ls`), one block per machine. A
 * machine that cannot be read says so.
 */
async function wouldRemove(env: LoadedEnvironment, kept: Retention): Promise<string> {
  const { model } = env;
  const machines = [
    ...model.hosts.map((host) => ({ name: host.name, releasesDir: releasesRoot(model), containers: true })),
    ...(model.driver === 'local'
      ? []
      : [{ name: 'build machine', releasesDir: undefined, containers: false }]),
  ];
  const blocks = await Promise.all(
    machines.map(async (machine) => {
      const runner =
        machine.releasesDir === undefined
          ? new LocalRunner({ cwd: env.loaded.root })
          : runnerFor(model, machine.name);
      try {
        const decision = decidePrune(await readInventory(runner, machine.releasesDir), {
          ...kept,
          project: model.composeProject,
          containers: machine.containers,
          ...(machine.releasesDir === undefined ? {} : { releasesDir: machine.releasesDir }),
        });
        const items = [
          ...decision.folders.map((folder) => `release folder ${folder}`),
          ...decision.images.map((image) => `image ${image.refs.join(', ')}`),
          ...decision.containers.map((container) => `stopped container ${container.name}`),
        ];
        return [
          `  ${machine.name}: ${items.length === 0 ? 'nothing to remove' : `would remove ${items.length}`}`,
          ...items.map((item) => `    ${item}`),
        ].join('\n');
      } catch (error) {
        return `  ${machine.name}: could not be read (${(error as Error).message})`;
      } finally {
        await runner.close().catch(() => undefined);
      }
    }),
  );
  return [
    '',
    `Read from the hosts now (keeping ${kept.keepReleases.join(', ') || 'no release'}):`,
    ...blocks,
  ].join('\n');
}

/**
 * `stagecraft prune`: plans retention from the history (lock host's included), prints the plan with
 * `--dry-run`, else runs it and reports per host what went and the bytes freed (`--json`: one
 * document). Returns the exit code; throws UserError for bad config, ExternalError when a host fails.
 */
export async function runPrune(session: Session, options: { lockWaitMs?: number }): Promise<number> {
  const env = await loadEnvironment(session, 'deploy');
  const { model } = env;
  const kept = await retentionFor(session, env, undefined, { planOnly: false });
  if (kept === undefined) {
    throw new ExternalError(`cannot prune ${model.environment}: its release history could not be read`, {
      hint: `check that ${model.lockHost} is reachable (\`stagecraft doctor\`), then run prune again`,
    });
  }
  const plan = planPrune(env, kept);
  if (session.globals.dryRun) {
    const { printPlan } = await import('./deploy.js');
    printPlan(session, plan, 'text');
    if (!session.globals.json) session.output.result(await wouldRemove(env, kept));
    return 0;
  }
  session.output.info(
    `Pruning ${model.project} ${model.environment}: keeping ${kept.keepReleases.length} release${kept.keepReleases.length === 1 ? '' : 's'} (${kept.keepReleases.join(', ') || 'none'})`,
  );
  const reports: RetainReport[] = [];
  const result = await runMaintenance(session, env, plan, {
    onRetain: (report) => reports.push(report),
    ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
  });
  if (!result.ok) throw maintenanceError(plan, result);
  const order = [...model.hosts.map((host) => host.name), 'local'];
  reports.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
  if (session.globals.json) {
    // One line after the step events (JSON lines), as `deploy --json` ends with its release event.
    session.output.result(
      JSON.stringify({
        event: 'prune',
        environment: model.environment,
        retain: model.releases.retain,
        kept_releases: kept.keepReleases,
        hosts: reports.map((report) => ({
          host: report.host === 'local' && model.driver !== 'local' ? 'build' : report.host,
          removed: {
            release_folders: report.removed.folders,
            images: report.removed.images.map((image) => ({ id: image.id, refs: image.refs })),
            containers: report.removed.containers.map((container) => container.name),
          },
          ...(report.buildCache === undefined ? {} : { build_cache: report.buildCache }),
          used_before_bytes: report.usedBefore ?? null,
          used_after_bytes: report.usedAfter ?? null,
          freed_bytes: report.freedBytes ?? null,
        })),
      }),
    );
  } else {
    const lines = reports.map((report) => {
      const name = report.host === 'local' && model.driver !== 'local' ? 'build machine' : report.host;
      const { folders, images, containers } = report.removed;
      return `  ${name.padEnd(14)} freed ${formatBytes(report.freedBytes ?? 0).padStart(9)}  (${folders.length} release folders, ${images.length} images, ${containers.length} stopped containers${report.buildCache === undefined ? '' : `, build cache ${report.buildCache}`})`;
    });
    session.output.result(
      [`Pruned ${model.composeProject} (retain ${model.releases.retain}):`, ...lines].join('\n'),
    );
  }
  return 0;
}
