import { basename, dirname, resolve } from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { guardYamlDocument, MAX_YAML_BYTES, tooDeep } from '../config/yaml-guard.js';
import { UserError } from '../util/errors.js';
import { MAX_USER_FILE_BYTES, pathEntry, readUserFile } from '../util/user-file.js';

/**
 * Refuses a compose file that `docker compose config` would hang on or expand without bound (an
 * alias bomb), that is far too large, or that is not a regular file (a folder, a pipe, a device such
 * as /dev/zero), or that names one for compose to read (guardReferencedFiles), before compose is
 * started: a UserError with `file:line:column`. Syntax errors are left to compose, which reports them
 * in its own words. `displayName` is how the file is named in
 * messages (default: its base name); relative env_file paths are taken from `projectDir` (compose's
 * --project-directory, default the file's folder). A missing file is left to the caller.
 */
export function guardComposeFile(
  path: string,
  displayName = basename(path),
  projectDir = dirname(path),
): void {
  const text = readUserFile(path, {
    display: displayName,
    maxBytes: MAX_YAML_BYTES,
    hint: 'check that compose.file names the project’s compose file',
  });
  if (text === undefined) return;
  const deep = tooDeep(text);
  if (deep !== undefined) {
    const position = new LineCounter();
    position.addNewLine(0);
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) position.addNewLine(at + 1);
    const { line, col } = position.linePos(deep.offset);
    throw new UserError(`${displayName} is refused: ${displayName}:${line}:${col} ${deep.message}`, {
      hint: `fix ${displayName}: a compose file nests a few levels deep (docker compose config takes minutes on thousands)`,
    });
  }
  const aliases = mayNeedGuard(text);
  const files = /env_file|label_file|include|extends/.test(text);
  if (!aliases && !files) return;
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false });
  const problems = aliases
    ? guardYamlDocument(document).filter((problem) => !problem.message.startsWith('key "'))
    : [];
  if (problems.length === 0) {
    if (files) guardReferencedFiles(document, projectDir, displayName, lines);
    return;
  }
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

/**
 * Refuses a file the compose file names for compose to read, written without variables, that is not
 * a regular file or is over MAX_USER_FILE_BYTES: a service's `env_file` (a string, a list of strings
 * or of `{ path }`), `label_file` and `extends.file`, and the top-level `include` (a string, or a list
 * of strings or of `{ path, env_file }`). `docker compose config` reads a device such as /dev/zero
 * without end and blocks on a FIFO (measured: 24 GB and minutes before it died). Relative paths are
 * taken from `dir`, the project folder, as compose takes them. Throws UserError at the entry's
 * `file:line:column`.
 */
function guardReferencedFiles(
  document: Document,
  dir: string,
  displayName: string,
  lines: LineCounter,
): void {
  const check = (node: unknown, key: string) => {
    const entries = isSeq(node) ? node.items : [node];
    for (const entry of entries) {
      const value = isMap(entry) ? entry.get('path', true) : entry;
      if (isSeq(value)) {
        check(value, key);
        continue;
      }
      if (!isScalar(value) || typeof value.value !== 'string' || value.value.includes('$')) continue;
      const found = pathEntry(resolve(dir, value.value));
      const why =
        found.kind === 'other'
          ? found.why
          : found.kind === 'file' && found.size > MAX_USER_FILE_BYTES
            ? `is ${found.size} bytes: larger than the ${MAX_USER_FILE_BYTES}-byte limit`
            : undefined;
      if (why === undefined) continue;
      const position = lines.linePos(value.range?.[0] ?? 0);
      throw new UserError(`${displayName}:${position.line}:${position.col} ${key}: ${value.value} ${why}`, {
        hint: `point ${key.split('.').at(-1)} at a regular file`,
      });
    }
    if (isSeq(node))
      for (const entry of node.items) if (isMap(entry)) check(entry.get('env_file', true), `${key}.env_file`);
  };
  check(document.get('include', true), 'include');
  const services = document.get('services');
  if (!isMap(services)) return;
  for (const service of services.items) {
    if (!isMap(service.value)) continue;
    const name = `services.${String(isScalar(service.key) ? service.key.value : service.key)}`;
    check(service.value.get('env_file', true), `${name}.env_file`);
    check(service.value.get('label_file', true), `${name}.label_file`);
    const extended = service.value.get('extends', true);
    if (isMap(extended)) check(extended.get('file', true), `${name}.extends.file`);
  }
}
