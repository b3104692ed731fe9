import { statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { formatPath, type PathSegment } from '../config/issues.js';
import { FORBIDDEN_KEYS } from '../config/yaml-guard.js';
import { composeConfigArgs } from '../docker/compose.js';
import { ExternalError, TimedOutError, UserError } from '../util/errors.js';
import { pathEntry } from '../util/user-file.js';
import { composeErrorPath, resolveComposeErrorPath } from './error-location.js';
import { type ComposeFilesRead, guardComposeFile } from './guard.js';
import { composeLocator, located } from './locate.js';
import type { ComposeProject } from './types.js';

/** Runs one command on this machine (the lead passes the local runner's `exec`). */
export type ComposeExec = (
  argv: readonly string[],
  options: { env?: Record<string, string>; allowFailure?: boolean; timeoutMs?: number },
) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/**
 * How long one `docker compose config` may run (ms). It takes 0.2–1 s; once, on a loaded CI
 * machine, one never returned, so a read that passes this is stopped and run once more. Both tries
 * and their kills (FORCE_KILL_AFTER_MS each) stay under 30 s: an input that hangs compose fails
 * in bounded time.
 */
export const COMPOSE_CONFIG_TIMEOUT_MS = 10_000;

/**
 * Runs a `docker compose config` read (`argv`, which changes nothing) with COMPOSE_CONFIG_TIMEOUT_MS,
 * and once more when it times out. Returns what `exec` returns; throws the second TimedOutError
 * (exit 2), or whatever else `exec` throws.
 */
export async function runComposeConfig(
  exec: ComposeExec,
  argv: readonly string[],
  options: { env?: Record<string, string> },
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const once = () => exec(argv, { ...options, allowFailure: true, timeoutMs: COMPOSE_CONFIG_TIMEOUT_MS });
  try {
    return await once();
  } catch (error) {
    if (!(error instanceof TimedOutError)) throw error;
    return await once();
  }
}

export interface ReadComposeOptions {
  /** The compose file; relative paths are taken from `projectDir`. */
  file: string;
  /** The project folder: relative paths and `.env` are resolved from it (`--project-directory`). */
  projectDir: string;
  /**
   * Variables added to compose's environment (over this process's own), e.g. STAGECRAFT_VERSION.
   * With `envFiles`, the files' values are left for compose to read.
   */
  variables: Record<string, string>;
  /** The environment's env files (`--env-file`, in order); [] = none (not even `.env`). */
  envFiles?: string[];
  exec: ComposeExec;
  /** `--profile` for each (config `compose.profiles`). */
  profiles?: string[];
  /** Called with each warning compose prints (e.g. a variable that is not set). */
  onWarning?: (line: string) => void;
  /**
   * What compose interpolates the file's paths with, for the guard (guardComposeFile): the process
   * environment over the env files' values. Default: this process's environment and `variables`.
   */
  interpolation?: Record<string, string | undefined>;
  /** Told the compose files the main one includes or extends and the env files they name (guardComposeFile's answer). */
  onFilesRead?: (read: ComposeFilesRead) => void;
  /** The compose project the file runs as (ComposeConfigOptions.projectName). */
  projectName?: string;
}

/** Env files larger than this (1 MiB) are named when compose times out: it reads them slowly. */
const LARGE_ENV_FILE_BYTES = 1024 * 1024;

/** The size of a file in bytes, or 0 when it cannot be read. */
function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * The normalised compose model: runs `docker compose -f <file> --project-directory <dir> config
 * --format json` with `variables` in its environment and parses what it prints. Compose prints every
 * literal `$` in a string as `$$` (its own escape), absolute paths for build contexts and bind
 * mounts, `env_file` already merged into `environment`, durations in Go form ("1m30s", "2m0s").
 * Throws UserError for a file the guard refuses or compose rejects, ExternalError when docker compose
 * is missing, TimedOutError (exit 2) when compose did not finish twice.
 */
export async function readCompose(options: ReadComposeOptions): Promise<ComposeProject> {
  const file = isAbsolute(options.file) ? options.file : resolve(options.projectDir, options.file);
  const shown = relative(options.projectDir, file);
  const others = guardComposeFile(
    file,
    shown.startsWith('..') || isAbsolute(shown) ? file : shown,
    options.projectDir,
    options.interpolation ?? { ...process.env, ...options.variables },
  );
  options.onFilesRead?.(others);
  const argv = composeConfigArgs({
    file,
    projectDir: options.projectDir,
    profiles: options.profiles,
    ...(options.envFiles === undefined ? {} : { envFiles: options.envFiles }),
    ...(options.projectName === undefined ? {} : { projectName: options.projectName }),
  });
  let result: { exitCode: number; stdout: string; stderr: string };
  try {
    result = await runComposeConfig(options.exec, argv, { env: { ...options.variables } });
  } catch (error) {
    if (isNotFound(error)) throw dockerMissing(error);
    if (error instanceof TimedOutError) {
      const large = (options.envFiles ?? []).find((envFile) => fileSize(envFile) > LARGE_ENV_FILE_BYTES);
      throw new TimedOutError(
        `docker compose config did not finish reading ${options.file} in ${COMPOSE_CONFIG_TIMEOUT_MS / 1000} s, twice`,
        {
          hint:
            large === undefined
              ? `a file it reads may be a device or a pipe (env_file, label_file, include, extends.file): run \`docker compose config\` in ${options.projectDir} to see which`
              : `the env file ${large} weighs ${(fileSize(large) / 1024 / 1024).toFixed(1)} MB, and compose reads env files slowly: keep it to the variables the project uses (a few kilobytes)`,
          command: argv.join(' '),
        },
      );
    }
    throw error;
  }
  const lines = result.stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const warnings = [...new Set(lines.filter(isWarning))];
  const errors = lines.filter((line) => !isWarning(line));
  if (result.exitCode === 127) throw dockerMissing();
  if (result.exitCode !== 0) {
    const text = errors.join('\n');
    if (
      /unknown command|is not a docker command|unknown shorthand flag: 'f'|unknown flag: --project-directory/.test(
        text,
      )
    ) {
      throw new ExternalError('docker compose (v2) is not installed', {
        hint: 'install the Docker Compose v2 plugin (package docker-compose-plugin); `stagecraft doctor` shows how',
        command: argv.join(' '),
        details: errors,
      });
    }
    if (/no such file or directory/.test(text) && text.includes(file)) {
      throw new UserError(`compose file not found: ${options.file}`, {
        hint: 'set compose.file in stagecraft.yml or create docker-compose.yml',
        command: argv.join(' '),
      });
    }
    const noise = /^decoding failed due to the following error/;
    const meaningful = errors.filter((line) => !noise.test(line));
    const message = stripComposePrefix(meaningful.at(-1) ?? `exit code ${result.exitCode}`);
    const tokens = composeErrorPath(message);
    const display = shown.startsWith('..') || isAbsolute(shown) ? file : shown;
    const at =
      tokens === undefined ? undefined : resolveComposeErrorPath(composeLocator(file, display), tokens);
    throw new UserError(`${options.file} is not a valid compose file: ${located(at, message)}`, {
      hint: `fix ${options.file}; \`docker compose config\` in ${options.projectDir} shows the same error`,
      command: argv.join(' '),
      details: [...warnings, ...meaningful.slice(0, -1)],
    });
  }
  for (const warning of [...new Set(warnings.map(cleanWarning))]) options.onWarning?.(warning);
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch (error) {
    throw new ExternalError('docker compose config did not print JSON', {
      hint: 'check `docker compose version` (Stagecraft needs compose v2.20 or newer)',
      command: argv.join(' '),
      cause: error,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ExternalError('docker compose config printed an unexpected document', {
      command: argv.join(' '),
    });
  }
  const project = parsed as ComposeProject;
  if (project.services === undefined || project.services === null) project.services = {};
  const display = shown.startsWith('..') || isAbsolute(shown) ? file : shown;
  refuseOptionLikeNames(project, file, display);
  refuseObjectInternals(project, file, display);
  return project;
}

/**
 * Refuses a key named like an object internal (`__proto__`, `constructor`, `prototype`) anywhere in
 * the model (a service, a volume, an environment variable): a plain-object reader drops or misreads
 * it (a service `__proto__` became the prototype of the hosts' services). Throws UserError at its
 * `file:line:column` where the file has it (else the nearest key it has).
 */
function refuseObjectInternals(project: ComposeProject, file: string, shown: string): void {
  const path = internalKeyPath(project, []);
  if (path === undefined) return;
  throw new UserError(
    located(
      composeLocator(file, shown).nearest(path),
      `${formatPath(path)}: the key "${String(path.at(-1))}" names an object internal and is refused`,
    ),
    { hint: `rename it in ${shown}` },
  );
}

function internalKeyPath(value: unknown, path: PathSegment[]): PathSegment[] | undefined {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = internalKeyPath(item, [...path, index]);
      if (found !== undefined) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) return [...path, key];
      const found = internalKeyPath((value as Record<string, unknown>)[key], [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Refuses a service whose name starts with `-`: compose accepts it, but on the hosts it would be read
 * as an option of `docker compose pull|up|stop … <service>` (`--help` makes the pull print its usage
 * and pull nothing). Throws UserError at the name's `file:line:column` where the file has it.
 */
function refuseOptionLikeNames(project: ComposeProject, file: string, shown: string): void {
  const name = Object.keys(project.services).find((candidate) => candidate.startsWith('-'));
  if (name === undefined) return;
  throw new UserError(
    located(
      composeLocator(file, shown).key(['services', name]),
      `service "${name}" starts with "-": docker would read it as an option`,
    ),
    { hint: `rename the service in ${shown} (a letter or digit first, as in stagecraft.yml)` },
  );
}

/** The compose file names looked for, in order, when `compose.file` is not set. */
export const COMPOSE_FILE_NAMES = [
  'docker-compose.yml',
  'docker-compose.yaml',
  'compose.yaml',
  'compose.yml',
];

/**
 * The compose file of a project (absolute path), or undefined when there is none: `compose.file`
 * from stagecraft.yml, else the first of COMPOSE_FILE_NAMES in `root`. Throws UserError when
 * `compose.file` names a file that does not exist, and when the file found is not a regular file;
 * `at` is where compose.file is written (`stagecraft.yml:8:9`), which the error then starts with.
 */
export function findComposeFile(
  root: string,
  config: { compose?: { file?: string } | undefined },
  at?: string,
): string | undefined {
  const configured = config.compose?.file;
  if (configured !== undefined) {
    const path = isAbsolute(configured) ? configured : resolve(root, configured);
    const entry = pathEntry(path);
    if (entry.kind === 'missing') {
      throw new UserError(
        at === undefined
          ? `compose file not found: ${configured} (compose.file in stagecraft.yml)`
          : `${at} compose.file: compose file not found: ${configured}`,
        { hint: `create ${configured} or point compose.file at the project's compose file` },
      );
    }
    if (entry.kind === 'other') {
      throw new UserError(
        at === undefined
          ? `compose file ${configured} (compose.file in stagecraft.yml) ${entry.why}`
          : `${at} compose.file: ${configured} ${entry.why}`,
        { hint: "point compose.file at the project's compose file" },
      );
    }
    return path;
  }
  // The first name that is there; one that is there but is no file (a symlink loop, a folder) is
  // reported as that, not skipped.
  for (const name of COMPOSE_FILE_NAMES) {
    const entry = pathEntry(join(root, name));
    if (entry.kind === 'file') return join(root, name);
    if (entry.kind === 'other')
      throw new UserError(`${join(root, name)} ${entry.why}`, {
        hint: `replace it with the project's compose file, or set compose.file in stagecraft.yml`,
      });
  }
  return undefined;
}

/**
 * A warning when `compose.file` is not set and `root` holds more than one of COMPOSE_FILE_NAMES:
 * Stagecraft takes the first of its list (docker-compose.yml), while `docker compose` without `-f`
 * takes compose.yaml first, so the two would run different files. Undefined otherwise.
 */
export function ambiguousComposeFiles(
  root: string,
  config: { compose?: { file?: string } | undefined },
): string | undefined {
  if (config.compose?.file !== undefined) return undefined;
  const present = COMPOSE_FILE_NAMES.filter((name) => pathEntry(join(root, name)).kind === 'file');
  if (present.length < 2) return undefined;
  return `${present.join(' and ')} are both here: Stagecraft uses ${present[0]}, but \`docker compose\` without -f uses ${DOCKER_COMPOSE_ORDER.find((name) => present.includes(name))}; set compose.file in stagecraft.yml (or remove the other file) so both run the same one`;
}

/**
 * Warnings for what plain `docker compose` would add to `file` that Stagecraft does not: an override
 * file beside it (compose-go's DefaultOverrideFileNames, merged when compose runs without -f), and
 * COMPOSE_FILE / COMPOSE_PROJECT_NAME among `variables` (compose reads them from its env files and
 * the shell; Stagecraft reads compose.file as project `projectName`). [] when there is none.
 */
export function composeAdditions(
  file: string,
  variables: Record<string, string | undefined>,
  projectName: string | undefined,
): string[] {
  const name = basename(file);
  const override = OVERRIDE_FILE_NAMES.find(
    (candidate) => candidate !== name && pathEntry(join(dirname(file), candidate)).kind === 'file',
  );
  const warnings: string[] = [];
  if (override !== undefined && COMPOSE_FILE_NAMES.includes(name)) {
    warnings.push(
      `${override} is here: plain \`docker compose\` merges it into ${name}, Stagecraft deploys ${name} alone (as \`docker compose -f ${name}\`); keep only laptop settings in ${override}, and what the servers need in ${name}`,
    );
  }
  const set = (variable: string) => (variables[variable] ?? '') !== '';
  if (set('COMPOSE_FILE'))
    warnings.push(
      `COMPOSE_FILE is set, but Stagecraft reads only ${name} (compose.file in stagecraft.yml): the files it lists are not merged`,
    );
  if (set('COMPOSE_PROJECT_NAME') && projectName !== undefined)
    warnings.push(
      `COMPOSE_PROJECT_NAME is set, but Stagecraft runs the file as compose project ${projectName} (<project.name>-<environment>)`,
    );
  return warnings;
}

/** The override files `docker compose` merges when run without -f (compose-go's DefaultOverrideFileNames). */
const OVERRIDE_FILE_NAMES = [
  'compose.override.yml',
  'compose.override.yaml',
  'docker-compose.override.yml',
  'docker-compose.override.yaml',
];

/** The order `docker compose` looks for its default file in (compose-go's DefaultFileNames). */
const DOCKER_COMPOSE_ORDER = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

/**
 * The compose file of a project (absolute path), as findComposeFile (`at` as there); throws UserError
 * when there is none (a deploy needs one).
 */
export function composeFileFor(
  root: string,
  config: { compose?: { file?: string } | undefined },
  at?: string,
): string {
  const path = findComposeFile(root, config, at);
  if (path !== undefined) return path;
  throw new UserError(`no compose file in ${root}`, {
    hint: `create docker-compose.yml (or compose.yaml), or set compose.file in stagecraft.yml`,
  });
}

function isWarning(line: string): boolean {
  return /^WARN\[\d+\]/.test(line) || /level=warn(ing)?\b/.test(line);
}

function cleanWarning(line: string): string {
  const logfmt = /^time="[^"]*"\s+level=warn(?:ing)?\s+msg="(.*)"$/.exec(line);
  if (logfmt?.[1] !== undefined) return logfmt[1].replace(/\\(["\\])/g, '$1');
  return line.replace(/^WARN\[\d+\]\s*/, '');
}

function stripComposePrefix(message: string): string {
  return message.replace(/^validating [^:]+: /, '');
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}

function dockerMissing(cause?: unknown): ExternalError {
  return new ExternalError('docker is not installed (or not on PATH)', {
    hint: 'install Docker Engine with the compose v2 plugin; `stagecraft doctor` shows how',
    cause,
  });
}
