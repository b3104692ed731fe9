import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { compareStrings } from '../../compose/canonical.js';
import { runLocal } from '../../runners/local.js';
import { CONTEXT_DIR } from '../build.js';
import { XRAY_CACHE_DIR, XrayCache } from './cache.js';
import { languageOf } from './languages.js';
import {
  composeServices,
  type Dependency,
  dependenciesOf,
  dockerfileFacts,
  type PackageManager,
} from './manifests.js';

/** Folders never scanned outside git (inside git, .gitignore decides). */
const SKIPPED = new Set([
  '.git',
  'node_modules',
  'dist',
  'build',
  'coverage',
  'vendor',
  'target',
  '__pycache__',
  '.venv',
  'venv',
  '.next',
  '.nuxt',
  '.cache',
  XRAY_CACHE_DIR,
  CONTEXT_DIR,
  '.stagecraft',
]);

/** What `context xray` reports; paths relative to the scanned root, every list sorted. */
export interface XrayReport {
  files: number;
  lines: number;
  languages: { language: string; files: number; lines: number }[];
  package_managers: PackageManager[];
  dockerfiles: ({ path: string } & ReturnType<typeof dockerfileFacts>)[];
  compose_files: { path: string; services: ReturnType<typeof composeServices> }[];
  entry_points: { path: string; why: string }[];
  dependencies: Dependency[];
}

/** The files to scan: git's view (tracked + untracked not ignored) inside a repository, else a walk with the usual build folders skipped. */
async function listFiles(root: string): Promise<{ files: string[]; git: boolean }> {
  const result = await runLocal(
    ['git', '-c', 'core.quotepath=off', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: root, allowFailure: true },
  ).catch(() => undefined);
  if (result !== undefined && result.exitCode === 0) {
    const files = result.stdout
      .split('\0')
      .filter(
        (path) =>
          path !== '' && !path.split('/').some((part) => part === XRAY_CACHE_DIR || part === CONTEXT_DIR),
      );
    return { files: [...new Set(files)].sort(compareStrings), git: true };
  }
  const files: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIPPED.has(entry.name)) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      } else if (entry.isFile()) files.push(`${prefix}${entry.name}`);
    }
  };
  walk(root, '');
  return { files: files.sort(compareStrings), git: false };
}

/** Entry points a person or a tool starts from: package.json main/bin/start, Procfile, main.go, manage.py, server files. */
function entryPoints(
  paths: readonly string[],
  read: (path: string) => string | undefined,
): { path: string; why: string }[] {
  const found: { path: string; why: string }[] = [];
  for (const path of paths) {
    const base = posix.basename(path);
    const dir = posix.dirname(path);
    const at = (name: string) => posix.normalize(dir === '.' ? name : `${dir}/${name}`);
    if (base === 'package.json' && !path.includes('node_modules/')) {
      try {
        const pkg = JSON.parse(read(path) ?? '{}') as {
          main?: unknown;
          bin?: unknown;
          scripts?: Record<string, unknown>;
        };
        if (typeof pkg.main === 'string') found.push({ path: at(pkg.main), why: `main of ${path}` });
        const bins =
          typeof pkg.bin === 'string' ? { bin: pkg.bin } : ((pkg.bin ?? {}) as Record<string, unknown>);
        for (const [name, file] of Object.entries(bins))
          if (typeof file === 'string') found.push({ path: at(file), why: `bin ${name} of ${path}` });
        if (typeof pkg.scripts?.['start'] === 'string')
          found.push({ path, why: `npm start: ${pkg.scripts['start']}` });
      } catch {
        // an invalid package.json has no entry points
      }
    } else if (base === 'Procfile') {
      found.push({ path, why: 'Procfile' });
    } else if (base === 'main.go' || base === 'manage.py' || base === '__main__.py' || base === 'main.rs') {
      found.push({
        path,
        why: base === 'main.rs' ? 'Rust binary' : base === 'main.go' ? 'Go main package' : 'Python entry',
      });
    }
  }
  return found.sort((a, b) => compareStrings(a.path, b.path) || compareStrings(a.why, b.why));
}

/**
 * Scans `root`: languages and lines of every file (through the cache in `.xraycache/`, keyed by path,
 * size and mtime), package managers and dependencies with versions, Dockerfiles, compose files, entry
 * points. Reads files and runs `git ls-files` (argv) only. Returns the report and the cache counts.
 */
export async function xray(
  root: string,
): Promise<{ report: XrayReport; cache: { hits: number; misses: number; wrote: boolean }; git: boolean }> {
  const { files, git } = await listFiles(root);
  const cache = XrayCache.open(root);
  const present = new Set<string>();
  const languages = new Map<string, { files: number; lines: number }>();
  let lines = 0;
  for (const path of files) {
    const facts = cache.facts(path);
    if (facts === undefined) continue;
    present.add(path);
    lines += facts.lines;
    const language = facts.binary ? undefined : languageOf(path);
    if (language === undefined) continue;
    const entry = languages.get(language) ?? { files: 0, lines: 0 };
    entry.files++;
    entry.lines += facts.lines;
    languages.set(language, entry);
  }
  const scanned = files.filter((path) => present.has(path));
  const read = (path: string) => {
    const full = join(root, path);
    return present.has(path) && existsSync(full) ? readFileSync(full, 'utf8') : undefined;
  };
  const { managers, dependencies } = dependenciesOf(scanned, read, (path) => present.has(path));
  const dockerfiles = scanned
    .filter((path) => languageOf(path) === 'Dockerfile')
    .map((path) => ({ path, ...dockerfileFacts(read(path) ?? '') }));
  const composeFiles = scanned
    .filter((path) => /^(docker-)?compose(\.[\w-]+)?\.ya?ml$/.test(posix.basename(path)))
    .map((path) => ({
      path,
      services: composeServices(read(path) ?? '').sort((a, b) => compareStrings(a.name, b.name)),
    }));
  const wrote = await cache.save();
  return {
    git,
    cache: { hits: cache.hits, misses: cache.misses, wrote },
    report: {
      files: scanned.length,
      lines,
      languages: [...languages.entries()]
        .map(([language, counts]) => ({ language, ...counts }))
        .sort((a, b) => b.lines - a.lines || compareStrings(a.language, b.language)),
      package_managers: managers.sort((a, b) => compareStrings(a.manifest, b.manifest)),
      dockerfiles,
      compose_files: composeFiles,
      entry_points: entryPoints(scanned, read),
      dependencies: dependencies.sort(
        (a, b) =>
          compareStrings(a.manifest, b.manifest) ||
          Number(a.dev) - Number(b.dev) ||
          compareStrings(a.name, b.name),
      ),
    },
  };
}

/** The summary a person reads. */
export function renderXray(report: XrayReport): string {
  const out: string[] = [`${report.files} files, ${report.lines} lines`, '', 'Languages:'];
  for (const language of report.languages)
    out.push(
      `  ${language.language.padEnd(18)} ${String(language.files).padStart(5)} file${language.files === 1 ? ' ' : 's'} ${String(language.lines).padStart(8)} lines`,
    );
  out.push('', 'Package managers:');
  if (report.package_managers.length === 0) out.push('  none');
  for (const manager of report.package_managers)
    out.push(
      `  ${manager.name.padEnd(8)} ${manager.manifest}${manager.lockfile === null ? ' (no lockfile)' : ` + ${manager.lockfile}`}`,
    );
  out.push('', 'Dockerfiles:');
  if (report.dockerfiles.length === 0) out.push('  none');
  for (const file of report.dockerfiles)
    out.push(
      `  ${file.path}: FROM ${file.base_images.join(', ')}${file.expose.length > 0 ? `; EXPOSE ${file.expose.join(' ')}` : ''}; ${file.healthcheck ? 'HEALTHCHECK' : 'no HEALTHCHECK'}${file.cmd === null ? '' : `; ${file.cmd}`}`,
    );
  out.push('', 'Compose files:');
  if (report.compose_files.length === 0) out.push('  none');
  for (const file of report.compose_files)
    out.push(
      `  ${file.path}: ${file.services.map((service) => `${service.name} (${service.build !== null ? `build ${service.build}` : (service.image ?? 'no image')})`).join(', ')}`,
    );
  out.push('', 'Entry points:');
  if (report.entry_points.length === 0) out.push('  none');
  for (const entry of report.entry_points) out.push(`  ${entry.path} (${entry.why})`);
  out.push('', 'Dependencies:');
  if (report.dependencies.length === 0) out.push('  none');
  let manifest = '';
  for (const dependency of report.dependencies) {
    if (dependency.manifest !== manifest) {
      manifest = dependency.manifest;
      out.push(`  ${manifest}:`);
    }
    out.push(
      `    ${dependency.name} ${dependency.version ?? dependency.declared}${dependency.version !== null && dependency.version !== dependency.declared ? ` (${dependency.declared})` : ''}${dependency.dev ? ' [dev]' : ''}`,
    );
  }
  return `${out.join('\n')}\n`;
}
