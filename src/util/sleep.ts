/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (it never rejects, unlike
 * `timers/promises`' setTimeout, so a poll loop checks `signal.aborted` itself). The abort listener
 * is removed either way: a loop of many sleeps on one signal leaks none.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
