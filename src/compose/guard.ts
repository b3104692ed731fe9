import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { type Document, isMap, isScalar, LineCounter, parseAllDocuments } from 'yaml';
import { parseDotenv } from '../config/dotenv.js';
import type { PathSegment } from '../config/issues.js';
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
 * Returns the other compose files it read (included and extended ones, each once, in the order met)
 * and the env files they name (see ComposeFilesRead.envFiles).
 */
export function guardComposeFile(
  path: string,
  displayName = basename(path),
  projectDir = dirname(path),
  variables: Record<string, string | undefined> = process.env,
): ComposeFilesRead {
  const walk: GuardWalk = {
    variables,
    seen: new Set(),
    rootDir: projectDir,
    envFiles: '',
    read: [],
    named: new Set(),
    via: 'include',
  };
  guardFile(path, displayName, projectDir, walk);
  return {
    files: walk.read.filter(
      (file, index) => index > 0 && walk.read.findIndex((other) => other.path === file.path) === index,
    ),
    envFiles: [...walk.named].sort(),
  };
}

/** What guardComposeFile found compose reads besides the main file. */
export interface ComposeFilesRead {
  /** The compose files the main one includes or extends, each once, in the order met. */
  files: ComposeFileRead[];
  /**
   * The env files compose reads that exist (absolute, sorted): services' `env_file` and an include's
   * `env_file` or `.env`. They hold settings and secrets, not code (a version leaves them out).
   */
  envFiles: string[];
}

/** A compose file that compose reads for the project: the main file, or one it includes or extends. */
export interface ComposeFileRead {
  /** Absolute path. */
  path: string;
  /** How messages name it (relative to the project folder where it lies under it). */
  displayName: string;
  /**
   * 'extends' when it is reached through an `extends.file` (its services are templates of services
   * with other names), else 'include'.
   */
  via: 'include' | 'extends';
}

interface GuardWalk {
  variables: Record<string, string | undefined>;
  /** The compose files already checked, with how (include and extends may repeat or loop). */
  seen: Set<string>;
  /** The include env files whose variables are in force ('' at the top). */
  envFiles: string;
  /** The project folder: nested files are named relative to it. */
  rootDir: string;
  /** Every compose file read, in the order met (the main file first). */
  read: ComposeFileRead[];
  /** The env files met that exist (absolute). */
  named: Set<string>;
  /** How the file being read was reached. */
  via: ComposeFileRead['via'];
}

function guardFile(path: string, displayName: string, projectDir: string, walk: GuardWalk): void {
  // A file is read once per way compose reads it: its folder and variables change what it names.
  const real = pathEntry(path).kind === 'file' ? realpathSync(path) : path;
  const seenAs = `${real}\0${projectDir}\0${walk.envFiles}`;
  if (walk.seen.has(seenAs)) return;
  walk.seen.add(seenAs);
  const text = readUserFile(path, {
    display: displayName,
    maxBytes: MAX_YAML_BYTES,
    hint: 'check that compose.file names the project’s compose file',
  });
  if (text === undefined) return;
  walk.read.push({ path, displayName, via: walk.via });
  const deep = tooDeep(text);
  if (deep !== undefined) {
    const { line, col } = lineCounterOf(text).linePos(deep.offset);
    throw new UserError(`${displayName} is refused: ${displayName}:${line}:${col} ${deep.message}`, {
      hint: `fix ${displayName}: a compose file nests a few levels deep (docker compose config takes minutes on thousands)`,
    });
  }
  const nested = interpolationTooDeep(text);
  if (nested !== undefined) {
    const { line, col } = lineCounterOf(text).linePos(nested);
    throw new UserError(
      `${displayName} is refused: ${displayName}:${line}:${col} nests more than ${MAX_INTERPOLATION_DEPTH} \${…} references`,
      {
        hint: `fix ${displayName}: docker compose config takes minutes on a reference nested thousands deep`,
      },
    );
  }
  const aliases = mayNeedGuard(text);
  const files = /env_file|label_file|include|extends/.test(text);
  // A second YAML document in the file is merged by compose too.
  if (!aliases && !files && !/^---/m.test(text)) return;
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, {
    lineCounter: lines,
    merge: true,
    prettyErrors: false,
    uniqueKeys: false, // compose reports duplicate keys; the library's check is quadratic
  });
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    const problems = aliases
      ? guardYamlDocument(document).filter((problem) => !problem.message.startsWith('key "'))
      : [];
    if (problems.length > 0) {
      const details = problems.map((problem) => {
        const position = lines.linePos(problem.offset);
        return `${displayName}:${position.line}:${position.col} ${problem.message}`;
      });
      throw new UserError(`${displayName} is refused: ${details[0]}`, {
        details: details.slice(1),
        hint: `fix ${displayName}: write the repeated part once and reference it with a single alias`,
      });
    }
    // A document the yaml library finds errors in (go-yaml may not: a flow list continued less
    // indented) is still checked as far as it reads.
    guardReferencedFiles(document, projectDir, displayName, lines, walk);
  }
}

function lineCounterOf(text: string): LineCounter {
  const position = new LineCounter();
  position.addNewLine(0);
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) position.addNewLine(at + 1);
  return position;
}

/** Deepest `${…}` nesting the guard lets compose read (compose's time grows steeply with it). */
export const MAX_INTERPOLATION_DEPTH = 32;

/** Offset of the first `${` nested deeper than MAX_INTERPOLATION_DEPTH, or undefined. `$${` is no reference. */
function interpolationTooDeep(text: string): number | undefined {
  let depth = 0;
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (char === '$' && text[at + 1] === '$') at += 1;
    else if (char === '$' && text[at + 1] === '{') {
      depth += 1;
      if (depth > MAX_INTERPOLATION_DEPTH) return at;
      at += 1;
    } else if (char === '}' && depth > 0) depth -= 1;
  }
  return undefined;
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
 * `{ path, project_directory, env_file }`; without env_file, the included project's own `.env`).
 * `docker compose config` reads a device such as /dev/zero without end and blocks on a FIFO
 * (measured: 24 GB and minutes before it died). The document is read as compose reads it (aliases,
 * merge keys and escaped keys resolved); paths are interpolated as compose does (interpolatePath,
 * `~/` is the home folder); one it cannot read is left to compose. Relative paths are taken from
 * `dir`, the project folder, as compose takes them. An included or extended compose file is then
 * guarded itself (guardFile), with its own project folder and, for an include, its env files'
 * variables. Throws UserError at the entry's `file:line:column` (or the nearest key written there).
 */
function guardReferencedFiles(
  document: Document,
  dir: string,
  displayName: string,
  lines: LineCounter,
  walk: GuardWalk,
): void {
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: -1 });
  } catch {
    return; // what the yaml library cannot resolve, compose cannot either: its error says why
  }
  if (!isRecord(data)) return;
  // Escapes (`\x24{`) become `${` only once the YAML is read: the nesting limit holds for the values too.
  const deep = deepestReference(data, []);
  if (deep !== undefined) {
    const { line, col } = lines.linePos(nearestOffset(document, deep));
    throw new UserError(
      `${displayName} is refused: ${displayName}:${line}:${col} nests more than ${MAX_INTERPOLATION_DEPTH} \${…} references`,
      {
        hint: `fix ${displayName}: docker compose config takes minutes on a reference nested thousands deep`,
      },
    );
  }
  const refuse = (
    path: PathSegment[],
    written: string,
    resolved: string,
    why: string,
    key: string,
  ): never => {
    const { line, col } = lines.linePos(nearestOffset(document, path));
    const note = resolved === written ? '' : ` (${resolved})`;
    throw new UserError(`${displayName}:${line}:${col} ${key}: ${written}${note} ${why}`, {
      hint: `point ${key.split('.').at(-1)} at a regular file`,
    });
  };
  /** Checks one path; returns the file it names when that is a regular file of a sane size. */
  const check = (value: unknown, path: PathSegment[], key: string, base = dir): string | undefined => {
    if (typeof value !== 'string') return undefined;
    const interpolated = value.includes('$') ? interpolatePath(value, walk.variables) : value;
    if (interpolated === undefined || interpolated === '') return undefined;
    const home = walk.variables['HOME'] ?? homedir();
    const file = interpolated.startsWith('~/')
      ? join(home, interpolated.slice(2))
      : resolve(base, interpolated);
    const found = pathEntry(file);
    if (found.kind === 'other') refuse(path, value, interpolated, found.why, key);
    if (found.kind === 'file' && found.size > MAX_USER_FILE_BYTES)
      refuse(
        path,
        value,
        interpolated,
        `is ${found.size} bytes: larger than the ${MAX_USER_FILE_BYTES}-byte limit`,
        key,
      );
    return found.kind === 'file' ? file : undefined;
  };
  /** A string, a list of strings, or a list of `{ path }`: each entry's path and the file it names. */
  const entries = (value: unknown, path: PathSegment[]): [unknown, PathSegment[]][] => {
    if (!Array.isArray(value))
      return [[isRecord(value) ? value['path'] : value, isRecord(value) ? [...path, 'path'] : path]];
    return value.map((item, index) =>
      isRecord(item) ? [item['path'], [...path, index, 'path']] : [item, [...path, index]],
    );
  };

  const include = data['include'];
  for (const [index, item] of (Array.isArray(include)
    ? include
    : include === undefined
      ? []
      : [include]
  ).entries()) {
    const at: PathSegment[] = Array.isArray(include) ? ['include', index] : ['include'];
    const spec: Record<string, unknown> = isRecord(item) ? item : { path: item };
    const paths = Array.isArray(spec['path']) ? spec['path'] : [spec['path']];
    const included = paths.map((path, n) =>
      check(
        path,
        isRecord(item) ? [...at, 'path', ...(Array.isArray(spec['path']) ? [n] : [])] : at,
        'include',
        dir,
      ),
    );
    const first = included[0];
    const projectDirectory =
      typeof spec['project_directory'] === 'string'
        ? resolve(
            dir,
            interpolatePath(spec['project_directory'], walk.variables) ?? spec['project_directory'],
          )
        : first === undefined
          ? undefined
          : dirname(first);
    const envFiles: string[] = [];
    if (spec['env_file'] !== undefined) {
      for (const [value, path] of entries(spec['env_file'], [...at, 'env_file'])) {
        const file = check(value, path, 'include.env_file', dir);
        if (file !== undefined) envFiles.push(file);
      }
    } else if (projectDirectory !== undefined) {
      const file = check(join(projectDirectory, '.env'), at, 'include (its .env)', dir);
      if (file !== undefined) envFiles.push(file);
    }
    for (const file of envFiles) walk.named.add(file);
    const variables = { ...includeVariables(envFiles), ...walk.variables };
    for (const file of included) {
      if (file === undefined) continue;
      const shown = relative(walk.rootDir, file);
      guardFile(
        file,
        shown.startsWith('..') || isAbsolute(shown) ? file : shown,
        projectDirectory ?? dirname(file),
        { ...walk, variables, envFiles: envFiles.length > 0 ? envFiles.join('\0') : walk.envFiles },
      );
    }
  }
  const services = data['services'];
  if (!isRecord(services)) return;
  for (const [name, service] of Object.entries(services)) {
    if (!isRecord(service)) continue;
    const at: PathSegment[] = ['services', name];
    for (const key of ['env_file', 'label_file'] as const) {
      if (service[key] === undefined) continue;
      for (const [value, path] of entries(service[key], [...at, key])) {
        const file = check(value, path, `services.${name}.${key}`);
        if (file !== undefined && key === 'env_file') walk.named.add(file);
      }
    }
    const extended = service['extends'];
    if (isRecord(extended)) {
      const file = check(extended['file'], [...at, 'extends', 'file'], `services.${name}.extends.file`);
      if (file !== undefined) {
        const shown = relative(walk.rootDir, file);
        guardFile(file, shown.startsWith('..') || isAbsolute(shown) ? file : shown, dirname(file), {
          ...walk,
          via: 'extends',
        });
      }
    }
  }
}

/** The path of the first string (key or value) under `value` nested deeper than MAX_INTERPOLATION_DEPTH. */
function deepestReference(value: unknown, path: PathSegment[]): PathSegment[] | undefined {
  if (typeof value === 'string') return interpolationTooDeep(value) === undefined ? undefined : path;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = deepestReference(item, [...path, index]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (interpolationTooDeep(key) !== undefined) return [...path, key];
      const found = deepestReference(item, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The values of an include's env files (regular files the guard let through), for its interpolation. */
function includeVariables(files: string[]): Record<string, string> {
  const into: Record<string, string> = {};
  for (const file of files) {
    try {
      parseDotenv(readUserFile(file) ?? '', { into });
    } catch {
      // a syntax error is compose's to report
    }
  }
  return into;
}

/**
 * Offset of `path` as written: the value's node, or where the value comes through an alias or merge
 * key, the nearest key on the path that the document has.
 */
function nearestOffset(document: Document, path: readonly PathSegment[]): number {
  for (let length = path.length; length > 0; length--) {
    const node = document.getIn(path.slice(0, length), true) as
      | { range?: [number, number, number] }
      | undefined;
    if (length === path.length && node?.range !== undefined) return node.range[0];
    const parent = length === 1 ? document.contents : document.getIn(path.slice(0, length - 1), true);
    if (isMap(parent)) {
      const pair = parent.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(path[length - 1]),
      );
      if (isScalar(pair?.key) && pair.key.range !== undefined && pair.key.range !== null)
        return pair.key.range[0];
    }
  }
  return 0;
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
