import { join } from 'node:path';
import { readUserFile } from '../util/user-file.js';
import { GITIGNORE_LINES } from './templates/common.js';

export { GITIGNORE_LINES };

/** The lines of GITIGNORE_LINES that `<root>/.gitignore` lacks (all of them when there is none). */
export function missingGitignoreLines(root: string): string[] {
  const path = join(root, '.gitignore');
  const present = new Set(
    (readUserFile(path) ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== ''),
  );
  return GITIGNORE_LINES.filter((line) => !present.has(line));
}

/** `current` (a .gitignore's text, '' when none) with `additions` appended under a `# Stagecraft` line. */
export function withGitignoreLines(current: string, additions: string[]): string {
  if (additions.length === 0) return current;
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  return `${current}${separator}# Stagecraft\n${additions.join('\n')}\n`;
}
