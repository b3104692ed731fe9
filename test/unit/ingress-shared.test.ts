import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PlannedRoute } from '../../src/ingress/basic-auth.js';
import {
  CONFIG_LOCK_NO_ADMIN,
  caddyConfig,
  configLockArgv,
  configUnlockArgv,
  type IngressTls,
  routesFromConfig,
  upstreamAlias,
  withoutApp,
} from '../../src/ingress/caddy.js';
import { ensureIngress, type IngressTarget, removeAppRoutes } from '../../src/rollout/ingress.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { UserError } from '../../src/util/errors.js';
import type { Secret } from '../../src/util/secret.js';

const GATEWAY = 'stagecraft-gateway';

/**
 * One host's shared gateway, recorded: running (published as `ports`), its live config served by GET
 * /config/ and replaced by /load, its config lock a flag that `busyLocks` tries find taken. `legacy`
 * names a container of an older version that `docker container inspect` finds.
 */
function host(options: { ports?: string; busyLocks?: number; legacy?: string } = {}) {
  let live: unknown = caddyConfig([]);
  let loads = 0;
  let locked = false;
  let busy = options.busyLocks ?? 0;
  const events: string[] = [];
  const runner = new RecordingRunner({
    name: 'h1',
    script: (argv, stdin) => {
      const text = argv.join(' ');
      if (text.startsWith('docker container inspect')) {
        // One line per container found; a missing one fails the command, as docker does.
        const lines: string[] = [];
        if (argv.includes(GATEWAY)) {
          lines.push(
            JSON.stringify({
              Id: 'gw',
              Name: `/${GATEWAY}`,
              State: { Status: 'running', Running: true },
              Config: {
                Labels: {
                  'stagecraft.ingress-ports': options.ports ?? '80:80',
                  'stagecraft.ingress-data': `${GATEWAY}-data`,
                },
              },
            }),
          );
        }
        const legacy = options.legacy !== undefined && argv.includes(options.legacy);
        if (legacy)
          lines.push(JSON.stringify({ Id: 'old', Name: `/${options.legacy}`, State: { Running: true } }));
        const missing = argv.length - 5 - lines.length;
        return { stdout: lines.map((line) => `${line}\n`).join(''), exitCode: missing > 0 ? 1 : 0 };
      }
      if (text.includes('stagecraft-config.lock') && text.includes('mkdir "$1"')) {
        if (busy > 0) {
          busy--;
          return { exitCode: 1 };
        }
        if (locked) return { exitCode: 1 };
        locked = true;
        events.push('lock');
        return { stdout: JSON.stringify(live) };
      }
      if (text.includes('stagecraft-config.lock') && text.includes('rm -rf "$1"; exit 0')) {
        locked = false;
        events.push('unlock');
        return undefined;
      }
      if (text.includes('http://127.0.0.1:2019/config/')) return { stdout: JSON.stringify(live) };
      if (text.includes('http://127.0.0.1:2019/load')) {
        expect(locked).toBe(true);
        live = JSON.parse((stdin.stdin as Secret).reveal());
        loads++;
        events.push('load');
      }
      if (text.startsWith('docker rm')) events.push(text);
      return undefined;
    },
  });
  const target = (project: string): IngressTarget => ({
    runner,
    project,
    container: GATEWAY,
    network: GATEWAY,
    ...(options.legacy === undefined ? {} : { legacy: { container: options.legacy, network: 'x_ingress' } }),
  });
  return { runner, target, live: () => live, loads: () => loads, events };
}

const web = (domains: string[], extra: Partial<PlannedRoute> = {}): PlannedRoute[] => [
  { service: 'web', domains, port: 8080, ...extra },
];
const ensure = (target: IngressTarget, routes: PlannedRoute[], tls: IngressTls = { mode: 'off' }) =>
  ensureIngress(target, 'caddy:2', { http: 80, https: 443 }, routes, tls);

describe('a gateway shared by several apps on one host', () => {
  it('keeps each app’s routes when another app deploys, each under its own id and upstream alias', async () => {
    const gw = host();
    expect(await ensure(gw.target('shop-production'), web(['shop.example']))).toBe('reconfigured');
    expect(await ensure(gw.target('blog-production'), web(['blog.example']))).toBe('reconfigured');
    // shop redeploys with a body limit: blog's route stays as it was.
    await ensure(gw.target('shop-production'), web(['shop.example'], { maxBodyBytes: 1024 }));
    expect(routesFromConfig(gw.live())).toEqual([
      { app: 'blog-production', service: 'web', domains: ['blog.example'], port: 8080 },
      { app: 'shop-production', service: 'web', domains: ['shop.example'], port: 8080, maxBodyBytes: 1024 },
    ]);
    const raw = JSON.stringify(gw.live());
    expect(raw).toContain('"@id":"stagecraft-shop-production/web"');
    expect(raw).toContain(`"name":"${upstreamAlias('web', 'blog-production')}"`);
    expect(gw.loads()).toBe(3);
    // Every change ran under the lock and released it.
    expect(gw.events).toEqual(['lock', 'load', 'unlock', 'lock', 'load', 'unlock', 'lock', 'load', 'unlock']);
  });

  it('lets two apps share a domain on different path prefixes, and refuses the same domain and path', async () => {
    const gw = host();
    await ensure(gw.target('shop-production'), web(['example.com']));
    await ensure(gw.target('api-production'), web(['example.com'], { path: '/api', stripPath: true }));
    expect(routesFromConfig(gw.live()).map((route) => [route.app, route.path])).toEqual([
      ['api-production', '/api'],
      ['shop-production', undefined],
    ]);
    const error = await ensure(gw.target('blog-production'), web(['www.example.com', 'example.com'])).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      'example.com of web is already routed by shop-production (service web) on the gateway stagecraft-gateway on h1',
    );
    expect(routesFromConfig(gw.live()).map((route) => route.app)).toEqual([
      'api-production',
      'shop-production',
    ]);
  });

  it('refuses other TLS settings than the apps already on it, before anything changes', async () => {
    const gw = host({ ports: '80:80' });
    await ensure(gw.target('shop-production'), web(['shop.example']));
    const before = gw.loads();
    // acme publishes 443 too: the gateway would be made again, under shop's traffic.
    const error = await ensure(gw.target('blog-production'), web(['blog.example']), { mode: 'acme' }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      'the gateway stagecraft-gateway on h1 serves shop-production with other TLS settings than blog-production asks for',
    );
    expect(gw.loads()).toBe(before);
    expect(gw.events.filter((event) => event.startsWith('docker rm'))).toEqual([]);
  });

  it('lets an app alone on the gateway change its TLS settings', async () => {
    const gw = host({ ports: '80:80,443:443' });
    await ensure(gw.target('shop-production'), web(['shop.example']), { mode: 'acme' });
    await ensure(gw.target('shop-production'), web(['shop.example']), {
      mode: 'acme',
      email: 'ops@shop.example',
    });
    expect(JSON.stringify(gw.live())).toContain('ops@shop.example');
  });

  it('waits while another deploy holds the config lock', async () => {
    const gw = host({ busyLocks: 3 });
    expect(await ensure(gw.target('shop-production'), web(['shop.example']))).toBe('reconfigured');
    const tries = gw.runner.calls.filter(
      (call) => call.kind === 'exec' && call.argv.join(' ').includes('mkdir "$1"'),
    );
    expect(tries).toHaveLength(4);
  });

  it('removes the app’s gateway from an older version before the shared one takes its ports', async () => {
    const gw = host({ legacy: 'shop-production-ingress' });
    await ensure(gw.target('shop-production'), web(['shop.example']));
    expect(gw.events[0]).toBe('docker rm -f shop-production-ingress');
  });

  it('takes one app’s routes off and keeps the others’ and their certificates', async () => {
    const gw = host({ ports: '80:80,443:443' });
    await ensure(gw.target('shop-production'), web(['shop.example']), { mode: 'acme' });
    await ensure(gw.target('blog-production'), web(['blog.example']), { mode: 'acme' });
    expect(await removeAppRoutes(gw.target('shop-production'))).toEqual(['blog-production']);
    expect(routesFromConfig(gw.live()).map((route) => route.app)).toEqual(['blog-production']);
    expect(
      (gw.live() as { apps: { tls: { certificates: { automate: string[] } } } }).apps.tls.certificates
        .automate,
    ).toEqual(['blog.example']);
    // Nothing of shop's left: a second removal changes nothing.
    const loads = gw.loads();
    expect(await removeAppRoutes(gw.target('shop-production'))).toEqual(['blog-production']);
    expect(gw.loads()).toBe(loads);
  });
});

describe('upstreamAlias and withoutApp', () => {
  it('gives two apps’ services of one name different aliases of at most 63 characters', () => {
    expect(upstreamAlias('web')).toBe('live-web');
    expect(upstreamAlias('web', 'shop-production')).toMatch(/^live-web-[0-9a-f]{8}$/);
    expect(upstreamAlias('web', 'shop-production')).not.toBe(upstreamAlias('web', 'blog-production'));
    // `a-b`'s `c` and `a`'s `b-c` would both read `a-b-c` without the digest.
    expect(upstreamAlias('c', 'a-b')).not.toBe(upstreamAlias('b-c', 'a'));
    const long = upstreamAlias('s'.repeat(80), 'shop-production');
    expect(long).toHaveLength(63);
  });

  it('leaves a config without the app’s routes unchanged', () => {
    const config = caddyConfig([
      { app: 'blog-production', service: 'web', domains: ['blog.example'], port: 80 },
    ]);
    expect(withoutApp(config, 'shop-production')).toEqual(config);
  });
});

describe('the gateway config lock, run by a real sh', () => {
  const work = mkdtempSync(join(tmpdir(), 'stagecraft-lock-'));
  const dir = join(work, 'config.lock');
  // The gateway's admin API, as the lock reads it: a `wget` that prints a config.
  mkdirSync(join(work, 'bin'));
  writeFileSync(join(work, 'bin', 'wget'), '#!/bin/sh\necho \'{"apps":{}}\'\n', { mode: 0o755 });
  const env = { ...process.env, PATH: `${join(work, 'bin')}:${process.env['PATH'] ?? ''}` };
  // …and one that fails, as wget does while Caddy is not listening yet.
  mkdirSync(join(work, 'down'));
  writeFileSync(join(work, 'down', 'wget'), '#!/bin/sh\nexit 4\n', { mode: 0o755 });
  const run = (argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { env }).status;

  it('prints the live config when taken, and releases it when the admin API does not answer', () => {
    const taken = spawnSync('sh', configLockArgv('zzz', dir, 1).slice(1), { env, encoding: 'utf8' });
    expect([taken.status, taken.stdout]).toEqual([0, '{"apps":{}}\n']);
    expect(run(configUnlockArgv('zzz', dir))).toBe(0);
    const down = spawnSync('sh', configLockArgv('zzz', dir, 1).slice(1), {
      env: { ...env, PATH: `${join(work, 'down')}:${process.env['PATH'] ?? ''}` },
      encoding: 'utf8',
    });
    expect(down.status).toBe(CONFIG_LOCK_NO_ADMIN);
    expect(existsSync(dir)).toBe(false);
  });

  it('is taken once, released only by its holder, and taken over once stale', async () => {
    expect(run(configLockArgv('aaa', dir, 1))).toBe(0);
    expect(run(configLockArgv('bbb', dir, 1))).toBe(1);
    // Not the holder: nothing released.
    expect(run(configUnlockArgv('bbb', dir))).toBe(0);
    expect(run(configLockArgv('bbb', dir, 1))).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    // Stale: the first try releases it, the next takes it.
    expect(run(configLockArgv('bbb', dir, 1))).toBe(1);
    expect(run(configLockArgv('bbb', dir, 1))).toBe(0);
    // The old holder's release leaves the new holder's lock.
    expect(run(configUnlockArgv('aaa', dir))).toBe(0);
    expect(run(configLockArgv('ccc', dir, 1))).toBe(1);
    expect(run(configUnlockArgv('bbb', dir))).toBe(0);
    expect(run(configLockArgv('ccc', dir, 1))).toBe(0);
  });
});
