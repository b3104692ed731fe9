import { basename, dirname, resolve } from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { guardYamlDocument, MAX_YAML_BYTES, tooDeep } from '../config/yaml-guard.js';
import { UserError } from '../util/errors.js';
import { pathEntry, readUserFile } from '../util/user-file.js';

/**
 * Refuses a compose file that `docker compose config` would hang on or expand without bound (an
 * alias bomb), that is far too large, or that is not a regular file (a folder, a pipe, a device such
 * as /dev/zero), or whose services' env_file names one (guardServiceEnvFiles), before compose is
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
  const envFiles = text.includes('env_file');
  if (!aliases && !envFiles) return;
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, merge: true, prettyErrors: false });
  const problems = aliases
    ? guardYamlDocument(document).filter((problem) => !problem.message.startsWith('key "'))
    : [];
  if (problems.length === 0) {
    if (envFiles) guardServiceEnvFiles(document, projectDir, displayName, lines);
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
 * Refuses a service `env_file` (a string, a list of strings or of `{ path }`) written without
 * variables that names something other than a regular file: `docker compose config` reads a device
 * such as /dev/zero without end and blocks on a FIFO (measured: 24 GB and minutes before it died).
 * Relative paths are taken from `dir`, the project folder, as compose takes them. Throws UserError
 * at the entry's `file:line:column`.
 */
function guardServiceEnvFiles(
  document: Document,
  dir: string,
  displayName: string,
  lines: LineCounter,
): void {
  const services = document.get('services');
  if (!isMap(services)) return;
  for (const service of services.items) {
    const envFile = isMap(service.value) ? service.value.get('env_file', true) : undefined;
    const entries = isSeq(envFile) ? envFile.items : [envFile];
    for (const entry of entries) {
      const node = isMap(entry) ? entry.get('path', true) : entry;
      if (!isScalar(node) || typeof node.value !== 'string' || node.value.includes('$')) continue;
      const found = pathEntry(resolve(dir, node.value));
      if (found.kind !== 'other') continue;
      const position = lines.linePos(node.range?.[0] ?? 0);
      throw new UserError(
        `${displayName}:${position.line}:${position.col} services.${String(isScalar(service.key) ? service.key.value : service.key)}.env_file: ${node.value} ${found.why}`,
        { hint: 'point env_file at a regular file of KEY=value lines' },
      );
    }
  }
}
