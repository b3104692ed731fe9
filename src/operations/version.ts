import { runLocal } from '../runners/local.js';

/**
 * The release version: `--version`, else the short git SHA of the project folder, with `-dirty` when
 * it has uncommitted changes; `unknown` outside git. Read-only: `plan` uses it too.
 */
export async function resolveVersion(
  projectRoot: string,
  explicit?: string,
): Promise<{ version: string; commit: string }> {
  const head = await runLocal(['git', 'rev-parse', '--short=12', 'HEAD'], {
    cwd: projectRoot,
    allowFailure: true,
  }).catch(() => undefined);
  const commit = head?.exitCode === 0 ? head.stdout.trim() : '';
  if (explicit !== undefined && explicit !== '') return { version: explicit, commit };
  if (commit === '') return { version: 'unknown', commit };
  const status = await runLocal(['git', 'status', '--porcelain', '--', '.'], {
    cwd: projectRoot,
    allowFailure: true,
  });
  return { version: status.stdout.trim() === '' ? commit : `${commit}-dirty`, commit };
}
