import pLimit from 'p-limit';
import type { Plan, Step } from '../plan/types.js';
import { PHASES, type PhaseName, type PhaseStatus } from '../state/types.js';
import { InternalError, isStagecraftError } from '../util/errors.js';

export type StepStatus = 'completed' | 'unchanged' | 'failed' | 'skipped';

export type EngineEvent =
  | { type: 'phase-start'; phase: PhaseName }
  | { type: 'phase-done'; phase: PhaseName; status: PhaseStatus; reason?: string }
  | { type: 'step-start'; step: Step }
  | { type: 'step-output'; step: Step; line: string }
  | {
      type: 'step-done';
      step: Step;
      status: StepStatus;
      durationMs: number;
      detail?: string;
      error?: string;
    };

export interface StepOutcome {
  status: 'completed' | 'unchanged';
  detail?: string;
}

/** Runs one step; everything that touches the world lives behind this. */
export type StepHandler = (
  step: Step,
  log: (line: string) => void,
  signal: AbortSignal,
) => Promise<StepOutcome>;

export interface EngineOptions {
  handle: StepHandler;
  emit: (event: EngineEvent) => void;
  /** Persists a phase's status (the release ledger) before the engine goes on. */
  onPhase: (phase: PhaseName, status: PhaseStatus) => Promise<void>;
  parallelHosts: number;
  /**
   * Steps run at once on one host in the `rollout` phase (at least 1; default 1): a step starts once
   * every step it depends on has completed, so independent services roll out together.
   */
  parallelSteps?: number;
  canary: boolean;
  signal: AbortSignal;
}

export interface StepResult {
  id: string;
  status: StepStatus;
  durationMs: number;
  detail?: string;
  error?: string;
}

export interface RunResult {
  ok: boolean;
  phases: Record<PhaseName, PhaseStatus>;
  steps: StepResult[];
  error?: unknown;
  failedPhase?: PhaseName;
  /** Hosts whose rollout completed, in order (for automatic rollback). */
  hostsDone: string[];
  hostsFailed: string[];
}

/**
 * Checks that the plan's order satisfies every step's `dependsOn`: each dependency is a step of the
 * plan (in a phase that runs) that the engine runs before the step — in an earlier phase, or earlier
 * in the same phase and, in `rollout` (hosts run in parallel), on the same host. Throws InternalError
 * naming the step otherwise: a planner bug, found before anything runs.
 */
export function checkDependencies(plan: Plan): void {
  const position = new Map<string, { phase: number; index: number; host: string | undefined }>();
  plan.phases.forEach((phase, phaseIndex) => {
    phase.steps.forEach((step, index) => {
      position.set(step.id, { phase: phaseIndex, index, host: step.host?.name });
    });
  });
  for (const [phaseIndex, phase] of plan.phases.entries()) {
    for (const [index, step] of phase.steps.entries()) {
      for (const dependency of step.dependsOn) {
        const at = position.get(dependency);
        const before =
          at !== undefined &&
          (at.phase < phaseIndex ||
            (at.phase === phaseIndex &&
              at.index < index &&
              (phase.name !== 'rollout' || at.host === step.host?.name)));
        if (!before) {
          throw new InternalError(
            `plan ${plan.kind} ${plan.releaseId}: step ${step.id} depends on ${dependency}, which ${at === undefined ? 'is not in the plan' : 'does not run before it'}`,
          );
        }
      }
    }
  }
}

/**
 * Runs one host's steps as the graph their `dependsOn` draws: a step starts once every dependency
 * among `steps` has completed (dependencies outside them ran in an earlier phase), at most
 * `parallel` at a time (counting only the steps `bounded` accepts: by default all), in plan order when
 * more are ready than may run. After a failure no further step starts; the ones running finish, then
 * the first error is thrown. The order is checked first (checkDependencies), so every dependency
 * precedes its dependent in `steps`.
 */
async function runGraph(
  steps: Step[],
  parallel: number,
  run: (step: Step) => Promise<void>,
  bounded: (step: Step) => boolean = () => true,
): Promise<void> {
  const limit = pLimit(parallel);
  const done = new Map<string, Promise<void>>();
  let failed = false;
  let firstError: unknown;
  for (const step of steps) {
    const dependencies = step.dependsOn
      .map((id) => done.get(id))
      .filter((promise): promise is Promise<void> => promise !== undefined);
    done.set(
      step.id,
      Promise.all(dependencies).then(() => {
        const task = async () => {
          if (failed) throw new Error('not started: an earlier step failed');
          try {
            await run(step);
          } catch (error) {
            if (!failed) firstError = error;
            failed = true;
            throw error;
          }
        };
        return bounded(step) ? limit(task) : task();
      }),
    );
  }
  await Promise.allSettled(done.values());
  if (failed) throw firstError;
}

/**
 * `steps` with the lock's release made to wait for every step before it: whatever the plan's
 * `dependsOn` says, nothing of a phase run as a graph may still be running once the lock is released.
 */
function lockReleaseLast(steps: Step[]): Step[] {
  return steps.map((step, index) =>
    step.action.kind === 'lock-release'
      ? { ...step, dependsOn: [...new Set([...step.dependsOn, ...steps.slice(0, index).map((s) => s.id)])] }
      : step,
  );
}

/**
 * Runs a plan: phases in their fixed order; within `rollout`, hosts in parallel (bounded, canary
 * first) and each host's steps as their dependency graph (runGraph: independent steps at once, up to
 * `parallelSteps`); `finalize` as its dependency graph (the steps on hosts up to `parallelHosts` at
 * once, this machine's beside them: `retain:build` does not wait for a host's slot; the lock's
 * release after every other step); everywhere else one step after another. `dependsOn` is
 * honoured: the order is checked against it before anything runs (checkDependencies: InternalError),
 * and a step runs only once each of its dependencies has completed. A failure marks the phase failed
 * and later phases skipped; `lock:release` runs whatever happened.
 */
export async function runPlan(plan: Plan, options: EngineOptions): Promise<RunResult> {
  const phases = Object.fromEntries(PHASES.map((phase) => [phase, 'pending'])) as Record<
    PhaseName,
    PhaseStatus
  >;
  const results: StepResult[] = [];
  const result: RunResult = { ok: true, phases, steps: results, hostsDone: [], hostsFailed: [] };
  let lockHeld = false;
  checkDependencies(plan);
  const finished = new Set<string>();

  const runStep = async (step: Step): Promise<void> => {
    options.signal.throwIfAborted();
    const waiting = step.dependsOn.filter((dependency) => !finished.has(dependency));
    if (waiting.length > 0) {
      throw new InternalError(`step ${step.id} was about to run before ${waiting.join(', ')} completed`);
    }
    options.emit({ type: 'step-start', step });
    const started = Date.now();
    try {
      const outcome = await options.handle(
        step,
        (line) => options.emit({ type: 'step-output', step, line }),
        options.signal,
      );
      if (step.action.kind === 'lock-acquire') lockHeld = true;
      if (step.action.kind === 'lock-release') lockHeld = false;
      const done: StepResult = {
        id: step.id,
        status: outcome.status,
        durationMs: Date.now() - started,
        ...(outcome.detail ? { detail: outcome.detail } : {}),
      };
      results.push(done);
      finished.add(step.id);
      options.emit({
        type: 'step-done',
        step,
        status: outcome.status,
        durationMs: done.durationMs,
        ...(outcome.detail ? { detail: outcome.detail } : {}),
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      results.push({ id: step.id, status: 'failed', durationMs: Date.now() - started, error: message });
      options.emit({
        type: 'step-done',
        step,
        status: 'failed',
        durationMs: Date.now() - started,
        error: message,
      });
      throw error;
    }
  };

  const runRollout = async (steps: Step[]): Promise<void> => {
    const byHost = new Map<string, Step[]>();
    for (const step of steps) {
      const host = step.host?.name ?? '';
      byHost.set(host, [...(byHost.get(host) ?? []), step]);
    }
    const hosts = [...byHost.keys()];
    let firstError: unknown;
    const runHost = async (host: string) => {
      if (firstError !== undefined) return;
      try {
        await runGraph(byHost.get(host)!, Math.max(1, options.parallelSteps ?? 1), runStep);
        result.hostsDone.push(host);
      } catch (error) {
        result.hostsFailed.push(host);
        firstError ??= error;
      }
    };
    const waves = options.canary && hosts.length > 1 ? [hosts.slice(0, 1), hosts.slice(1)] : [hosts];
    for (const wave of waves) {
      const limit = pLimit(Math.max(1, options.parallelHosts));
      await Promise.all(wave.map((host) => limit(() => runHost(host))));
      if (firstError !== undefined) throw firstError;
    }
  };

  for (const phasePlan of plan.phases) {
    const name = phasePlan.name;
    if (!result.ok) {
      phases[name] = 'skipped';
      continue;
    }
    if (phasePlan.skipped !== undefined) {
      phases[name] = 'skipped';
      await options.onPhase(name, 'skipped');
      options.emit({ type: 'phase-done', phase: name, status: 'skipped', reason: phasePlan.skipped });
      continue;
    }
    phases[name] = 'running';
    await options.onPhase(name, 'running');
    options.emit({ type: 'phase-start', phase: name });
    try {
      if (name === 'rollout') await runRollout(phasePlan.steps);
      else if (name === 'finalize')
        await runGraph(
          lockReleaseLast(phasePlan.steps),
          Math.max(1, options.parallelHosts),
          runStep,
          (step) => step.host !== undefined,
        );
      else for (const step of phasePlan.steps) await runStep(step);
      phases[name] = 'completed';
      await options.onPhase(name, 'completed');
      options.emit({ type: 'phase-done', phase: name, status: 'completed' });
    } catch (error) {
      result.ok = false;
      result.error = error;
      result.failedPhase = name;
      phases[name] = 'failed';
      await options.onPhase(name, 'failed').catch(() => undefined);
      options.emit({
        type: 'phase-done',
        phase: name,
        status: 'failed',
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }

  if (!result.ok && lockHeld) {
    const release = plan.phases
      .flatMap((phase) => phase.steps)
      .find((step) => step.action.kind === 'lock-release');
    if (release !== undefined) {
      await options
        .handle(release, () => undefined, new AbortController().signal)
        .catch((error) => {
          options.emit({
            type: 'step-output',
            step: release,
            line: `could not release the lock: ${isStagecraftError(error) ? error.message : String(error)}`,
          });
        });
    }
  }
  return result;
}
