import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { guardYamlDocument, MAX_YAML_BYTES, tooDeep } from '../config/yaml-guard.js';
import { UserError } from '../util/errors.js';
import { MAX_USER_FILE_BYTES, pathEntry, readUserFile } from '../util/user-file.js';

/**
 * Refuses a compose file that `docker compose config` would hang on or expand without bound (an
 * alias bomb), that is far too large, or that is not a regular file (a folder, a pipe, a device such
 * as /dev/zero), or that names one for compose to read (guardReferencedFiles), before compose is
 * started: a UserError with `file:line:column`. The files it includes or extends are checked the same
 * way, each once. Syntax errors are left to compose, which reports them in its own words.
 * `displayName` is how the file is named in messages (default: its base name); relative env_file
 * paths are taken from `projectDir` (compose's --project-directory, default the file's folder);
 * `variables` are what compose interpolates paths with (the process environment over the
 * environment's env files). A missing file is left to the caller.
 */
export function guardComposeFile(
  path: string,
  displayName = basename(path),
  projectDir = dirname(path),
  variables: Record<string, string | undefined> = process.env,
): void {
  guardFile(path, displayName, projectDir, { variables, seen: new Set(), rootDir: projectDir });
}

interface GuardWalk {
  variables: Record<string, string | undefined>;
  /** Real paths of the compose files already checked (include and extends may repeat or loop). */
  seen: Set<string>;
  /** The project folder: nested files are named relative to it. */
  rootDir: string;
}

function guardFile(path: string, displayName: string, projectDir: string, walk: GuardWalk): void {
  const real = pathEntry(path).kind === 'file' ? realpathSync(path) : path;
  if (walk.seen.has(real)) return;
  walk.seen.add(real);
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
    if (files) guardReferencedFiles(document, projectDir, displayName, lines, walk);
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
 * Refuses a file the compose file names for compose to read that is not a regular file or is over
 * MAX_USER_FILE_BYTES: a service's `env_file` (a string, a list of strings or of `{ path }`),
 * `label_file` and `extends.file`, and the top-level `include` (a string, or a list of strings or of
 * `{ path, env_file }`). `docker compose config` reads a device such as /dev/zero without end and
 * blocks on a FIFO (measured: 24 GB and minutes before it died). Paths are interpolated as compose
 * does (interpolatePath); one it cannot read is left to compose. Relative paths are taken from `dir`,
 * the project folder, as compose takes them. An included or extended compose file is then guarded
 * itself (guardFile), with its own folder for its relative paths. Throws UserError at the entry's
 * `file:line:column`.
 */
function guardReferencedFiles(
  document: Document,
  dir: string,
  displayName: string,
  lines: LineCounter,
  walk: GuardWalk,
): void {
  const check = (node: unknown, key: string, composeFile = false) => {
    const entries = isSeq(node) ? node.items : [node];
    for (const entry of entries) {
      const value = isMap(entry) ? entry.get('path', true) : entry;
      if (isSeq(value)) {
        check(value, key, composeFile);
        continue;
      }
      if (!isScalar(value) || typeof value.value !== 'string') continue;
      const written = value.value;
      const interpolated = written.includes('$') ? interpolatePath(written, walk.variables) : written;
      if (interpolated === undefined || interpolated === '') continue;
      const path = resolve(dir, interpolated);
      const found = pathEntry(path);
      const why =
        found.kind === 'other'
          ? found.why
          : found.kind === 'file' && found.size > MAX_USER_FILE_BYTES
            ? `is ${found.size} bytes: larger than the ${MAX_USER_FILE_BYTES}-byte limit`
            : undefined;
      if (why === undefined) {
        if (composeFile && found.kind === 'file') {
          const shown = relative(walk.rootDir, path);
          guardFile(path, shown.startsWith('..') || isAbsolute(shown) ? path : shown, dirname(path), walk);
        }
        continue;
      }
      const position = lines.linePos(value.range?.[0] ?? 0);
      const resolvedNote = interpolated === written ? '' : ` (${interpolated})`;
      throw new UserError(
        `${displayName}:${position.line}:${position.col} ${key}: ${written}${resolvedNote} ${why}`,
        { hint: `point ${key.split('.').at(-1)} at a regular file` },
      );
    }
    if (isSeq(node))
      for (const entry of node.items) if (isMap(entry)) check(entry.get('env_file', true), `${key}.env_file`);
  };
  check(document.get('include', true), 'include', true);
  const services = document.get('services');
  if (!isMap(services)) return;
  for (const service of services.items) {
    if (!isMap(service.value)) continue;
    const name = `services.${String(isScalar(service.key) ? service.key.value : service.key)}`;
    check(service.value.get('env_file', true), `${name}.env_file`);
    check(service.value.get('label_file', true), `${name}.label_file`);
    const extended = service.value.get('extends', true);
    if (isMap(extended)) check(extended.get('file', true), `${name}.extends.file`, true);
  }
}

/**
 * A path as compose interpolates it (compose-spec "Interpolation"): `$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:+other}`, `${VAR+other}`, nested (`${A:-${B:-/x}}`), `$$` for `$`; an unset
 * variable is empty. With `${VAR:?error}` / `${VAR?error}` the variable's value, or undefined when it
 * is missing (compose fails with the error itself). Returns undefined for what it cannot read (an
 * unclosed brace, a `$` before no name): compose judges those.
 */
export function interpolatePath(
  text: string,
  variables: Record<string, string | undefined>,
): string | undefined {
  try {
    return expand(text, 0, variables, false).out;
  } catch (error) {
    if (error === UNREADABLE) return undefined;
    throw error;
  }
}

const UNREADABLE = Symbol('unreadable interpolation');
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const OPERATOR = /:?[-?+]/y;

function matchAt(pattern: RegExp, text: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(text)?.[0];
}

/** Expands `text` from `at` to its end, or (`inBraces`) to the `}` that closes the reference it is in. */
function expand(
  text: string,
  at: number,
  variables: Record<string, string | undefined>,
  inBraces: boolean,
): { out: string; end: number } {
  let out = '';
  let i = at;
  while (i < text.length) {
    const char = text[i];
    if (inBraces && char === '}') return { out, end: i };
    if (char !== '$') {
      out += char;
      i += 1;
      continue;
    }
    if (text[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i + 1] !== '{') {
      const name = matchAt(NAME, text, i + 1);
      if (name === undefined) throw UNREADABLE;
      out += variables[name] ?? '';
      i += 1 + name.length;
      continue;
    }
    const name = matchAt(NAME, text, i + 2);
    if (name === undefined) throw UNREADABLE;
    let end = i + 2 + name.length;
    const operator = matchAt(OPERATOR, text, end);
    let operand = '';
    if (operator !== undefined)
      ({ out: operand, end } = expand(text, end + operator.length, variables, true));
    if (text[end] !== '}') throw UNREADABLE;
    out += substitute(variables[name], operator, operand);
    i = end + 1;
  }
  if (inBraces) throw UNREADABLE;
  return { out, end: i };
}

function substitute(value: string | undefined, operator: string | undefined, operand: string): string {
  const empty = value === undefined || value === '';
  switch (operator) {
    case ':-':
      return empty ? operand : value;
    case '-':
      return value ?? operand;
    case ':+':
      return empty ? '' : operand;
    case '+':
      return value === undefined ? '' : operand;
    case ':?':
    case '?':
      if (operator === ':?' ? empty : value === undefined) throw UNREADABLE;
      return value ?? '';
    default:
      return value ?? '';
  }
}
