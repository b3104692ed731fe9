import { describe, expect, it } from 'vitest';
import type { ContainerFacts } from '../../src/docker/container.js';
import {
  MAX_POLL_MS,
  MIN_POLL_MS,
  nextPollMs,
  UNKNOWN_INTERVAL_POLL_MS,
} from '../../src/rollout/health-poll.js';

const STARTED = Date.parse('2026-11-30T10:00:00.000Z');

function container(health: string | undefined, startedAt = '2026-11-30T10:00:00.000Z'): ContainerFacts {
  return {
    id: 'c1',
    name: 'shop-production-api-2',
    status: 'running',
    running: true,
    health,
    exitCode: 0,
    restartCount: 0,
    startedAt,
    image: 'api',
    imageId: 'sha256:1mage',
    labels: {},
    ips: {},
  };
}

describe('nextPollMs', () => {
  const checked = { timeoutMs: 60_000, stableForMs: 3000, intervalMs: 500 };

  it("waits for the health check's first probe (interval after the start) plus a slack, then each next one", () => {
    expect(nextPollMs([container('starting')], checked, STARTED + 50)).toBe(550);
    // 20 ms after a probe fell due: its result is about to show, look again soon.
    expect(nextPollMs([container('starting')], checked, STARTED + 520)).toBe(MIN_POLL_MS);
    // 300 ms after the first probe: the second is due in 200 ms.
    expect(nextPollMs([container('starting')], checked, STARTED + 800)).toBe(300);
  });

  it('caps a long interval at MAX_POLL_MS, and follows the container probed soonest', () => {
    const slow = { ...checked, intervalMs: 30_000 };
    expect(nextPollMs([container('starting')], slow, STARTED + 10)).toBe(MAX_POLL_MS);
    const young = container('starting', '2026-11-30T10:00:00.400Z');
    expect(nextPollMs([container('starting'), young], checked, STARTED + 450)).toBe(150);
    // A container already healthy does not count.
    expect(nextPollMs([container('healthy'), young], checked, STARTED + 450)).toBe(550);
  });

  it('in the start period, a start_interval shorter than the interval sets the pace; after it, the interval', () => {
    const started = { ...checked, intervalMs: 30_000, start: { intervalMs: 400, periodMs: 5_000 } };
    expect(nextPollMs([container('starting')], started, STARTED + 50)).toBe(450);
    expect(nextPollMs([container('starting')], started, STARTED + 810)).toBe(MIN_POLL_MS);
    expect(nextPollMs([container('starting')], started, STARTED + 1_000)).toBe(300);
    // Past the start period only the 30 s interval is left: capped at a second.
    expect(nextPollMs([container('starting')], started, STARTED + 5_050)).toBe(MAX_POLL_MS);
  });

  it('without a health check, waits until the youngest container has run stable_for', () => {
    const unchecked = { timeoutMs: 60_000, stableForMs: 800 };
    expect(nextPollMs([container(undefined)], unchecked, STARTED + 100)).toBe(700);
    expect(nextPollMs([container(undefined)], unchecked, STARTED + 790)).toBe(MIN_POLL_MS);
    expect(nextPollMs([container(undefined)], { ...unchecked, stableForMs: 3000 }, STARTED)).toBe(
      MAX_POLL_MS,
    );
  });

  it("polls an image's own health check (interval unknown to the plan) every 250 ms", () => {
    expect(nextPollMs([container('starting')], { timeoutMs: 60_000, stableForMs: 3000 }, STARTED)).toBe(
      UNKNOWN_INTERVAL_POLL_MS,
    );
  });

  it("times the looks by the container's inspected health check (the image's), over the plan's", () => {
    const imageCheck = { ...container('starting'), healthcheck: { intervalMs: 1000 } };
    const plannedWithout = { timeoutMs: 60_000, stableForMs: 3000 };
    // The image probes every second: the first look is just after the first probe, not in 250 ms.
    expect(nextPollMs([imageCheck], plannedWithout, STARTED + 150)).toBe(950);
    expect(nextPollMs([imageCheck], plannedWithout, STARTED + 1300)).toBe(800);
    // What Docker runs wins over the plan's interval.
    expect(nextPollMs([imageCheck], checked, STARTED + 150)).toBe(950);
    // A start_interval Docker runs sets the pace in the start period.
    const fast = {
      ...container('starting'),
      healthcheck: { intervalMs: 5000, start: { intervalMs: 200, periodMs: 2000 } },
    };
    expect(nextPollMs([fast], plannedWithout, STARTED + 50)).toBe(250);
    expect(nextPollMs([fast], plannedWithout, STARTED + 2150)).toBe(MAX_POLL_MS);
  });

  it('looks again soon when a start time is missing or a container is not running', () => {
    expect(nextPollMs([container('starting', '')], checked, STARTED)).toBe(MIN_POLL_MS);
    expect(nextPollMs([{ ...container('starting'), running: false }], checked, STARTED)).toBe(MIN_POLL_MS);
    expect(nextPollMs([], checked, STARTED)).toBe(MIN_POLL_MS);
  });
});
