import pLimit from 'p-limit';
import type { Plan, Step } from '../plan/types.js';
import { PHASES, type PhaseName, type PhaseStatus } from '../state/types.js';
import { isStagecraftError } from '../util/errors.js';

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
 * Runs a plan: phases in their fixed order; within `rollout`, hosts in parallel (bounded, canary
 * first) and each host's steps in order; everywhere else one step after another. A failure marks the
 * phase failed and later phases skipped; `lock:release` runs whatever happened.
 */
export async function runPlan(plan: Plan, options: EngineOptions): Promise<RunResult> {
  const phases = Object.fromEntries(PHASES.map((phase) => [phase, 'pending'])) as Record<
    PhaseName,
    PhaseStatus
  >;
  const results: StepResult[] = [];
  const result: RunResult = { ok: true, phases, steps: results, hostsDone: [], hostsFailed: [] };
  let lockHeld = false;

  const runStep = async (step: Step): Promise<void> => {
    options.signal.throwIfAborted();
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
        for (const step of byHost.get(host)!) await runStep(step);
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
