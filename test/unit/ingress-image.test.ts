import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseTarHeader, singleFileTar } from '../../src/docker/archive.js';
import { parseContainerInspect } from '../../src/docker/container.js';
import type { PlannedRoute } from '../../src/ingress/basic-auth.js';
import {
  type CaddyRoute,
  caddyConfig,
  GATEWAY_DRAIN_FILE,
  type IngressTls,
  routesFromConfig,
} from '../../src/ingress/caddy.js';
import { gatewayImage, gatewayImageChanged } from '../../src/ingress/gateway-image.js';
import { BESIDE_SCRIPT, ensureIngress, type IngressTarget, MOVE_SCRIPT } from '../../src/rollout/ingress.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { ExternalError, UserError } from '../../src/util/errors.js';
import type { Secret } from '../../src/util/secret.js';
import { runWithStandIns } from '../support/stand-in.js';

const GATEWAY = 'stagecraft-gateway';
const HASH = '$2b$10$abcdefghijklmnopqrstuuQ3c8v2w9q1X6Zb7yJr0lTQkq0m0y5Wu';

/**
 * `docker container inspect` of a gateway: `Config.Image` and the image label as given; `inPorts`: it
 * runs in its ports container (labelled so), which is listed after it.
 */
function inspected(configImage: string | undefined, label: string | undefined, inPorts = false): string {
  const gateway = JSON.stringify({
    Id: 'gw',
    Name: `/${GATEWAY}`,
    State: { Status: 'running', Running: true },
    Config: {
      ...(configImage === undefined ? {} : { Image: configImage }),
      Labels: {
        'stagecraft.ingress-ports': '80:80',
        'stagecraft.ingress-data': `${GATEWAY}-data`,
        ...(label === undefined ? {} : { 'stagecraft.ingress-image': label }),
        ...(inPorts ? { 'stagecraft.ingress-ports-container': `${GATEWAY}-ports` } : {}),
      },
    },
  });
  const ports = JSON.stringify({
    Id: 'ports',
    Name: `/${GATEWAY}-ports`,
    State: { Status: 'running', Running: true },
    Config: { Image: configImage, Labels: { 'stagecraft.ingress-ports': '80:80' } },
  });
  return inPorts ? `${gateway}\n${ports}\n` : `${gateway}\n`;
}

describe('which image a gateway runs', () => {
  it('reads the label, else (a gateway from before the label) Config.Image, else nothing', () => {
    const [labelled] = parseContainerInspect(inspected('caddy:2', 'caddy:2.8'));
    expect(gatewayImage(labelled!)).toBe('caddy:2.8');
    expect(gatewayImageChanged(labelled!, 'caddy:2.8')).toBe(false);
    expect(gatewayImageChanged(labelled!, 'caddy:2')).toBe(true);
    const [old] = parseContainerInspect(inspected('caddy:2', undefined));
    expect(gatewayImage(old!)).toBe('caddy:2');
    expect(gatewayImageChanged(old!, 'caddy:2')).toBe(false);
    expect(gatewayImageChanged(old!, 'caddy:2.8')).toBe(true);
    const [unknown] = parseContainerInspect(inspected(undefined, undefined));
    expect(gatewayImage(unknown!)).toBeUndefined();
    expect(gatewayImageChanged(unknown!, 'caddy:2.8')).toBe(false);
  });
});

/**
 * One host with a running gateway made from `configImage` (labelled `label`), holding `routes`: its
 * config lock, admin API, removal (the config goes with the container) and creation, recorded.
 */
function host(
  configImage: string,
  label: string | undefined,
  routes: CaddyRoute[],
  tls: IngressTls,
  options: { replacedMeanwhile?: string; swapFails?: boolean; inPorts?: boolean; neverServes?: boolean } = {},
) {
  let inspections = 0;
  let live: unknown = caddyConfig(routes, tls);
  let seeded: unknown;
  let locked = false;
  const events: string[] = [];
  const runner = new RecordingRunner({
    name: 'h1',
    script: (argv, stdin) => {
      // One name per deploy for the new container: `-next-X` here.
      const text = argv.join(' ').replace(/-next-[0-9a-f]{8}\b/g, '-next-X');
      if (text.startsWith('docker container inspect')) {
        // The second is under the lock: another deploy may have replaced the gateway by then.
        const replaced = ++inspections > 1 ? options.replacedMeanwhile : undefined;
        return { stdout: inspected(replaced ?? configImage, replaced ?? label, options.inPorts) };
      }
      if (text.startsWith('docker image inspect')) {
        events.push('image inspect');
        return { exitCode: 1 };
      }
      if (text.startsWith('docker pull')) events.push(text);
      if (text.includes('stagecraft-config.lock') && text.includes('mkdir "$1"')) {
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
        events.push('load');
      }
      if (text.startsWith('test -e /proc/sys/net/ipv4/tcp_migrate_req')) events.push('sysctl probe');
      if (text.startsWith('sh -c trap') && text.includes('serving initial configuration')) {
        // The hand-over beside the old one: the new one serves (its config), the old one drains and
        // stops, the new one takes the name.
        events.push(`beside ${text.split(' ').slice(-4).join(' ')}`);
        if (options.neverServes === true)
          return { exitCode: 2, stderr: 'Error: loading initial config: bad\n' };
        live = seeded;
        locked = false;
      }
      if (text.startsWith('docker create')) {
        events.push(
          `create ${argv[argv.indexOf('--name') + 1]!.replace(/-next-[0-9a-f]{8}$/, '-next-X')} ${argv.find((arg) => arg.startsWith('stagecraft.ingress-image='))} ${argv.slice(-6).join(' ')}`,
        );
      }
      if (text.startsWith('docker cp - ')) {
        // One file in a tar: its content from the first block to the padding.
        const input = stdin.stdin as Secret | string;
        const tar = Buffer.from(typeof input === 'string' ? input : input.reveal(), 'utf8');
        const header = parseTarHeader(tar.subarray(0, 512))!;
        if (header.name === 'etc/stagecraft/gateway.json')
          seeded = JSON.parse(tar.subarray(512, 512 + header.size).toString('utf8'));
        events.push(`cp ${header.name} ${text.split(' ')[3]}`);
      }
      if (text.startsWith("sh -c trap '' HUP PIPE; docker stop -t 0") && options.swapFails === true) {
        // The new container did not start: the script started the old one again.
        events.push('swap failed');
        return {
          exitCode: 1,
          stderr: 'Error response from daemon: driver failed programming external connectivity',
        };
      }
      if (text.startsWith("sh -c trap '' HUP PIPE; docker stop -t 0")) {
        // The move: the new ports container and the new gateway, started with the seeded config, take
        // the names.
        live = seeded;
        locked = false;
        events.push(`move ${text.split(' ').slice(-5).join(' ')}`);
      }
      if (text.startsWith('docker rm -f')) events.push(text);
      return undefined;
    },
  });
  const target: IngressTarget = { runner, project: 'shop-production', container: GATEWAY, network: GATEWAY };
  return { runner, target, live: () => live, events };
}

const blog: CaddyRoute[] = [
  {
    app: 'blog-production',
    service: 'web',
    domains: ['blog.example'],
    port: 8080,
    basicAuth: { user: 'admin', hash: HASH },
    maintenance: { retryAfterSeconds: 120 },
  },
];
const shop: PlannedRoute[] = [{ service: 'web', domains: ['shop.example'], port: 8080 }];
const shopLive: CaddyRoute = {
  app: 'shop-production',
  service: 'web',
  domains: ['shop.example'],
  port: 8080,
};

describe('a gateway whose image is not ingress.image', () => {
  it('starts from a one-file tar that tar itself reads', () => {
    const tar = singleFileTar('etc/stagecraft/gateway.json', '{"apps":{"é":1}}', 0o600);
    const bytes = Buffer.from(tar, 'utf8');
    expect(bytes.length).toBe(512 * 4);
    expect(parseTarHeader(bytes.subarray(0, 512))).toEqual({
      name: 'etc/stagecraft/gateway.json',
      size: 17,
      type: '0',
    });
    const listed = spawnSync('tar', ['-tvf', '-'], { input: bytes, encoding: 'utf8' });
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/^-rw------- .* 17 .* etc\/stagecraft\/gateway\.json\n$/);
    const content = spawnSync('tar', ['-xOf', '-'], { input: bytes, encoding: 'utf8' });
    expect(content.stdout).toBe('{"apps":{"é":1}}');
  });

  it('is replaced with every app’s routes (basic auth hash, maintenance), the hash on stdin only', async () => {
    const tls: IngressTls = { mode: 'off' };
    const gw = host('caddy:2', 'caddy:2', [...blog, shopLive], tls, { inPorts: true });
    expect(await ensureIngress(gw.target, 'caddy:2.8', { http: 80, https: 443 }, shop, tls)).toBe('replaced');
    expect(gw.events).toEqual([
      'image inspect',
      'docker pull --quiet caddy:2.8',
      'create stagecraft-gateway-next-X stagecraft.ingress-image=caddy:2.8 caddy:2.8 caddy run --config /etc/stagecraft/gateway.json --resume',
      'lock',
      'cp etc/stagecraft/gateway.json stagecraft-gateway-next-X:/',
      // Beside the old one, in the same ports container; the old one drains once the new one serves.
      'beside stagecraft-gateway stagecraft-gateway-next-X 20 0.5',
      'unlock',
      // The new gateway started with every route: nothing to load.
      'lock',
      'unlock',
    ]);
    const created = gw.runner.calls.flatMap((call) =>
      call.kind === 'exec' && call.argv[1] === 'create' ? [call.argv.join(' ')] : [],
    );
    expect(created[0]).toMatch(
      / --network container:stagecraft-gateway-ports .*--label stagecraft\.ingress-ports-container=stagecraft-gateway-ports /,
    );
    expect(created[0]).not.toContain(' -p ');
    expect(routesFromConfig(gw.live())).toEqual([...blog, shopLive]);
    // The hash travels only in the config on stdin.
    const argvs = gw.runner.calls.flatMap((call) => (call.kind === 'exec' ? [call.argv.join(' ')] : []));
    expect(argvs.filter((argv) => argv.includes(HASH))).toEqual([]);
  });

  it('made before the image label, is replaced when its Config.Image differs and kept when it is the same', async () => {
    const tls: IngressTls = { mode: 'off' };
    const old = host('caddy:2', undefined, [shopLive], tls);
    expect(await ensureIngress(old.target, 'caddy:2.8', { http: 80, https: 443 }, shop, tls)).toBe(
      'replaced',
    );
    // It publishes its ports itself: they move into a new ports container (made first), once.
    expect(old.events).toEqual([
      'image inspect',
      'docker pull --quiet caddy:2.8',
      'sysctl probe',
      'create stagecraft-gateway-ports-next-X undefined net.ipv4.tcp_migrate_req=1 caddy:2.8 caddy run --config /etc/stagecraft/ports.json',
      'cp etc/stagecraft/ports.json stagecraft-gateway-ports-next-X:/',
      'create stagecraft-gateway-next-X stagecraft.ingress-image=caddy:2.8 caddy:2.8 caddy run --config /etc/stagecraft/gateway.json --resume',
      'lock',
      'cp etc/stagecraft/gateway.json stagecraft-gateway-next-X:/',
      'move stagecraft-gateway 0 stagecraft-gateway-ports-next-X stagecraft-gateway-next-X stagecraft-gateway-ports',
      'unlock',
      'lock',
      'unlock',
    ]);
    const ports = old.runner.calls.flatMap((call) =>
      call.kind === 'exec' && call.argv[1] === 'create' && call.argv.includes('/etc/stagecraft/ports.json')
        ? [call.argv.join(' ').replace(/-next-[0-9a-f]{8}\b/g, '-next-X')]
        : [],
    );
    expect(ports).toEqual([
      'docker create --name stagecraft-gateway-ports-next-X --restart unless-stopped --network stagecraft-gateway -p 80:80 --label stagecraft.ingress=stagecraft-gateway --label stagecraft.ingress-ports=80:80 --sysctl net.ipv4.tcp_migrate_req=1 caddy:2.8 caddy run --config /etc/stagecraft/ports.json',
    ]);
    const same = host('caddy:2', undefined, [shopLive], tls);
    expect(await ensureIngress(same.target, 'caddy:2', { http: 80, https: 443 }, shop, tls)).toBe('running');
    // Unchanged: nothing pulled, removed, created or loaded, and no lock (a read showed nothing to change).
    expect(same.events).toEqual([]);
  });

  it('keeps the custom TLS certificate and key across the replacement, the key only on stdin', async () => {
    const key = '-----BEGIN PRIVATE KEY-----\nsecret-key-bytes\n-----END PRIVATE KEY-----\n';
    const tls: IngressTls = { mode: 'custom', certificate: 'CERT', key };
    const gw = host('caddy:2', 'caddy:2', [{ ...shopLive }], tls);
    expect(await ensureIngress(gw.target, 'caddy:2.8', { http: 80, https: 443 }, shop, tls)).toBe('replaced');
    expect(JSON.stringify(gw.live())).toContain('secret-key-bytes');
    const argvs = gw.runner.calls.flatMap((call) => (call.kind === 'exec' ? [call.argv.join(' ')] : []));
    expect(argvs.filter((argv) => argv.includes('secret-key-bytes'))).toEqual([]);
  });

  it('is left to the deploy that replaced it while this one waited for the lock (its own new container removed)', async () => {
    const tls: IngressTls = { mode: 'off' };
    const gw = host('caddy:2', 'caddy:2', [...blog, shopLive], tls, {
      replacedMeanwhile: 'caddy:2.8',
      inPorts: true,
    });
    expect(await ensureIngress(gw.target, 'caddy:2.8', { http: 80, https: 443 }, shop, tls)).toBe('running');
    expect(gw.events.slice(3)).toEqual([
      'lock',
      'unlock',
      'docker rm -f stagecraft-gateway-next-X',
      'lock',
      'unlock',
    ]);
    expect(routesFromConfig(gw.live())).toEqual([...blog, shopLive]);
  });

  it('keeps the old gateway serving when the new one cannot start, and removes the new one', async () => {
    const tls: IngressTls = { mode: 'off' };
    const gw = host('caddy:2', 'caddy:2', [...blog, shopLive], tls, { swapFails: true });
    const error = await ensureIngress(gw.target, 'caddy:2.8', { http: 80, https: 443 }, shop, tls).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toBe(
      'could not start the gateway stagecraft-gateway on h1: Error response from daemon: driver failed programming external connectivity',
    );
    expect(gw.events.slice(6)).toEqual([
      'lock',
      'cp etc/stagecraft/gateway.json stagecraft-gateway-next-X:/',
      'swap failed',
      'unlock',
      'docker rm -f stagecraft-gateway-next-X stagecraft-gateway-ports-next-X',
    ]);
    expect(routesFromConfig(gw.live())).toEqual([...blog, shopLive]);
  });

  it('keeps the old gateway serving, untouched, when the new one beside it does not serve, and removes the new one', async () => {
    const tls: IngressTls = { mode: 'off' };
    const gw = host('caddy:2', 'caddy:2', [...blog, shopLive], tls, { inPorts: true, neverServes: true });
    const error = await ensureIngress(gw.target, 'caddy:2.8', { http: 80, https: 443 }, shop, tls).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toBe(
      'could not start the gateway stagecraft-gateway on h1: the new gateway stagecraft-gateway-next-X did not serve its config: Error: loading initial config: bad'.replace(
        'stagecraft-gateway-next-X',
        (error as ExternalError).message.match(/stagecraft-gateway-next-[0-9a-f]{8}/)![0],
      ),
    );
    expect(gw.events.slice(3)).toEqual([
      'lock',
      'cp etc/stagecraft/gateway.json stagecraft-gateway-next-X:/',
      'beside stagecraft-gateway stagecraft-gateway-next-X 20 0.5',
      'unlock',
      'docker rm -f stagecraft-gateway-next-X',
    ]);
    expect(routesFromConfig(gw.live())).toEqual([...blog, shopLive]);
  });

  it('in its ports container, gets a route change beside it (a new gateway of the same image), never a reload', async () => {
    const tls: IngressTls = { mode: 'off' };
    const gw = host('caddy:2', 'caddy:2', [...blog, shopLive], tls, { inPorts: true });
    const moved: PlannedRoute[] = [
      { service: 'web', domains: ['shop.example', 'www.shop.example'], port: 8080 },
    ];
    expect(await ensureIngress(gw.target, 'caddy:2', { http: 80, https: 443 }, moved, tls)).toBe(
      'reconfigured',
    );
    expect(gw.events).toEqual([
      'lock',
      'create stagecraft-gateway-next-X stagecraft.ingress-image=caddy:2 caddy:2 caddy run --config /etc/stagecraft/gateway.json --resume',
      'cp etc/stagecraft/gateway.json stagecraft-gateway-next-X:/',
      'beside stagecraft-gateway stagecraft-gateway-next-X 20 0.5',
      'unlock',
    ]);
    expect(routesFromConfig(gw.live())).toEqual([
      ...blog,
      { ...shopLive, domains: ['shop.example', 'www.shop.example'] },
    ]);
    // Made before ports containers: the same change is a reload, as before.
    const old = host('caddy:2', 'caddy:2', [...blog, shopLive], tls);
    expect(await ensureIngress(old.target, 'caddy:2', { http: 80, https: 443 }, moved, tls)).toBe(
      'reconfigured',
    );
    expect(old.events).toEqual(['lock', 'load', 'unlock']);
  });

  it('is not replaced when the app asks for a domain another app routes there: refused before anything changes', async () => {
    const tls: IngressTls = { mode: 'off' };
    const gw = host('caddy:2', 'caddy:2', blog, tls);
    const error = await ensureIngress(
      gw.target,
      'caddy:2.8',
      { http: 80, https: 443 },
      [{ service: 'web', domains: ['blog.example'], port: 8080 }],
      tls,
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      'blog.example of web is already routed by blog-production (service web) on the gateway stagecraft-gateway on h1',
    );
    expect(gw.events).toEqual([]);
    expect(routesFromConfig(gw.live())).toEqual(blog);
  });
});

/**
 * Runs one of the gateway's remote scripts with a stand-in `docker` first on PATH that appends each
 * call to a log and answers from `answers` (shell, given `$@`); returns the exit code, stderr and the
 * calls. `hangUpAfterMs`: sends SIGHUP to the script's shell then (an SSH session that died).
 */
async function runScript(
  script: string,
  args: string[],
  answers: string,
  hangUpAfterMs?: number,
): Promise<{ code: number | null; stderr: string; calls: string[] }> {
  const run = await runWithStandIns(
    ['sh', '-c', script, 'sh', ...args],
    { docker: answers },
    { hangUpAfterMs },
  );
  return {
    code: run.code,
    stderr: run.stderr,
    calls: (run.calls['docker'] ?? []).map((call) => call.replace(/\/tmp\/tmp\.\w+/, 'TMPFILE')),
  };
}

describe('the hand-over beside the old gateway (BESIDE_SCRIPT, run by sh with a stand-in docker)', () => {
  // `docker logs new` says it serves from its third read on; inspect says it runs.
  const serving = `case "$1" in
  logs) n=$(cat "$STATE/n" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$STATE/n"; [ $n -ge 3 ] && echo '{"msg":"serving initial configuration"}' >&2;;
  inspect) echo true;;
esac`;

  it('starts the new one, waits until it serves, marks the old one draining, stops it, then renames', async () => {
    const run = await runScript(BESIDE_SCRIPT, ['gw', 'gw-next-1', '20', '0.5'], serving);
    expect(run.code).toBe(0);
    expect(run.calls).toEqual([
      'start gw-next-1',
      'logs gw-next-1',
      'inspect --format {{.State.Running}} gw-next-1',
      'logs gw-next-1',
      'inspect --format {{.State.Running}} gw-next-1',
      'logs gw-next-1',
      `cp TMPFILE gw:${GATEWAY_DRAIN_FILE}`,
      'stop -t 20 gw',
      'rm -f gw',
      'rename gw-next-1 gw',
    ]);
  });

  it('leaves the old one untouched when the new one stops: its log on stderr, the new one removed', async () => {
    const run = await runScript(
      BESIDE_SCRIPT,
      ['gw', 'gw-next-1', '20', '0.5'],
      `case "$1" in
  logs) echo 'Error: loading initial config: bad' >&2;;
  inspect) echo false;;
esac`,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('Error: loading initial config: bad\n');
    expect(run.calls).toEqual([
      'start gw-next-1',
      'logs gw-next-1',
      'inspect --format {{.State.Running}} gw-next-1',
      'logs --tail 20 gw-next-1',
      'rm -f gw-next-1',
    ]);
  });

  it('ends the hand-over when its SSH session hangs up in the middle', async () => {
    const run = await runScript(BESIDE_SCRIPT, ['gw', 'gw-next-1', '20', '0.5'], serving, 100);
    expect(run.code).toBe(0);
    expect(run.calls.slice(-3)).toEqual(['stop -t 20 gw', 'rm -f gw', 'rename gw-next-1 gw']);
  });

  it('moves the ports of a gateway made before ports containers, and gives them back when the new ones cannot start', async () => {
    const moved = await runScript(MOVE_SCRIPT, ['gw', '0', 'gw-ports-next-1', 'gw-next-1', 'gw-ports'], '');
    expect(moved.code).toBe(0);
    expect(moved.calls).toEqual([
      'stop -t 0 gw',
      'start gw-ports-next-1',
      'start gw-next-1',
      'rm -f gw',
      'rm -f gw-ports',
      'rename gw-ports-next-1 gw-ports',
      'rename gw-next-1 gw',
    ]);
    const failed = await runScript(
      MOVE_SCRIPT,
      ['gw', '1', 'gw-ports-next-1', 'gw-next-1', 'gw-ports'],
      '[ "$1 $2" = "start gw-next-1" ] && exit 1',
    );
    expect(failed.code).toBe(1);
    expect(failed.calls).toEqual([
      'stop -t 0 gw',
      'stop -t 0 gw-ports',
      'start gw-ports-next-1',
      'start gw-next-1',
      'stop -t 0 gw-next-1 gw-ports-next-1',
      'start gw-ports',
      'start gw',
    ]);
  });
});
