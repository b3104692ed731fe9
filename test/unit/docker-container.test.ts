import { describe, expect, it } from 'vitest';
import {
  containerLogsArgs,
  execArgs,
  inspectContainersArgs,
  listProjectContainersArgs,
  listServiceContainersArgs,
  parseContainerInspect,
  parseJsonLines,
  removeContainersArgs,
  stopContainersArgs,
} from '../../src/docker/container.js';
import {
  networkConnectArgs,
  networkCreateArgs,
  networkDisconnectArgs,
  networkExistsArgs,
} from '../../src/docker/network.js';

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
  it('connect, disconnect, create, exists', () => {
    expect(line(networkConnectArgs('shop-production_default', 'ingress'))).toBe(
      'docker network connect shop-production_default ingress',
    );
    expect(line(networkConnectArgs('n', 'c', { aliases: ['api', 'api.internal'] }))).toBe(
      'docker network connect --alias api --alias api.internal n c',
    );
    expect(line(networkDisconnectArgs('n', 'c'))).toBe('docker network disconnect n c');
    expect(line(networkDisconnectArgs('n', 'c', { force: true }))).toBe('docker network disconnect -f n c');
    expect(line(networkCreateArgs('n'))).toBe('docker network create n');
    expect(line(networkCreateArgs('n', { driver: 'bridge', labels: { z: '1', a: '2' } }))).toBe(
      'docker network create --driver bridge --label a=2 --label z=1 n',
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
      RestartCount: 1,
      State: {
        Status: 'running',
        Running: true,
        ExitCode: 0,
        StartedAt: '2025-01-01T00:00:00Z',
        Health: { Status: 'healthy' },
      },
      Config: { Image: '127.0.0.1:5000/shop/shop-api:v2', Labels: { 'stagecraft.spec-hash': 'h1', n: 1 } },
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
        labels: { 'stagecraft.spec-hash': 'h1' },
        ips: { z_net: '172.18.0.3' },
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
        labels: {},
        ips: {},
      },
    ]);
    // `docker inspect` without --format prints one array.
    expect(parseContainerInspect(JSON.stringify([doc])).map((c) => c.id)).toEqual(['abc123']);
  });
});
