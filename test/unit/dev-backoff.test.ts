import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, RestartTracker } from '../../src/dev/supervisor/backoff.js';

describe('restart backoff', () => {
  it('doubles from 500 ms and caps at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempt) => backoffDelay(attempt))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('follows a custom policy', () => {
    const policy = { initialMs: 100, maxMs: 1000, factor: 3, resetAfterMs: 5000 };
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, policy))).toEqual([100, 300, 900, 1000]);
  });

  it('counts consecutive crashes', () => {
    let now = 0;
    const tracker = new RestartTracker(DEFAULT_BACKOFF, () => now);
    const delays: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      tracker.started();
      now += 200; // crashes quickly every time
      delays.push(tracker.crashed().delayMs);
      now += delays[delays.length - 1] ?? 0;
    }
    expect(delays).toEqual([500, 1000, 2000, 4000]);
    expect(tracker.attempts).toBe(4);
  });

  it('starts again from the first delay after a stable run', () => {
    let now = 0;
    const tracker = new RestartTracker(DEFAULT_BACKOFF, () => now);
    tracker.started();
    now += 100;
    expect(tracker.crashed()).toEqual({ attempt: 1, delayMs: 500 });
    tracker.started();
    now += 100;
    expect(tracker.crashed()).toEqual({ attempt: 2, delayMs: 1000 });
    tracker.started();
    now += DEFAULT_BACKOFF.resetAfterMs; // ran long enough to count as healthy
    expect(tracker.crashed()).toEqual({ attempt: 1, delayMs: 500 });
  });
});
