/** How a crashed dev process is restarted: exponential delays, capped, reset after a stable run. */
export interface BackoffPolicy {
  /** Delay before the first restart. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per consecutive crash. */
  factor: number;
  /** A process that ran at least this long before crashing starts again from `initialMs`. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  resetAfterMs: 10_000,
};

/** The delay before restart number `attempt` (1-based): initial · factor^(attempt−1), capped. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, attempt - 1);
  const delay = policy.initialMs * policy.factor ** exponent;
  return Math.min(policy.maxMs, Math.round(delay));
}

/**
 * Counts consecutive crashes of one process. `started()` when it (re)starts, `crashed()` when it dies:
 * that returns the attempt number and the delay to wait before starting it again.
 */
export class RestartTracker {
  readonly #policy: BackoffPolicy;
  readonly #now: () => number;
  #attempt = 0;
  #startedAt: number | undefined;

  constructor(policy: BackoffPolicy = DEFAULT_BACKOFF, now: () => number = Date.now) {
    this.#policy = policy;
    this.#now = now;
  }

  started(): void {
    this.#startedAt = this.#now();
  }

  crashed(): { attempt: number; delayMs: number } {
    const ranFor = this.#startedAt === undefined ? 0 : this.#now() - this.#startedAt;
    if (ranFor >= this.#policy.resetAfterMs) this.#attempt = 0;
    this.#attempt += 1;
    this.#startedAt = undefined;
    return { attempt: this.#attempt, delayMs: backoffDelay(this.#attempt, this.#policy) };
  }

  get attempts(): number {
    return this.#attempt;
  }
}
