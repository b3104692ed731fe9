import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { runLocal } from '../runners/local.js';
import { UserError } from '../util/errors.js';
import { ENV_FILE, type IgnoredBuildInput, ignoredBuildInputs } from './ignored-build-inputs.js';

export interface ResolvedVersion {
  /** The release version; built images are tagged `<image>:<version>`. */
  version: string;
  /** The short git SHA of HEAD, '' outside git. */
  commit: string;
  /**
   * True when the version names exactly one state of the code (a clean commit): an image with this
   * tag that exists already is that code, so the build may be skipped. False for `--version`,
   * uncommitted changes and code outside git: those tags are always rebuilt.
   */
  immutable: boolean;
  /** The build contexts that send files git ignores (they made the version dirty), when any. */
  ignoredBuildInputs?: IgnoredBuildInput[];
}

/** Folders left out of the content hash of a folder outside git (dependencies, VCS, Stagecraft's state). */
const SKIPPED = new Set(['.git', 'node_modules', '.stagecraft']);
/** The same env files as git pathspecs, left out of the status, diff and untracked files of a git tree. */
const NOT_ENV_FILES = [':(exclude,glob)**/.env', ':(exclude,glob)**/.env.*'];

/** A docker image tag: https://docs.docker.com/reference/cli/docker/image/tag/ */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Throws UserError unless `version` (from `--version`) is a valid image tag: the version tags every
 * image the release builds, and is printed in plan and recorded in the ledger.
 */
export function checkVersionTag(version: string): void {
  if (IMAGE_TAG.test(version)) return;
  throw new UserError(
    `--version ${JSON.stringify(version)} is not a valid image tag: expected letters, digits, _ . and - (up to 128, not starting with . or -)`,
    { hint: 'give a tag such as v1.4.2 or 2026-12-02.1, or leave --version out to use the git SHA' },
  );
}

/**
 * The release version, read-only (`plan` uses it too):
 * - `--version V` as given (not immutable: rebuilt every time);
 * - a clean git tree: the 12-character SHA of HEAD (immutable);
 * - uncommitted changes: `<sha>-dirty-<hash>`, where hash is the first 12 hex of the sha256 of the
 *   uncommitted code (`git diff HEAD --binary` plus the untracked, not ignored files; env files left
 *   out, as below), so different changes get different tags;
 * - files that git ignores but a build context sends (see ignoredBuildInputs) make it
 *   `<sha>-dirty-<hash>` too, the hash covering them;
 * - outside git: `local-<hash>` over every file of the project folder (paths, modes, contents;
 *   .git, node_modules, .stagecraft and env files left out).
 * Env files are `.env` and `.env.*` at any depth and the absolute paths in `envFiles` (the ones the
 * config or the compose file names, whatever their name, and compose secrets' files): their values,
 * secrets among them, never move the version, so it says nothing about them.
 */
export async function resolveVersion(
  projectRoot: string,
  explicit?: string,
  buildContexts: readonly string[] = [],
  envFiles: readonly string[] = [],
): Promise<ResolvedVersion> {
  const head = await runLocal(['git', 'rev-parse', '--short=12', 'HEAD'], {
    cwd: projectRoot,
    allowFailure: true,
  }).catch(() => undefined);
  const commit = head?.exitCode === 0 ? head.stdout.trim() : '';
  if (explicit !== undefined && explicit !== '') return { version: explicit, commit, immutable: false };
  if (commit === '')
    return { version: `local-${folderHash(projectRoot, envFiles)}`, commit, immutable: false };
  const notEnvFiles = [
    ...NOT_ENV_FILES,
    ...envFiles
      .map((file) => relative(projectRoot, file))
      .filter((file) => !file.startsWith('..') && !isAbsolute(file))
      .map((file) => `:(exclude,literal)${file}`),
  ];
  // A folder that does not exist is the build's error to report (compose names it), not the version's.
  buildContexts = buildContexts.filter((context) =>
    statSync(context, { throwIfNoEntry: false })?.isDirectory(),
  );
  // What is built belongs to the version too: build contexts outside the project folder (a monorepo's
  // `../api`) are looked at with it.
  const pathspecs = [
    '.',
    ...buildContextsOutsideOf(buildContexts, projectRoot).map((context) => relative(projectRoot, context)),
  ];
  const status = await runLocal(
    ['git', 'status', '--porcelain', '--', ...new Set(pathspecs), ...notEnvFiles],
    {
      cwd: projectRoot,
      allowFailure: true,
    },
  );
  // A context outside the repository has no commit to name it: never immutable.
  if (status.exitCode !== 0) {
    const hash = createHash('sha256').update(await uncommittedHash(projectRoot, ['.'], notEnvFiles));
    for (const context of buildContextsOutsideOf(buildContexts, projectRoot))
      hash.update(`\0${context}\0${folderHash(context, envFiles)}`);
    return { version: `${commit}-dirty-${hash.digest('hex').slice(0, 12)}`, commit, immutable: false };
  }
  const ignoredHash = createHash('sha256');
  const ignored = await ignoredBuildInputs(projectRoot, buildContexts, ignoredHash, envFiles);
  const clean = status.stdout.trim() === '';
  if (clean && ignored.length === 0) return { version: commit, commit, immutable: true };
  const uncommitted = clean ? '' : await uncommittedHash(projectRoot, [...new Set(pathspecs)], notEnvFiles);
  const hash =
    ignored.length === 0
      ? uncommitted
      : createHash('sha256')
          .update(`${uncommitted}\0${ignoredHash.digest('hex')}`)
          .digest('hex')
          .slice(0, 12);
  return {
    version: `${commit}-dirty-${hash}`,
    commit,
    immutable: false,
    ...(ignored.length > 0 ? { ignoredBuildInputs: ignored } : {}),
  };
}

/**
 * The absolute build context folders of a compose model, with each build's `additional_contexts`
 * folders, sorted (git URLs, `docker-image://` and the like left out).
 */
export function buildContextsOf(
  services: Record<string, { build?: { context?: string; additional_contexts?: unknown } }>,
): string[] {
  const contexts = new Set<string>();
  for (const service of Object.values(services)) {
    const context = service.build?.context;
    if (context !== undefined && isAbsolute(context)) contexts.add(context);
    const additional = service.build?.additional_contexts;
    if (additional !== null && typeof additional === 'object') {
      for (const value of Object.values(additional))
        if (typeof value === 'string' && isAbsolute(value)) contexts.add(value);
    }
  }
  return [...contexts].sort();
}

/** The build contexts of a compose model (absolute local folders) outside `root`, sorted. */
export function buildContextsOutside(
  services: Record<string, { build?: { context?: string } }>,
  root: string,
): string[] {
  return buildContextsOutsideOf(buildContextsOf(services), root);
}

function buildContextsOutsideOf(contexts: readonly string[], root: string): string[] {
  return contexts.filter((context) => {
    const rel = relative(root, context);
    return rel.startsWith('..') || isAbsolute(rel);
  });
}

/**
 * sha256 (12 hex) of the uncommitted changes under `pathspecs` (relative to `root`) but not under
 * `excluded` (exclude pathspecs): the diff against HEAD and the untracked files.
 */
async function uncommittedHash(
  root: string,
  pathspecs: readonly string[],
  excluded: readonly string[],
): Promise<string> {
  const hash = createHash('sha256');
  const diff = await runLocal(
    ['git', 'diff', 'HEAD', '--binary', '--no-color', '--no-ext-diff', '--', ...pathspecs, ...excluded],
    { cwd: root },
  );
  hash.update(diff.stdout);
  const untracked = await runLocal(
    ['git', 'ls-files', '--others', '--exclude-standard', '-z', '--', ...pathspecs, ...excluded],
    { cwd: root },
  );
  for (const path of untracked.stdout
    .split('\0')
    .filter((entry) => entry !== '')
    .sort()) {
    hash.update(`\0untracked\0${path}\0`);
    hashEntry(hash, join(root, path));
  }
  return hash.digest('hex').slice(0, 12);
}

/** sha256 (12 hex) of a folder's files, walked in name order, without env files and `excluded` (absolute). */
export function folderHash(root: string, excluded: readonly string[] = []): string {
  const hash = createHash('sha256');
  const skip = new Set(excluded);
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (SKIPPED.has(name) || ENV_FILE.test(name)) continue;
      const path = join(dir, name);
      if (skip.has(path)) continue;
      const stat = lstatSync(path);
      hash.update(`\0${prefix}${name}\0${stat.isDirectory() ? 'd' : (stat.mode & 0o111).toString(8)}\0`);
      if (stat.isDirectory()) walk(path, `${prefix}${name}/`);
      else hashEntry(hash, path);
    }
  };
  walk(root, '');
  return hash.digest('hex').slice(0, 12);
}

function hashEntry(hash: ReturnType<typeof createHash>, path: string): void {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (stat === undefined) hash.update('\0gone');
  else if (stat.isSymbolicLink()) hash.update(`\0link\0${readlinkSync(path)}`);
  else if (stat.isFile()) hashFileContent(hash, path);
}

/** Feeds a file to `hash` 1 MiB at a time: a dump of several GB takes no more memory than that. */
function hashFileContent(hash: ReturnType<typeof createHash>, path: string): void {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
}
