import { runLocal } from '../runners/local.js';
import { UserError } from '../util/errors.js';
import type { StagedFile } from './types.js';

/** git with the options that keep its output stable: no colour, no pager, no external diff, no renames guessing beyond -M. */
function git(cwd: string, args: string[]) {
  return runLocal(['git', '-c', 'core.quotepath=off', ...args], { cwd, allowFailure: true });
}

/** The repository root of `cwd`. Throws UserError outside a git repository. */
export async function repositoryRoot(cwd: string): Promise<string> {
  const result = await git(cwd, ['rev-parse', '--show-toplevel']);
  if (result.exitCode !== 0) {
    throw new UserError(`${cwd} is not in a git repository`, {
      hint: 'run it inside the repository whose staged change you want a message for (git init to start one)',
    });
  }
  return result.stdout.trim();
}

/** Parses `git diff --name-status -z` output: status, path (and the old path of R/C entries). */
export function parseNameStatus(output: string): Omit<StagedFile, 'added' | 'removed'>[] {
  const fields = output.split('\0').filter((field) => field !== '');
  const files: Omit<StagedFile, 'added' | 'removed'>[] = [];
  for (let index = 0; index < fields.length; ) {
    const code = fields[index++] ?? '';
    const status = code.charAt(0) as StagedFile['status'];
    if (status === 'R' || status === 'C') {
      const from = fields[index++] ?? '';
      const path = fields[index++] ?? '';
      files.push({ status, path, from });
    } else {
      files.push({ status, path: fields[index++] ?? '' });
    }
  }
  return files;
}

/** Splits a `git diff -U0` of one file into added and removed lines (headers dropped). */
export function parseDiffLines(diff: string): { added: string[]; removed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  let inHunk = false;
  for (const line of diff.split('\n')) {
    if (line.startsWith('@@')) {
      inHunk = true;
      continue;
    }
    if (!inHunk) continue;
    if (line.startsWith('+')) added.push(line.slice(1));
    else if (line.startsWith('-')) removed.push(line.slice(1));
  }
  return { added, removed };
}

/**
 * The staged change of the repository at `root` (`git diff --cached`), with added and removed lines
 * for the files `wantLines` selects. Runs git (argv, no shell) through the local runner.
 */
export async function stagedChanges(
  root: string,
  wantLines: (path: string) => boolean,
): Promise<StagedFile[]> {
  const status = await git(root, [
    'diff',
    '--cached',
    '--name-status',
    '-z',
    '-M',
    '--no-color',
    '--no-ext-diff',
  ]);
  if (status.exitCode !== 0) {
    throw new UserError('git could not list the staged change', { details: [status.stderr.trim()] });
  }
  const files = parseNameStatus(status.stdout);
  return Promise.all(
    files.map(async (file): Promise<StagedFile> => {
      if (!wantLines(file.path)) return { ...file, added: [], removed: [] };
      const diff = await git(root, [
        'diff',
        '--cached',
        '-U0',
        '-M',
        '--no-color',
        '--no-ext-diff',
        '--',
        file.path,
      ]);
      return { ...file, ...parseDiffLines(diff.stdout) };
    }),
  );
}
