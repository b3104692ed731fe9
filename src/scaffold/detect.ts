import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parse } from 'yaml';
import { COMPOSE_FILE_NAMES } from '../compose/read.js';
import { readUserFile } from '../util/user-file.js';

export interface DetectedComposeService {
  name: string;
  image: string | undefined;
  hasBuild: boolean;
  role: 'db' | 'app';
  /**
   * The container port it listens on: the first of `expose`, else of `ports` (its target), else the
   * first `EXPOSE` of the Dockerfile it is built from.
   */
  port?: number;
  /** Its build context relative to the project root, without `./` (`api`; `.` for the root). */
  buildContext?: string;
  /** A health check path to propose (`attach`, for a Dockerfile without HEALTHCHECK). */
  healthPath?: string;
  /** The port an app service listens on when it is not routed (an image whose health check is unknown). */
  unroutedPort?: number;
}

export interface DetectedPackage {
  /** Folder relative to the project root ('.' for the root). */
  dir: string;
  kind: 'vite' | 'encore' | 'node';
  hasDevScript: boolean;
  hasDockerfile: boolean;
}

export interface Detection {
  projectName: string;
  composeFile: string | undefined;
  services: DetectedComposeService[];
  packages: DetectedPackage[];
  migrations: { engine: 'raw' | 'drizzle' | 'prisma' | 'knex'; path: string } | undefined;
  dockerfiles: string[];
}

const DATA_IMAGES =
  /(^|\/)(postgres|postgis|timescaledb|mysql|mariadb|mongo|redis|valkey|keydb|memcached|rabbitmq|nats|kafka|zookeeper|elasticsearch|opensearch|minio|clickhouse|cassandra|couchdb|etcd)(:|$|-)/i;
const PACKAGE_DIRS = ['.', 'backend', 'api', 'server', 'frontend', 'web', 'client', 'app'];

/** A project name Docker Compose and stagecraft.yml accept (at most 63 characters), from a folder name: `Über Shop` → uber-shop. */
export function sanitizeProjectName(name: string): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 63)
    .replace(/[-_]+$/, '');
  return cleaned === '' ? 'app' : cleaned;
}

export function guessRole(name: string, image: string | undefined): 'db' | 'app' {
  return DATA_IMAGES.test(image ?? '') || /^(db|database|postgres|redis|cache|mysql|mongo)$/.test(name)
    ? 'db'
    : 'app';
}

/**
 * The container port of the first entry of a compose `expose` or `ports` list: `3000`, `"3000/tcp"`,
 * `"8080:3000"`, `"127.0.0.1:8080:3000"`, `{target: 3000}` (compose spec, services.ports); undefined for
 * anything else: UDP ports (the gateway speaks HTTP), ranges and interpolations among them.
 */
export function containerPort(entries: unknown): number | undefined {
  if (!Array.isArray(entries) || entries.length === 0) return undefined;
  const first: unknown = entries[0];
  const text =
    typeof first === 'number'
      ? String(first)
      : typeof first === 'string'
        ? /\/udp$/.test(first)
          ? ''
          : (first.split(':').pop() ?? '').replace(/\/tcp$/, '')
        : typeof first === 'object' && first !== null && 'target' in first
          ? (first as { protocol?: unknown }).protocol === 'udp'
            ? ''
            : String((first as { target: unknown }).target)
          : '';
  return portNumber(text);
}

/** A port written as decimal digits, 1–65535; undefined for anything else (a variable, a range). */
function portNumber(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * The text of the Dockerfile a compose `build` (a context string, or `{context, dockerfile}`) names,
 * and its context; undefined when there is no build, and `text` undefined when the file cannot be read.
 */
function buildOf(root: string, build: unknown): { context: string; text: string | undefined } | undefined {
  const spec =
    typeof build === 'string' ? { context: build } : (build as { context?: unknown; dockerfile?: unknown });
  if (spec === null || typeof spec !== 'object' || typeof spec.context !== 'string') return undefined;
  const file = typeof spec.dockerfile === 'string' ? spec.dockerfile : 'Dockerfile';
  const context = spec.context.replace(/^\.\/+/, '').replace(/\/+$/, '') || '.';
  try {
    return { context, text: readUserFile(join(root, spec.context, file)) };
  } catch {
    return { context, text: undefined };
  }
}

/**
 * The first TCP port of a Dockerfile's first `EXPOSE` instruction (`EXPOSE 3000`, `EXPOSE 8080/tcp
 * 9090`); undefined without one, for UDP, or for a variable (`EXPOSE $PORT`). Source: the Dockerfile
 * reference, EXPOSE.
 */
export function exposedPort(dockerfile: string): number | undefined {
  const match = /^\s*EXPOSE\s+(\S+)/im.exec(dockerfile);
  const first = match?.[1];
  if (first === undefined || /\/udp$/i.test(first)) return undefined;
  return portNumber(first.replace(/\/tcp$/i, ''));
}

/** Whether a Dockerfile's text has a HEALTHCHECK instruction other than `HEALTHCHECK NONE`. */
export function hasHealthcheck(dockerfile: string): boolean {
  return /^\s*HEALTHCHECK\s+(?!NONE\b)/im.test(dockerfile);
}

function readCompose(root: string): { file: string | undefined; services: DetectedComposeService[] } {
  const file = COMPOSE_FILE_NAMES.find((name) => existsSync(join(root, name)));
  if (file === undefined) return { file, services: [] };
  let document: unknown;
  try {
    document = parse(readUserFile(join(root, file)) ?? '', { merge: true });
  } catch {
    return { file, services: [] };
  }
  const services =
    (
      document as {
        services?: Record<
          string,
          { image?: unknown; build?: unknown; expose?: unknown; ports?: unknown; healthcheck?: unknown }
        >;
      } | null
    )?.services ?? {};
  return {
    file,
    services: Object.entries(services)
      .map(([name, spec]) => {
        const image = typeof spec?.image === 'string' ? spec.image : undefined;
        const build = buildOf(root, spec?.build);
        const listens =
          containerPort(spec?.expose) ??
          containerPort(spec?.ports) ??
          (build?.text === undefined ? undefined : exposedPort(build.text));
        const role = guessRole(name, image);
        const composeCheck = spec?.healthcheck !== undefined;
        const dockerfileCheck = build?.text === undefined ? undefined : hasHealthcheck(build.text);
        // Routed only where a rollout can tell when a container is ready: a check in the compose file
        // or the Dockerfile, or `/` probed for a Dockerfile without one (an image's own is unknown here).
        const routed =
          role === 'app' && listens !== undefined && (composeCheck || dockerfileCheck !== undefined);
        return {
          name,
          image,
          hasBuild: spec?.build !== undefined,
          ...(build === undefined ? {} : { buildContext: build.context }),
          role,
          ...(routed ? { port: listens } : {}),
          ...(routed && !composeCheck && dockerfileCheck === false ? { healthPath: '/' } : {}),
          ...(role === 'app' && listens !== undefined && !routed ? { unroutedPort: listens } : {}),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function packageDirs(root: string): string[] {
  const dirs = new Set(PACKAGE_DIRS);
  for (const group of ['apps', 'packages', 'services']) {
    const folder = join(root, group);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) continue;
    for (const entry of readdirSync(folder).sort()) dirs.add(`${group}/${entry}`);
  }
  return [...dirs].filter((dir) => existsSync(join(root, dir, 'package.json')));
}

function readPackage(root: string, dir: string): DetectedPackage | undefined {
  let manifest: {
    scripts?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  try {
    manifest = JSON.parse(readUserFile(join(root, dir, 'package.json')) ?? '');
  } catch {
    return undefined;
  }
  const deps = { ...manifest.dependencies, ...manifest.devDependencies };
  const kind = 'encore.dev' in deps ? 'encore' : 'vite' in deps ? 'vite' : 'node';
  const hasDevScript = typeof manifest.scripts?.['dev'] === 'string';
  if (kind === 'node' && !hasDevScript) return undefined;
  return { dir, kind, hasDevScript, hasDockerfile: existsSync(join(root, dir, 'Dockerfile')) };
}

function detectMigrations(root: string): Detection['migrations'] {
  const has = (...names: string[]) => names.some((name) => existsSync(join(root, name)));
  if (has('drizzle.config.ts', 'drizzle.config.js')) return { engine: 'drizzle', path: './drizzle' };
  if (has('prisma/schema.prisma')) return { engine: 'prisma', path: './prisma/migrations' };
  if (has('knexfile.js', 'knexfile.ts')) return { engine: 'knex', path: './migrations' };
  for (const dir of ['migrations', 'db/migrations']) {
    const folder = join(root, dir);
    if (existsSync(folder) && readdirSync(folder).some((file) => file.endsWith('.sql')))
      return { engine: 'raw', path: `./${dir}` };
  }
  return undefined;
}

function findDockerfiles(root: string, depth = 0, dir = root): string[] {
  if (depth > 2) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    if (entry.isFile() && entry.name === 'Dockerfile') found.push(relative(root, join(dir, entry.name)));
    else if (entry.isDirectory()) found.push(...findDockerfiles(root, depth + 1, join(dir, entry.name)));
  }
  return found.sort();
}

/** Reads what `init` can learn from a project folder; it never writes. */
export function detectProject(root: string): Detection {
  const compose = readCompose(root);
  return {
    projectName: sanitizeProjectName(basename(root)),
    composeFile: compose.file,
    services: compose.services,
    packages: packageDirs(root)
      .map((dir) => readPackage(root, dir))
      .filter((pkg): pkg is DetectedPackage => pkg !== undefined),
    migrations: detectMigrations(root),
    dockerfiles: findDockerfiles(root),
  };
}
