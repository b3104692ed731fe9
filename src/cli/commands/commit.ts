import { resolve } from 'node:path';
import { checkMessage } from '../../commit/check.js';
import { destructiveChanges } from '../../commit/destructive.js';
import { repositoryRoot, stagedChanges } from '../../commit/git.js';
import { readLayout } from '../../commit/layout.js';
import { classify, suggestMessage } from '../../commit/suggest.js';
import type { ProjectLayout, StagedFile } from '../../commit/types.js';
import { UserError } from '../../util/errors.js';
import { readUserFile } from '../../util/user-file.js';
import type { CommandContext } from '../context.js';

/** The staged change of the repository around `cwd`, each path's kind, and the project layout. */
async function staged(
  cwd: string,
): Promise<{ files: StagedFile[]; kinds: Map<string, string>; layout: ProjectLayout }> {
  const root = await repositoryRoot(cwd);
  const layout = readLayout(root, cwd);
  const kinds = new Map<string, string>();
  const files = await stagedChanges(root, (path) => {
    const kind = classify(path, layout).kind;
    kinds.set(path, kind);
    return kind === 'migration' || kind === 'compose';
  });
  return { files, kinds, layout };
}

/** `--check <file>`: validates a commit message (a commit-msg hook); exit 1 with every problem. */
async function check(context: CommandContext, file: string): Promise<number> {
  const path = resolve(context.cwd, file);
  const hint = 'pass the file git gives a commit-msg hook ("$1"), e.g. .git/COMMIT_EDITMSG';
  const text = readUserFile(path, { display: `commit message file ${file}`, maxBytes: 1024 * 1024, hint });
  if (text === undefined) throw new UserError(`commit message file not found: ${file}`, { hint });
  let destructive: ReturnType<typeof destructiveChanges> = [];
  try {
    const { files, kinds } = await staged(context.cwd);
    destructive = destructiveChanges(files.filter((candidate) => kinds.get(candidate.path) === 'migration'));
  } catch (error) {
    // Outside a repository the message is still checked; only the breaking-change rule needs the index.
    if (!(error instanceof UserError)) throw error;
  }
  const problems = checkMessage(text, destructive);
  if (context.globals.json) {
    context.output.json({ file, valid: problems.length === 0, problems });
    return problems.length === 0 ? 0 : 1;
  }
  if (problems.length > 0) {
    throw new UserError(`${file} is not a Conventional Commits message`, {
      details: problems.map((problem) => `${file}:${problem.line}:${problem.column} ${problem.message}`),
      hint: '`stagecraft commit suggest` prints a message for the staged change; https://www.conventionalcommits.org/en/v1.0.0/',
    });
  }
  context.output.info(`${file}: a valid Conventional Commits message`);
  return 0;
}

/** `stagecraft commit suggest`: a Conventional Commits message for the staged change, printed. */
export async function suggest(context: CommandContext, options: { check?: string }): Promise<number> {
  if (options.check !== undefined) return check(context, options.check);
  const { files, layout } = await staged(context.cwd);
  if (files.length === 0) {
    throw new UserError('nothing is staged', {
      hint: 'stage the change with `git add`, then run `stagecraft commit suggest`',
    });
  }
  const suggestion = suggestMessage(files, layout);
  if (context.globals.json) {
    context.output.json({
      ...suggestion,
      files: files.map(({ status, path, from }) => ({
        status,
        path,
        ...(from === undefined ? {} : { from }),
      })),
    });
  } else {
    context.output.result(suggestion.message);
  }
  return 0;
}
