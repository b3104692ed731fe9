import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/util/sleep.js';

describe('sleep', () => {
  it('waits the time given', async () => {
    const started = performance.now();
    await sleep(40);
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
  });

  it('ends at once when the signal aborts, or has aborted, and leaves no listener behind', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const waiting = sleep(10_000, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    await waiting;
    expect(performance.now() - started).toBeLessThan(1_000);
    await sleep(10_000, controller.signal);
    expect(performance.now() - started).toBeLessThan(1_000);

    const polling = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, polling.signal);
    expect(getEventListeners(polling.signal, 'abort')).toHaveLength(0);
  });
});
