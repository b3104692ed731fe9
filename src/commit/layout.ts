import { existsSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { parse } from 'yaml';
import { readUserYamlText } from '../util/user-file.js';
import type { ProjectLayout } from './types.js';

const COMPOSE_NAMES = ['docker-compose.yml', 'docker-compose.yaml', 'compose.yaml', 'compose.yml'];
const MIGRATION_FOLDERS = [
  'migrations',
  'db/migrations',
  'db/migrate',
  'database/migrations',
  'prisma/migrations',
  'drizzle',
];

function readYaml(path: string): Record<string, unknown> {
  try {
    const value = parse(readUserYamlText(path) ?? '', { merge: true }) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `./api/` under `base` → `base/api`, posix, no `.` segments. */
function join0(base: string, path: string): string {
  const joined = posix.normalize(posix.join(base, path.split(sep).join('/')));
  return joined === '.' ? '' : joined.replace(/\/$/, '');
}

/** The nearest folder from `cwd` up to `root` that holds stagecraft.yml, else `cwd`. */
function projectFolder(root: string, cwd: string): string {
  let folder = cwd;
  for (;;) {
    if (existsSync(join(folder, 'stagecraft.yml'))) return folder;
    if (folder === root || dirname(folder) === folder) return cwd;
    folder = dirname(folder);
  }
}

/**
 * Where the project's config, compose file, migrations and service sources live, read leniently
 * (a commit may be the one that fixes a broken stagecraft.yml): `compose.file`,
 * `databases.*.migrations.path` and the compose services' `build` contexts; conventional names when
 * they are not given. Paths from the repository root.
 */
export function readLayout(root: string, cwd: string): ProjectLayout {
  const folder = projectFolder(root, cwd);
  const projectDir = relative(root, folder).split(sep).join('/');
  const config = readYaml(join(folder, 'stagecraft.yml'));
  const composeSetting = (config['compose'] as { file?: unknown } | undefined)?.file;
  const composeName =
    typeof composeSetting === 'string'
      ? composeSetting
      : (COMPOSE_NAMES.find((name) => existsSync(join(folder, name))) ?? 'docker-compose.yml');
  const compose = readYaml(join(folder, composeName));
  const databases = (config['databases'] ?? {}) as Record<string, { migrations?: { path?: unknown } }>;
  const configured = Object.values(databases).flatMap((database) =>
    typeof database?.migrations?.path === 'string' ? [database.migrations.path] : [],
  );
  const services: Record<string, string> = {};
  for (const [name, service] of Object.entries(
    (compose['services'] ?? {}) as Record<string, { build?: unknown }>,
  )) {
    const build = service?.build;
    const context = typeof build === 'string' ? build : (build as { context?: unknown } | undefined)?.context;
    if (typeof context === 'string' && !context.includes('$') && !/^[a-z]+:\/\//i.test(context))
      services[name] = join0(projectDir, context);
  }
  return {
    projectDir,
    configFiles: [
      join0(projectDir, 'stagecraft.yml'),
      join0(projectDir, '.stagecraft/stagecraft.schema.json'),
    ],
    composeFile: join0(projectDir, composeName),
    migrationDirs: (configured.length > 0 ? configured : MIGRATION_FOLDERS).map((path) =>
      join0(projectDir, path),
    ),
    services,
  };
}
