import type { Hash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { runLocal } from '../runners/local.js';
import { readUserFileBytes } from '../util/user-file.js';

/** What one build context sends to `docker build` that git does not track (it ignores it). */
export interface IgnoredBuildInput {
  /** The context folder, absolute. */
  context: string;
  /** How many files it sends that git ignores. */
  files: number;
  /** One of them, relative to the context (for messages). */
  example: string;
}

/**
 * Env files (`.env`, `.env.production`, …) are never part of a version: they hold secrets, and a
 * version is published (image tags, labels, plan, the ledger), so it must not change with a secret's
 * value. `.stagecraft` is Stagecraft's own state.
 */
export const ENV_FILE = /^\.env(\..+)?$/;
const STATE_FOLDER = '.stagecraft';

/**
 * The files that the build contexts in git's work tree at `root` send to the builder although git
 * ignores them (a `dist/` that the Dockerfile copies, a `node_modules` that no .dockerignore leaves
 * out): the commit does not name them, so a version that includes them is not immutable.
 * A context's `.dockerignore` is applied as Docker applies it (@balena/dockerignore, a port of moby's
 * matcher, https://docs.docker.com/build/concepts/context/#dockerignore-files). Env files (`.env*`
 * and the absolute paths in `envFiles`) and `.stagecraft/` are left out, as from every version. Each file goes into `hash` by path, size,
 * modification time and mode (not content: a `node_modules` of 100k files is stat'ed in well under a
 * second), so a changed file gives a different hash.
 * Takes absolute context folders (others, such as git URLs, are skipped); returns one entry per
 * context that sends such files, in the order given. Throws UserFileError for an unreadable
 * .dockerignore; git's own failures give [] (a context outside the work tree is hashed whole elsewhere).
 */
export async function ignoredBuildInputs(
  root: string,
  contexts: readonly string[],
  hash: Hash,
  envFiles: readonly string[] = [],
): Promise<IgnoredBuildInput[]> {
  const configured = new Set(envFiles);
  const local = [...new Set(contexts.filter((context) => isAbsolute(context)))];
  if (local.length === 0) return [];
  const listed = await runLocal(
    [
      'git',
      'ls-files',
      '--others',
      '--ignored',
      '--exclude-standard',
      '--directory',
      '-z',
      '--',
      ...local.map((context) => relative(root, context) || '.'),
    ],
    { cwd: root, allowFailure: true },
  );
  if (listed.exitCode !== 0) return [];
  const entries = listed.stdout
    .split('\0')
    .filter((entry) => entry !== '')
    .sort();
  const found: IgnoredBuildInput[] = [];
  for (const context of local) {
    const ignore = dockerignoreOf(context);
    let files = 0;
    let example = '';
    const add = (path: string, inContext: string) => {
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (stat === undefined) return;
      hash.update(`\0ignored\0${inContext}\0${stat.size}\0${stat.mtimeMs}\0${stat.mode.toString(8)}`);
      if (stat.isSymbolicLink()) hash.update(`\0${readlinkSync(path)}`);
      files += 1;
      if (example === '') example = inContext;
    };
    const walk = (path: string, inContext: string) => {
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (stat === undefined || skipped(inContext) || configured.has(path)) return;
      if (!stat.isDirectory()) {
        if (!ignore.matcher.ignores(inContext)) add(path, inContext);
        return;
      }
      // A folder the .dockerignore leaves out whole is not read (unless a `!` rule takes some back).
      if (!ignore.negates && ignore.matcher.ignores(inContext)) return;
      for (const name of readdirSync(path).sort()) walk(join(path, name), `${inContext}/${name}`);
    };
    for (const entry of entries) {
      const path = join(root, entry);
      const inContext = relative(context, path).split(sep).join('/');
      if (inContext === '' || inContext.startsWith('..') || isAbsolute(inContext)) continue;
      walk(path, inContext.replace(/\/$/, ''));
    }
    if (files > 0) found.push({ context, files, example });
  }
  return found;
}

/**
 * The env files each build context sends to the builder: `.env` and `.env.*` at its top and the
 * absolute paths in `envFiles` (the ones the config names) that lie inside it, unless its
 * .dockerignore leaves them out. Their values (secrets among them) reach the builder, and the image
 * with a `COPY .`. Takes absolute folders; returns `{ context, file }` (file relative to the context,
 * posix) in context then name order. Throws UserFileError for an unreadable .dockerignore.
 */
export function envFilesSent(
  contexts: readonly string[],
  envFiles: readonly string[],
): { context: string; file: string }[] {
  const sent: { context: string; file: string }[] = [];
  for (const context of [...new Set(contexts.filter((folder) => isAbsolute(folder)))]) {
    const top = (readdirSafe(context) ?? [])
      .filter((name) => ENV_FILE.test(name))
      .map((name) => join(context, name));
    const inside = envFiles.filter((file) => {
      const rel = relative(context, file);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    });
    const files = [...new Set([...top, ...inside])]
      .filter((file) => lstatSync(file, { throwIfNoEntry: false })?.isFile() === true)
      .map((file) => relative(context, file).split(sep).join('/'))
      .sort();
    if (files.length === 0) continue;
    const ignore = dockerignoreOf(context);
    for (const file of files) if (!ignore.matcher.ignores(file)) sent.push({ context, file });
  }
  return sent;
}

function readdirSafe(folder: string): string[] | undefined {
  try {
    return readdirSync(folder);
  } catch {
    return undefined;
  }
}

/** True for env files and Stagecraft's state folder, at any depth of `path` (posix, relative). */
function skipped(path: string): boolean {
  return path.split('/').some((part) => part === STATE_FOLDER || ENV_FILE.test(part));
}

/** The context's .dockerignore as a matcher, and whether it has `!` exceptions. */
function dockerignoreOf(context: string): { matcher: ReturnType<typeof dockerignore>; negates: boolean } {
  const text = readUserFileBytes(join(context, '.dockerignore'), { maxBytes: 1024 * 1024 })?.toString('utf8');
  const patterns = (text ?? '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  return {
    matcher: dockerignore().add(patterns),
    negates: patterns.some((pattern) => pattern.startsWith('!')),
  };
}
