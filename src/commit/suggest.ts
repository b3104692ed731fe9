import { posix } from 'node:path';
import { compareStrings } from '../compose/canonical.js';
import { destructiveChanges } from './destructive.js';
import type { FileKind, ProjectLayout, StagedFile, Suggestion } from './types.js';

/** The Conventional Commits types `--check` accepts (the Angular set commitlint's config-conventional uses). */
export const COMMIT_TYPES = [
  'feat',
  'fix',
  'docs',
  'style',
  'refactor',
  'perf',
  'test',
  'build',
  'ci',
  'chore',
  'revert',
];

const SUBJECT_MAX = 72;

function under(path: string, folder: string): boolean {
  return folder === '' || path === folder || path.startsWith(`${folder}/`);
}

/** The service whose build context holds `path` (the deepest one), if any. */
function serviceOf(path: string, layout: ProjectLayout): string | undefined {
  let best: { name: string; depth: number } | undefined;
  for (const [name, context] of Object.entries(layout.services)) {
    const depth = context === '' ? 0 : context.split('/').length;
    if (
      under(path, context) &&
      (best === undefined || depth > best.depth || (depth === best.depth && name < best.name))
    )
      best = { name, depth };
  }
  return best?.name;
}

/** What a staged path is and the scope it contributes (undefined for docs, tests, CI, build-only files outside services). */
export function classify(path: string, layout: ProjectLayout): { kind: FileKind; scope: string | undefined } {
  const base = posix.basename(path);
  if (layout.migrationDirs.some((folder) => under(path, folder) && path !== folder))
    return { kind: 'migration', scope: 'migrations' };
  const composeDir = posix.dirname(layout.composeFile);
  if (
    path === layout.composeFile ||
    (/^(docker-)?compose\.[\w.-]+\.ya?ml$/.test(base) && posix.dirname(path) === composeDir)
  )
    return { kind: 'compose', scope: 'compose' };
  const hooks = layout.projectDir === '' ? '.stagecraft/hooks' : `${layout.projectDir}/.stagecraft/hooks`;
  if (
    layout.configFiles.includes(path) ||
    under(path, hooks) ||
    (base.startsWith('.env.') && base.endsWith('example'))
  )
    return { kind: 'config', scope: 'config' };
  if (/^(\.github\/workflows|\.circleci|\.ci)\//.test(path) || base === '.gitlab-ci.yml')
    return { kind: 'ci', scope: undefined };
  const service = serviceOf(path, layout);
  if (/(^|\/)(test|tests|__tests__|spec)\//.test(path) || /\.(test|spec)\.[a-z]+$/.test(base))
    return { kind: 'test', scope: service };
  if (/\.(md|mdx|rst|adoc)$/i.test(base) || /(^|\/)docs\//.test(path))
    return { kind: 'docs', scope: service };
  if (
    /^(Dockerfile|Containerfile)(\..+)?$/.test(base) ||
    /\.dockerfile$/i.test(base) ||
    [
      '.dockerignore',
      'package.json',
      'package-lock.json',
      'pnpm-lock.yaml',
      'yarn.lock',
      'bun.lockb',
      'go.mod',
      'go.sum',
      'Gemfile',
      'Gemfile.lock',
      'Cargo.toml',
      'Cargo.lock',
      'pyproject.toml',
      'poetry.lock',
      'uv.lock',
      'composer.json',
      'composer.lock',
    ].includes(base) ||
    /^requirements.*\.txt$/.test(base)
  )
    return { kind: 'build', scope: service };
  return service === undefined ? { kind: 'other', scope: undefined } : { kind: 'service', scope: service };
}

/** `image: postgres:16` → `postgres:16.4` in the staged compose diff, as `bump postgres to 16.4`. */
function imageBumps(file: StagedFile): string[] {
  const image = (line: string) => /^\s*image:\s*["']?([^"'\s#]+)/.exec(line)?.[1];
  const split = (reference: string) => {
    const at = reference.lastIndexOf(':');
    return at > reference.lastIndexOf('/')
      ? { repo: reference.slice(0, at), tag: reference.slice(at + 1) }
      : { repo: reference, tag: 'latest' };
  };
  const before = new Map(
    file.removed.flatMap((line) => {
      const ref = image(line);
      return ref === undefined ? [] : [[split(ref).repo, split(ref).tag] as const];
    }),
  );
  const bumps: string[] = [];
  for (const line of file.added) {
    const ref = image(line);
    if (ref === undefined) continue;
    const { repo, tag } = split(ref);
    if (before.has(repo) && before.get(repo) !== tag)
      bumps.push(`bump ${repo.slice(repo.lastIndexOf('/') + 1)} to ${tag}`);
  }
  return bumps;
}

function stem(path: string): string {
  const base = posix.basename(path);
  return base === 'migration.sql' ? posix.basename(posix.dirname(path)) : base.replace(/\.[^.]+$/, '');
}

function fitSubject(phrases: string[]): string {
  let subject = '';
  for (const phrase of phrases) {
    const next = subject === '' ? phrase : `${subject}, ${phrase}`;
    if (next.length > SUBJECT_MAX) break;
    subject = next;
  }
  return subject === '' ? (phrases[0] ?? 'update').slice(0, SUBJECT_MAX) : subject;
}

function listFiles(paths: string[], base: string): string {
  const names = paths.map((path) =>
    base !== '' && path.startsWith(`${base}/`) ? path.slice(base.length + 1) : path,
  );
  return names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
}

/**
 * A Conventional Commits message for a staged change (pure). Type from what the files are (docs,
 * test, ci alone keep their type; new code is feat, changed code fix; migrations feat; build files
 * build; config and compose chore); scope from the parts touched (service names, migrations,
 * compose, config; omitted past two); `!` and a BREAKING CHANGE footer when a migration drops or
 * renames.
 */
export function suggestMessage(files: readonly StagedFile[], layout: ProjectLayout): Suggestion {
  const classified = files.map((file) => ({ file, ...classify(file.path, layout) }));
  const kinds = new Set(classified.map((entry) => entry.kind));
  const only = (kind: FileKind) => kinds.size === 1 && kinds.has(kind);
  const code = classified.filter((entry) => entry.kind === 'service' || entry.kind === 'other');
  const migrations = classified.filter((entry) => entry.kind === 'migration');
  const type = only('docs')
    ? 'docs'
    : only('test')
      ? 'test'
      : only('ci')
        ? 'ci'
        : code.length > 0
          ? code.some((entry) => entry.file.status === 'A')
            ? 'feat'
            : 'fix'
          : migrations.some((entry) => entry.file.status === 'A')
            ? 'feat'
            : kinds.has('build') && [...kinds].every((kind) => kind === 'build' || kind === 'docs')
              ? 'build'
              : migrations.length > 0
                ? 'fix'
                : 'chore';

  const order = (scope: string) =>
    scope === 'migrations' ? 1 : scope === 'compose' ? 2 : scope === 'config' ? 3 : 0;
  const scopes = [
    ...new Set(
      classified
        .filter(
          (entry) => ['docs', 'test', 'ci'].includes(type) || !['docs', 'test', 'ci'].includes(entry.kind),
        )
        .flatMap((entry) => (entry.scope === undefined ? [] : [entry.scope])),
    ),
  ].sort((a, b) => order(a) - order(b) || compareStrings(a, b));
  const scope = scopes.length >= 1 && scopes.length <= 2 ? scopes.join(',') : undefined;

  const destructive = destructiveChanges(migrations.map((entry) => entry.file));
  const breaking = destructive.length > 0;

  const phrases: string[] = [];
  const addedMigrations = migrations
    .filter((entry) => entry.file.status === 'A')
    .map((entry) => stem(entry.file.path));
  if (addedMigrations.length > 0)
    phrases.push(`add migration${addedMigrations.length === 1 ? '' : 's'} ${addedMigrations.join(', ')}`);
  for (const entry of classified.filter((candidate) => candidate.kind === 'compose'))
    phrases.push(...imageBumps(entry.file));
  const rest = classified.filter((entry) => entry.kind !== 'migration' || entry.file.status !== 'A');
  if (phrases.length === 0 || rest.some((entry) => entry.kind === 'service' || entry.kind === 'other')) {
    const subjectFiles = rest.filter((entry) => entry.kind !== 'compose' || phrases.length === 0);
    if (subjectFiles.length === 1) {
      const only1 = subjectFiles[0]!;
      const verb =
        only1.file.status === 'A'
          ? 'add'
          : only1.file.status === 'D'
            ? 'remove'
            : only1.file.status === 'R'
              ? 'rename'
              : 'update';
      phrases.push(`${verb} ${posix.basename(only1.file.path)}`);
    } else if (subjectFiles.length > 1) {
      const labels = [...new Set(subjectFiles.map((entry) => entry.scope ?? 'files'))];
      const allAdded = subjectFiles.every((entry) => entry.file.status === 'A');
      phrases.push(
        `${allAdded ? 'add' : 'update'} ${labels.length === 1 ? labels[0] : 'files'} (${subjectFiles.length} files)`,
      );
    }
  }
  const subject = fitSubject(phrases);

  const groups = new Map<string, string[]>();
  for (const entry of classified) {
    const label =
      entry.kind === 'service' || entry.kind === 'build' || entry.kind === 'test' || entry.kind === 'docs'
        ? (entry.scope ?? entry.kind)
        : entry.kind;
    groups.set(label, [...(groups.get(label) ?? []), entry.file.path]);
  }
  const body = [...groups.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(
      ([label, paths]) =>
        `- ${label}: ${listFiles(paths.sort(compareStrings), layout.services[label] ?? '')}`,
    );
  const footers = destructive.map(
    (change) =>
      `BREAKING CHANGE: ${change.file} runs ${change.statement}; the release still serving during the rollout loses what it reads`,
  );
  const header = `${type}${scope === undefined ? '' : `(${scope})`}${breaking ? '!' : ''}: ${subject}`;
  const message = [header, '', ...body, ...(footers.length > 0 ? ['', ...footers] : [])].join('\n');
  return { type, scope, breaking, subject, body, footers, message: `${message}\n` };
}
