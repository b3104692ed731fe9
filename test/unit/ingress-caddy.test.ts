import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  acmeCaRootPath,
  caddyConfig,
  DRAIN_POLL_MS,
  drainArgv,
  GATEWAY_DRAIN_FILE,
  loadConfigArgv,
  parseDrainLine,
  proxySettingsOfConfig,
  routesFromConfig,
  SETTLE_MS,
  sameRoutes,
  tlsOfConfig,
  upstreamAlias,
  writeFileArgv,
} from '../../src/ingress/caddy.js';
import { InternalError } from '../../src/util/errors.js';
import { runWithStandIns } from '../support/stand-in.js';

interface Route {
  '@id': string;
  match?: unknown;
  handle: { dynamic_upstreams: unknown }[];
}
interface Config {
  apps: {
    http: {
      servers: {
        stagecraft: {
          listen: string[];
          automatic_https?: unknown;
          tls_connection_policies?: unknown;
          routes: Route[];
        };
      };
    };
    tls?: unknown;
  };
}

const routes = [
  { service: 'web', domains: ['shop.example', '*'], port: 8080 },
  { service: 'api', domains: ['api.shop.example'], port: 3000 },
];

describe('caddyConfig', () => {
  it('serves plain HTTP with host routes first and the catch-all last, upstreams from DNS aliases', () => {
    const config = caddyConfig(routes) as unknown as Config;
    const server = config.apps.http.servers.stagecraft;
    expect(server.listen).toEqual([':80']);
    expect(server.automatic_https).toEqual({ disable: true });
    expect(server.routes.map((route: Route) => route['@id'])).toEqual([
      'gateway-draining',
      'stagecraft-api',
      'stagecraft-web',
    ]);
    expect(server.routes[1]!.match).toEqual([{ host: ['api.shop.example'] }]);
    expect(server.routes[2]!.match).toBeUndefined();
    expect(server.routes[1]!.handle[0]!.dynamic_upstreams).toEqual({
      source: 'a',
      name: 'live-api',
      port: '3000',
      refresh: '100ms',
    });
    expect(upstreamAlias('api')).toBe('live-api');
    expect(config.apps.tls).toBeUndefined();
  });

  it('terminates TLS with a provided certificate on :443 and redirects HTTP', () => {
    const config = caddyConfig(routes, {
      mode: 'custom',
      certificate: 'CERT',
      key: 'KEY',
    }) as unknown as Config;
    const server = config.apps.http.servers.stagecraft;
    expect(server.listen).toEqual([':443']);
    expect(server.tls_connection_policies).toEqual([{}]);
    expect(server.automatic_https).toEqual({ disable_certificates: true });
    expect(config.apps.tls).toEqual({ certificates: { load_pem: [{ certificate: 'CERT', key: 'KEY' }] } });
  });

  it('obtains certificates with ACME, with the contact email', () => {
    const config = caddyConfig(routes, { mode: 'acme', email: 'ops@shop.example' }) as unknown as Config;
    expect(config.apps.http.servers.stagecraft.listen).toEqual([':443']);
    expect(config.apps.http.servers.stagecraft.automatic_https).toBeUndefined();
    // shop.example is named although its route also takes every other host (no host matcher).
    expect(config.apps.tls).toEqual({
      certificates: { automate: ['api.shop.example', 'shop.example'] },
      automation: { policies: [{ issuers: [{ module: 'acme', email: 'ops@shop.example' }] }] },
    });
  });

  it('uses a private ACME directory, trusting its root from a file in the data volume named by its hash', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const config = caddyConfig(routes, {
      mode: 'acme',
      ca: 'https://10.231.0.1:14000/dir',
      caRoot: pem,
    }) as unknown as Config;
    const path = acmeCaRootPath(pem);
    expect(path).toMatch(/^\/data\/stagecraft\/acme-ca-root-[0-9a-f]{12}\.pem$/);
    expect(config.apps.tls).toEqual({
      certificates: { automate: ['api.shop.example', 'shop.example'] },
      automation: {
        policies: [
          {
            issuers: [
              { module: 'acme', ca: 'https://10.231.0.1:14000/dir', trusted_roots_pem_files: [path] },
            ],
          },
        ],
      },
    });
    // Another root is another file, so the TLS part differs and the gateway reloads its issuer.
    expect(acmeCaRootPath(`${pem}\n`)).not.toBe(path);
    expect(tlsOfConfig(config)).not.toBe(
      tlsOfConfig(
        caddyConfig(routes, { mode: 'acme', ca: 'https://10.231.0.1:14000/dir', caRoot: `${pem}\n` }),
      ),
    );
    expect(writeFileArgv(path)).toEqual([
      'sh',
      '-c',
      'umask 022 && mkdir -p "$(dirname "$1")" && cat > "$1"',
      'sh',
      path,
    ]);
  });

  it('reads its routes back from a live config, and compares them and the TLS part', () => {
    const live = caddyConfig(routes, { mode: 'custom', certificate: 'A', key: 'B' });
    expect(sameRoutes(routesFromConfig(live), routes)).toBe(true);
    expect(sameRoutes(routesFromConfig(live), [routes[1]!])).toBe(false);
    expect(tlsOfConfig(live)).toBe(
      tlsOfConfig(caddyConfig([], { mode: 'custom', certificate: 'A', key: 'B' })),
    );
    expect(tlsOfConfig(live)).not.toBe(
      tlsOfConfig(caddyConfig([], { mode: 'custom', certificate: 'A2', key: 'B' })),
    );
    expect(tlsOfConfig(live)).not.toBe(tlsOfConfig(caddyConfig([])));
  });
});

describe('loadConfigArgv', () => {
  it("writes the config (it may hold the TLS key) 0600 in a 0700 folder of Caddy's config home, never /tmp, and removes it", () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-caddy-load-'));
    try {
      // A wget that reports what it was given to post: the file's path relative to the config home, its
      // mode, its folder's mode and its content; it fails for content "fail".
      const home = join(dir, 'config');
      writeFileSync(
        join(dir, 'wget'),
        '#!/bin/sh\nwhile [ "$1" != --post-file ]; do shift; done\n' +
          'echo "${2#$XDG_CONFIG_HOME/} $(stat -c %a "$2") $(stat -c %a "$(dirname "$2")") $(cat "$2")"\n' +
          '[ "$(cat "$2")" != fail ]\n',
      );
      chmodSync(join(dir, 'wget'), 0o755);
      const [command, ...args] = loadConfigArgv();
      const run = (input: string) =>
        spawnSync(command!, args, {
          input,
          encoding: 'utf8',
          env: { PATH: `${dir}:${process.env['PATH']}`, XDG_CONFIG_HOME: home },
        });
      const ok = run('{"key":"PEM"}');
      expect([ok.status, ok.stdout]).toEqual([0, 'stagecraft/load.json 600 700 {"key":"PEM"}\n']);
      expect(readdirSync(join(home, 'stagecraft'))).toEqual([]);
      const failed = run('fail');
      expect(failed.status).toBe(1);
      expect(readdirSync(join(home, 'stagecraft'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('proxySettingsOfConfig', () => {
  it("tells a gateway configured with another upstream refresh (an older version's) from this one", () => {
    const current = caddyConfig(routes) as unknown as Config;
    expect(proxySettingsOfConfig(current)).toBe('[["100ms"],true]');
    const older = structuredClone(current);
    for (const route of older.apps.http.servers.stagecraft.routes.slice(1))
      (route.handle[0]!.dynamic_upstreams as { refresh: string }).refresh = '1000ms';
    expect(proxySettingsOfConfig(older)).toBe('[["1000ms"],true]');
    expect(proxySettingsOfConfig(caddyConfig([]))).toBe('[[],true]');
  });

  it('tells a config without the draining route (an older version wrote it) from this one', () => {
    const current = caddyConfig(routes) as unknown as Config;
    const older = structuredClone(current);
    older.apps.http.servers.stagecraft.routes.shift();
    expect(proxySettingsOfConfig(older)).toBe('[["100ms"],false]');
  });
});

describe('the draining route', () => {
  it('comes first and, while the drain file exists, makes every response close its connection', () => {
    for (const tls of [{ mode: 'off' }, { mode: 'acme' }] as const) {
      const config = caddyConfig(routes, tls) as unknown as Config;
      expect(config.apps.http.servers.stagecraft.routes[0]).toEqual({
        '@id': 'gateway-draining',
        match: [{ file: { root: '/', try_files: ['/tmp/stagecraft-draining'] } }],
        handle: [{ handler: 'headers', response: { set: { Connection: ['close'] }, deferred: true } }],
      });
    }
    // Not one of the app routes read back, compared or removed with an app.
    expect(routesFromConfig(caddyConfig(routes)).map((route) => route.service)).toEqual(['api', 'web']);
    expect(GATEWAY_DRAIN_FILE).toBe('/tmp/stagecraft-draining');
  });
});

describe('DRAIN_SCRIPT (drainArgv, run by sh with a stand-in wget)', () => {
  // Caddy's /reverse_proxy/upstreams, as it writes it: the nth read answers reads[n] (the last one after).
  const upstreams = (...reads: string[]) =>
    `n=$(cat "$STATE/n" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$STATE/n"
case $n in
${reads.map((body, i) => `  ${i + 1}) echo '${body}';;`).join('\n')}
  *) echo '${reads.at(-1)}';;
esac`;
  const entry = (address: string, inFlight: number) =>
    `{"address":"${address}","num_requests":${inFlight},"fails":0}`;
  const list = (...entries: string[]) => `[${entries.join(',')}]`;
  const busy = list(entry('172.20.0.3:8080', 2), entry('172.20.0.33:8080', 0));
  const idle = list(entry('172.20.0.3:8080', 0));
  const one = (addresses: string[]) => [{ name: 'web', addresses }];
  const ends = (stdout: string) => stdout.trim().split('\n').map(parseDrainLine);

  it('settles, then reads until the old addresses have no request in flight', async () => {
    const run = await runWithStandIns(drainArgv(one(['172.20.0.3:8080']), { ms: 300 }, 5000), {
      wget: upstreams(busy, busy, idle),
    });
    expect(ends(run.stdout)).toEqual([{ name: 'web', end: 'drained' }]);
    expect(run.calls['wget']).toEqual(Array(3).fill('-q -O - http://127.0.0.1:2019/reverse_proxy/upstreams'));
    // 300 ms of settling, then two pauses of DRAIN_POLL_MS.
    expect(run.ms).toBeGreaterThanOrEqual(300 + 2 * DRAIN_POLL_MS);
    expect(run.ms).toBeLessThan(2000);
  });

  it('matches whole addresses, and counts an address Caddy does not list as idle', async () => {
    // 172.20.0.33 is idle although 172.20.0.3 is busy; 172.20.0.9 is not listed at all.
    const run = await runWithStandIns(
      drainArgv(one(['172.20.0.33:8080', '172.20.0.9:8080']), { ms: 0 }, 5000),
      {
        wget: upstreams(busy),
      },
    );
    expect(ends(run.stdout)).toEqual([{ name: 'web', end: 'drained' }]);
    expect(run.calls['wget']).toHaveLength(1);
  });

  it("drains several services with one reader: each group's line comes as soon as it is done", async () => {
    // api (.4) is idle at once, web (.3) on the third read, worker (.5 and .6) never within the grace.
    const busyAll = list(entry('172.20.0.3:8080', 1), entry('172.20.0.5:80', 1), entry('172.20.0.6:80', 0));
    const webIdle = list(entry('172.20.0.3:8080', 0), entry('172.20.0.5:80', 1));
    const groups = [
      { name: 'web', addresses: ['172.20.0.3:8080'] },
      { name: 'api', addresses: ['172.20.0.4:3000'] },
      { name: 'worker', addresses: ['172.20.0.5:80', '172.20.0.6:80'] },
    ];
    const run = await runWithStandIns(drainArgv(groups, { ms: 0 }, 300), {
      wget: upstreams(busyAll, busyAll, webIdle),
    });
    expect(ends(run.stdout)).toEqual([
      { name: 'api', end: 'drained' },
      { name: 'web', end: 'drained' },
      { name: 'worker', end: 'busy' },
    ]);
    expect(run.ms).toBeGreaterThanOrEqual(290);
    expect(run.ms).toBeLessThan(2000);
    expect(run.calls['wget']!.length).toBeGreaterThan(3);
  });

  it('gives up when the grace time runs out, and says so', async () => {
    const run = await runWithStandIns(
      drainArgv(one(['172.20.0.3:8080', '172.20.0.33:8080']), { ms: 0 }, 200),
      {
        wget: upstreams(busy),
      },
    );
    expect(ends(run.stdout)).toEqual([{ name: 'web', end: 'busy' }]);
    expect(run.ms).toBeGreaterThanOrEqual(190);
    expect(run.ms).toBeLessThan(2000);
    expect(run.calls['wget']!.length).toBeGreaterThan(2);
  });

  it('ends every group at once when the admin API does not answer', async () => {
    const groups = [
      { name: 'web', addresses: ['172.20.0.3:8080'] },
      { name: 'api', addresses: ['172.20.0.4:3000'] },
    ];
    const run = await runWithStandIns(drainArgv(groups, { ms: 0 }, 5000), {
      wget: 'echo "wget: can\'t connect to remote host" >&2; exit 1',
    });
    expect(run.code).toBe(0);
    expect(ends(run.stdout)).toEqual([
      { name: 'web', end: 'unreachable' },
      { name: 'api', end: 'unreachable' },
    ]);
    expect(parseDrainLine('OCI runtime exec failed')).toBeUndefined();
  });

  it("settles until the host's uptime reaches the switch's plus the settle time, however late it starts", async () => {
    const uptimeCs = () => Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100);
    const ahead = await runWithStandIns(
      drainArgv(one(['172.20.0.3:8080']), { untilUptimeCs: uptimeCs() + 12 }, 5000),
      { wget: upstreams(idle) },
    );
    expect(ends(ahead.stdout)).toEqual([{ name: 'web', end: 'drained' }]);
    // 120 ms ahead (within a settle's 150): it sleeps until then, give or take /proc/uptime's 10 ms.
    expect(ahead.ms).toBeGreaterThanOrEqual(105);
    expect(ahead.ms).toBeLessThan(1500);
    // A switch long enough ago: no settling at all.
    const past = await runWithStandIns(
      drainArgv(one(['172.20.0.3:8080']), { untilUptimeCs: uptimeCs() - 100 }, 5000),
      { wget: upstreams(idle) },
    );
    expect(ends(past.stdout)).toEqual([{ name: 'web', end: 'drained' }]);
    expect(past.ms).toBeLessThan(250);
  });

  it('settles SETTLE_MS at most when the gateway keeps its own clock (a day ahead of it, or far behind)', async () => {
    const uptimeCs = () => Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100);
    for (const untilUptimeCs of [uptimeCs() + 8_640_000, uptimeCs() - 8_640_000]) {
      const run = await runWithStandIns(drainArgv(one(['172.20.0.3:8080']), { untilUptimeCs }, 5000), {
        wget: upstreams(idle),
      });
      expect(ends(run.stdout)).toEqual([{ name: 'web', end: 'drained' }]);
      expect(run.ms).toBeGreaterThanOrEqual(SETTLE_MS - 10);
      expect(run.ms).toBeLessThan(1500);
    }
  });

  it('passes settle and pause in seconds (or @ the uptime), grace in centiseconds, then NAME=ADDRESS,…', () => {
    expect(drainArgv(one(['172.20.0.3:8080', '172.20.0.4:8080']), { ms: 300 }, 1000).slice(3)).toEqual([
      'sh',
      '0.3',
      '100',
      String(DRAIN_POLL_MS / 1000),
      'web=172.20.0.3:8080,172.20.0.4:8080',
    ]);
    expect(drainArgv(one(['a:1']), { ms: -5 }, 1005).slice(4, 6)).toEqual(['0', '101']);
    expect(drainArgv(one(['a:1']), { untilUptimeCs: 1234567 }, 1000)[4]).toBe('@1234567');
    expect(() => drainArgv([{ name: 'web', addresses: ['1.2.3.4:80 *'] }], { ms: 0 }, 1000)).toThrow(
      InternalError,
    );
  });
});
