// `stagecraft logs SERVICE`: the logs of every container of a service on every host, merged by time and
// prefixed `host container |`; with `-f` it follows them all, re-attaches to new containers (a deploy)
// and to hosts that come back, and keeps following the others when one host goes away.
import { setTimeout as sleep } from 'node:timers/promises';
import { type ContainerFacts, containerLogsArgs } from '../docker/container.js';
import type { HostModel } from '../model/environment.js';
import type { Runner } from '../runners/types.js';
import { ExternalError, PartialFailure, UserError } from '../util/errors.js';
import type { Colors } from '../util/output.js';
import type { LoadedEnvironment } from './environment.js';
import { type HostRunners, oneLine, serviceContainers, shortContainerName } from './fleet.js';
import type { Session } from './session.js';

/** One line of `docker logs -t`: its RFC 3339 timestamp (fixed 9 decimals, UTC) and its text. */
export interface LogLine {
  timestamp: string;
  text: string;
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ?/;

/** Splits `docker logs -t` output; undefined for a line that carries no timestamp (not a log line). */
export function parseLogLine(raw: string): LogLine | undefined {
  const match = TIMESTAMP.exec(raw);
  if (match === null) return undefined;
  return { timestamp: match[1]!, text: raw.slice(match[0].length) };
}

/** A log line with where it comes from. */
export interface SourcedLine extends LogLine {
  host: string;
  container: string;
}

/**
 * Merges the lines of several containers into one stream ordered by timestamp; lines of one
 * container keep their order, and equal timestamps keep the order of the inputs (stable).
 */
export function mergeLogLines(batches: readonly (readonly SourcedLine[])[]): SourcedLine[] {
  const all: { line: SourcedLine; batch: number; index: number }[] = [];
  batches.forEach((batch, b) => {
    batch.forEach((line, index) => {
      all.push({ line, batch: b, index });
    });
  });
  all.sort((x, y) =>
    x.line.timestamp < y.line.timestamp
      ? -1
      : x.line.timestamp > y.line.timestamp
        ? 1
        : x.batch - y.batch || x.index - y.index,
  );
  return all.map((entry) => entry.line);
}

/** The prefix of a line: `h1 api-1` padded to `width`, then ` | `. */
export function logPrefix(host: string, container: string, width: number): string {
  return `${`${host} ${container}`.padEnd(width)} |`;
}

export interface LogFormat {
  timestamps: boolean;
  grep: RegExp | undefined;
}

/** The printed form of a line, or undefined when --grep filters it out. */
export function formatLogLine(line: SourcedLine, width: number, format: LogFormat): string | undefined {
  if (format.grep !== undefined && !format.grep.test(line.text)) return undefined;
  const prefix = logPrefix(line.host, line.container, width);
  return `${prefix} ${format.timestamps ? `${line.timestamp} ` : ''}${line.text}`;
}

const DURATION = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;

/**
 * `--since` for docker: a duration (`10m`, `2h30m`, `1d` → hours) or a time docker parses (RFC 3339,
 * a date, a Unix timestamp). Anything else is a user error, before any host is contacted.
 */
export function sinceArgument(value: string): string {
  const trimmed = value.trim();
  if (DURATION.test(trimmed)) {
    return trimmed.replace(/(\d+(?:\.\d+)?)d/g, (_, days: string) => `${Number(days) * 24}h`);
  }
  if (/^\d+(\.\d+)?$/.test(trimmed) || !Number.isNaN(Date.parse(trimmed))) return trimmed;
  throw new UserError(`invalid --since "${value}"`, {
    hint: 'pass a duration such as 10m, 2h or 1d, or a time such as 2025-05-01T10:00:00Z',
  });
}

export function grepPattern(value: string | undefined): RegExp | undefined {
  if (value === undefined) return undefined;
  try {
    return new RegExp(value);
  } catch (error) {
    throw new UserError(`invalid --grep regular expression: ${(error as Error).message}`, {
      hint: 'pass a JavaScript regular expression, e.g. --grep "error|warn"',
    });
  }
}

export function linesArgument(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new UserError(`invalid --lines "${value}"`, { hint: 'pass a whole number, e.g. --lines 200' });
  }
  return Number(value);
}

/**
 * What a follower prints while a remote `docker logs -f` runs: this line every second. When the ssh
 * channel is gone the write fails, and the wrapper stops `docker logs` instead of leaving it running on
 * the host. The line is dropped on this side.
 */
export const KEEPALIVE = '__stagecraft_logs_keepalive__';

/** Runs "$@" in the background and stops it when stdout is gone (see KEEPALIVE); exits with its status. */
export const FOLLOW_SCRIPT =
  `trap '' PIPE; "$@" & p=$!; ` +
  `while kill -0 "$p" 2>/dev/null; do sleep 1; ` +
  `printf '%s\\n' ${KEEPALIVE} || { kill "$p" 2>/dev/null; exit 141; }; done; wait "$p"`;

/**
 * The `onLine` of a follow command (run under FOLLOW_SCRIPT): drops the keep-alives, hands every line
 * `parse` reads to `use`, and pushes the stderr lines it cannot read onto `diagnostics` (the last one
 * says why the stream ended).
 */
export function followLineHandler<T>(
  parse: (raw: string) => T | undefined,
  use: (line: T) => void,
  diagnostics: string[],
): (raw: string, from: 'stdout' | 'stderr') => void {
  return (raw, from) => {
    if (raw === KEEPALIVE) return;
    const parsed = parse(raw);
    if (parsed !== undefined) use(parsed);
    else if (from === 'stderr' && raw.trim() !== '') diagnostics.push(raw.trim());
  };
}

export interface LogsOptions {
  follow: boolean;
  since: string | undefined;
  lines: number | undefined;
  format: LogFormat;
}

interface Source {
  host: HostModel;
  runner: Runner;
  containers: ContainerFacts[];
}

const COLORS = ['cyan', 'magenta', 'yellow', 'green', 'blue'] as const;

export class Printer {
  width = 0;
  readonly #context: Session;
  readonly #format: LogFormat;
  readonly #hostColors = new Map<string, (text: string) => string>();

  constructor(context: Session, format: LogFormat) {
    this.#context = context;
    this.#format = format;
  }

  widen(host: string, container: string): void {
    this.width = Math.max(this.width, host.length + 1 + container.length);
  }

  print(line: SourcedLine): void {
    const text = formatLogLine(line, this.width, this.#format);
    if (text === undefined) return;
    if (this.#context.globals.json) {
      // --json: one object per line (JSON Lines), for scripts and log shippers.
      const { host, container, timestamp, text: message } = line;
      this.#context.output.result(JSON.stringify({ host, container, timestamp, text: message }));
      return;
    }
    const colors: Colors = this.#context.output.colors;
    let paint = this.#hostColors.get(line.host);
    if (paint === undefined) {
      const name = COLORS[this.#hostColors.size % COLORS.length]!;
      paint = colors[name];
      this.#hostColors.set(line.host, paint);
    }
    const bar = text.indexOf(' |');
    this.#context.output.result(`${paint(text.slice(0, bar + 2))}${text.slice(bar + 2)}`);
  }
}

async function findSources(
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  service: string,
): Promise<{ sources: Source[]; failed: { host: string; error: string }[] }> {
  const results = await Promise.all(
    hosts.map(async (host) => {
      const runner = runners.get(host.name);
      try {
        const containers = await serviceContainers(runner, env.model.composeProject, service);
        return { source: { host, runner, containers } };
      } catch (error) {
        return { failed: { host: host.name, error: oneLine(error) } };
      }
    }),
  );
  return {
    sources: results.flatMap((result) => (result.source ? [result.source] : [])),
    failed: results.flatMap((result) => (result.failed ? [result.failed] : [])),
  };
}

async function tail(
  source: Source,
  container: ContainerFacts,
  composeProject: string,
  options: LogsOptions,
): Promise<SourcedLine[]> {
  const argv = containerLogsArgs(container.id, {
    timestamps: true,
    ...(options.since !== undefined ? { since: options.since } : {}),
    ...(options.lines !== undefined ? { tail: options.lines } : {}),
  });
  const lines: SourcedLine[] = [];
  const name = shortContainerName(container.name, composeProject);
  const result = await source.runner.exec(argv, {
    allowFailure: true,
    onLine: (raw) => {
      const parsed = parseLogLine(raw);
      if (parsed !== undefined) lines.push({ ...parsed, host: source.host.name, container: name });
    },
  });
  if (result.exitCode !== 0 && lines.length === 0) {
    throw new ExternalError(
      `docker logs failed for ${name} on ${source.host.name}: ${oneLine(result.stderr) || `exit code ${result.exitCode}`}`,
    );
  }
  return lines;
}

function noContainers(env: LoadedEnvironment, service: string, hosts: HostModel[]): UserError {
  return new UserError(
    `no container of ${service} on ${hosts.map((host) => host.name).join(', ')} (${env.model.environment})`,
    {
      hint: `deploy it first (\`stagecraft deploy -e ${env.model.environment}\`), or see what runs with \`stagecraft status -e ${env.model.environment}\``,
    },
  );
}

/** `logs` without `-f`: every container's last lines, merged by time. */
export async function printLogs(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  service: string,
  options: LogsOptions,
): Promise<number> {
  const { sources, failed } = await findSources(env, runners, hosts, service);
  const printer = new Printer(context, options.format);
  const batches: SourcedLine[][] = [];
  const errors = [...failed];
  await Promise.all(
    sources.flatMap((source) =>
      source.containers.map(async (container) => {
        printer.widen(source.host.name, shortContainerName(container.name, env.model.composeProject));
        try {
          batches.push(await tail(source, container, env.model.composeProject, options));
        } catch (error) {
          errors.push({ host: source.host.name, error: oneLine(error) });
        }
      }),
    ),
  );
  for (const line of mergeLogLines(batches)) printer.print(line);
  const found = sources.reduce((count, source) => count + source.containers.length, 0);
  if (errors.length === 0) {
    if (found === 0) throw noContainers(env, service, hosts);
    return 0;
  }
  for (const error of errors) context.output.warn(`${error.host}: ${error.error}`);
  const message = `could not read the logs of ${service} on ${[...new Set(errors.map((error) => error.host))].join(', ')}`;
  if (found === 0 || sources.length === 0) {
    throw new ExternalError(message, { hint: 'check that the hosts are up and reachable over ssh' });
  }
  throw new PartialFailure(message, {
    hint: 'the lines above come from the other hosts; check the host and run the command again',
  });
}

interface Stream {
  key: string;
  host: string;
  container: ContainerFacts;
  name: string;
  /** Timestamp of the last line printed from it: a re-attach starts after it. */
  last: string | undefined;
  active: boolean;
}

/**
 * `logs -f`: prints the current tails merged, then follows every running container of the service on
 * every host until the signal aborts. Every few seconds each host is looked at again: new containers
 * (a deploy) are followed from their start, containers whose stream broke are re-attached after their
 * last line, and a host that went away is reported once and picked up again when it answers.
 */
export async function followLogs(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  service: string,
  options: LogsOptions,
  signal: AbortSignal,
  rescanMs = 3000,
): Promise<number> {
  const { composeProject } = env.model;
  const printer = new Printer(context, options.format);
  const streams = new Map<string, Stream>();
  const running = new Set<Promise<void>>();
  const down = new Map<string, string>();
  const output = context.output;

  const markDown = (host: string, why: string) => {
    if (down.has(host)) return;
    down.set(host, why);
    const others = [
      ...new Set(
        [...streams.values()]
          .filter((stream) => stream.active && !down.has(stream.host))
          .map((stream) => stream.host),
      ),
    ];
    output.warn(
      `${host}: ${why}; ${others.length > 0 ? `still following ${others.join(', ')}` : 'no host left to follow'} (retrying every ${Math.round(rescanMs / 1000)}s)`,
    );
  };
  const markUp = (host: string) => {
    if (!down.delete(host)) return;
    output.info(`${host}: reachable again; following it again`);
  };

  const attach = (host: HostModel, runner: Runner, stream: Stream, since: string | undefined) => {
    stream.active = true;
    const argv = containerLogsArgs(stream.container.id, {
      follow: true,
      timestamps: true,
      ...(since !== undefined ? { since } : {}),
      ...(since === undefined ? { tail: 0 } : {}),
    });
    const remote = env.model.driver === 'ssh' ? ['sh', '-c', FOLLOW_SCRIPT, 'sh', ...argv] : argv;
    const diagnostics: string[] = [];
    const done = runner
      .exec(remote, {
        allowFailure: true,
        signal,
        onLine: followLineHandler(
          parseLogLine,
          (parsed) => {
            if (stream.last !== undefined && parsed.timestamp <= stream.last) return;
            stream.last = parsed.timestamp;
            printer.print({ ...parsed, host: host.name, container: stream.name });
          },
          diagnostics,
        ),
      })
      .then(
        (result) => {
          if (signal.aborted) return;
          if (result.exitCode === 0) {
            output.warn(`${host.name} ${stream.name}: the container stopped`);
          } else if (result.exitCode === 255) {
            markDown(host.name, `lost the connection (${diagnostics.at(-1) ?? 'ssh exited with 255'})`);
          } else {
            output.warn(
              `${host.name} ${stream.name}: docker logs ended with code ${result.exitCode}${diagnostics.length > 0 ? `: ${diagnostics.at(-1)}` : ''}`,
            );
          }
        },
        (error: unknown) => {
          if (!signal.aborted) markDown(host.name, oneLine(error));
        },
      )
      .finally(() => {
        stream.active = false;
        running.delete(done);
      });
    running.add(done);
  };

  // The tails first, merged by time, like `logs` without -f.
  const first = await findSources(env, runners, hosts, service);
  const batches: SourcedLine[][] = [];
  await Promise.all(
    first.sources.flatMap((source) =>
      source.containers
        .filter((container) => container.running)
        .map(async (container) => {
          const name = shortContainerName(container.name, composeProject);
          printer.widen(source.host.name, name);
          const stream: Stream = {
            key: `${source.host.name}/${container.id}`,
            host: source.host.name,
            container,
            name,
            last: undefined,
            active: false,
          };
          streams.set(stream.key, stream);
          try {
            const lines = await tail(source, container, composeProject, options);
            stream.last = lines.at(-1)?.timestamp;
            batches.push(lines);
          } catch (error) {
            output.warn(`${source.host.name} ${name}: ${oneLine(error)}`);
          }
        }),
    ),
  );
  for (const line of mergeLogLines(batches)) printer.print(line);
  for (const source of first.sources) {
    for (const container of source.containers.filter((candidate) => candidate.running)) {
      const stream = streams.get(`${source.host.name}/${container.id}`)!;
      // After the tail's last line; with no line printed, from the start of what was asked for.
      const since = stream.last ?? options.since ?? (options.lines === 0 ? undefined : container.startedAt);
      attach(source.host, source.runner, stream, since);
    }
  }
  for (const failure of first.failed) markDown(failure.host, failure.error);
  if (streams.size === 0 && first.failed.length === 0) {
    output.warn(`no running container of ${service} yet; waiting for one (Ctrl+C to stop)`);
  }

  while (!signal.aborted) {
    try {
      await sleep(rescanMs, undefined, { signal });
    } catch {
      break;
    }
    await Promise.all(
      hosts.map(async (host) => {
        const runner = runners.get(host.name);
        let containers: ContainerFacts[];
        try {
          containers = await serviceContainers(runner, composeProject, service, signal);
        } catch (error) {
          if (!signal.aborted) markDown(host.name, oneLine(error));
          return;
        }
        markUp(host.name);
        for (const container of containers.filter((candidate) => candidate.running)) {
          const key = `${host.name}/${container.id}`;
          let stream = streams.get(key);
          if (stream?.active === true || signal.aborted) continue;
          if (stream === undefined) {
            const name = shortContainerName(container.name, composeProject);
            printer.widen(host.name, name);
            stream = { key, host: host.name, container, name, last: undefined, active: false };
            streams.set(key, stream);
            output.info(`${host.name} ${name}: new container; following it`);
          }
          attach(host, runner, stream, stream.last ?? container.startedAt);
        }
      }),
    );
  }
  await Promise.allSettled([...running]);
  return 0;
}
