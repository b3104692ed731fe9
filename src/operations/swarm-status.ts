// `stagecraft status` on driver swarm: everything is read from the manager (the stack's services, its
// tasks, the nodes) and mapped onto the report driver ssh prints, so one renderer serves both: a node
// is a host (by address, else hostname), a task is a container, the gateway service is the ingress.
import { GATEWAY_SERVICE } from '../compose/stack.js';
import { SPEC_HASH_LABEL } from '../docker/labels.js';
import {
  hostOfNode,
  parseServiceStatus,
  parseTaskStatus,
  type SwarmNode,
  type SwarmServiceStatus,
  type SwarmTaskStatus,
  serviceStatusArgs,
  stackServiceIdsArgs,
  stackTaskIdsArgs,
  TASK_STARTING_STATES,
  taskStatusArgs,
} from '../docker/swarm.js';
import { readSwarmNodes } from '../engine/swarm.js';
import type { EnvironmentModel, HostModel } from '../model/environment.js';
import { releaseDir } from '../plan/deploy.js';
import type { Runner } from '../runners/types.js';
import { runningRelease } from '../state/ledger.js';
import type { ReleaseRecord } from '../state/types.js';
import type { LoadedEnvironment } from './environment.js';
import { type HostRunners, imageVersion, readHistory } from './fleet.js';
import type { Session } from './session.js';
import {
  type ContainerStatus,
  type HostStatus,
  type ReleaseMatch,
  type ServiceStatus,
  type StatusReport,
  specHashesOf,
  statusRelease,
} from './status.js';
import { onManager } from './swarm-manager.js';

/** One service of the stack, as status shows it above the tasks. */
export interface SwarmServiceSummary {
  /** The compose service (`api`), or `stagecraft-gateway`. */
  name: string;
  kind: 'service' | 'ingress';
  mode: SwarmServiceStatus['mode'];
  /** Tasks in state running. */
  running: number;
  /** Replicated: the replicas; global: the tasks Swarm means to run (one per eligible node). */
  desired: number;
  image: string;
  version: string;
  /** Swarm's update state (`updating`, `paused`, `completed`, `rollback_completed`, …), undefined before any update. */
  update: string | undefined;
  updateMessage: string | undefined;
}

/** A node of the swarm as status shows it: the configured host it is, when it is one. */
export interface SwarmNodeSummary {
  host: string | undefined;
  hostname: string;
  address: string;
  /** `ready`, `down`, `unknown`, `disconnected`. */
  state: string;
}

/** What status adds on driver swarm: the manager, the stack, its services and the nodes. */
export interface SwarmStatusSection {
  manager: string;
  stack: string;
  services: SwarmServiceSummary[];
  nodes: SwarmNodeSummary[];
}

/** What was read from the manager: the stack's services, every task of the stack, the nodes. */
export interface SwarmReadings {
  services: SwarmServiceStatus[];
  tasks: SwarmTaskStatus[];
  nodes: SwarmNode[];
}

/** What tells two tasks' specs apart: the spec hash Stagecraft labels them with, else the image. */
function specOf(task: SwarmTaskStatus): string {
  return task.labels[SPEC_HASH_LABEL] ?? task.image;
}

/**
 * How often Swarm replaced a task: the ended tasks of its slot (a global task: of its node) with the
 * same spec, newest first, up to the first of another spec (an update), not counting tasks on their
 * way to running. Swarm keeps only a few tasks per slot (task history, 5 by default).
 */
function restartsOf(
  task: SwarmTaskStatus,
  tasks: readonly SwarmTaskStatus[],
  slotKey: (task: SwarmTaskStatus) => string,
): number {
  const earlier = tasks
    .filter(
      (other) =>
        other.id !== task.id &&
        other.desired !== 'running' &&
        slotKey(other) === slotKey(task) &&
        !TASK_STARTING_STATES.has(other.state),
    )
    .sort((a, b) => (a.since < b.since ? 1 : a.since > b.since ? -1 : 0));
  let count = 0;
  for (const other of earlier) {
    if (specOf(other) !== specOf(task)) break;
    count += 1;
  }
  return count;
}

/** `api` for `shop-production_api`; the name unchanged when it is not the stack's. */
function composeName(stack: string, serviceName: string): string {
  return serviceName.startsWith(`${stack}_`) ? serviceName.slice(stack.length + 1) : serviceName;
}

/** A task's short name: `api.1`, or the service's name for a global task (slot 0: one per node). */
function taskName(service: string, task: SwarmTaskStatus): string {
  return task.slot > 0 ? `${service}.${task.slot}` : service;
}

/**
 * Pure: the status report of a swarm environment from what the manager said. Hosts are the
 * configured hosts in config order, then nodes that are none of them (by hostname); each lists the
 * tasks Swarm means to run there (desired state running), grouped by service in the model's order,
 * the gateway last. A task's restarts are the ended tasks of its slot with its spec that Swarm still
 * keeps (restartsOf); its release is `current` when it carries the spec hash
 * of the current release's stack file. `record` is the ledger's current record: a removal is shown as
 * `removed`, and no task is compared with it. Nodes are all reachable: the manager answered for them.
 */
export function swarmStatusReport(
  model: EnvironmentModel,
  readings: SwarmReadings,
  record: ReleaseRecord | undefined,
  specHashes: Record<string, string>,
  historyWarning: string | undefined,
): StatusReport {
  const stack = model.swarm?.stack ?? model.composeProject;
  const recorded = statusRelease(record);
  const release = runningRelease(record);
  const byId = new Map(readings.services.map((service) => [service.id, service]));
  const nodeHost = new Map<string, string>();
  const extraHosts: string[] = [];
  for (const node of readings.nodes) {
    const host = hostOfNode(node, model.hosts);
    const name = host?.name ?? node.hostname;
    nodeHost.set(node.id, name);
    if (host === undefined && !extraHosts.includes(name)) extraHosts.push(name);
  }
  const current = readings.tasks.filter((task) => task.desired === 'running' && byId.has(task.service));
  const slotKey = (task: SwarmTaskStatus) => `${task.service}/${task.slot > 0 ? task.slot : task.node}`;
  const restarts = (task: SwarmTaskStatus) => restartsOf(task, readings.tasks, slotKey);
  const order = model.services.map((service) => service.name);
  const rank = (name: string) => {
    if (name === GATEWAY_SERVICE) return order.length + 1;
    const index = order.indexOf(name);
    return index === -1 ? order.length : index;
  };
  const toContainer = (task: SwarmTaskStatus, service: string): ContainerStatus => {
    const hash = specHashes[service];
    const match: ReleaseMatch =
      release === undefined || hash === undefined
        ? 'unknown'
        : task.labels[SPEC_HASH_LABEL] === hash
          ? 'current'
          : 'outdated';
    return {
      id: task.container ?? task.id,
      name: taskName(service, task),
      state: task.state,
      exitCode: task.exitCode ?? 0,
      health: undefined,
      image: task.image,
      version: imageVersion(task.image),
      startedAt: task.since,
      restarts: restarts(task),
      release: match,
    };
  };
  const hostStatus = (name: string, roles: string[]): HostStatus => {
    const here = current.filter((task) => nodeHost.get(task.node) === name);
    const names = [...new Set(here.map((task) => composeName(stack, byId.get(task.service)!.name)))].sort(
      (a, b) => rank(a) - rank(b) || a.localeCompare(b),
    );
    const services: ServiceStatus[] = names.map((service) => ({
      name: service,
      kind: service === GATEWAY_SERVICE ? 'ingress' : 'service',
      expected: true,
      containers: here
        .filter((task) => composeName(stack, byId.get(task.service)!.name) === service)
        .sort((a, b) => a.slot - b.slot)
        .map((task) => toContainer(task, service)),
    }));
    return { name, roles, reachable: true, services };
  };
  const unassigned = current.filter((task) => task.node === '' || !nodeHost.has(task.node));
  const hosts = [
    ...model.hosts.map((host) => hostStatus(host.name, host.roles)),
    ...extraHosts.map((name) => hostStatus(name, [])),
  ];
  if (unassigned.length > 0) {
    // Tasks no node took yet (no node fits the placement, or none is up): shown, not lost.
    hosts.push({
      name: '(unassigned)',
      roles: [],
      reachable: true,
      services: [...new Set(unassigned.map((task) => composeName(stack, byId.get(task.service)!.name)))].map(
        (service) => ({
          name: service,
          kind: service === GATEWAY_SERVICE ? 'ingress' : 'service',
          expected: true,
          containers: unassigned
            .filter((task) => composeName(stack, byId.get(task.service)!.name) === service)
            .map((task) => toContainer(task, service)),
        }),
      ),
    });
  }
  const services: SwarmServiceSummary[] = readings.services
    .map((service) => {
      const name = composeName(stack, service.name);
      const tasks = current.filter((task) => task.service === service.id);
      return {
        name,
        kind: name === GATEWAY_SERVICE ? ('ingress' as const) : ('service' as const),
        mode: service.mode,
        running: tasks.filter((task) => task.state === 'running').length,
        desired: service.replicas ?? tasks.length,
        image: service.image,
        version: imageVersion(service.image),
        update: service.update,
        updateMessage: service.updateMessage,
      };
    })
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  const configured = new Set(model.hosts.map((host) => host.name));
  return {
    project: model.project,
    environment: model.environment,
    composeProject: model.composeProject,
    ...recorded,
    historyWarning,
    hosts,
    swarm: {
      manager: model.swarm?.manager ?? model.lockHost,
      stack,
      services,
      nodes: readings.nodes
        .map((node) => {
          const host = nodeHost.get(node.id);
          return {
            host: host !== undefined && configured.has(host) ? host : undefined,
            hostname: node.hostname,
            address: node.addr,
            state: node.state,
          };
        })
        .sort((a, b) => a.hostname.localeCompare(b.hostname)),
    },
  };
}

const ids = (stdout: string) =>
  stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');

/**
 * Reads the stack from the manager: its services (`docker service ls` + `inspect`), every task Swarm
 * keeps of it (`docker stack ps` + `docker inspect --type task`) and the nodes (`docker node ls` +
 * `inspect`). Throws what the runner throws (the manager cannot be reached, docker fails).
 */
export async function readSwarm(runner: Runner, stack: string): Promise<SwarmReadings> {
  const readServices = async () => {
    const serviceIds = ids((await runner.exec(stackServiceIdsArgs(stack))).stdout);
    if (serviceIds.length === 0) return [];
    return parseServiceStatus((await runner.exec(serviceStatusArgs(serviceIds))).stdout);
  };
  const readTasks = async () => {
    // "nothing found in stack" once the stack is gone: no tasks.
    const taskIds = ids((await runner.exec(stackTaskIdsArgs(stack), { allowFailure: true })).stdout);
    if (taskIds.length === 0) return [];
    // A task Swarm forgets between the two commands makes inspect fail for it only: keep the others.
    return parseTaskStatus((await runner.exec(taskStatusArgs(taskIds), { allowFailure: true })).stdout);
  };
  const [services, tasks, nodes] = await Promise.all([readServices(), readTasks(), readSwarmNodes(runner)]);
  return { services, tasks, nodes };
}

/** The spec hash per service in the current release's stack file on the manager ({} without one). */
async function releaseSpecHashes(
  runner: Runner,
  model: EnvironmentModel,
  release: ReleaseRecord | undefined,
): Promise<Record<string, string>> {
  if (release === undefined) return {};
  const text = await runner.read(`${releaseDir(model, release.id)}/stack.yml`).catch(() => undefined);
  if (text === undefined) return {};
  try {
    return specHashesOf(text);
  } catch {
    return {};
  }
}

/**
 * `status` on driver swarm: the stack read from the manager over one connection, with the release
 * history (the ledger lives on the manager too). `hosts`: the hosts in scope (`--hosts`, `--roles`);
 * nodes that are no configured host are shown only without a scope. Throws ExternalError when the
 * manager cannot be read.
 */
export async function collectSwarmStatus(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
): Promise<StatusReport> {
  const { model } = env;
  const runner = runners.get(model.swarm?.manager ?? model.lockHost);
  const [readings, history] = await Promise.all([
    onManager(model, () => readSwarm(runner, model.swarm?.stack ?? model.composeProject)),
    readHistory(context, env, runners),
  ]);
  const hashes = await releaseSpecHashes(runner, model, history.current);
  const report = swarmStatusReport(model, readings, history.latest, hashes, history.remoteError);
  if (hosts.length === model.hosts.length) return report;
  const inScope = new Set(hosts.map((host) => host.name));
  return { ...report, hosts: report.hosts.filter((host) => inScope.has(host.name)) };
}
