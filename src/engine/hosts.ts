import pLimit from 'p-limit';

/** A step bound to one host: `setup` and `infra` bootstrap steps. */
export interface HostBoundStep {
  id: string;
  host: string;
  title: string;
}

export type HostStepEvent<S extends HostBoundStep> =
  | { type: 'host-start'; host: string }
  | { type: 'step-start'; step: S }
  | { type: 'step-output'; step: S; line: string }
  | { type: 'step-done'; step: S; status: 'completed' | 'failed'; durationMs: number; error?: string }
  | { type: 'host-done'; host: string; status: 'completed' | 'failed'; error?: string };

export interface HostRunOptions<S extends HostBoundStep> {
  handle(step: S, log: (line: string) => void, signal: AbortSignal): Promise<void>;
  emit(event: HostStepEvent<S>): void;
  /** Hosts worked on at once (at least 1). */
  parallelHosts: number;
  signal: AbortSignal;
}

export interface HostRunResult {
  hostsDone: string[];
  /** Host → the error that stopped it. */
  hostsFailed: Record<string, unknown>;
}

/**
 * Runs steps grouped by host: hosts in parallel (bounded), each host's steps in plan order. A failed
 * step stops its host only; the other hosts go on (the caller reports a partial failure).
 */
export async function runHostSteps<S extends HostBoundStep>(
  hosts: string[],
  steps: S[],
  options: HostRunOptions<S>,
): Promise<HostRunResult> {
  const result: HostRunResult = { hostsDone: [], hostsFailed: {} };
  const limit = pLimit(Math.max(1, options.parallelHosts));
  await Promise.all(
    hosts.map((host) =>
      limit(async () => {
        options.emit({ type: 'host-start', host });
        for (const step of steps.filter((candidate) => candidate.host === host)) {
          const started = Date.now();
          options.emit({ type: 'step-start', step });
          try {
            options.signal.throwIfAborted();
            await options.handle(
              step,
              (line) => options.emit({ type: 'step-output', step, line }),
              options.signal,
            );
            options.emit({ type: 'step-done', step, status: 'completed', durationMs: Date.now() - started });
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            options.emit({
              type: 'step-done',
              step,
              status: 'failed',
              durationMs: Date.now() - started,
              error: message,
            });
            options.emit({ type: 'host-done', host, status: 'failed', error: message });
            result.hostsFailed[host] = error;
            return;
          }
        }
        options.emit({ type: 'host-done', host, status: 'completed' });
        result.hostsDone.push(host);
      }),
    ),
  );
  return result;
}
