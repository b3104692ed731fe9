import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../config/schema.js';
import { ExternalError, UserError } from '../util/errors.js';
import { runCommand, SpawnError } from './supervisor/run.js';

/** What `stagecraft dev` needs to know about one compose service. */
export interface ComposeService {
  name: string;
  image: string | undefined;
  /** Absolute build context, when the service is built from source. */
  buildContext: string | undefined;
  /** Ports the compose file already publishes. */
  published: { target: number; published: number; hostIp: string | undefined }[];
  /** `expose:` container ports. */
  expose: number[];
}

export interface ComposeModel {
  file: string;
  services: ComposeService[];
}

const DEFAULT_FILES = ['docker-compose.yml', 'docker-compose.yaml', 'compose.yaml', 'compose.yml'];

/** The canonical compose file: `compose.file`, else the first default name present; undefined when none. */
export function composeFile(root: string, config: Config): string | undefined {
  const configured = config.compose?.file;
  if (configured !== undefined) {
    const file = resolve(root, configured);
    if (!existsSync(file)) {
      throw new UserError(`compose file ${configured} (compose.file in stagecraft.yml) does not exist`, {
        hint: 'fix compose.file, or remove it to use docker-compose.yml / compose.yaml',
      });
    }
    return file;
  }
  return DEFAULT_FILES.map((name) => join(root, name)).find((file) => existsSync(file));
}

/** The argv prefix for the dev compose project: project name, files, project folder, profiles. */
export function composeBase(
  docker: string,
  project: string,
  files: readonly string[],
  projectDirectory: string,
  profiles: readonly string[] = [],
): string[] {
  return [
    docker,
    'compose',
    '--project-name',
    project,
    '--project-directory',
    projectDirectory,
    ...files.flatMap((file) => ['--file', file]),
    ...profiles.flatMap((profile) => ['--profile', profile]),
  ];
}

/** `up -d --wait` for exactly these services (health checks honoured). */
export function composeUpArgs(base: readonly string[], services: readonly string[]): string[] {
  return [...base, 'up', '--detach', '--wait', ...services];
}

export function composeStopArgs(base: readonly string[], services: readonly string[]): string[] {
  return [...base, 'stop', ...services];
}

function numberList(values: unknown): number[] {
  if (!Array.isArray(values)) return [];
  return values.map((value) => Number.parseInt(String(value), 10)).filter((value) => Number.isInteger(value));
}

/** Parses the JSON of `docker compose config --format json` into the services dev cares about. */
export function parseComposeConfig(file: string, json: string): ComposeModel {
  const document = JSON.parse(json) as { services?: Record<string, Record<string, unknown>> };
  const services = Object.entries(document.services ?? {})
    .map(([name, service]): ComposeService => {
      const build = service['build'] as { context?: string } | undefined;
      const ports = Array.isArray(service['ports']) ? (service['ports'] as Record<string, unknown>[]) : [];
      return {
        name,
        image: typeof service['image'] === 'string' ? service['image'] : undefined,
        buildContext: build?.context,
        published: ports
          .filter((port) => port['published'] !== undefined && port['published'] !== '')
          .map((port) => ({
            target: Number(port['target']),
            published: Number.parseInt(String(port['published']), 10),
            hostIp: typeof port['host_ip'] === 'string' ? port['host_ip'] : undefined,
          }))
          .filter((port) => Number.isInteger(port.published)),
        expose: numberList(service['expose']),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return { file, services };
}

/** Reads the compose file through the compose CLI (the source of truth for interpolation, merges, profiles). */
export async function readComposeModel(
  base: readonly string[],
  file: string,
  options: { cwd: string; env: Record<string, string>; signal?: AbortSignal },
): Promise<ComposeModel> {
  const argv = [...base, 'config', '--format', 'json'];
  let result: Awaited<ReturnType<typeof runCommand>>;
  try {
    result = await runCommand(argv, options);
  } catch (error) {
    if (error instanceof SpawnError) {
      throw new ExternalError(`cannot run docker: ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (result.code !== 0) {
    const output = result.stderr.trim() || result.stdout.trim();
    if (/is not a docker command|unknown command "compose"|unknown shorthand flag/.test(output)) {
      throw new ExternalError('the docker compose plugin (Compose v2) is not installed', {
        hint: 'install it: https://docs.docker.com/compose/install/',
      });
    }
    throw new ExternalError(`docker compose cannot read ${file}`, {
      details: output.split('\n').slice(-10),
      command: argv.join(' '),
      hint: 'fix the compose file; `docker compose config` shows the same error',
    });
  }
  return parseComposeConfig(file, result.stdout);
}

/** One port the dev override publishes for an infrastructure service. */
export interface PublishedPort {
  bindIp: string;
  hostPort: number;
  containerPort: number;
}

/** The generated override (`.stagecraft/dev/compose.override.yml`): published ports for infra services. */
export function renderDevOverride(
  services: readonly { name: string; publish: readonly PublishedPort[] }[],
): string {
  const entries = [...services]
    .filter((service) => service.publish.length > 0)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((service) => [
      service.name,
      {
        ports: [...service.publish]
          .sort((a, b) => a.hostPort - b.hostPort)
          .map((port) => `${port.bindIp}:${port.hostPort}:${port.containerPort}`),
      },
    ]);
  const header =
    '# Generated by `stagecraft dev`; do not edit. Publishes infrastructure ports to the host.\n';
  return `${header}${stringify({ services: Object.fromEntries(entries) }, { lineWidth: 0 })}`;
}

/** Container ports of well-known infrastructure images, for services that do not declare theirs. */
const WELL_KNOWN_PORTS: [RegExp, number][] = [
  [/(^|\/)(postgres|postgis|timescaledb)[^/]*(:|$)/, 5432],
  [/(^|\/)(mysql|mariadb|percona)[^/]*(:|$)/, 3306],
  [/(^|\/)(redis|valkey|keydb|dragonfly)[^/]*(:|$)/, 6379],
  [/(^|\/)mongo[^/]*(:|$)/, 27017],
  [/(^|\/)rabbitmq[^/]*(:|$)/, 5672],
  [/(^|\/)(minio)[^/]*(:|$)/, 9000],
  [/(^|\/)(mailpit|mailhog)[^/]*(:|$)/, 8025],
  [/(^|\/)(elasticsearch|opensearch)[^/]*(:|$)/, 9200],
  [/(^|\/)memcached[^/]*(:|$)/, 11211],
  [/(^|\/)nats[^/]*(:|$)/, 4222],
];

export function wellKnownPort(image: string | undefined): number | undefined {
  if (image === undefined) return undefined;
  const name = image.toLowerCase();
  return WELL_KNOWN_PORTS.find(([pattern]) => pattern.test(name))?.[1];
}
