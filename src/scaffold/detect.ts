import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parse } from 'yaml';
import { COMPOSE_FILE_NAMES } from '../compose/read.js';

export interface DetectedComposeService {
  name: string;
  image: string | undefined;
  hasBuild: boolean;
  role: 'db' | 'app';
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

/** A project name Docker Compose accepts, from a folder name. */
export function sanitizeProjectName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
  return cleaned === '' ? 'app' : cleaned;
}

export function guessRole(name: string, image: string | undefined): 'db' | 'app' {
  return DATA_IMAGES.test(image ?? '') || /^(db|database|postgres|redis|cache|mysql|mongo)$/.test(name)
    ? 'db'
    : 'app';
}

function readCompose(root: string): { file: string | undefined; services: DetectedComposeService[] } {
  const file = COMPOSE_FILE_NAMES.find((name) => existsSync(join(root, name)));
  if (file === undefined) return { file, services: [] };
  let document: unknown;
  try {
    document = parse(readFileSync(join(root, file), 'utf8'), { merge: true });
  } catch {
    return { file, services: [] };
  }
  const services =
    (document as { services?: Record<string, { image?: unknown; build?: unknown }> } | null)?.services ?? {};
  return {
    file,
    services: Object.entries(services)
      .map(([name, spec]) => {
        const image = typeof spec?.image === 'string' ? spec.image : undefined;
        return { name, image, hasBuild: spec?.build !== undefined, role: guessRole(name, image) };
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
    manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
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
