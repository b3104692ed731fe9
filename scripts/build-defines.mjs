// Constants baked into a build (read by src/util/build-info.ts): version, kind of build, git commit.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);

/** The short commit of the checkout, with -dirty for uncommitted changes to tracked files; "unknown" outside git. */
function commit() {
  try {
    const git = (args) =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const sha = git(['rev-parse', '--short=12', 'HEAD']);
    return git(['status', '--porcelain', '--untracked-files=no']) === '' ? sha : `${sha}-dirty`;
  } catch {
    return 'unknown';
  }
}

/** esbuild `define` for a build of kind "npm" (bin/ + dist/) or "sea" (the one-file executable). */
export function buildDefines(kind) {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  return {
    __STAGECRAFT_VERSION__: JSON.stringify(pkg.version),
    __STAGECRAFT_BUILD__: JSON.stringify(kind),
    __STAGECRAFT_COMMIT__: JSON.stringify(process.env.STAGECRAFT_COMMIT ?? commit()),
  };
}
