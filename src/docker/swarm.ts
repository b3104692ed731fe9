/**
 * argv builders for Docker Swarm (`docker stack`, `docker service`, `docker node`), run on the
 * manager, and parsers of their output. Formats are Go templates that print one JSON object per line
 * with only the fields Stagecraft reads: never a service's whole spec, whose environment may hold
 * secrets. Reference: docs.docker.com/reference/cli/docker/stack/deploy, …/service/ps, …/node/update.
 */
import { Secret } from '../util/secret.js';

/**
 * `docker stack deploy --compose-file FILE [--prune] --with-registry-auth --detach=true STACK`.
 * `--detach=true` because Stagecraft polls the tasks itself (`--detach=false` waits forever on a
 * replicated job, and its default flips in newer CLIs); `--with-registry-auth` sends the manager's
 * registry login to the nodes that pull; `--prune` removes the stack's services that the file no
 * longer has (services removed from the compose file).
 */
export function stackDeployArgs(stack: string, file: string, options: { prune: boolean }): string[] {
  return [
    'docker',
    'stack',
    'deploy',
    '--compose-file',
    file,
    ...(options.prune ? ['--prune'] : []),
    '--with-registry-auth',
    '--detach=true',
    stack,
  ];
}

/** `docker stack rm STACK` (a job stack once its job is done). */
export function stackRmArgs(stack: string): string[] {
  return ['docker', 'stack', 'rm', stack];
}

/** The label `docker stack deploy` puts on everything of a stack. */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';

/** A stack's service as `docker stack deploy` names it. */
export function stackServiceName(stack: string, service: string): string {
  return `${stack}_${service}`;
}

const SERVICE_FORMAT =
  '{"id":{{json .ID}},"name":{{json .Spec.Name}},"mode":{{json .Spec.Mode}},"update":{{json .UpdateStatus}},"labels":{{json .Spec.TaskTemplate.ContainerSpec.Labels}}}';

/**
 * `docker service inspect --format <one JSON line per service: name, mode, update status, the
 * container labels of its task template> NAME…`
 */
export function serviceInspectArgs(names: string[]): string[] {
  return ['docker', 'service', 'inspect', '--format', SERVICE_FORMAT, ...names];
}

const TASK_FORMAT =
  '{"id":{{json .ID}},"name":{{json .Name}},"node":{{json .Node}},"desired":{{json .DesiredState}},"current":{{json .CurrentState}},"error":{{json .Error}},"image":{{json .Image}}}';

/** `docker service ps --no-trunc --format <one JSON line per task> NAME…` (every task, old ones too). */
export function servicePsArgs(names: string[]): string[] {
  return ['docker', 'service', 'ps', '--no-trunc', '--format', TASK_FORMAT, ...names];
}

/** `docker service ps --quiet --no-trunc --filter desired-state=running NAME…`: ids of the tasks meant to run. */
export function serviceRunningTaskIdsArgs(names: string[]): string[] {
  return ['docker', 'service', 'ps', '--quiet', '--no-trunc', '--filter', 'desired-state=running', ...names];
}

const TASK_INSPECT_FORMAT =
  '{"id":{{json .ID}},"service":{{json .ServiceID}},"node":{{json .NodeID}},"state":{{json .Status.State}},"error":{{json .Status.Err}},"labels":{{json .Spec.ContainerSpec.Labels}}}';

/** `docker inspect --type task --format <one JSON line per task: id, service id, node, state, error, container labels> ID…` */
export function taskInspectArgs(ids: string[]): string[] {
  return ['docker', 'inspect', '--type', 'task', '--format', TASK_INSPECT_FORMAT, ...ids];
}

/** One task as `taskInspectArgs` prints it: `state` is Swarm's (`running`, `starting`, `failed`, …). */
export interface SwarmTaskSpec {
  id: string;
  service: string;
  node: string;
  state: string;
  error: string;
  labels: Record<string, string>;
}

/** Parses `taskInspectArgs` output. Throws SyntaxError on a line that is not JSON. */
export function parseTaskSpecs(stdout: string): SwarmTaskSpec[] {
  return lines(stdout).map((raw) => {
    const item = raw as Partial<SwarmTaskSpec> & {
      labels?: Record<string, string> | null;
      error?: string | null;
    };
    return {
      id: item.id ?? '',
      service: item.service ?? '',
      node: item.node ?? '',
      state: item.state ?? '',
      error: item.error ?? '',
      labels: item.labels ?? {},
    };
  });
}

/** `docker service logs --raw --tail N NAME`: a failed task's or a job's output (stdout and stderr apart). */
export function serviceLogsArgs(name: string, tail: number | 'all'): string[] {
  return ['docker', 'service', 'logs', '--raw', '--tail', String(tail), name];
}

const NODE_FORMAT =
  '{"id":{{json .ID}},"hostname":{{json .Description.Hostname}},"addr":{{json .Status.Addr}},"state":{{json .Status.State}},"labels":{{json .Spec.Labels}}}';

/** `docker node ls -q`: the ids of the swarm's nodes (manager only). */
export function nodeIdsArgs(): string[] {
  return ['docker', 'node', 'ls', '--quiet'];
}

/** `docker node inspect --format <one JSON line per node: id, hostname, address, state, labels> ID…` */
export function nodeInspectArgs(ids: string[]): string[] {
  return ['docker', 'node', 'inspect', '--format', NODE_FORMAT, ...ids];
}

/** `docker node update [--label-add k=v…] [--label-rm k…] NODE`, labels sorted. */
export function nodeLabelArgs(node: string, add: Record<string, string>, remove: string[]): string[] {
  const args = ['docker', 'node', 'update'];
  for (const key of Object.keys(add).sort()) args.push('--label-add', `${key}=${add[key]}`);
  for (const key of [...remove].sort()) args.push('--label-rm', key);
  args.push(node);
  return args;
}

/** One service as `serviceInspectArgs` prints it. */
export interface SwarmServiceState {
  id: string;
  name: string;
  /** Replicated: the desired replica count; global and jobs: undefined. */
  replicas: number | undefined;
  mode: 'replicated' | 'global' | 'replicated-job' | 'global-job';
  /** Swarm's UpdateStatus.State (`updating`, `paused`, `completed`, `rollback_started`, …), or undefined before any update. */
  update: string | undefined;
  updateMessage: string | undefined;
  /** The container labels of the task template (the spec hash among them). */
  labels: Record<string, string>;
}

/** One task as `servicePsArgs` prints it. */
export interface SwarmTask {
  id: string;
  /** `<service>.<slot>` or `<service>.<node id>`; the old tasks of a slot have the same name. */
  name: string;
  node: string;
  desired: string;
  /** `Running 5 seconds ago`, `Complete 1 second ago`, `Failed …`: the state is the first word. */
  current: string;
  error: string;
  image: string;
}

function lines(stdout: string): unknown[] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as unknown);
}

/** Parses `serviceInspectArgs` output. Throws SyntaxError on a line that is not JSON. */
export function parseServices(stdout: string): SwarmServiceState[] {
  return lines(stdout).map((raw) => {
    const item = raw as {
      id?: string;
      name: string;
      mode?: {
        Replicated?: { Replicas?: number };
        Global?: unknown;
        ReplicatedJob?: unknown;
        GlobalJob?: unknown;
      };
      update?: { State?: string; Message?: string } | null;
      labels?: Record<string, string> | null;
    };
    const mode = item.mode ?? {};
    return {
      id: item.id ?? '',
      name: item.name,
      replicas: mode.Replicated?.Replicas,
      mode:
        mode.Global !== undefined
          ? 'global'
          : mode.ReplicatedJob !== undefined
            ? 'replicated-job'
            : mode.GlobalJob !== undefined
              ? 'global-job'
              : 'replicated',
      update: item.update?.State ?? undefined,
      updateMessage: item.update?.Message ?? undefined,
      labels: item.labels ?? {},
    };
  });
}

/** Parses `servicePsArgs` output. Throws SyntaxError on a line that is not JSON. */
export function parseTasks(stdout: string): SwarmTask[] {
  return lines(stdout).map((raw) => {
    const item = raw as Record<string, string | undefined>;
    return {
      id: item['id'] ?? '',
      name: item['name'] ?? '',
      node: item['node'] ?? '',
      desired: item['desired'] ?? '',
      current: item['current'] ?? '',
      error: item['error'] ?? '',
      image: item['image'] ?? '',
    };
  });
}

/** Swarm task states on the way to running: such a task has not ended (a container is never in one). */
export const TASK_STARTING_STATES: ReadonlySet<string> = new Set([
  'new',
  'allocated',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
]);

/** A task's current state, lower case: `running`, `complete`, `failed`, `rejected`, `starting`, … */
export function taskState(task: SwarmTask): string {
  return (task.current.split(' ')[0] ?? '').toLowerCase();
}

/** One node as `nodeInspectArgs` prints it. */
export interface SwarmNode {
  id: string;
  hostname: string;
  addr: string;
  state: string;
  labels: Record<string, string>;
}

/** Parses `nodeInspectArgs` output. Throws SyntaxError on a line that is not JSON. */
export function parseNodes(stdout: string): SwarmNode[] {
  return lines(stdout).map((raw) => {
    const item = raw as Partial<SwarmNode> & { labels?: Record<string, string> | null };
    return {
      id: item.id ?? '',
      hostname: item.hostname ?? '',
      addr: item.addr ?? '',
      state: item.state ?? '',
      labels: item.labels ?? {},
    };
  });
}

// ─── Operating a stack: status, logs, exec, remove ──────────────────────────────────────────────

/** `docker service ls --quiet --filter label=com.docker.stack.namespace=STACK`: ids of the stack's services. */
export function stackServiceIdsArgs(stack: string): string[] {
  return ['docker', 'service', 'ls', '--quiet', '--filter', `label=${STACK_NAMESPACE_LABEL}=${stack}`];
}

const SERVICE_STATUS_FORMAT =
  '{"id":{{json .ID}},"name":{{json .Spec.Name}},"mode":{{json .Spec.Mode}},"image":{{json .Spec.TaskTemplate.ContainerSpec.Image}},"update":{{json .UpdateStatus}},"updated":{{json .UpdatedAt}}}';

/**
 * `docker service inspect --format <one JSON line per service: id, name, mode, image, update status,
 * last change> ID…` (status). Never the spec's environment.
 */
export function serviceStatusArgs(ids: string[]): string[] {
  return ['docker', 'service', 'inspect', '--format', SERVICE_STATUS_FORMAT, ...ids];
}

/** `docker stack ps --quiet --no-trunc STACK`: ids of every task of the stack, the old ones Swarm keeps too. */
export function stackTaskIdsArgs(stack: string): string[] {
  return ['docker', 'stack', 'ps', '--quiet', '--no-trunc', stack];
}

const TASK_STATUS_FORMAT =
  '{"id":{{json .ID}},"service":{{json .ServiceID}},"slot":{{json .Slot}},"node":{{json .NodeID}},"desired":{{json .DesiredState}},"state":{{json .Status.State}},"since":{{json .Status.Timestamp}},"error":{{json .Status.Err}},"container":{{json .Status.ContainerStatus}},"image":{{json .Spec.ContainerSpec.Image}},"labels":{{json .Spec.ContainerSpec.Labels}}}';

/**
 * `docker inspect --type task --format <one JSON line per task: service, slot, node, desired and
 * current state, since, error, container, image, container labels> ID…` (status, exec). The
 * container status is printed whole: it is null before a node starts the task.
 */
export function taskStatusArgs(ids: string[]): string[] {
  return ['docker', 'inspect', '--type', 'task', '--format', TASK_STATUS_FORMAT, ...ids];
}

/** A stack's service as `serviceStatusArgs` prints it. */
export interface SwarmServiceStatus {
  id: string;
  /** `<stack>_<service>`. */
  name: string;
  mode: SwarmServiceState['mode'];
  /** Replicated: the desired replicas; otherwise undefined. */
  replicas: number | undefined;
  image: string;
  /** Swarm's UpdateStatus.State, undefined before the first update. */
  update: string | undefined;
  updateMessage: string | undefined;
  /** RFC 3339: when the spec last changed. */
  updatedAt: string;
}

function modeOf(mode: {
  Replicated?: unknown;
  Global?: unknown;
  ReplicatedJob?: unknown;
  GlobalJob?: unknown;
}): SwarmServiceState['mode'] {
  if (mode.Global !== undefined) return 'global';
  if (mode.ReplicatedJob !== undefined) return 'replicated-job';
  if (mode.GlobalJob !== undefined) return 'global-job';
  return 'replicated';
}

/** Parses `serviceStatusArgs` output. Throws SyntaxError on a line that is not JSON. */
export function parseServiceStatus(stdout: string): SwarmServiceStatus[] {
  return lines(stdout).map((raw) => {
    const item = raw as {
      id?: string;
      name?: string;
      mode?: {
        Replicated?: { Replicas?: number };
        Global?: unknown;
        ReplicatedJob?: unknown;
        GlobalJob?: unknown;
      };
      image?: string;
      update?: { State?: string; Message?: string } | null;
      updated?: string;
    };
    const mode = item.mode ?? {};
    return {
      id: item.id ?? '',
      name: item.name ?? '',
      mode: modeOf(mode),
      replicas: mode.Replicated?.Replicas,
      image: item.image ?? '',
      update: item.update?.State || undefined,
      updateMessage: item.update?.Message || undefined,
      updatedAt: item.updated ?? '',
    };
  });
}

/** A task as `taskStatusArgs` prints it. */
export interface SwarmTaskStatus {
  id: string;
  /** The service's id. */
  service: string;
  /** Replicated: 1, 2, …; global: 0 (a global task is known by its node). */
  slot: number;
  /** The node's id; empty before the task is assigned. */
  node: string;
  /** `running` for the tasks Swarm means to run; `shutdown`, `complete` for the others. */
  desired: string;
  /** `new`, `pending`, `assigned`, `preparing`, `starting`, `running`, `complete`, `failed`, `rejected`, `shutdown`, … */
  state: string;
  /** RFC 3339: when the task reached its state. */
  since: string;
  error: string;
  /** The container's id on the node, once the node created it. */
  container: string | undefined;
  /** The container's exit code, once it exited. */
  exitCode: number | undefined;
  image: string;
  labels: Record<string, string>;
}

/** Parses `taskStatusArgs` output. Throws SyntaxError on a line that is not JSON. */
export function parseTaskStatus(stdout: string): SwarmTaskStatus[] {
  return lines(stdout).map((raw) => {
    const item = raw as {
      id?: string;
      service?: string;
      slot?: number;
      node?: string;
      desired?: string;
      state?: string;
      since?: string;
      error?: string | null;
      container?: { ContainerID?: string; ExitCode?: number } | null;
      image?: string;
      labels?: Record<string, string> | null;
    };
    return {
      id: item.id ?? '',
      service: item.service ?? '',
      slot: item.slot ?? 0,
      node: item.node ?? '',
      desired: item.desired ?? '',
      state: item.state ?? '',
      since: item.since ?? '',
      error: item.error ?? '',
      container: item.container?.ContainerID || undefined,
      exitCode: item.container?.ExitCode,
      image: item.image ?? '',
      labels: item.labels ?? {},
    };
  });
}

/**
 * The configured host a node is: the one whose address is the node's `Status.Addr`, else the one
 * named as the node's hostname (as deploy finds nodes to label them). Undefined: not one of the hosts.
 */
export function hostOfNode<H extends { name: string; target: string }>(
  node: Pick<SwarmNode, 'addr' | 'hostname'>,
  hosts: readonly H[],
): H | undefined {
  return hosts.find((host) => host.target === node.addr) ?? hosts.find((host) => host.name === node.hostname);
}

/**
 * `docker service logs --timestamps --no-task-ids [--tail N] [--since T] [--follow] NAME`. Each line is
 * `<RFC 3339> <name>.<slot>@<node hostname><padding>    | <text>` (parseServiceLogLine).
 */
export function serviceLogsFollowArgs(
  name: string,
  options: { tail?: number; since?: string; follow?: boolean },
): string[] {
  // Full task ids, so that lines of tasks Swarm shut down can be told from the running ones'.
  const args = ['docker', 'service', 'logs', '--timestamps', '--no-trunc'];
  if (options.tail !== undefined) args.push('--tail', String(options.tail));
  if (options.since !== undefined) args.push('--since', options.since);
  if (options.follow === true) args.push('--follow');
  return [...args, name];
}

/** One line of `serviceLogsFollowArgs` output: when, which task (`<name>.<slot>`), on which node, what. */
export interface ServiceLogLine {
  timestamp: string;
  /** `<stack>_<service>.<slot>`; a global service's tasks all have slot 0. */
  task: string;
  /** The task's id (25 characters), when the line names it. */
  taskId?: string;
  /** The node's hostname. */
  node: string;
  text: string;
}

const SERVICE_LOG_LINE =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (\S+)@(\S+?) *\| ?(.*)$/s;

/** Parses one line of `docker service logs --timestamps`; undefined for a line that is not one. */
export function parseServiceLogLine(raw: string): ServiceLogLine | undefined {
  const match = SERVICE_LOG_LINE.exec(raw);
  if (match === null) return undefined;
  // `<name>.<slot>.<task id>` (Docker's default), or `<name>.<slot>` with --no-task-ids.
  const named = /^(.*\.\d+)\.([a-z0-9]{12,25})$/.exec(match[2]!);
  return {
    timestamp: match[1]!,
    task: named?.[1] ?? match[2]!,
    ...(named ? { taskId: named[2]! } : {}),
    node: match[3]!,
    text: match[4]!,
  };
}

/**
 * `docker service ps --quiet --no-trunc --filter desired-state=shutdown NAME`: the full ids of the
 * service's tasks Swarm shut down or means to (older releases, failed tries), whose lines `logs`
 * leaves out as it leaves out removed containers on driver ssh.
 */
export function shutdownTaskIdsArgs(name: string): string[] {
  return ['docker', 'service', 'ps', '--quiet', '--no-trunc', '--filter', 'desired-state=shutdown', name];
}

/** The kinds of swarm objects a stack owns, each listed with `docker <kind> ls`. */
export type StackObjectKind = 'service' | 'network' | 'config' | 'secret' | 'volume';

/** `docker <kind> ls --filter label=com.docker.stack.namespace=STACK --format {{.Name}}`. */
export function stackObjectsArgs(kind: StackObjectKind, stack: string): string[] {
  return [
    'docker',
    kind,
    'ls',
    '--filter',
    `label=${STACK_NAMESPACE_LABEL}=${stack}`,
    '--format',
    '{{.Name}}',
  ];
}

/** `docker stack ls --format {{.Name}}`: the swarm's stacks. */
export function stackNamesArgs(): string[] {
  return ['docker', 'stack', 'ls', '--format', '{{.Name}}'];
}

/** `docker ps [-a] --quiet --no-trunc --filter label=com.docker.stack.namespace=STACK`: a node's containers of a stack. */
export function stackContainersArgs(stack: string, options: { all: boolean }): string[] {
  return [
    'docker',
    'ps',
    ...(options.all ? ['-a'] : []),
    '--quiet',
    '--no-trunc',
    '--filter',
    `label=${STACK_NAMESPACE_LABEL}=${stack}`,
  ];
}

// ─── Forming a swarm (`stagecraft setup`) ────────────────────────────────────────────────────────

/** `docker info --format '{{json .Swarm}}'`: the engine's swarm state (one JSON object). */
export function swarmInfoArgs(): string[] {
  return ['docker', 'info', '--format', '{{json .Swarm}}'];
}

/**
 * An engine's swarm state, from `docker info`'s `Swarm` (Docker's `swarm.Info`). `state` is
 * LocalNodeState: `inactive` (in no swarm), `pending`, `active`, `error` or `locked`.
 * `controlAvailable` is true on a manager. `clusterId` is set on managers only.
 */
export interface SwarmInfo {
  nodeId: string;
  nodeAddr: string;
  state: string;
  controlAvailable: boolean;
  error: string;
  clusterId: string | undefined;
  /** The managers this node knows (a worker: the managers of its swarm). */
  remoteManagers: { nodeId: string; addr: string }[];
}

/** Parses `swarmInfoArgs` output. Throws SyntaxError when it is not JSON. */
export function parseSwarmInfo(stdout: string): SwarmInfo {
  const raw = JSON.parse(stdout.trim()) as {
    NodeID?: string;
    NodeAddr?: string;
    LocalNodeState?: string;
    ControlAvailable?: boolean;
    Error?: string;
    Cluster?: { ID?: string } | null;
    RemoteManagers?: { NodeID?: string; Addr?: string }[] | null;
  };
  return {
    nodeId: raw.NodeID ?? '',
    nodeAddr: raw.NodeAddr ?? '',
    state: raw.LocalNodeState || 'inactive',
    controlAvailable: raw.ControlAvailable === true,
    error: raw.Error ?? '',
    clusterId: raw.Cluster?.ID || undefined,
    remoteManagers: (raw.RemoteManagers ?? []).map((manager) => ({
      nodeId: manager.NodeID ?? '',
      addr: manager.Addr ?? '',
    })),
  };
}

/** `docker swarm init --advertise-addr ADDR`: a new swarm with this engine its first manager. */
export function swarmInitArgs(advertiseAddr: string): string[] {
  return ['docker', 'swarm', 'init', '--advertise-addr', advertiseAddr];
}

/** `docker swarm join-token --quiet worker` (on a manager): prints the worker join token, a secret. */
export function joinTokenArgs(): string[] {
  return ['docker', 'swarm', 'join-token', '--quiet', 'worker'];
}

/**
 * `docker system dial-stdio`: connects its stdin and stdout to the engine's API socket (the docker
 * CLI's own transport for `DOCKER_HOST=ssh://`). A request written on stdin reaches the engine with
 * nothing of it in any argv; on stdin's end the CLI half-closes and prints the whole response.
 */
export function dialStdioArgs(): string[] {
  return ['docker', 'system', 'dial-stdio'];
}

/** The Engine API version the join request names: Docker 20.10's, which every later engine serves. */
export const JOIN_API_VERSION = '1.41';

/** The port managers listen on for the swarm's control plane. */
export const SWARM_MANAGER_PORT = 2377;

/**
 * The raw HTTP request `POST /v1.41/swarm/join` of the Docker Engine API ("Join an existing swarm",
 * docs.docker.com/reference/api/engine/version/v1.41/#tag/Swarm/operation/SwarmJoin): a JSON body
 * with ListenAddr, AdvertiseAddr, RemoteAddrs (managers' `addr:2377`) and JoinToken, for
 * `docker system dial-stdio`'s stdin. The same as `docker swarm join --token …`, whose token would sit
 * in the worker's process list. Returned as a Secret: it holds the token.
 */
export function swarmJoinRequest(join: {
  token: Secret;
  advertiseAddr: string;
  remoteAddrs: string[];
  listenAddr?: string;
}): Secret {
  const body = JSON.stringify({
    ListenAddr: join.listenAddr ?? `0.0.0.0:${SWARM_MANAGER_PORT}`,
    AdvertiseAddr: join.advertiseAddr,
    RemoteAddrs: join.remoteAddrs,
    JoinToken: join.token.reveal(),
  });
  return new Secret(
    `POST /v${JOIN_API_VERSION}/swarm/join HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The status and message of a raw HTTP response from the engine (`{"message": …}` on an error).
 * Throws an Error when the text does not start with an HTTP status line.
 */
export function parseEngineResponse(text: string): { status: number; message: string } {
  const match = text.match(/^HTTP\/1\.[01] (\d{3})[^\n]*\n/);
  if (!match) throw new Error('the engine did not answer with HTTP');
  const status = Number(match[1]);
  const body = text.slice(text.search(/\r?\n\r?\n/) + 1).trim();
  let message = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: the body as it is
  }
  return { status, message };
}
