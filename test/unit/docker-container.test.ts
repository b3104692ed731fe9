import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  containerLogsArgs,
  execArgs,
  inspectContainersArgs,
  inspectProjectContainersArgs,
  listProjectContainersArgs,
  listServiceContainersArgs,
  parseContainerInspect,
  parseJsonLines,
  removeContainersArgs,
  stopContainersArgs,
  stopThenRemoveArgs,
} from '../../src/docker/container.js';
import {
  connectAllArgs,
  networkCreateArgs,
  networkDisconnectArgs,
  networkExistsArgs,
  parseUptimeCs,
} from '../../src/docker/network.js';
import { InternalError } from '../../src/util/errors.js';
import { runWithStandIns } from '../support/stand-in.js';

const line = (argv: string[]) => argv.join(' ');

describe('container argv', () => {
  it('lists the containers of a service or a project by compose labels', () => {
    expect(line(listServiceContainersArgs('shop-production', 'api'))).toBe(
      'docker ps -a --no-trunc --filter label=com.docker.compose.project=shop-production --filter label=com.docker.compose.service=api --format {{json .}}',
    );
    expect(line(listProjectContainersArgs('shop-production'))).toBe(
      'docker ps -a --no-trunc --filter label=com.docker.compose.project=shop-production --format {{json .}}',
    );
  });

  it('inspect', () => {
    expect(line(inspectContainersArgs(['a1', 'b2']))).toBe(
      'docker container inspect --format {{json .}} a1 b2',
    );
  });

  it('stop uses the container’s own signal and timeout unless told otherwise', () => {
    expect(line(stopContainersArgs(['a1', 'b2']))).toBe('docker stop a1 b2');
    expect(line(stopContainersArgs(['a1'], { timeoutSeconds: 20, signal: 'SIGINT' }))).toBe(
      'docker stop -s SIGINT -t 20 a1',
    );
  });

  it('rm', () => {
    expect(line(removeContainersArgs(['a1']))).toBe('docker rm a1');
    expect(line(removeContainersArgs(['a1', 'b2'], { force: true, volumes: true }))).toBe(
      'docker rm -f -v a1 b2',
    );
  });

  it('logs', () => {
    expect(line(containerLogsArgs('a1'))).toBe('docker logs a1');
    expect(line(containerLogsArgs('a1', { tail: 50, since: '5m', timestamps: true, follow: true }))).toBe(
      'docker logs --tail 50 --since 5m -t -f a1',
    );
  });

  it('exec', () => {
    expect(line(execArgs('a1', ['caddy', 'reload']))).toBe('docker exec -i a1 caddy reload');
    expect(
      line(
        execArgs('a1', ['psql'], {
          interactive: false,
          tty: true,
          user: 'postgres',
          workdir: '/',
          envNames: ['Z', 'A'],
        }),
      ),
    ).toBe('docker exec -t -u postgres -w / -e A -e Z a1 psql');
  });
});

describe('network argv', () => {
  it('disconnect, create, exists (connect: connectAllArgs, below)', () => {
    expect(line(networkDisconnectArgs('n', 'c'))).toBe('docker network disconnect n c');
    expect(line(networkDisconnectArgs('n', 'c', { force: true }))).toBe('docker network disconnect -f n c');
    expect(line(networkCreateArgs('n'))).toBe('docker network create n');
    expect(line(networkCreateArgs('n', { driver: 'bridge', labels: { z: '1', a: '2' } }))).toBe(
      'docker network create --driver bridge --label a=2 --label z=1 n',
    );
    expect(
      line(
        networkCreateArgs('shop_backend', {
          driver: 'bridge',
          internal: true,
          attachable: true,
          ipv6: true,
          opts: { 'com.docker.network.bridge.name': 'br-shop', a: '1' },
          ipamDriver: 'default',
          subnets: [{ subnet: '172.28.0.0/16', gateway: '172.28.0.1', ipRange: '172.28.5.0/24' }],
          labels: { 'com.docker.compose.network': 'backend' },
        }),
      ),
    ).toBe(
      'docker network create --driver bridge --internal --attachable --ipv6 --opt a=1 --opt com.docker.network.bridge.name=br-shop --ipam-driver default --subnet 172.28.0.0/16 --gateway 172.28.0.1 --ip-range 172.28.5.0/24 --label com.docker.compose.network=backend shop_backend',
    );
    expect(line(networkExistsArgs('n'))).toBe('docker network inspect --format {{.Id}} n');
  });
});

describe('parsers', () => {
  it('parseJsonLines reads JSON lines and a JSON array alike', () => {
    expect(parseJsonLines('{"ID":"a"}\n{"ID":"b"}\n')).toEqual([{ ID: 'a' }, { ID: 'b' }]);
    expect(parseJsonLines('[{"ID":"a"},{"ID":"b"}]')).toEqual([{ ID: 'a' }, { ID: 'b' }]);
    expect(parseJsonLines('  \n')).toEqual([]);
  });

  it('parseContainerInspect keeps what the rollout needs', () => {
    const doc = {
      Id: 'abc123',
      Name: '/shop-production-api-2',
      Image: 'sha256:0123',
      RestartCount: 1,
      State: {
        Status: 'running',
        Running: true,
        ExitCode: 0,
        StartedAt: '2025-01-01T00:00:00Z',
        Health: { Status: 'healthy' },
      },
      Config: {
        Image: '127.0.0.1:5000/shop/shop-api:v2',
        Labels: { 'stagecraft.spec-hash': 'h1', n: 1 },
        Healthcheck: {
          Test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/health'],
          Interval: 1_000_000_000,
          Timeout: 3_000_000_000,
          StartPeriod: 5_000_000_000,
          Retries: 5,
        },
      },
      NetworkSettings: { Networks: { z_net: { IPAddress: '172.18.0.3' }, a_net: { IPAddress: '' } } },
    };
    const stopped = { Id: 'def', Name: '/x', State: { Status: 'exited', Running: false, ExitCode: 137 } };
    expect(parseContainerInspect(`${JSON.stringify(doc)}\n${JSON.stringify(stopped)}\n`)).toEqual([
      {
        id: 'abc123',
        name: 'shop-production-api-2',
        status: 'running',
        running: true,
        health: 'healthy',
        exitCode: 0,
        restartCount: 1,
        startedAt: '2025-01-01T00:00:00Z',
        image: '127.0.0.1:5000/shop/shop-api:v2',
        imageId: 'sha256:0123',
        labels: { 'stagecraft.spec-hash': 'h1' },
        ips: { z_net: '172.18.0.3' },
        healthcheck: { intervalMs: 1000 },
      },
      {
        id: 'def',
        name: 'x',
        status: 'exited',
        running: false,
        health: undefined,
        exitCode: 137,
        restartCount: 0,
        startedAt: '',
        image: '',
        imageId: '',
        labels: {},
        ips: {},
      },
    ]);
    // `docker inspect` without --format prints one array.
    expect(parseContainerInspect(JSON.stringify([doc])).map((c) => c.id)).toEqual(['abc123']);
  });

  it("parseContainerInspect reads the health check Docker runs: Docker's 30 s default, start_interval, NONE", () => {
    const check = (Healthcheck: unknown) =>
      parseContainerInspect(JSON.stringify({ Id: 'a', Config: { Healthcheck } }))[0]!.healthcheck;
    expect(check({ Test: ['CMD-SHELL', 'true'] })).toEqual({ intervalMs: 30_000 });
    expect(
      check({ Test: ['CMD', 'true'], Interval: 2e9, StartPeriod: 10e9, StartInterval: 500_000_000 }),
    ).toEqual({ intervalMs: 2000, start: { intervalMs: 500, periodMs: 10_000 } });
    // A start_interval without a start period is never used by Docker.
    expect(check({ Test: ['CMD', 'true'], Interval: 2e9, StartInterval: 5e8 })).toEqual({ intervalMs: 2000 });
    expect(check({ Test: ['NONE'] })).toBeUndefined();
    expect(check(undefined)).toBeUndefined();
  });
});

describe('connectAllArgs (run by sh with a stand-in docker)', () => {
  it('connects each container under the alias, then prints the uptime parseUptimeCs reads', async () => {
    const run = await runWithStandIns(connectAllArgs('gw-net', 'live-web-1', ['c1', 'c2']), { docker: '' });
    expect(run.code).toBe(0);
    expect(run.calls['docker']).toEqual([
      'network connect --alias live-web-1 gw-net c1',
      'network connect --alias live-web-1 gw-net c2',
    ]);
    const now = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100;
    const cs = parseUptimeCs(run.stdout);
    expect(cs).toBeGreaterThan(now - 200);
    expect(cs).toBeLessThanOrEqual(now + 1);
  });

  it('stops at the first connect that fails, with its exit code and no uptime', async () => {
    const run = await runWithStandIns(connectAllArgs('gw-net', 'a', ['c1', 'gone', 'c3']), {
      docker: 'case "$*" in *gone) echo "Error: No such container: gone" >&2; exit 1;; esac',
    });
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.calls['docker']).toHaveLength(2);
  });

  it('ends well where there is no /proc/uptime to read (prints nothing, exit 0)', async () => {
    const run = await runWithStandIns(connectAllArgs('gw-net', 'a', ['c1']), {
      docker: '',
      cat: 'echo "cat: /proc/uptime: No such file or directory" >&2; exit 1',
    });
    expect(run).toMatchObject({ code: 0, stdout: '' });
    expect(parseUptimeCs(run.stdout)).toBeUndefined();
  });

  it('parseUptimeCs', () => {
    expect(parseUptimeCs('350735.42 1381862.06\n')).toBe(35073542);
    expect(parseUptimeCs('7.05 1.00')).toBe(705);
    expect(parseUptimeCs('')).toBeUndefined();
    expect(parseUptimeCs('cat: /proc/uptime: No such file')).toBeUndefined();
  });
});

describe('stopThenRemoveArgs (run by sh with a stand-in docker)', () => {
  it('stops the first list, then removes the second, in one command', async () => {
    const run = await runWithStandIns(stopThenRemoveArgs(['a1', 'b1'], ['a1', 'a0', 'b1']), { docker: '' });
    expect(run.code).toBe(0);
    expect(run.calls['docker']).toEqual(['stop a1 b1', 'rm -f a1 a0 b1']);
    const onlyRemove = await runWithStandIns(stopThenRemoveArgs([], ['a0']), { docker: '' });
    expect(onlyRemove.calls['docker']).toEqual(['rm -f a0']);
    const onlyStop = await runWithStandIns(stopThenRemoveArgs(['a1'], []), { docker: '' });
    expect(onlyStop.calls['docker']).toEqual(['stop a1']);
  });

  it('removes nothing when the stop fails, and exits with its status', async () => {
    const run = await runWithStandIns(stopThenRemoveArgs(['gone'], ['gone']), {
      docker: 'echo "Error response from daemon: No such container: gone" >&2; exit 1',
    });
    expect(run.code).toBe(1);
    expect(run.calls['docker']).toEqual(['stop gone']);
  });

  it('refuses a reference a shell could split or expand', () => {
    expect(() => stopThenRemoveArgs(['a1 b1'], [])).toThrow(InternalError);
    expect(() => stopThenRemoveArgs([], ['*'])).toThrow('not a container ID or name: "*"');
  });
});

describe('inspectProjectContainersArgs (run by sh with a stand-in docker)', () => {
  const argv = inspectProjectContainersArgs('shop-production');
  const doc = (id: string) => JSON.stringify({ Id: id, Name: `/${id}` });

  it('inspects what docker ps lists, in one command', async () => {
    const run = await runWithStandIns(argv, {
      docker: `case "$1" in ps) echo c1; echo c2;; container) echo '${doc('c1')}'; echo '${doc('c2')}';; esac`,
    });
    expect(run.code).toBe(0);
    expect(run.calls['docker']).toEqual([
      'ps -aq --no-trunc --filter label=com.docker.compose.project=shop-production',
      'container inspect --format {{json .}} c1 c2',
    ]);
    expect(parseContainerInspect(run.stdout).map((c) => c.id)).toEqual(['c1', 'c2']);
  });

  it('runs no inspect for a project without containers, and prints nothing', async () => {
    const run = await runWithStandIns(argv, { docker: '' });
    expect(run).toMatchObject({ code: 0, stdout: '' });
    expect(run.calls['docker']).toHaveLength(1);
  });

  it('keeps the others when a container goes between the two; fails as docker ps fails', async () => {
    const gone = await runWithStandIns(argv, {
      docker: `case "$1" in ps) echo c1; echo gone;; container) echo '${doc('c1')}'; echo 'Error: No such container: gone' >&2; exit 1;; esac`,
    });
    expect(gone.code).toBe(0);
    expect(parseContainerInspect(gone.stdout).map((c) => c.id)).toEqual(['c1']);
    const down = await runWithStandIns(argv, {
      docker: 'echo "Cannot connect to the Docker daemon" >&2; exit 1',
    });
    expect(down).toMatchObject({ code: 1, stdout: '' });
    expect(down.stderr).toContain('Cannot connect to the Docker daemon');
    expect(down.calls['docker']).toHaveLength(1);
  });
});
