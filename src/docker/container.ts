/**
 * argv builders for the containers of a compose service, addressed by id (rollout works on explicit
 * containers: the new ones beside the old), plus pure parsers of what those commands print.
 */
import { InternalError } from '../util/errors.js';

/** Every container (running or not) of a compose project: one JSON object per line. */
export function listProjectContainersArgs(project: string): string[] {
  return [
    'docker',
    'ps',
    '-a',
    '--no-trunc',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--format',
    '{{json .}}',
  ];
}

/** Every container (running or not) of one compose service: one JSON object per line. */
export function listServiceContainersArgs(project: string, service: string): string[] {
  const args = listProjectContainersArgs(project);
  args.splice(args.indexOf('--format'), 0, '--filter', `label=com.docker.compose.service=${service}`);
  return args;
}

/**
 * Lists and inspects every container (running or not) of a compose project in one command: `docker
 * container inspect --format {{json .}}` of what `docker ps -aq` finds, one JSON document per line
 * (see `parseContainerInspect`; nothing when there is none). Exits with `docker ps`'s status when that
 * fails; a container removed between the two is left out, not an error. One round trip to the host
 * instead of two (listProjectContainersArgs, then inspectContainersArgs).
 */
export function inspectProjectContainersArgs(project: string): string[] {
  return [
    'sh',
    '-c',
    'ids=$(docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$1") || exit; ' +
      '[ -z "$ids" ] || docker container inspect --format "{{json .}}" $ids || true',
    'sh',
    project,
  ];
}

/** `docker container inspect --format {{json .}} id…`: one JSON document per line (see `parseContainerInspect`). */
export function inspectContainersArgs(ids: string[]): string[] {
  return ['docker', 'container', 'inspect', '--format', '{{json .}}', ...ids];
}

/**
 * `docker stop [-s SIGNAL] [-t N] id…`. Without `timeoutSeconds`/`signal` each container uses its own
 * StopSignal and StopTimeout, which compose set from `stop_signal` and `stop_grace_period`.
 */
export function stopContainersArgs(
  ids: string[],
  options: { timeoutSeconds?: number; signal?: string } = {},
): string[] {
  const args = ['docker', 'stop'];
  if (options.signal !== undefined) args.push('-s', options.signal);
  if (options.timeoutSeconds !== undefined) args.push('-t', String(options.timeoutSeconds));
  return [...args, ...ids];
}

/** A container ID or name: nothing a shell would split or expand. */
const CONTAINER_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * One command for `docker stop stop…` (each container with its own signal and grace period), then,
 * when that succeeded, `docker rm -f remove…`; either list may be empty. Exits with the failing
 * command's status. Throws InternalError for an ID or name a shell could split (IDs are hex, names
 * `[A-Za-z0-9][A-Za-z0-9_.-]*`).
 */
export function stopThenRemoveArgs(stop: string[], remove: string[]): string[] {
  const bad = [...stop, ...remove].find((ref) => !CONTAINER_REF.test(ref));
  if (bad !== undefined) throw new InternalError(`not a container ID or name: ${JSON.stringify(bad)}`);
  return [
    'sh',
    '-c',
    'n=$1; shift; s=; i=0; for c do [ "$i" -lt "$n" ] && s="$s $c"; i=$((i + 1)); done; shift "$n"; ' +
      'if [ -n "$s" ]; then docker stop $s >/dev/null || exit; fi; [ $# -eq 0 ] || docker rm -f "$@" >/dev/null',
    'sh',
    String(stop.length),
    ...stop,
    ...remove,
  ];
}

/** `docker rm [-f] [-v] id…` (`-v` removes anonymous volumes only; named volumes stay). */
export function removeContainersArgs(
  ids: string[],
  options: { force?: boolean; volumes?: boolean } = {},
): string[] {
  const args = ['docker', 'rm'];
  if (options.force === true) args.push('-f');
  if (options.volumes === true) args.push('-v');
  return [...args, ...ids];
}

/**
 * `docker cp - <container>:/`: unpacks the tar archive on stdin (docker/archive.ts) at the root of a
 * container, running or not; the image needs no program for it.
 */
export function copyArchiveIntoArgs(container: string): string[] {
  return ['docker', 'cp', '-', `${container}:/`];
}

/** `docker logs [--tail N] [--since S] [-t] [-f] id` */
export function containerLogsArgs(
  id: string,
  options: { tail?: number; since?: string; timestamps?: boolean; follow?: boolean } = {},
): string[] {
  const args = ['docker', 'logs'];
  if (options.tail !== undefined) args.push('--tail', String(options.tail));
  if (options.since !== undefined) args.push('--since', options.since);
  if (options.timestamps === true) args.push('-t');
  if (options.follow === true) args.push('-f');
  return [...args, id];
}

export interface DockerExecOptions {
  /** `-i` keep stdin open (default true, so input can be piped). */
  interactive?: boolean;
  /** `-t` allocate a TTY (only for a person at a terminal). */
  tty?: boolean;
  user?: string;
  workdir?: string;
  /** `-e NAME`: the value comes from the runner's environment, never argv. */
  envNames?: string[];
}

/** `docker exec [-i] [-t] [-u U] [-w W] [-e K…] id argv…` */
export function execArgs(id: string, argv: string[], options: DockerExecOptions = {}): string[] {
  const args = ['docker', 'exec'];
  if (options.interactive ?? true) args.push('-i');
  if (options.tty === true) args.push('-t');
  if (options.user !== undefined) args.push('-u', options.user);
  if (options.workdir !== undefined) args.push('-w', options.workdir);
  for (const name of [...(options.envNames ?? [])].sort()) args.push('-e', name);
  return [...args, id, ...argv];
}

/**
 * `docker ps -a` of the containers with exactly these names (one JSON object per line). Docker matches
 * the filter against the name with its leading slash on some engine versions: the pattern allows both.
 */
export function listNamedContainersArgs(names: string[]): string[] {
  return [
    'docker',
    'ps',
    '-a',
    '--no-trunc',
    ...names.flatMap((name) => ['--filter', `name=^/?${name}$`]),
    '--format',
    '{{json .}}',
  ];
}

/** `docker start id…` */
export function startContainersArgs(ids: string[]): string[] {
  return ['docker', 'start', ...ids];
}

/** The engine's version as one line (`docker version --format {{.Server.Version}}`); fails when the daemon is down. */
export function dockerServerVersionArgs(): string[] {
  return ['docker', 'version', '--format', '{{.Server.Version}}'];
}

export interface RunContainerOptions {
  /** `-d`: run in the background. */
  detach?: boolean;
  /** `--rm`: remove the container when it exits. */
  remove?: boolean;
  name?: string;
  /** `--restart` policy, e.g. `unless-stopped`. */
  restart?: string;
  network?: string;
  /** `-p` mappings, e.g. `8080:80`. */
  publish?: string[];
  /** `--env-file`: variables (secrets) come from a file, never argv. */
  envFile?: string;
  /** `-v` mounts, e.g. `/srv/x:/x:ro`. */
  volumes?: string[];
  /** `--label` pairs, in the order given. */
  labels?: [string, string][];
  /** `--add-host name:ip` entries. */
  addHosts?: [string, string][];
  /** `--sysctl key=value` pairs (namespaced kernel settings of the container's network). */
  sysctls?: [string, string][];
  entrypoint?: string;
}

/**
 * `docker run [-d] [--rm] [--name N] [--restart P] [--network N] [-p M…] [--env-file F] [-v V…]
 * [--label K=V…] [--add-host H:IP…] [--sysctl K=V…] [--entrypoint E] image command…` (flags in this
 * order). `network` may be `container:<name>`: the container runs in that one's network namespace.
 */
export function runContainerArgs(
  image: string,
  command: string[],
  options: RunContainerOptions = {},
): string[] {
  const args = ['docker', 'run'];
  if (options.detach === true) args.push('-d');
  if (options.remove === true) args.push('--rm');
  if (options.name !== undefined) args.push('--name', options.name);
  if (options.restart !== undefined) args.push('--restart', options.restart);
  if (options.network !== undefined) args.push('--network', options.network);
  for (const mapping of options.publish ?? []) args.push('-p', mapping);
  if (options.envFile !== undefined) args.push('--env-file', options.envFile);
  for (const volume of options.volumes ?? []) args.push('-v', volume);
  for (const [key, value] of options.labels ?? []) args.push('--label', `${key}=${value}`);
  for (const [host, address] of options.addHosts ?? []) args.push('--add-host', `${host}:${address}`);
  for (const [key, value] of options.sysctls ?? []) args.push('--sysctl', `${key}=${value}`);
  if (options.entrypoint !== undefined) args.push('--entrypoint', options.entrypoint);
  return [...args, image, ...command];
}

/** `docker create …`: as runContainerArgs without `-d`/`--rm` (a created container is started later). */
export function createContainerArgs(
  image: string,
  command: string[],
  options: Omit<RunContainerOptions, 'detach' | 'remove'> = {},
): string[] {
  return ['docker', 'create', ...runContainerArgs(image, command, options).slice(2)];
}

/** Parses output that is either one JSON value per line or a single JSON array (older compose `ps`). */
export function parseJsonLines(stdout: string): unknown[] {
  const text = stdout.trim();
  if (text === '') return [];
  if (text.startsWith('[')) {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
}

/** What the rollout needs to know about one container, from `docker container inspect`. */
export interface ContainerFacts {
  id: string;
  /** Without the leading slash. */
  name: string;
  /** created | running | paused | restarting | removing | exited | dead */
  status: string;
  running: boolean;
  /** starting | healthy | unhealthy, or undefined without a health check. */
  health: string | undefined;
  exitCode: number;
  restartCount: number;
  startedAt: string;
  image: string;
  /** The id of the image it was created from (`sha256:…`; inspect's top-level `Image`). */
  imageId: string;
  labels: Record<string, string>;
  /** Network name → IPv4 address on it. */
  ips: Record<string, string>;
  /**
   * The health check Docker runs (`Config.Healthcheck`: the compose file's, else the image's), in ms;
   * undefined without one. `start` only when it sets a `start_interval` and a `start_period`.
   */
  healthcheck?: { intervalMs: number; start?: { intervalMs: number; periodMs: number } };
}

/** Docker's probe interval when a health check sets none (30 s), in ms. */
export const DEFAULT_HEALTH_INTERVAL_MS = 30_000;

/** Reads the fields of `docker container inspect` that the rollout uses; tolerant of absent sections. */
export function parseContainerInspect(stdout: string): ContainerFacts[] {
  return parseJsonLines(stdout)
    .flatMap((entry) => (Array.isArray(entry) ? entry : [entry]))
    .map(toFacts);
}

function toFacts(raw: unknown): ContainerFacts {
  const doc = asRecord(raw);
  const state = asRecord(doc['State']);
  const config = asRecord(doc['Config']);
  const networks = asRecord(asRecord(doc['NetworkSettings'])['Networks']);
  const health = asRecord(state['Health'])['Status'];
  const ips: Record<string, string> = {};
  for (const name of Object.keys(networks).sort()) {
    const ip = asRecord(networks[name])['IPAddress'];
    if (typeof ip === 'string' && ip !== '') ips[name] = ip;
  }
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(asRecord(config['Labels']))) {
    if (typeof value === 'string') labels[key] = value;
  }
  const healthcheck = healthcheckOf(asRecord(config['Healthcheck']));
  return {
    id: String(doc['Id'] ?? ''),
    name: String(doc['Name'] ?? '').replace(/^\//, ''),
    status: String(state['Status'] ?? ''),
    running: state['Running'] === true,
    health: typeof health === 'string' ? health : undefined,
    exitCode: typeof state['ExitCode'] === 'number' ? state['ExitCode'] : 0,
    restartCount: typeof doc['RestartCount'] === 'number' ? doc['RestartCount'] : 0,
    startedAt: String(state['StartedAt'] ?? ''),
    image: String(config['Image'] ?? ''),
    imageId: String(doc['Image'] ?? ''),
    labels,
    ips,
    ...(healthcheck ? { healthcheck } : {}),
  };
}

/** ContainerFacts.healthcheck from inspect's `Config.Healthcheck` (durations in ns; `Test: ["NONE"]` is none). */
function healthcheckOf(check: Record<string, unknown>): ContainerFacts['healthcheck'] {
  const test = check['Test'];
  if (!Array.isArray(test) || test.length === 0 || test[0] === 'NONE') return undefined;
  const ms = (key: string) => {
    const ns = check[key];
    return typeof ns === 'number' && ns > 0 ? Math.round(ns / 1e6) : 0;
  };
  const startInterval = ms('StartInterval');
  const startPeriod = ms('StartPeriod');
  return {
    intervalMs: ms('Interval') || DEFAULT_HEALTH_INTERVAL_MS,
    ...(startInterval > 0 && startPeriod > 0
      ? { start: { intervalMs: startInterval, periodMs: startPeriod } }
      : {}),
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
