// `services.<name>.health` of stagecraft.yml applied to the compose model, once, right after compose
// has resolved the file: from then on the rollout's wait, plan, the spec hash and the rendered file all
// see the same health check. Pure.
import { UserError } from '../util/errors.js';
import type { ComposeHealthcheck, ComposeProject } from './types.js';

/** The `health` block of stagecraft.yml (project level merged with the environment's). */
export interface HealthSettings {
  path?: string;
  port?: number;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}

/**
 * Timings of a health check Stagecraft supplies from `health.path`, where the block does not set them:
 * a probe every 2 s (Docker's 30 s would hold each rollout for half a minute), 5 s to answer, 3 misses.
 */
export const SUPPLIED_HEALTHCHECK = { interval: '2s', timeout: '5s', retries: 3 } as const;

/** URL path characters safe inside shell single quotes and in a compose file (no `'`, `$` or spaces). */
const PROBE_PATH = /^\/[A-Za-z0-9._~!&()*+,;=:@%/?-]*$/;

/**
 * The `CMD-SHELL` probe of `http://127.0.0.1:<port><path>` from inside the container: wget (busybox
 * and Alpine images), else curl, else Node's fetch; healthy on a 2xx answer (wget and curl -f fail on
 * 4xx/5xx; fetch's `ok`). An image with none of the three stays unhealthy and the rollout stops.
 */
export function httpProbe(port: number, path: string): string[] {
  const url = `http://127.0.0.1:${port}${path}`;
  return [
    'CMD-SHELL',
    `wget -q -O /dev/null '${url}' 2>/dev/null || curl -fsS -o /dev/null '${url}' 2>/dev/null || node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' '${url}'`,
  ];
}

/**
 * Returns a copy of `compose` in which each service with a `health` block has the health check it
 * describes: with `path`, an HTTP probe on `health.port`, else the service's `port` (replacing the
 * compose file's check); the timings given replace the compose file's (or the image's, when the file
 * has no check). Services without a block are unchanged.
 *
 * @param settingsOf service name → its merged stagecraft.yml settings (health and port).
 * @throws UserError `health.path` without a port to probe, or a path that is not URL-safe.
 */
export function withConfiguredHealthchecks(
  compose: ComposeProject,
  settingsOf: (service: string) => { health?: HealthSettings; port?: number },
): ComposeProject {
  const services = { ...compose.services };
  for (const [name, service] of Object.entries(compose.services)) {
    const settings = settingsOf(name);
    const health = settings.health;
    if (health === undefined) continue;
    const timings: ComposeHealthcheck = {
      ...(health.interval === undefined ? {} : { interval: health.interval }),
      ...(health.timeout === undefined ? {} : { timeout: health.timeout }),
      ...(health.retries === undefined ? {} : { retries: health.retries }),
      ...(health.start_period === undefined ? {} : { start_period: health.start_period }),
    };
    if (health.path === undefined) {
      if (Object.keys(timings).length === 0) continue;
      const { disable: _disable, ...current } = service.healthcheck ?? {};
      services[name] = { ...service, healthcheck: { ...current, ...timings } };
      continue;
    }
    if (!PROBE_PATH.test(health.path)) {
      throw new UserError(
        `services.${name}.health.path: "${health.path}" is not a URL path Stagecraft can probe`,
        { hint: 'use letters, digits and / . _ ~ - ? = & %, e.g. /health (no quotes or spaces)' },
      );
    }
    const port = health.port ?? settings.port;
    if (port === undefined) {
      throw new UserError(`services.${name}.health.path needs a port to probe`, {
        hint: `set services.${name}.port (the port the service listens on) or services.${name}.health.port`,
      });
    }
    services[name] = {
      ...service,
      healthcheck: { test: httpProbe(port, health.path), ...SUPPLIED_HEALTHCHECK, ...timings },
    };
  }
  return { ...compose, services };
}
