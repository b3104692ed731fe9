// When the rollout looks at new containers again while it waits for them to become ready. Docker
// probes a health check `interval` after the container started and every `interval` after that, so
// the wait looks just after each probe instead of on a fixed beat; without a health check it looks
// when the youngest container has run `stable_for`. Pure: the caller passes the clock.
import type { ContainerFacts } from '../docker/container.js';
import type { HealthSpec } from '../plan/types.js';

/** The shortest and longest pause between two looks, in ms (a look costs a round trip to the host). */
export const MIN_POLL_MS = 100;
export const MAX_POLL_MS = 1000;
/** The pause while a container runs a health check whose interval is known neither from its inspect nor from the plan. */
export const UNKNOWN_INTERVAL_POLL_MS = 250;
/** How long after a probe is due its result is looked for (the probe itself takes a moment), in ms. */
export const PROBE_SLACK_MS = 100;

const clamp = (ms: number) => Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, Math.round(ms)));

/**
 * Milliseconds to wait before the next look at `containers` (inspected, not all ready yet), at
 * `now` (ms since the epoch, the clock StartedAt is compared with). With a health check: until the
 * next probe of any container is due plus PROBE_SLACK_MS (by `interval`, or by `start_interval` while
 * the container is in its start period, whichever is sooner: the container's inspected health check,
 * which is the image's when the compose file sets none, else the plan's), or MIN_POLL_MS while a probe
 * that just fell due may still run; UNKNOWN_INTERVAL_POLL_MS when neither knows the interval.
 * Without a health check: until the youngest container has run `stableForMs`. Always between
 * MIN_POLL_MS and MAX_POLL_MS (a missing or odd StartedAt gives MIN_POLL_MS).
 */
export function nextPollMs(containers: readonly ContainerFacts[], health: HealthSpec, now: number): number {
  let soonest = Number.POSITIVE_INFINITY;
  for (const container of containers) {
    const started = Date.parse(container.startedAt);
    if (!container.running || Number.isNaN(started) || started <= 0) return MIN_POLL_MS;
    const age = Math.max(0, now - started);
    if (container.health === undefined) {
      if (age < health.stableForMs) soonest = Math.min(soonest, health.stableForMs - age);
      continue;
    }
    if (container.health === 'healthy') continue;
    // The check Docker runs, as inspected; else the compose file's, as planned.
    const interval = container.healthcheck?.intervalMs ?? health.intervalMs;
    const start = container.healthcheck !== undefined ? container.healthcheck.start : health.start;
    if (interval === undefined) {
      // A health check whose interval is known neither from the container nor from the plan.
      soonest = Math.min(soonest, UNKNOWN_INTERVAL_POLL_MS);
      continue;
    }
    // In the start period a `start_interval` probes more often (Docker ≥ 25): the sooner schedule wins.
    const every = start !== undefined && age < start.periodMs ? [interval, start.intervalMs] : [interval];
    for (const period of every) {
      const sinceProbe = age % period;
      // A probe fell due less than a slack ago (or is due now): its result is about to show.
      if (age >= period && sinceProbe < PROBE_SLACK_MS) return MIN_POLL_MS;
      soonest = Math.min(soonest, period - sinceProbe + PROBE_SLACK_MS);
    }
  }
  return Number.isFinite(soonest) ? clamp(soonest) : MIN_POLL_MS;
}
