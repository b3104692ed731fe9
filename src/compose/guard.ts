import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { guardYamlDocument, MAX_YAML_BYTES } from '../config/yaml-guard.js';
import { UserError } from '../util/errors.js';

/**
 * Refuses a compose file that `docker compose config` would hang on or expand without bound (an
 * alias bomb), or that is far too large, before compose is started: a UserError with
 * `file:line:column`. Syntax errors are left to compose, which reports them in its own words.
 * `displayName` is how the file is named in messages (default: its base name). Missing or unreadable
 * files are left to the caller too.
 */
export function guardComposeFile(path: string, displayName = basename(path)): void {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_YAML_BYTES) {
      throw new UserError(`${displayName} is ${size} bytes: larger than the ${MAX_YAML_BYTES}-byte limit`, {
        hint: 'check that compose.file names the project’s compose file',
      });
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof UserError) throw error;
    return;
  }
  if (!mayNeedGuard(text)) return;
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false });
  const problems = guardYamlDocument(document).filter((problem) => !problem.message.startsWith('key "'));
  if (problems.length === 0) return;
  const details = problems.map((problem) => {
    const position = lines.linePos(problem.offset);
    return `${displayName}:${position.line}:${position.col} ${problem.message}`;
  });
  throw new UserError(`${displayName} is refused: ${details[0]}`, {
    details: details.slice(1),
    hint: `fix ${displayName}: write the repeated part once and reference it with a single alias`,
  });
}

/**
 * False when `text` cannot hold what the guard refuses, so it need not be parsed (a 30-service file
 * takes 5-30 ms): an alias is written with `*` and a merge key with `<` (or, in a quoted key, an
 * escape: `\x3c`), and compose files rarely have either. Forbidden keys are compose's to judge.
 */
export function mayNeedGuard(text: string): boolean {
  return text.includes('*') || text.includes('<') || text.includes('\\');
}
