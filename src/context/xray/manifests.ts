import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** One dependency as a manifest declares it and, where a lockfile says, the version installed. */
export interface Dependency {
  ecosystem: 'npm' | 'pypi' | 'go' | 'cargo' | 'rubygems' | 'composer';
  manifest: string;
  name: string;
  /** What the manifest asks for (`^4.19.0`, `>=2`, `v1.9.1`). */
  declared: string;
  /** The locked version, when a lockfile beside the manifest names it. */
  version: string | null;
  dev: boolean;
}

/** A package manager in use: its manifest and lockfile. */
export interface PackageManager {
  name: string;
  manifest: string;
  lockfile: string | null;
}

const LOCKFILES: [string, string][] = [
  ['package-lock.json', 'npm'],
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['bun.lockb', 'bun'],
  ['bun.lock', 'bun'],
];

type Read = (path: string) => string | undefined;

function json(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** package.json: its dependencies with versions from package-lock.json (v2/v3 `packages`) when present. */
function npm(
  manifest: string,
  read: Read,
  exists: (path: string) => boolean,
): { manager: PackageManager; dependencies: Dependency[] } | undefined {
  const pkg = json(read(manifest));
  if (pkg === undefined) return undefined;
  const dir = posix.dirname(manifest);
  const at = (name: string) => (dir === '.' ? name : `${dir}/${name}`);
  const lock = LOCKFILES.find(([file]) => exists(at(file)));
  const locked =
    lock?.[0] === 'package-lock.json'
      ? (json(read(at('package-lock.json')))?.['packages'] as
          | Record<string, { version?: string }>
          | undefined)
      : undefined;
  const dependencies: Dependency[] = [];
  for (const [field, dev] of [
    ['dependencies', false],
    ['devDependencies', true],
    ['optionalDependencies', false],
  ] as const) {
    for (const [name, declared] of Object.entries((pkg[field] ?? {}) as Record<string, unknown>)) {
      dependencies.push({
        ecosystem: 'npm',
        manifest,
        name,
        declared: String(declared),
        version: locked?.[`node_modules/${name}`]?.version ?? null,
        dev,
      });
    }
  }
  return {
    manager: { name: lock?.[1] ?? 'npm', manifest, lockfile: lock === undefined ? null : at(lock[0]) },
    dependencies,
  };
}

/** requirements*.txt: `name==1.2.3`, `name>=2` lines. */
function requirements(manifest: string, read: Read): Dependency[] {
  return (read(manifest) ?? '').split('\n').flatMap((raw) => {
    const line = raw.replace(/#.*/, '').trim();
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*((?:==|>=|<=|~=|!=|>|<)\s*[^;\s]+)?/.exec(
      line,
    );
    if (match === null || line.startsWith('-')) return [];
    const spec = (match[3] ?? '').replace(/\s+/g, '');
    return [
      {
        ecosystem: 'pypi' as const,
        manifest,
        name: match[1] ?? '',
        declared: spec === '' ? '*' : spec,
        version: spec.startsWith('==') ? spec.slice(2) : null,
        dev: /dev|test/.test(posix.basename(manifest)),
      },
    ];
  });
}

/** go.mod `require` lines (single and block form). */
function goMod(manifest: string, read: Read): Dependency[] {
  const dependencies: Dependency[] = [];
  let block = false;
  for (const raw of (read(manifest) ?? '').split('\n')) {
    const line = raw.replace(/\/\/.*/, '').trim();
    if (line === 'require (') {
      block = true;
      continue;
    }
    if (block && line === ')') {
      block = false;
      continue;
    }
    const match = (block ? /^(\S+)\s+(\S+)/ : /^require\s+(\S+)\s+(\S+)/).exec(line);
    if (match !== null)
      dependencies.push({
        ecosystem: 'go',
        manifest,
        name: match[1] ?? '',
        declared: match[2] ?? '',
        version: match[2] ?? null,
        dev: false,
      });
  }
  return dependencies;
}

/** Cargo.toml `[dependencies]` / `[dev-dependencies]`: `name = "1.2"` or `name = { version = "1.2" }`. */
function cargo(manifest: string, read: Read): Dependency[] {
  const dependencies: Dependency[] = [];
  let section = '';
  for (const raw of (read(manifest) ?? '').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const header = /^\[(.+)\]$/.exec(line);
    if (header !== null) {
      section = header[1] ?? '';
      continue;
    }
    if (section !== 'dependencies' && section !== 'dev-dependencies') continue;
    const match = /^([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]+)"|\{.*?version\s*=\s*"([^"]+)".*\})/.exec(line);
    if (match !== null)
      dependencies.push({
        ecosystem: 'cargo',
        manifest,
        name: match[1] ?? '',
        declared: match[2] ?? match[3] ?? '',
        version: null,
        dev: section === 'dev-dependencies',
      });
  }
  return dependencies;
}

/** Gemfile `gem "name", "~> 7.1"` lines. */
function gemfile(manifest: string, read: Read): Dependency[] {
  return (read(manifest) ?? '').split('\n').flatMap((line) => {
    const match = /^\s*gem\s+["']([^"']+)["'](?:\s*,\s*["']([^"']+)["'])?/.exec(line);
    return match === null
      ? []
      : [
          {
            ecosystem: 'rubygems' as const,
            manifest,
            name: match[1] ?? '',
            declared: match[2] ?? '*',
            version: null,
            dev: false,
          },
        ];
  });
}

/** composer.json `require` and `require-dev`. */
function composer(manifest: string, read: Read): Dependency[] {
  const document = json(read(manifest)) ?? {};
  return (['require', 'require-dev'] as const).flatMap((field) =>
    Object.entries((document[field] ?? {}) as Record<string, unknown>).map(([name, declared]) => ({
      ecosystem: 'composer' as const,
      manifest,
      name,
      declared: String(declared),
      version: null,
      dev: field === 'require-dev',
    })),
  );
}

/** pyproject.toml `[project] dependencies = [...]` (PEP 621), one string per line or inline. */
function pyproject(manifest: string, read: Read): Dependency[] {
  const text = read(manifest) ?? '';
  const match = /\[project\][\s\S]*?\bdependencies\s*=\s*\[([\s\S]*?)\]/.exec(text);
  if (match === null) return [];
  return [...(match[1] ?? '').matchAll(/["']([^"']+)["']/g)].flatMap((item) =>
    requirements(manifest, () => item[1]).map((dependency) => ({ ...dependency, dev: false })),
  );
}

/**
 * Package managers and dependencies of the manifests among `paths` (relative to the root). `read`
 * returns a file's text; `exists` says whether a path is in the scan.
 */
export function dependenciesOf(
  paths: readonly string[],
  read: Read,
  exists: (path: string) => boolean,
): { managers: PackageManager[]; dependencies: Dependency[] } {
  const managers: PackageManager[] = [];
  const dependencies: Dependency[] = [];
  for (const path of paths) {
    const base = posix.basename(path);
    const dir = posix.dirname(path);
    const sibling = (name: string) => (dir === '.' ? name : `${dir}/${name}`);
    if (base === 'package.json' && !path.split('/').includes('node_modules')) {
      const found = npm(path, read, exists);
      if (found !== undefined) {
        managers.push(found.manager);
        dependencies.push(...found.dependencies);
      }
    } else if (/^requirements.*\.txt$/.test(base)) {
      managers.push({ name: 'pip', manifest: path, lockfile: null });
      dependencies.push(...requirements(path, read));
    } else if (base === 'pyproject.toml') {
      const lock = ['uv.lock', 'poetry.lock', 'pdm.lock'].find((name) => exists(sibling(name)));
      managers.push({
        name: lock === undefined ? 'pip' : lock.replace('.lock', ''),
        manifest: path,
        lockfile: lock === undefined ? null : sibling(lock),
      });
      dependencies.push(...pyproject(path, read));
    } else if (base === 'go.mod') {
      managers.push({
        name: 'go',
        manifest: path,
        lockfile: exists(sibling('go.sum')) ? sibling('go.sum') : null,
      });
      dependencies.push(...goMod(path, read));
    } else if (base === 'Cargo.toml') {
      managers.push({
        name: 'cargo',
        manifest: path,
        lockfile: exists(sibling('Cargo.lock')) ? sibling('Cargo.lock') : null,
      });
      dependencies.push(...cargo(path, read));
    } else if (base === 'Gemfile') {
      managers.push({
        name: 'bundler',
        manifest: path,
        lockfile: exists(sibling('Gemfile.lock')) ? sibling('Gemfile.lock') : null,
      });
      dependencies.push(...gemfile(path, read));
    } else if (base === 'composer.json') {
      managers.push({
        name: 'composer',
        manifest: path,
        lockfile: exists(sibling('composer.lock')) ? sibling('composer.lock') : null,
      });
      dependencies.push(...composer(path, read));
    } else if (base === 'pom.xml' || base === 'build.gradle' || base === 'build.gradle.kts') {
      managers.push({ name: base === 'pom.xml' ? 'maven' : 'gradle', manifest: path, lockfile: null });
    }
  }
  return { managers, dependencies };
}

/** A compose file's services: image or build context. */
export function composeServices(
  text: string,
): { name: string; image: string | null; build: string | null }[] {
  let document: unknown;
  try {
    document = parseYaml(text, { merge: true });
  } catch {
    return [];
  }
  const services = (document as { services?: unknown } | null)?.services;
  if (services === null || typeof services !== 'object') return [];
  return Object.entries(services as Record<string, Record<string, unknown> | null>).map(([name, service]) => {
    const build = service?.['build'];
    const context =
      typeof build === 'string'
        ? build
        : typeof build === 'object' && build !== null
          ? String((build as Record<string, unknown>)['context'] ?? '.')
          : null;
    return {
      name,
      image: typeof service?.['image'] === 'string' ? (service['image'] as string) : null,
      build: context,
    };
  });
}

/** A Dockerfile's base images (FROM of every stage), exposed ports, health check and command. */
export function dockerfileFacts(text: string): {
  base_images: string[];
  expose: string[];
  healthcheck: boolean;
  cmd: string | null;
} {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim());
  const stages = new Set<string>();
  const bases: string[] = [];
  const expose: string[] = [];
  let healthcheck = false;
  let cmd: string | null = null;
  for (const line of lines) {
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from !== null) {
      if (!stages.has(from[1] ?? '')) bases.push(from[1] ?? '');
      if (from[2] !== undefined) stages.add(from[2]);
      healthcheck = false;
      cmd = null;
      continue;
    }
    const exposed = /^EXPOSE\s+(.+)$/i.exec(line);
    if (exposed !== null) expose.push(...(exposed[1] ?? '').split(/\s+/));
    if (/^HEALTHCHECK\s+/i.test(line)) healthcheck = !/^HEALTHCHECK\s+NONE\b/i.test(line);
    const command = /^(CMD|ENTRYPOINT)\s+(.+)$/i.exec(line);
    if (command !== null) cmd = `${(command[1] ?? '').toUpperCase()} ${command[2] ?? ''}`;
  }
  return { base_images: bases, expose, healthcheck, cmd };
}
