// `stagecraft status`: every host of the environment read in parallel (one connection each), every
// service's containers with state, health, version, uptime, restarts and whether they run the release.
import { parse } from 'yaml';
import { SPEC_HASH_LABEL } from '../compose/project.js';
import type { ContainerFacts } from '../docker/container.js';
import { TASK_STARTING_STATES } from '../docker/swarm.js';
import type { HostModel } from '../model/environment.js';
import { releaseDir } from '../plan/deploy.js';
import { formatTable } from '../render/table.js';
import type { Runner } from '../runners/types.js';
import type { ReleaseRecord } from '../state/types.js';
import type { LoadedEnvironment } from './environment.js';
import {
  type HostRunners,
  imageRepository,
  imageVersion,
  ingressContainers,
  oneLine,
  projectContainers,
  readHistory,
  serviceOf,
  shortContainerName,
} from './fleet.js';
import {
  hostMeshState,
  type MeshHostState,
  meshProblemLines,
  meshRows,
  meshStateJson,
} from './mesh-status.js';
import type { Session } from './session.js';
import type { SwarmStatusSection } from './swarm-status.js';

/** Whether a container runs what the current release says: its spec hash (or image) matches. */
export type ReleaseMatch = 'current' | 'outdated' | 'unknown';

export interface ContainerStatus {
  id: string;
  name: string;
  /** running | exited | restarting | paused | created | dead | removing */
  state: string;
  exitCode: number;
  health: string | undefined;
  image: string;
  version: string;
  /** RFC 3339; meaningful while running. */
  startedAt: string;
  restarts: number;
  release: ReleaseMatch;
}

export interface ServiceStatus {
  name: string;
  /** `service` for a compose service, `ingress` for the gateway Stagecraft runs on the host. */
  kind: 'service' | 'ingress';
  /** The model or the current release places this service on this host. */
  expected: boolean;
  containers: ContainerStatus[];
}

export interface HostStatus {
  name: string;
  roles: string[];
  reachable: boolean;
  error?: string;
  services: ServiceStatus[];
  /** With the mesh on (network.provider tailscale or headscale): the host's mesh state. */
  mesh?: MeshHostState;
}

export interface StatusReport {
  project: string;
  environment: string;
  composeProject: string;
  /** The release that runs: the newest completed record, unless that is a removal. */
  release: { id: string; version: string; timestamp: string } | undefined;
  /** Set when the newest completed record is a removal (`stagecraft remove`): no release runs. */
  removed?: { id: string; timestamp: string };
  /** Set when the lock host's history could not be read. */
  historyWarning: string | undefined;
  /** With the mesh on: its provider and tailnet (each host's state is in `hosts[].mesh`). */
  mesh?: { provider: string; tailnet: string };
  hosts: HostStatus[];
  /** driver swarm: the stack's services and the nodes (hosts are nodes, containers are tasks). */
  swarm?: SwarmStatusSection;
}

/**
 * The report's `release` and `removed` from the ledger's current record: a removal (`stagecraft
 * remove`, kind `remove`) is completed like a release but runs nothing, so it is `removed`, never
 * `release`. Neither for undefined (nothing recorded).
 */
export function statusRelease(
  record: ReleaseRecord | undefined,
): Pick<StatusReport, 'release'> & Partial<Pick<StatusReport, 'removed'>> {
  if (record === undefined) return { release: undefined };
  if (record.kind === 'remove')
    return { release: undefined, removed: { id: record.id, timestamp: record.timestamp } };
  return { release: { id: record.id, version: record.version, timestamp: record.timestamp } };
}

/** The spec hash per service in a rendered compose file (the `stagecraft.spec-hash` labels). */
export function specHashesOf(composeText: string): Record<string, string> {
  const document = parse(composeText) as { services?: Record<string, { labels?: unknown }> } | null;
  const hashes: Record<string, string> = {};
  for (const [name, service] of Object.entries(document?.services ?? {})) {
    const labels = service?.labels;
    let hash: unknown;
    if (Array.isArray(labels)) {
      const entry = labels.find(
        (item): item is string => typeof item === 'string' && item.startsWith(`${SPEC_HASH_LABEL}=`),
      );
      hash = entry?.slice(SPEC_HASH_LABEL.length + 1);
    } else if (labels !== null && typeof labels === 'object') {
      hash = (labels as Record<string, unknown>)[SPEC_HASH_LABEL];
    }
    if (typeof hash === 'string' && hash !== '') hashes[name] = hash;
  }
  return hashes;
}

/**
 * Does a container run the current release? By spec hash when the release's compose file on the host
 * says what it should be (covers image, config and secrets); else by image against the release's
 * recorded image; else unknown.
 */
export function releaseMatch(
  container: Pick<ContainerFacts, 'labels' | 'image'>,
  expectedHash: string | undefined,
  releaseImage: string | undefined,
): ReleaseMatch {
  if (expectedHash !== undefined) {
    return container.labels[SPEC_HASH_LABEL] === expectedHash ? 'current' : 'outdated';
  }
  if (releaseImage !== undefined) {
    if (container.image === releaseImage) return 'current';
    const same =
      imageRepository(container.image) === imageRepository(releaseImage) &&
      imageVersion(container.image) === imageVersion(releaseImage);
    return same ? 'current' : 'outdated';
  }
  return 'unknown';
}

function toStatus(container: ContainerFacts, release: ReleaseMatch, composeProject: string): ContainerStatus {
  return {
    id: container.id,
    name: shortContainerName(container.name, composeProject),
    state: container.status || (container.running ? 'running' : 'unknown'),
    exitCode: container.exitCode,
    health: container.health,
    image: container.image,
    version: imageVersion(container.image),
    startedAt: container.startedAt,
    restarts: container.restartCount,
    release,
  };
}

async function readSpecHashes(
  runner: Runner,
  env: LoadedEnvironment,
  release: ReleaseRecord | undefined,
): Promise<Record<string, string>> {
  if (release === undefined || release.hosts[runner.name] === undefined) return {};
  const text = await runner.read(`${releaseDir(env.model, release.id)}/compose.yml`);
  if (text === undefined) return {};
  try {
    return specHashesOf(text);
  } catch {
    return {};
  }
}

async function hostStatus(
  env: LoadedEnvironment,
  host: HostModel,
  runner: Runner,
  release: Promise<ReleaseRecord | undefined>,
): Promise<HostStatus> {
  const { model } = env;
  try {
    const [containers, gateways, current, mesh] = await Promise.all([
      projectContainers(runner, model.composeProject),
      ingressContainers(runner, model.ingress),
      release,
      model.mesh === undefined ? undefined : hostMeshState(runner, host, model.mesh),
    ]);
    const hashes = await readSpecHashes(runner, env, current);
    const expected = new Set([
      ...model.services.filter((service) => service.hosts.includes(host.name)).map((service) => service.name),
      ...(current?.hosts[host.name]?.services ?? []),
    ]);
    const byService = new Map<string, ContainerFacts[]>();
    for (const container of containers) {
      const service = serviceOf(container) ?? '?';
      byService.set(service, [...(byService.get(service) ?? []), container]);
    }
    const order = model.services.map((service) => service.name);
    const names = [...new Set([...expected, ...byService.keys()])].sort((a, b) => {
      const [x, y] = [order.indexOf(a), order.indexOf(b)];
      return (x === -1 ? order.length : x) - (y === -1 ? order.length : y) || a.localeCompare(b);
    });
    const services: ServiceStatus[] = names.map((name) => ({
      name,
      kind: 'service',
      expected: expected.has(name),
      containers: (byService.get(name) ?? []).map((container) =>
        toStatus(
          container,
          current === undefined ? 'unknown' : releaseMatch(container, hashes[name], current.images[name]),
          model.composeProject,
        ),
      ),
    }));
    if (gateways.length > 0) {
      services.push({
        name: 'ingress',
        kind: 'ingress',
        expected: true,
        containers: gateways.map((container) => toStatus(container, 'unknown', model.composeProject)),
      });
    }
    return {
      name: host.name,
      roles: host.roles,
      reachable: true,
      services,
      ...(mesh === undefined ? {} : { mesh }),
    };
  } catch (error) {
    return { name: host.name, roles: host.roles, reachable: false, error: oneLine(error), services: [] };
  }
}

/** Reads every host in parallel; a host that cannot be read is reported as such, never thrown. */
export async function collectStatus(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
): Promise<StatusReport> {
  const { model } = env;
  const history = readHistory(context, env, runners);
  const release = history.then(
    (h) => h.current,
    () => undefined,
  );
  const results = await Promise.all(
    hosts.map((host) => hostStatus(env, host, runners.get(host.name), release)),
  );
  const { latest, remoteError } = await history;
  return {
    project: model.project,
    environment: model.environment,
    composeProject: model.composeProject,
    ...statusRelease(latest),
    historyWarning: remoteError,
    ...(model.mesh === undefined
      ? {}
      : { mesh: { provider: model.mesh.provider, tailnet: model.mesh.tailnetDomain } }),
    hosts: results,
  };
}

/** "45s", "12m", "3h20m", "4d6h": how long ago, coarse like `docker ps`. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60 > 0 && minutes < 10 ? `${seconds % 60}s` : ''}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60 > 0 ? `${minutes % 60}m` : ''}`;
  const days = Math.floor(hours / 24);
  return `${days}d${hours % 24 > 0 ? `${hours % 24}h` : ''}`;
}

function stateText(container: ContainerStatus): string {
  if (container.state === 'exited') return `exited (${container.exitCode})`;
  return container.state;
}

export function uptimeOf(container: ContainerStatus, now: Date): string {
  if (container.state !== 'running' && container.state !== 'restarting') return '-';
  const started = Date.parse(container.startedAt);
  return Number.isNaN(started) ? '-' : formatAge(now.getTime() - started);
}

export interface StatusCounts {
  containers: number;
  running: number;
  /** driver swarm: tasks on the way to running (pending, preparing, starting, …); 0 on the other drivers. */
  starting: number;
  down: number;
  missing: number;
  outdated: number;
  unreachable: number;
}

export function countStatus(report: StatusReport): StatusCounts {
  const counts: StatusCounts = {
    containers: 0,
    running: 0,
    starting: 0,
    down: 0,
    missing: 0,
    outdated: 0,
    unreachable: 0,
  };
  for (const host of report.hosts) {
    if (!host.reachable) counts.unreachable++;
    for (const service of host.services) {
      if (service.kind === 'service' && service.expected && service.containers.length === 0) counts.missing++;
      for (const container of service.containers) {
        counts.containers++;
        if (container.state === 'running') counts.running++;
        else if (TASK_STARTING_STATES.has(container.state)) counts.starting++;
        else counts.down++;
        if (container.release === 'outdated') counts.outdated++;
      }
    }
  }
  return counts;
}

/** The human table of `stagecraft status`. Pure: `now` is given. */
export function renderStatus(report: StatusReport, now: Date): string {
  const ago = (timestamp: string) => `${formatAge(now.getTime() - Date.parse(timestamp))} ago`;
  const heading = `${report.project} ${report.environment}: ${
    report.removed !== undefined
      ? `removed by ${report.removed.id} (${ago(report.removed.timestamp)}); no release runs`
      : report.release === undefined
        ? 'no completed release recorded'
        : `release ${report.release.id} (${report.release.version}, ${ago(report.release.timestamp)})`
  }`;
  const swarm = report.swarm;
  const unit = swarm === undefined ? 'containers' : 'tasks';
  const rows = [
    [
      swarm === undefined ? 'HOST' : 'NODE',
      'SERVICE',
      swarm === undefined ? 'CONTAINER' : 'TASK',
      'STATE',
      'HEALTH',
      'VERSION',
      swarm === undefined ? 'UPTIME' : 'SINCE',
      'RESTARTS',
      'RELEASE',
    ],
  ];
  for (const host of report.hosts) {
    if (!host.reachable) {
      rows.push([host.name, '-', '-', 'unreachable', '-', '-', '-', '-', '-']);
      continue;
    }
    if (host.services.length === 0) {
      rows.push([host.name, '-', '-', `no ${unit}`, '-', '-', '-', '-', '-']);
      continue;
    }
    for (const service of host.services) {
      if (service.containers.length === 0) {
        rows.push([host.name, service.name, '-', 'missing', '-', '-', '-', '-', '-']);
        continue;
      }
      for (const container of service.containers) {
        rows.push([
          host.name,
          service.name,
          container.name,
          stateText(container),
          container.health ?? '-',
          container.version,
          swarm === undefined ? uptimeOf(container, now) : sinceOf(container, now),
          String(container.restarts),
          container.release === 'unknown' ? '-' : container.release,
        ]);
      }
    }
  }
  const counts = countStatus(report);
  const summary = [
    `${counts.running}/${counts.containers} ${unit} running`,
    ...(counts.starting > 0 ? [`${counts.starting} starting`] : []),
    ...(counts.down > 0 ? [`${counts.down} down`] : []),
    ...(counts.missing > 0 ? [`${counts.missing} missing`] : []),
    ...(counts.outdated > 0 ? [`${counts.outdated} not on the current release`] : []),
    ...(counts.unreachable > 0
      ? [`${counts.unreachable} host${counts.unreachable === 1 ? '' : 's'} unreachable`]
      : []),
  ].join(', ');
  const errors = report.hosts
    .filter((host) => !host.reachable)
    .map((host) => `${host.name}: ${host.error ?? 'could not be read'}`);
  return [
    heading,
    ...swarmSection(swarm),
    '',
    formatTable(rows),
    '',
    summary,
    ...errors,
    ...meshSection(report),
  ].join('\n');
}

/** A task's state for how long: `3m` (a task that is not running too, unlike a container's uptime). */
function sinceOf(container: ContainerStatus, now: Date): string {
  const since = Date.parse(container.startedAt);
  return Number.isNaN(since) ? '-' : formatAge(now.getTime() - since);
}

/** `2/2`, with what Swarm says of an update that is not complete: `paused: update paused due to …`. */
function updateText(service: SwarmStatusSection['services'][number]): string {
  if (service.update === undefined || service.update === 'completed') return '-';
  const state = service.update.replace('_', ' ');
  return service.updateMessage ? `${state}: ${service.updateMessage}` : state;
}

/** driver swarm: the stack line, its services (mode, running/desired, image version, update) and the nodes. */
function swarmSection(swarm: SwarmStatusSection | undefined): string[] {
  if (swarm === undefined) return [];
  const rows = [['SERVICE', 'MODE', 'REPLICAS', 'IMAGE', 'UPDATE']];
  for (const service of swarm.services) {
    rows.push([
      service.name,
      service.mode,
      `${service.running}/${service.desired}`,
      service.version,
      updateText(service),
    ]);
  }
  const nodes = swarm.nodes
    .map(
      (node) =>
        `${node.host ?? node.hostname}${node.host === undefined ? ' (not in stagecraft.yml)' : ''} ${node.state}`,
    )
    .join(', ');
  return [
    `stack ${swarm.stack} (manager ${swarm.manager}); nodes: ${nodes || 'none'}`,
    '',
    swarm.services.length === 0 ? `no service of the stack ${swarm.stack} runs` : formatTable(rows),
  ];
}

/** With the mesh on: a blank line, "mesh (tailscale, acme.ts.net): 2/3 hosts agree with the config", its table, the differences. */
function meshSection(report: StatusReport): string[] {
  if (report.mesh === undefined) return [];
  const hosts = report.hosts.filter((host) => host.reachable);
  const agree = hosts.filter((host) => host.mesh?.differences.length === 0).length;
  return [
    '',
    `mesh (${report.mesh.provider}, ${report.mesh.tailnet}): ${agree}/${hosts.length} host${hosts.length === 1 ? '' : 's'} agree with the config`,
    formatTable(meshRows(hosts)),
    ...meshProblemLines(hosts),
  ];
}

/** The `--json` document (stable schema: snake_case keys, nulls instead of absent values). */
export function statusJson(report: StatusReport, now: Date): unknown {
  return {
    project: report.project,
    environment: report.environment,
    release: report.release ?? null,
    removed: report.removed ?? null,
    hosts: report.hosts.map((host) => ({
      name: host.name,
      roles: host.roles,
      reachable: host.reachable,
      error: host.error ?? null,
      mesh: meshStateJson(host.mesh),
      services: host.services.map((service) => ({
        name: service.name,
        kind: service.kind,
        expected: service.expected,
        containers: service.containers.map((container) => ({
          id: container.id,
          name: container.name,
          state: container.state,
          exit_code: container.exitCode,
          health: container.health ?? null,
          image: container.image,
          version: container.version,
          started_at: container.startedAt,
          uptime_seconds:
            container.state === 'running'
              ? Math.max(0, Math.floor((now.getTime() - Date.parse(container.startedAt)) / 1000))
              : null,
          restarts: container.restarts,
          release: container.release,
        })),
      })),
    })),
    mesh: report.mesh ?? null,
    swarm:
      report.swarm === undefined
        ? null
        : {
            manager: report.swarm.manager,
            stack: report.swarm.stack,
            services: report.swarm.services.map((service) => ({
              name: service.name,
              kind: service.kind,
              mode: service.mode,
              running: service.running,
              desired: service.desired,
              image: service.image,
              version: service.version,
              update: service.update ?? null,
              update_message: service.updateMessage ?? null,
            })),
            nodes: report.swarm.nodes.map((node) => ({
              host: node.host ?? null,
              hostname: node.hostname,
              address: node.address,
              state: node.state,
            })),
          },
    summary: countStatus(report),
  };
}
