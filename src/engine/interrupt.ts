import { setMaxListeners } from 'node:events';
import { UserError } from '../util/errors.js';

/** A plan run's cancellation: the signal its steps take, and the removal of its process handlers. */
export interface Interrupt {
  signal: AbortSignal;
  /** Cancels the run for another reason (a lost lock lease): the steps see `reason`. */
  abort(reason: Error): void;
  /** Removes the SIGINT/SIGTERM handlers; call it once the plan has run (in a `finally`). */
  dispose(): void;
}

/**
 * Cancels a plan run on SIGINT or SIGTERM: the returned signal aborts with `UserError('interrupted')`.
 * Every command a step runs listens to the signal while it runs, and steps run side by side (hosts,
 * services, retain), so the signal has no listener limit: more than ten listeners at once is the
 * normal case, not Node's "possible EventTarget memory leak".
 *
 * Handlers are added with `on`, not `once`: execa's signal-exit handler re-raises a signal when no
 * other listener is left.
 *
 * @returns the signal, `abort` and `dispose`; throws nothing.
 */
export function interruptOnSignals(): Interrupt {
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const onSignal = () => abort.abort(new UserError('interrupted'));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    abort: (reason) => abort.abort(reason),
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
