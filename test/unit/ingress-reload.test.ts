import { describe, expect, it } from 'vitest';
import type { PlannedRoute } from '../../src/ingress/basic-auth.js';
import { caddyConfig, routesFromConfig } from '../../src/ingress/caddy.js';
import { ensureIngress } from '../../src/rollout/ingress.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { Secret } from '../../src/util/secret.js';

const PASSWORD = 'Unit-Reload-pw-5a1d';

/** A gateway on a recorded host: running, its live config served by GET /config/ and replaced by /load. */
function gateway() {
  let live: unknown = caddyConfig([]);
  let loads = 0;
  const runner = new RecordingRunner({
    name: 'h1',
    script: (argv, options) => {
      const text = argv.join(' ');
      if (text.startsWith('docker container inspect')) {
        return {
          stdout: `${JSON.stringify({
            Id: 'gw',
            Name: '/shop-staging-ingress',
            State: { Status: 'running', Running: true },
            Config: { Labels: { 'stagecraft.ingress-ports': '8080:80' } },
          })}\n`,
        };
      }
      if (text.includes('http://127.0.0.1:2019/config/')) return { stdout: JSON.stringify(live) };
      if (text.includes('http://127.0.0.1:2019/load')) {
        live = JSON.parse((options.stdin as Secret).reveal());
        loads++;
      }
      return undefined;
    },
  });
  return { runner, live: () => live, loads: () => loads };
}

const route = (password: string, extra: Partial<PlannedRoute> = {}): PlannedRoute[] => [
  {
    service: 'web',
    domains: ['staging.example'],
    port: 8080,
    basicAuth: { user: 'admin', password: new Secret(password) },
    ...extra,
  },
];

describe('ensureIngress with basic auth', { timeout: 60_000 }, () => {
  it('loads a config once, keeps it while the password is the same, and never puts the password in argv', async () => {
    const gw = gateway();
    const target = {
      runner: gw.runner,
      project: 'shop',
      container: 'shop-staging-ingress',
      network: 'shop-staging_ingress',
    };
    const ensure = (routes: PlannedRoute[]) =>
      ensureIngress(target, 'caddy:2', { http: 8080, https: 8443 }, routes, { mode: 'off' });

    expect(await ensure(route(PASSWORD))).toBe('reconfigured');
    const hash = routesFromConfig(gw.live())[0]!.basicAuth!.hash;
    expect(await ensure(route(PASSWORD))).toBe('running');
    expect(gw.loads()).toBe(1);

    // Maintenance is a changed route; the hash stays the same.
    expect(await ensure(route(PASSWORD, { maintenance: { retryAfterSeconds: 60 } }))).toBe('reconfigured');
    expect(routesFromConfig(gw.live())[0]).toMatchObject({
      basicAuth: { user: 'admin', hash },
      maintenance: { retryAfterSeconds: 60 },
    });
    // A new password is a new hash.
    expect(await ensure(route('another-password'))).toBe('reconfigured');
    expect(routesFromConfig(gw.live())[0]!.basicAuth!.hash).not.toBe(hash);
    expect(gw.loads()).toBe(3);

    const recorded = JSON.stringify(gw.runner.calls);
    expect(recorded).not.toContain(PASSWORD);
    expect(recorded).not.toContain('$2b$');
  });
});
