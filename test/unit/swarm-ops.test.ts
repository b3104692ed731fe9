// Operating a swarm environment: status, logs, exec and remove on driver swarm (argv builders as exact
// strings, parsers of docker's JSON lines, the pure report and plan, the remove handlers).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import {
  hostOfNode,
  parseNodes,
  parseServiceLogLine,
  parseServiceStatus,
  parseTaskStatus,
  serviceLogsFollowArgs,
  serviceStatusArgs,
  shutdownTaskIdsArgs,
  stackContainersArgs,
  stackNamesArgs,
  stackObjectsArgs,
  stackServiceIdsArgs,
  stackTaskIdsArgs,
  taskStatusArgs,
} from '../../src/docker/swarm.js';
import { checkDependencies } from '../../src/engine/run.js';
import { drainStacks, removeStacks } from '../../src/engine/swarm-remove.js';
import { buildEnvironmentModel, type EnvironmentModel } from '../../src/model/environment.js';
import type { LoadedEnvironment } from '../../src/operations/environment.js';
import { renderStatus, statusJson } from '../../src/operations/status.js';
import { pickSwarmTask } from '../../src/operations/swarm-exec.js';
import { sourcedServiceLine } from '../../src/operations/swarm-logs.js';
import { managerError } from '../../src/operations/swarm-manager.js';
import { swarmRemovePlan } from '../../src/operations/swarm-remove.js';
import { swarmStatusReport } from '../../src/operations/swarm-status.js';
import { swarmRemoveSteps, swarmVolumesByHost } from '../../src/plan/swarm-remove.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { ExternalError, UserError } from '../../src/util/errors.js';
import { load } from '../support/config.js';

const shop = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const CONFIG = `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web, port: 8080, domains: [shop.example, "*"] }
  db: { role: db }
environments:
  production:
    driver: swarm
    manager: m1
    hosts:
      web: [{ name: m1, address: 10.0.0.1 }, { name: w2, address: 10.0.0.2 }]
      db: [{ name: w3, address: 10.0.0.3 }]
`;

function model(): EnvironmentModel {
  const compose = structuredClone(shop);
  delete compose.services['db']!.ports;
  return buildEnvironmentModel(load(CONFIG, { envName: 'production' }), compose);
}

const NOW = new Date('2026-12-01T12:00:00Z');
const signal = new AbortController().signal;

describe('managerError: a manager that cannot answer as one', () => {
  const failed = (stderr: string, code: number) =>
    new ExternalError(`docker service ls --quiet … exited with code ${code} on m1: ${stderr}`);

  it('no Docker Engine, no swarm, a worker: what to do, exit 1', () => {
    const none = managerError(failed('bash: line 1: docker: command not found', 127), model()) as UserError;
    expect(none).toBeInstanceOf(UserError);
    expect(none.exitCode).toBe(1);
    expect(none.message).toBe('m1, the manager of production, has no Docker Engine');
    expect(none.hint).toBe(
      'run `stagecraft setup -e production`: it installs Docker and forms the swarm with m1 as its manager',
    );
    const alone = managerError(
      failed(
        'Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
        1,
      ),
      model(),
    ) as UserError;
    expect(alone.message).toBe('m1, the manager of production, is in no swarm');
    const worker = managerError(
      failed(
        "Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.",
        1,
      ),
      model(),
    ) as UserError;
    expect(worker.message).toBe('m1 is a worker of its swarm, not a manager');
    expect(worker.hint).toContain('set environments.production.manager to a manager of that swarm');
  });

  it('any other failure is left as it is', () => {
    const other = failed('Cannot connect to the Docker daemon at unix:///var/run/docker.sock', 1);
    expect(managerError(other, model())).toBe(other);
  });
});

describe('swarm argv builders', () => {
  it('reads the stack from the manager: services, tasks, nodes', () => {
    expect(stackServiceIdsArgs('shop-production').join(' ')).toBe(
      'docker service ls --quiet --filter label=com.docker.stack.namespace=shop-production',
    );
    expect(serviceStatusArgs(['s1', 's2']).join(' ')).toBe(
      'docker service inspect --format {"id":{{json .ID}},"name":{{json .Spec.Name}},"mode":{{json .Spec.Mode}},"image":{{json .Spec.TaskTemplate.ContainerSpec.Image}},"update":{{json .UpdateStatus}},"updated":{{json .UpdatedAt}}} s1 s2',
    );
    expect(stackTaskIdsArgs('shop-production').join(' ')).toBe(
      'docker stack ps --quiet --no-trunc shop-production',
    );
    expect(taskStatusArgs(['t1']).join(' ')).toBe(
      'docker inspect --type task --format {"id":{{json .ID}},"service":{{json .ServiceID}},"slot":{{json .Slot}},"node":{{json .NodeID}},"desired":{{json .DesiredState}},"state":{{json .Status.State}},"since":{{json .Status.Timestamp}},"error":{{json .Status.Err}},"container":{{json .Status.ContainerStatus}},"image":{{json .Spec.ContainerSpec.Image}},"labels":{{json .Spec.ContainerSpec.Labels}}} t1',
    );
  });

  it('builds docker service logs with the flags of logs on driver ssh', () => {
    expect(serviceLogsFollowArgs('shop-production_api', {}).join(' ')).toBe(
      'docker service logs --timestamps --no-trunc shop-production_api',
    );
    expect(
      serviceLogsFollowArgs('shop-production_api', { tail: 100, since: '10m', follow: true }).join(' '),
    ).toBe('docker service logs --timestamps --no-trunc --tail 100 --since 10m --follow shop-production_api');
  });

  it('lists what a stack owns, for remove', () => {
    expect(stackObjectsArgs('network', 'shop-production').join(' ')).toBe(
      'docker network ls --filter label=com.docker.stack.namespace=shop-production --format {{.Name}}',
    );
    expect(stackObjectsArgs('volume', 'shop-production-job-seed').join(' ')).toBe(
      'docker volume ls --filter label=com.docker.stack.namespace=shop-production-job-seed --format {{.Name}}',
    );
    expect(stackNamesArgs().join(' ')).toBe('docker stack ls --format {{.Name}}');
    expect(stackContainersArgs('shop-production', { all: false }).join(' ')).toBe(
      'docker ps --quiet --no-trunc --filter label=com.docker.stack.namespace=shop-production',
    );
    expect(stackContainersArgs('shop-production', { all: true }).join(' ')).toBe(
      'docker ps -a --quiet --no-trunc --filter label=com.docker.stack.namespace=shop-production',
    );
  });
});

// Lines as Docker 26.1 prints them with the formats above (a replicated service in a paused update,
// the global gateway; a running task, a global one, one not yet assigned to a node).
const SERVICES = [
  '{"id":"svc-api","name":"shop-production_api","mode":{"Replicated":{"Replicas":2}},"image":"registry.example/shop/shop-api:v3@sha256:3333","update":{"State":"paused","StartedAt":"2026-12-01T11:50:00.1Z","Message":"update paused due to failure or early termination of task t9"},"updated":"2026-12-01T11:50:00.123456789Z"}',
  '{"id":"svc-gw","name":"shop-production_stagecraft-gateway","mode":{"Global":{}},"image":"caddy:2","update":null,"updated":"2026-12-01T11:00:00Z"}',
].join('\n');

function task(fields: Record<string, unknown>): string {
  return JSON.stringify({
    id: 't1',
    service: 'svc-api',
    slot: 1,
    node: 'n1',
    desired: 'running',
    state: 'running',
    since: '2026-12-01T11:57:00.5Z',
    error: '',
    container: { ContainerID: 'c1', PID: 4242, ExitCode: 0 },
    image: 'registry.example/shop/shop-api:v2@sha256:2222',
    labels: { 'com.docker.stack.namespace': 'shop-production', 'stagecraft.spec-hash': 'h2' },
    ...fields,
  });
}

const TASKS = [
  task({}),
  task({ id: 't2', slot: 2, node: 'n2', container: { ContainerID: 'c2', PID: 1, ExitCode: 0 } }),
  task({
    id: 't9',
    node: 'n2',
    desired: 'shutdown',
    state: 'failed',
    error: 'task: non-zero exit (1): dockerexec: unhealthy container',
    container: { ContainerID: 'c9', PID: 0, ExitCode: 1 },
    image: 'registry.example/shop/shop-api:v3@sha256:3333',
    labels: { 'stagecraft.spec-hash': 'h3' },
  }),
  task({
    id: 'g1',
    service: 'svc-gw',
    slot: 0,
    node: 'n1',
    image: 'caddy:2',
    container: { ContainerID: 'g1c', PID: 2, ExitCode: 0 },
    labels: null,
  }),
  task({
    id: 'g2',
    service: 'svc-gw',
    slot: 0,
    node: 'n2',
    image: 'caddy:2',
    container: { ContainerID: 'g2c', PID: 2, ExitCode: 0 },
    labels: null,
  }),
  task({
    id: 'g3',
    service: 'svc-gw',
    slot: 0,
    node: 'n3',
    state: 'preparing',
    image: 'caddy:2',
    container: null,
    error: null,
    labels: null,
  }),
].join('\n');

const NODES = [
  '{"id":"n1","hostname":"m1","addr":"10.0.0.1","state":"ready","labels":{"stagecraft.role.web":"true"}}',
  '{"id":"n2","hostname":"node-2","addr":"10.0.0.2","state":"ready","labels":{}}',
  '{"id":"n3","hostname":"w3","addr":"192.168.9.9","state":"down","labels":null}',
].join('\n');

describe('swarm parsers', () => {
  it('reads services: mode, replicas, image and the update Swarm paused', () => {
    expect(parseServiceStatus(SERVICES)).toEqual([
      {
        id: 'svc-api',
        name: 'shop-production_api',
        mode: 'replicated',
        replicas: 2,
        image: 'registry.example/shop/shop-api:v3@sha256:3333',
        update: 'paused',
        updateMessage: 'update paused due to failure or early termination of task t9',
        updatedAt: '2026-12-01T11:50:00.123456789Z',
      },
      {
        id: 'svc-gw',
        name: 'shop-production_stagecraft-gateway',
        mode: 'global',
        replicas: undefined,
        image: 'caddy:2',
        update: undefined,
        updateMessage: undefined,
        updatedAt: '2026-12-01T11:00:00Z',
      },
    ]);
  });

  it('reads tasks, with no container before a node starts one', () => {
    const tasks = parseTaskStatus(TASKS);
    expect(tasks[0]).toEqual({
      id: 't1',
      service: 'svc-api',
      slot: 1,
      node: 'n1',
      desired: 'running',
      state: 'running',
      since: '2026-12-01T11:57:00.5Z',
      error: '',
      container: 'c1',
      exitCode: 0,
      image: 'registry.example/shop/shop-api:v2@sha256:2222',
      labels: { 'com.docker.stack.namespace': 'shop-production', 'stagecraft.spec-hash': 'h2' },
    });
    expect(tasks[2]).toMatchObject({ state: 'failed', exitCode: 1, desired: 'shutdown' });
    expect(tasks[5]).toMatchObject({ container: undefined, exitCode: undefined, error: '', labels: {} });
  });

  it('reads a docker service logs line: time, task, node, text (padding and bars in the text kept)', () => {
    expect(
      parseServiceLogLine(
        '2026-12-01T11:57:01.123456789Z shop-production_api.1@node-2    | api v2 listening on :3000',
      ),
    ).toEqual({
      timestamp: '2026-12-01T11:57:01.123456789Z',
      task: 'shop-production_api.1',
      node: 'node-2',
      text: 'api v2 listening on :3000',
    });
    expect(
      parseServiceLogLine('2026-12-01T11:57:01.000000000Z shop-production_api.10@m1    | a | b'),
    ).toMatchObject({ task: 'shop-production_api.10', node: 'm1', text: 'a | b' });
    expect(parseServiceLogLine('error from daemon in stream: no such task')).toBeUndefined();
    // Docker's default names the task by id too (--no-trunc: all 25 characters).
    expect(
      parseServiceLogLine(
        '2026-12-01T11:57:01.000000000Z shop-production_api.2.kq3v8x1m5n0p2r4t6w8y0z1a3@node-2    | hi',
      ),
    ).toEqual({
      timestamp: '2026-12-01T11:57:01.000000000Z',
      task: 'shop-production_api.2',
      taskId: 'kq3v8x1m5n0p2r4t6w8y0z1a3',
      node: 'node-2',
      text: 'hi',
    });
    expect(shutdownTaskIdsArgs('shop-production_api').join(' ')).toBe(
      'docker service ps --quiet --no-trunc --filter desired-state=shutdown shop-production_api',
    );
  });

  it('finds a node’s host by address, else by hostname', () => {
    const hosts = model().hosts;
    expect(hostOfNode({ addr: '10.0.0.2', hostname: 'node-2' }, hosts)?.name).toBe('w2');
    expect(hostOfNode({ addr: '192.168.9.9', hostname: 'w3' }, hosts)?.name).toBe('w3');
    expect(hostOfNode({ addr: '10.9.9.9', hostname: 'elsewhere' }, hosts)).toBeUndefined();
  });
});

describe('status on driver swarm', () => {
  const release = {
    id: 'rel-20261201-115500000',
    environment: 'production',
    version: 'v2',
    commit_sha: '',
    timestamp: '2026-12-01T11:55:00Z',
    phases: {},
    images: {},
    hosts: {},
  } as unknown as Parameters<typeof swarmStatusReport>[2];
  const report = () =>
    swarmStatusReport(
      model(),
      {
        services: parseServiceStatus(SERVICES),
        tasks: parseTaskStatus(TASKS),
        nodes: [
          ...JSON.parse(`[${NODES.split('\n').join(',')}]`),
          { id: 'n4', hostname: 'spare', addr: '10.0.0.4', state: 'ready', labels: {} },
        ].map((node) => ({ ...node, labels: node.labels ?? {} })),
      },
      release,
      { api: 'h2', 'stagecraft-gateway': 'gw' },
      undefined,
    );

  it('maps nodes to hosts and tasks to containers', () => {
    const built = report();
    expect(built.hosts.map((host) => [host.name, host.services.map((service) => service.name)])).toEqual([
      ['m1', ['api', 'stagecraft-gateway']],
      ['w2', ['api', 'stagecraft-gateway']],
      ['w3', ['stagecraft-gateway']],
      ['spare', []],
    ]);
    expect(built.hosts[0]!.services[0]!.containers).toEqual([
      {
        id: 'c1',
        name: 'api.1',
        state: 'running',
        exitCode: 0,
        health: undefined,
        image: 'registry.example/shop/shop-api:v2@sha256:2222',
        version: 'v2',
        startedAt: '2026-12-01T11:57:00.5Z',
        restarts: 0,
        release: 'current',
      },
    ]);
    expect(built.hosts[1]!.services[0]!.containers[0]).toMatchObject({ name: 'api.2', restarts: 0 });
    expect(built.hosts[2]!.services[0]!.containers[0]).toMatchObject({
      name: 'stagecraft-gateway',
      state: 'preparing',
      id: 'g3',
      release: 'outdated',
    });
    expect(built.swarm).toEqual({
      manager: 'm1',
      stack: 'shop-production',
      services: [
        {
          name: 'api',
          kind: 'service',
          mode: 'replicated',
          running: 2,
          desired: 2,
          image: 'registry.example/shop/shop-api:v3@sha256:3333',
          version: 'v3',
          update: 'paused',
          updateMessage: 'update paused due to failure or early termination of task t9',
        },
        {
          name: 'stagecraft-gateway',
          kind: 'ingress',
          mode: 'global',
          running: 2,
          desired: 3,
          image: 'caddy:2',
          version: '2',
          update: undefined,
          updateMessage: undefined,
        },
      ],
      nodes: [
        { host: 'm1', hostname: 'm1', address: '10.0.0.1', state: 'ready' },
        { host: 'w2', hostname: 'node-2', address: '10.0.0.2', state: 'ready' },
        { host: undefined, hostname: 'spare', address: '10.0.0.4', state: 'ready' },
        { host: 'w3', hostname: 'w3', address: '192.168.9.9', state: 'down' },
      ],
    });
  });

  it('renders the services and nodes above the task table of status on driver ssh', () => {
    expect(renderStatus(report(), NOW)).toBe(
      [
        'shop production: release rel-20261201-115500000 (v2, 5m ago)',
        'stack shop-production (manager m1); nodes: m1 ready, w2 ready, spare (not in stagecraft.yml) ready, w3 down',
        '',
        'SERVICE             MODE        REPLICAS  IMAGE  UPDATE',
        'api                 replicated  2/2       v3     paused: update paused due to failure or early termination of task t9',
        'stagecraft-gateway  global      2/3       2      -',
        '',
        'NODE   SERVICE             TASK                STATE      HEALTH  VERSION  SINCE  RESTARTS  RELEASE',
        'm1     api                 api.1               running    -       v2       2m59s  0         current',
        'm1     stagecraft-gateway  stagecraft-gateway  running    -       2        2m59s  0         outdated',
        'w2     api                 api.2               running    -       v2       2m59s  0         current',
        'w2     stagecraft-gateway  stagecraft-gateway  running    -       2        2m59s  0         outdated',
        'w3     stagecraft-gateway  stagecraft-gateway  preparing  -       2        2m59s  0         outdated',
        'spare  -                   -                   no tasks   -       -        -      -         -',
        '',
        '4/5 tasks running, 1 starting, 3 not on the current release',
      ].join('\n'),
    );
  });

  it('adds a swarm object to the --json document (null on driver ssh)', () => {
    const json = statusJson(report(), NOW) as Record<string, unknown>;
    expect(json['swarm']).toEqual({
      manager: 'm1',
      stack: 'shop-production',
      services: [
        {
          name: 'api',
          kind: 'service',
          mode: 'replicated',
          running: 2,
          desired: 2,
          image: 'registry.example/shop/shop-api:v3@sha256:3333',
          version: 'v3',
          update: 'paused',
          update_message: 'update paused due to failure or early termination of task t9',
        },
        {
          name: 'stagecraft-gateway',
          kind: 'ingress',
          mode: 'global',
          running: 2,
          desired: 3,
          image: 'caddy:2',
          version: '2',
          update: null,
          update_message: null,
        },
      ],
      nodes: [
        { host: 'm1', hostname: 'm1', address: '10.0.0.1', state: 'ready' },
        { host: 'w2', hostname: 'node-2', address: '10.0.0.2', state: 'ready' },
        { host: null, hostname: 'spare', address: '10.0.0.4', state: 'ready' },
        { host: 'w3', hostname: 'w3', address: '192.168.9.9', state: 'down' },
      ],
    });
    expect((json['summary'] as Record<string, number>)['containers']).toBe(5);
    expect(statusJson({ ...report(), swarm: undefined }, NOW)).toMatchObject({ swarm: null });
  });

  it('after remove: the stack is removed by the removal record, which is no release the tasks run', () => {
    const removal = {
      ...release,
      id: 'rel-20261201-115800000',
      timestamp: '2026-12-01T11:58:00Z',
      kind: 'remove',
    };
    const built = swarmStatusReport(
      model(),
      { services: [], tasks: [], nodes: [] },
      removal as typeof release,
      { api: 'h2' },
      undefined,
    );
    expect(built.release).toBeUndefined();
    expect(built.removed).toEqual({ id: 'rel-20261201-115800000', timestamp: '2026-12-01T11:58:00Z' });
    expect(renderStatus(built, NOW).split('\n').slice(0, 4)).toEqual([
      'shop production: removed by rel-20261201-115800000 (2m ago); no release runs',
      'stack shop-production (manager m1); nodes: none',
      '',
      'no service of the stack shop-production runs',
    ]);
  });

  it('shows tasks no node took yet, and a stack with no services', () => {
    const pending = swarmStatusReport(
      model(),
      {
        services: parseServiceStatus(SERVICES),
        tasks: parseTaskStatus(task({ node: '', state: 'pending', container: null })),
        nodes: [],
      },
      undefined,
      {},
      undefined,
    );
    expect(pending.hosts.at(-1)).toMatchObject({
      name: '(unassigned)',
      services: [{ name: 'api', containers: [{ name: 'api.1', state: 'pending', release: 'unknown' }] }],
    });
    const empty = swarmStatusReport(
      model(),
      { services: [], tasks: [], nodes: [] },
      undefined,
      {},
      undefined,
    );
    expect(renderStatus(empty, NOW).split('\n').slice(0, 4)).toEqual([
      'shop production: no completed release recorded',
      'stack shop-production (manager m1); nodes: none',
      '',
      'no service of the stack shop-production runs',
    ]);
  });
});

// Captured from the e2e swarm (Docker 26.1.5, three nodes) after a v3 update paused: api.1 runs v2
// beside a v3 task Swarm holds ready, api.2's v3 task is starting again after one that completed.
const fixture = (name: string) => readFileSync(new URL(`../fixtures/swarm/${name}`, import.meta.url), 'utf8');
const E2E_CONFIG = `project:
  name: swarmshop
  registry: 127.0.0.1:5000/swarm-e2e
services:
  api: { role: web, port: 3000, domains: ["*"], replicas: 2 }
environments:
  production:
    driver: swarm
    manager: bare1
    hosts:
      web: [{ name: bare1, address: 10.231.0.41 }, { name: bare2, address: 10.231.0.42 }, { name: bare3, address: 10.231.0.43 }]
`;

describe('status of a real swarm', () => {
  it('parses docker’s output and reports the running tasks, the paused update and the retried task', () => {
    const compose: ComposeProject = {
      name: 'swarmshop-production',
      services: { api: { image: 'api', environment: {} } },
    } as unknown as ComposeProject;
    const real = buildEnvironmentModel(load(E2E_CONFIG, { envName: 'production' }), compose);
    const readings = {
      services: parseServiceStatus(fixture('service-status.jsonl')),
      tasks: parseTaskStatus(fixture('task-status.jsonl')),
      nodes: parseNodes(fixture('nodes.jsonl')),
    };
    expect(readings.tasks).toHaveLength(11);
    expect(readings.tasks[0]).toMatchObject({ desired: 'ready', state: 'ready', container: undefined });
    const built = swarmStatusReport(real, readings, undefined, {}, undefined);
    const rows = built.hosts.flatMap((host) =>
      host.services.flatMap((service) =>
        service.containers.map(
          (task) => `${host.name} ${task.name} ${task.state} ${task.version} restarts ${task.restarts}`,
        ),
      ),
    );
    expect(rows).toEqual([
      'bare1 api.1 running v2 restarts 0',
      'bare1 stagecraft-gateway running 2 restarts 0',
      'bare2 api.2 running v2 restarts 0',
      'bare2 stagecraft-gateway running 2 restarts 0',
      'bare3 api.2 starting v3 restarts 1',
      'bare3 stagecraft-gateway running 2 restarts 0',
    ]);
    expect(
      built.swarm!.services.map((service) => [
        service.name,
        service.running,
        service.desired,
        service.version,
        service.update,
      ]),
    ).toEqual([
      ['api', 2, 2, 'v3', 'paused'],
      ['stagecraft-gateway', 3, 3, '2', undefined],
    ]);
    expect(built.swarm!.nodes.map((node) => `${node.host} ${node.state}`)).toEqual([
      'bare1 ready',
      'bare2 ready',
      'bare3 ready',
    ]);
  });

  it('parses docker service logs of a replicated and a global service', () => {
    const nodes = new Map<string, string>();
    const api = fixture('service-logs-api.txt')
      .split('\n')
      .filter(Boolean)
      .map((line) => sourcedServiceLine(parseServiceLogLine(line)!, 'swarmshop-production', nodes));
    expect(api).toHaveLength(11);
    expect(api[0]).toEqual({
      timestamp: '2026-12-01T17:34:00.538896288Z',
      text: 'api v1 listening on :3000',
      host: 'bare1',
      container: 'api.2',
    });
    const gateway = fixture('service-logs-gateway.txt')
      .split('\n')
      .filter(Boolean)
      .map((line) => sourcedServiceLine(parseServiceLogLine(line)!, 'swarmshop-production', nodes));
    expect(new Set(gateway.map((line) => `${line.host} ${line.container}`))).toEqual(
      new Set(['bare1 stagecraft-gateway', 'bare2 stagecraft-gateway', 'bare3 stagecraft-gateway']),
    );
    expect(JSON.parse(gateway[0]!.text)).toMatchObject({ msg: 'server running' });
  });
});

describe('logs on driver swarm', () => {
  it('prefixes a line with the node’s host and the task, a global task by its service', () => {
    const nodes = new Map([['node-2', 'w2']]);
    const line = parseServiceLogLine('2026-12-01T11:57:01.000000000Z shop-production_api.2@node-2    | hi')!;
    expect(sourcedServiceLine(line, 'shop-production', nodes)).toEqual({
      timestamp: '2026-12-01T11:57:01.000000000Z',
      text: 'hi',
      host: 'w2',
      container: 'api.2',
    });
    const gateway = parseServiceLogLine(
      '2026-12-01T11:57:01.000000000Z shop-production_stagecraft-gateway.0@m1    | {"level":"info"}',
    )!;
    expect(sourcedServiceLine(gateway, 'shop-production', nodes)).toMatchObject({
      host: 'm1',
      container: 'stagecraft-gateway',
    });
  });
});

describe('exec on driver swarm', () => {
  const tasks = parseTaskStatus(TASKS).filter((candidate) => candidate.service === 'svc-api');
  const nodes = NODES.split('\n').map((line) => ({ labels: {}, ...JSON.parse(line) }));

  it('enters the first running task in the hosts’ order, on the host its node is', () => {
    const hosts = model().hosts;
    expect(pickSwarmTask('api', tasks, nodes, hosts, 'production')).toEqual({
      host: hosts[0],
      container: 'c1',
      name: 'api.1',
    });
    const onlyW2 = hosts.filter((host) => host.name === 'w2');
    expect(pickSwarmTask('api', tasks, nodes, onlyW2, 'production')).toMatchObject({
      host: { name: 'w2' },
      container: 'c2',
      name: 'api.2',
    });
  });

  it('is a user error naming the tasks when none runs where it may enter', () => {
    const hosts = model().hosts;
    const failed = tasks.filter((candidate) => candidate.state !== 'running');
    expect(() => pickSwarmTask('api', failed, nodes, hosts, 'production')).toThrow(
      expect.objectContaining({
        message: 'no running task of api (api.1 failed on w2)',
        exitCode: 1,
        hint: 'see what runs with `stagecraft status -e production`',
      }),
    );
    const w3 = hosts.filter((host) => host.name === 'w3');
    expect(() => pickSwarmTask('api', tasks, nodes, w3, 'production')).toThrow(
      'no running task of api on w3: api.1 running on m1, api.2 running on node-2, api.1 failed on node-2',
    );
  });
});

describe('remove on driver swarm', () => {
  const inventory = {
    manager: 'm1',
    stacks: ['shop-production', 'shop-production-job-seed'],
    services: ['shop-production_api', 'shop-production_stagecraft-gateway'],
    networks: ['shop-production_default'],
    configs: ['stagecraft-gateway-0123456789ab'],
    secrets: [],
    volumes: { m1: [], w2: [], w3: ['shop-production_db-data'] },
    folder: true,
  };
  const images = {
    keepReleases: [],
    keepImages: ['keep:1'],
    removeImages: ['registry.example/shop/shop-api:v1'],
  };

  it('plans stack rm on the manager, a drain, the volumes and images on every node, the files', () => {
    const steps = swarmRemoveSteps({ model: model(), inventory, volumes: true, images, timeoutMs: 180_000 }, [
      'lock:acquire',
    ]);
    expect(steps.map((step) => `${step.id} <- ${step.dependsOn.join(',')}: ${step.title}`)).toEqual([
      'stack-rm:m1 <- lock:acquire: docker stack rm shop-production shop-production-job-seed (services shop-production_api, shop-production_stagecraft-gateway; networks shop-production_default; configs stagecraft-gateway-0123456789ab); wait until they are gone',
      'files:m1 <- stack-rm:m1: remove .stagecraft/shop-production except its release history (releases.jsonl) and the lock',
      'drain:m1 <- stack-rm:m1: wait until no container of shop-production, shop-production-job-seed is left on m1',
      "images:m1 <- drain:m1: remove images of production's releases that no container uses",
      'drain:w2 <- stack-rm:m1: wait until no container of shop-production, shop-production-job-seed is left on w2',
      "images:w2 <- drain:w2: remove images of production's releases that no container uses",
      'drain:w3 <- stack-rm:m1: wait until no container of shop-production, shop-production-job-seed is left on w3',
      'volumes:w3 <- drain:w3: remove volumes shop-production_db-data and their data',
      "images:w3 <- volumes:w3: remove images of production's releases that no container uses",
    ]);
    expect(steps.map((step) => step.phase)).toEqual([
      'rollout',
      'rollout',
      ...Array.from({ length: 7 }, () => 'finalize'),
    ]);
    expect(steps[0]!.action).toEqual({
      kind: 'stack-remove',
      stacks: ['shop-production', 'shop-production-job-seed'],
      timeoutMs: 180_000,
    });
    expect(steps[7]!.action).toEqual({
      kind: 'exec',
      argv: ['docker', 'volume', 'rm', 'shop-production_db-data'],
    });
    expect((steps[1]!.action as { argv: string[] }).argv.join(' ')).toBe(
      'find .stagecraft/shop-production -mindepth 1 -maxdepth 1 ! -name releases.jsonl ! -name lock -exec rm -rf -- {} +',
    );
    expect(swarmVolumesByHost(inventory)).toEqual(['w3: shop-production_db-data']);
  });

  it('keeps volumes without --volumes, and plans only the files when the stack is gone', () => {
    const kept = swarmRemoveSteps(
      { model: model(), inventory, volumes: false, images: { ...images, removeImages: [] }, timeoutMs: 1 },
      [],
    );
    expect(kept.map((step) => step.id)).toEqual([
      'stack-rm:m1',
      'files:m1',
      'drain:m1',
      'drain:w2',
      'drain:w3',
    ]);
    const gone = swarmRemoveSteps(
      {
        model: model(),
        inventory: { ...inventory, stacks: [], services: [], networks: [], configs: [], volumes: {} },
        volumes: true,
        images: { ...images, removeImages: [] },
        timeoutMs: 1,
      },
      ['lock:acquire'],
    );
    expect(gone.map((step) => `${step.id} <- ${step.dependsOn.join(',')}`)).toEqual([
      'files:m1 <- lock:acquire',
    ]);
  });

  it('is a plan the engine runs: the lock, the manager, then every node, the record, the unlock', () => {
    const plan = swarmRemovePlan({ model: model() } as LoadedEnvironment, inventory, {
      volumes: true,
      images,
      releaseId: 'rel-1',
      message: 'remove shop-production',
    });
    expect(() => checkDependencies(plan)).not.toThrow();
    expect(
      Object.fromEntries(plan.phases.map((phase) => [phase.name, phase.steps.map((step) => step.id)])),
    ).toEqual({
      build: [],
      push: [],
      migrate_pre: ['lock:acquire'],
      rollout: ['stack-rm:m1', 'files:m1'],
      migrate_post: [],
      finalize: [
        'drain:m1',
        'images:m1',
        'drain:w2',
        'images:w2',
        'drain:w3',
        'volumes:w3',
        'images:w3',
        'record',
        'lock:release',
      ],
    });
    const record = plan.phases.at(-1)!.steps.find((step) => step.id === 'record')!;
    expect(record.dependsOn).toEqual([
      'drain:m1',
      'images:m1',
      'drain:w2',
      'images:w2',
      'drain:w3',
      'volumes:w3',
      'images:w3',
    ]);
  });

  it('removes the stacks and waits until their objects are gone, removing a network left behind again', async () => {
    let polls = 0;
    const runner = new RecordingRunner({
      name: 'm1',
      script: (argv) => {
        const joined = argv.join(' ');
        if (joined.startsWith('docker stack rm')) return { stdout: 'Removing service s_api\n' };
        if (joined.startsWith('docker network ls --filter label=com.docker.stack.namespace=s ')) {
          polls += 1;
          return { stdout: polls < 3 ? 's_default\n' : '' };
        }
        return { stdout: '' };
      },
    });
    const lines: string[] = [];
    const outcome = await removeStacks(
      runner,
      { kind: 'stack-remove', stacks: ['s', 's-job-seed'], timeoutMs: 60_000 },
      (line) => lines.push(line),
      signal,
    );
    expect(outcome).toEqual({ status: 'completed', detail: 'removed s, s-job-seed' });
    expect(lines).toEqual(['Removing service s_api', 'Removing service s_api', 'left: networks s_default']);
    const commands = runner.commands.map((argv) => argv.join(' '));
    expect(commands.slice(0, 2)).toEqual(['docker stack rm s', 'docker stack rm s-job-seed']);
    expect(commands.filter((command) => command === 'docker network rm s_default')).toHaveLength(2);
  });

  it('fails (exit 2) naming what is left once the time is up', async () => {
    const runner = new RecordingRunner({
      name: 'm1',
      script: { 'docker service ls': { stdout: 's_api\n' } },
    });
    await expect(
      removeStacks(runner, { kind: 'stack-remove', stacks: ['s'], timeoutMs: 0 }, () => {}, signal),
    ).rejects.toMatchObject({
      message: 'the swarm still has services s_api of s after 0 s',
      exitCode: 2,
    });
  });

  it('waits on a node until no container of the stack runs, then removes the stopped ones', async () => {
    let polls = 0;
    const runner = new RecordingRunner({
      name: 'w2',
      script: (argv) => {
        const joined = argv.join(' ');
        if (joined.startsWith('docker ps --quiet')) {
          polls += 1;
          return { stdout: polls < 2 ? 'c1\n' : '' };
        }
        if (joined.startsWith('docker ps -a')) return { stdout: 'c1\n' };
        return undefined;
      },
    });
    const lines: string[] = [];
    expect(
      await drainStacks(
        runner,
        { kind: 'stack-drain', stacks: ['s'], timeoutMs: 60_000 },
        (line) => lines.push(line),
        signal,
      ),
    ).toEqual({ status: 'completed', detail: 'no container of the stack is left' });
    expect(lines).toEqual(['1 container still running']);
    expect(runner.commands.at(-1)!.join(' ')).toBe('docker rm -f c1');
    const idle = new RecordingRunner({ name: 'w3' });
    expect(
      await drainStacks(idle, { kind: 'stack-drain', stacks: ['s'], timeoutMs: 1 }, () => {}, signal),
    ).toEqual({ status: 'unchanged', detail: 'no container of the stack was here' });
  });
});
