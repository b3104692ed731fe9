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

/** `docker service logs --raw --tail N NAME`: a failed task's or a job's output. */
export function serviceLogsArgs(name: string, tail: number): string[] {
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

// ---- Forming a swarm (`stagecraft setup`) ----

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
