import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError, UserFileError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { looksSecretName, registerSecretValue } from '../util/secret.js';
import { readUserYamlText } from '../util/user-file.js';
import type { ProviderCatalog } from './catalog.js';
import { missingEnvFileError, readDotenvFiles } from './dotenv.js';
import { chooseEnvironment, type EnvironmentPurpose } from './environment.js';
import { interpolate, stripExtensionKeys } from './interpolate.js';
import { type ConfigIssue, formatIssue, formatPath, type PathSegment, sortIssues } from './issues.js';
import { locateConfig } from './locate.js';
import { buildConfigSchema, type Config } from './schema.js';
import { checkMinimumVersion, explainLegacyKeys } from './upgrades.js';
import { MAX_YAML_BYTES, tooDeep } from './yaml-guard.js';
import { YamlSource } from './yaml-source.js';
import { translateIssues } from './zod-issues.js';

export interface LoadOptions {
  cwd: string;
  /** --config / STAGECRAFT_CONFIG. */
  path?: string;
  /** --env / STAGECRAFT_ENV. */
  envName?: string;
  purpose: EnvironmentPurpose;
  processEnv: Record<string, string | undefined>;
  catalog: ProviderCatalog;
}

export interface LoadedConfig {
  file: string;
  /** The project root: the folder of stagecraft.yml. */
  root: string;
  config: Config;
  /** The selected environment, if any. */
  envName: string | undefined;
  /** Variables of the selected environment: its env_file(s), then the process environment. */
  variables: Record<string, string>;
  /** The selected environment's env files (absolute paths, in order): compose gets them as `--env-file`. */
  envFiles: string[];
  /** Warnings found while loading (e.g. `${NAME}` in an env file that nothing sets), as compose prints them. */
  warnings: string[];
  /** Key paths whose values came from secret variables; printed redacted. */
  secretPaths: PathSegment[][];
  /** The providers the config was validated against: the core finds a selected provider's hooks here. */
  catalog: ProviderCatalog;
  /** `file:line:column` of the value at a key path in stagecraft.yml, or undefined where it is not written. */
  locate?: (path: readonly PathSegment[]) => string | undefined;
}

/** Most problems a ConfigError lists; the rest are counted (a generated file may have thousands). */
const MAX_LISTED_ISSUES = 100;

export class ConfigError extends UserError {
  readonly issues: ConfigIssue[];

  constructor(file: string, issues: ConfigIssue[]) {
    const sorted = sortIssues(issues);
    const listed = sorted.slice(0, MAX_LISTED_ISSUES).map(formatIssue);
    if (sorted.length > listed.length) listed.push(`… and ${sorted.length - listed.length} more`);
    super(`${file} has ${sorted.length} problem${sorted.length === 1 ? '' : 's'}`, {
      details: listed,
      hint: 'fix the keys above; `stagecraft schema` prints every key with its type',
    });
    this.issues = sorted;
  }
}

/**
 * Every env file the config names, absolute: each environment's `env_file` and the envfile secrets
 * provider's `source_file`. They hold settings and secrets, not code: the version leaves them out.
 */
export function configuredEnvFiles(root: string, config: unknown): string[] {
  const raw = config as {
    environments?: Record<string, { env_file?: unknown } | null>;
    secrets?: { providers?: { envfile?: { source_file?: unknown } | null } | null } | null;
  } | null;
  const files = Object.values(raw?.environments ?? {}).flatMap((env) => envFiles(env?.env_file));
  const source = raw?.secrets?.providers?.envfile?.source_file;
  if (typeof source === 'string') files.push(source);
  return [...new Set(files.map((file) => resolvePath(root, file)))].sort();
}

function envFiles(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * Reads an environment's env_file(s) with compose v2's rules (see dotenv.ts) and overlays the process
 * environment, as `docker compose --env-file …` does. A file that does not exist is a UserError when
 * `required` (the selected environment: compose refuses it too), else skipped (another environment's
 * file, e.g. production's on a laptop). `onUnset` hears of `${NAME}` references nothing sets.
 */
export function environmentVariables(
  root: string,
  envFileSetting: unknown,
  processEnv: Record<string, string | undefined>,
  options: { required?: boolean; setting?: string; onUnset?: (name: string, where: string) => void } = {},
): Record<string, string> {
  const files = envFiles(envFileSetting).map((file) => ({ path: resolvePath(root, file), display: file }));
  const variables = readDotenvFiles(
    files,
    processEnv,
    (file) =>
      options.required === true
        ? missingEnvFileError(file.display, file.path, options.setting ?? 'env_file')
        : undefined,
    options.onUnset,
  );
  for (const [name, value] of Object.entries(processEnv)) if (value !== undefined) variables[name] = value;
  return variables;
}

/** Names `secrets.keys` declares (and the variables their from_env reads), from the raw document. */
export function declaredSecretNames(raw: unknown): Set<string> {
  const names = new Set<string>();
  const keys = (raw as { secrets?: { keys?: unknown } } | null)?.secrets?.keys;
  if (!Array.isArray(keys)) return names;
  for (const key of keys) {
    if (typeof key === 'string') names.add(key);
    else if (key !== null && typeof key === 'object') {
      const { name, from_env: fromEnv } = key as { name?: unknown; from_env?: unknown };
      if (typeof name === 'string') names.add(name);
      if (typeof fromEnv === 'string') names.add(fromEnv);
    }
  }
  return names;
}

function rawEnvironments(data: unknown): Record<string, Record<string, unknown>> {
  const envs = (data as { environments?: unknown } | null)?.environments;
  return envs !== null && typeof envs === 'object' && !Array.isArray(envs)
    ? (envs as Record<string, Record<string, unknown>>)
    : {};
}

/**
 * The text of stagecraft.yml: UTF-8, or UTF-16 with its byte order mark (YAML 1.2 §5.2: an editor on
 * Windows may save it so). A file too large, not a regular file or unreadable is a UserError that
 * says which.
 */
function readConfigText(file: string, displayName: string): string {
  const text = readUserYamlText(file, {
    display: displayName,
    maxBytes: MAX_YAML_BYTES,
    hint: 'stagecraft.yml describes a project in a few kilobytes; check that this is the right file',
  });
  if (text === undefined)
    throw new UserError(`cannot read ${displayName}: it does not exist`, {
      hint: 'check the file and its path',
    });
  return text;
}

/**
 * Key paths whose values are never secret: hosts and ssh settings (ssh's argv, DNS), the project and
 * registry names (image references), domains and routes (the gateway's config, TLS certificates).
 */
function inClearPlace(path: readonly PathSegment[]): boolean {
  if (path[0] === 'project') return true;
  const serviceKey =
    path[0] === 'services'
      ? path[2]
      : path[0] === 'environments' && path[2] === 'services'
        ? path[4]
        : undefined;
  if (serviceKey === 'domains' || serviceKey === 'routes') return true;
  // Under ssh, the paths of files (a key's file, known_hosts) are not what they hold.
  if (path[0] === 'environments' && path[2] === 'ssh') return !SSH_FILE_KEYS.has(String(path[3]));
  return path[0] === 'environments' && path[2] === 'hosts';
}

const SSH_FILE_KEYS = new Set(['identity_file', 'known_hosts_file', 'config_file']);

/** Key paths inside a command's argv (`migrations.command`, a dev process's, a secret key's). */
function inCommand(path: readonly PathSegment[]): boolean {
  return path.at(-2) === 'command' && typeof path.at(-1) === 'number';
}

/** Loads, interpolates and validates stagecraft.yml; every problem is reported at once. */
export function loadConfig(options: LoadOptions): LoadedConfig {
  const file = locateConfig(options.cwd, options.path);
  const root = dirname(file);
  const displayName = file.startsWith(`${options.cwd}/`) ? file.slice(options.cwd.length + 1) : file;
  const text = readConfigText(file, displayName);
  const deep = tooDeep(text);
  if (deep !== undefined) {
    const before = text.slice(0, deep.offset).split('\n');
    throw new ConfigError(displayName, [
      {
        file: displayName,
        line: before.length,
        column: before.at(-1)!.length + 1,
        path: '',
        message: deep.message,
      },
    ]);
  }
  const source = YamlSource.parse(displayName, text);

  const syntax = source.syntaxIssues();
  if (syntax.length > 0 && !source.hasOnlyDuplicateKeyErrors()) throw new ConfigError(displayName, syntax);
  const guarded = source.guardIssues();
  if (guarded.length > 0) throw new ConfigError(displayName, [...syntax, ...guarded]);
  if (source.isEmpty()) {
    throw new ConfigError(displayName, [
      {
        file: displayName,
        line: 1,
        column: 1,
        path: '',
        message:
          'the file is empty (only comments or blank lines): expected project, services and environments (`stagecraft init` writes a starting point)',
      },
    ]);
  }

  let plain: unknown;
  try {
    plain = source.toJS();
  } catch (error) {
    // The guard refuses what the yaml library is known to throw on; anything else is still the file's fault.
    throw new ConfigError(displayName, [
      {
        file: displayName,
        line: 1,
        column: 1,
        path: '',
        message: `cannot read the YAML: ${(error as Error).message}`,
      },
    ]);
  }
  const raw = stripExtensionKeys(plain);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(displayName, [
      {
        file: displayName,
        line: 1,
        column: 1,
        path: '',
        message: 'expected a mapping of keys (project, environments, …)',
      },
    ]);
  }
  checkMinimumVersion(raw as Record<string, unknown>, source);
  const environments = rawEnvironments(raw);
  // With no environment at all (a misspelt `environments:`), the schema's errors say why, not this.
  const envName =
    Object.keys(environments).length === 0
      ? undefined
      : chooseEnvironment(Object.keys(environments), options.envName, options.purpose);

  // An env file that is there but cannot be read as one (a folder, a device, a pipe) is reported at
  // the env_file key that names it.
  const locatedEnvFileErrors = <T>(name: string | undefined, read: () => T): T => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof UserFileError) || name === undefined) throw error;
      const path: PathSegment[] = ['environments', name, 'env_file'];
      const position = source.position(path);
      throw new UserError(
        `${displayName}:${position.line}:${position.column} ${formatPath(path)}: ${error.message}`,
        {
          hint: error.hint,
          cause: error,
        },
      );
    }
  };
  const warnings: string[] = [];
  const cache = new Map<string, Record<string, string>>();
  const variablesOf = (name: string | undefined): Record<string, string> => {
    const key = name ?? '';
    let variables = cache.get(key);
    if (variables === undefined) {
      const selected = name !== undefined && name === envName;
      variables = locatedEnvFileErrors(name, () =>
        environmentVariables(
          root,
          name === undefined ? undefined : environments[name]?.['env_file'],
          options.processEnv,
          {
            // Deploying to hosts with a missing env file is an error; config, plan, dev and a local
            // environment (optional, as compose's own `.env` is) go on without it.
            required: selected && options.purpose === 'deploy' && environments[name]?.['driver'] !== 'local',
            setting: `environments.${name}.env_file`,
            ...(selected
              ? {
                  onUnset: (variable: string, where: string) =>
                    warnings.push(
                      `${where}: the "${variable}" variable is not set. Defaulting to a blank string.`,
                    ),
                }
              : {}),
          },
        ),
      );
      cache.set(key, variables);
    }
    return variables;
  };
  // The selected environment's files are read first, so a missing one is reported before anything else.
  const selectedEnvFiles: string[] = [];
  if (envName !== undefined) {
    variablesOf(envName);
    for (const file of envFiles(environments[envName]?.['env_file'])) {
      const path = resolvePath(root, file);
      if (existsSync(path)) selectedEnvFiles.push(path);
      // A local environment's `.env` is optional, as compose's own `.env` is.
      else if (environments[envName]?.['driver'] !== 'local')
        warnings.push(
          `env file ${file} (environments.${envName}.env_file) does not exist; going on without it`,
        );
    }
  }
  // What makes a variable secret is its declaration in secrets.keys (or from_env); the name heuristic
  // is the second net. Every such value is registered for redaction as soon as it is read.
  const declared = declaredSecretNames(raw);
  const isSecret = (name: string) => declared.has(name) || looksSecretName(name);
  const interpolated = interpolate(
    raw,
    (path) =>
      path[0] === 'environments' && typeof path[1] === 'string' ? variablesOf(path[1]) : variablesOf(envName),
    isSecret,
  );
  // Every environment's secrets, not only the selected one's: another environment's section was
  // interpolated with its own env file, and its errors may quote a value.
  variablesOf(envName);
  for (const variables of cache.values()) {
    for (const [name, value] of Object.entries(variables)) if (isSecret(name)) registerSecretValue(value);
  }

  const schema = buildConfigSchema(options.catalog);
  const parsed = schema.safeParse(interpolated.value);
  const issues: ConfigIssue[] = [...syntax];
  // A secret where it would travel in clear: ssh's argv, a DNS lookup, the gateway's routes and TLS
  // names (certificate transparency logs publish them), a command's argv (ps, `docker inspect`).
  for (const path of interpolated.secretPaths) {
    const message = inClearPlace(path)
      ? "takes a secret variable, and this value travels in clear (ssh arguments, DNS, the gateway's routes): give it a value that is not a secret"
      : inCommand(path)
        ? 'takes a secret variable into a command line, where ps and `docker inspect` show it: read it from the environment instead (`$$NAME` in `sh -c`)'
        : undefined;
    if (message === undefined) continue;
    const position = source.position(path);
    issues.push({
      file: displayName,
      line: position.line,
      column: position.column,
      path: formatPath(path),
      message,
    });
  }
  for (const problem of interpolated.problems) {
    const position = source.position(problem.path);
    issues.push({
      file: displayName,
      line: position.line,
      column: position.column,
      path: formatPath(problem.path),
      message: problem.message,
    });
  }
  if (!parsed.success) {
    // A key whose variable is unset is reported once, as that (its raw `${VAR}` text fails the schema too).
    const unset = new Set(issues.map((issue) => issue.path));
    issues.push(
      ...explainLegacyKeys(
        translateIssues(parsed.error.issues, interpolated.value, source, schema),
        raw as Record<string, unknown>,
      ).filter((issue) => !unset.has(issue.path)),
    );
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(displayName, issues);

  // A service environment value under a secret's name is a secret, however it was written.
  const secretPaths = [...interpolated.secretPaths, ...secretEnvironmentPaths(parsed.data, isSecret)];
  for (const path of secretPaths) {
    let value: unknown = interpolated.value;
    for (const segment of path) value = (value as Record<string | number, unknown>)[segment];
    if (typeof value === 'string') registerSecretValue(value);
  }
  return {
    file,
    root,
    config: parsed.data,
    envName,
    variables: variablesOf(envName),
    envFiles: selectedEnvFiles,
    warnings,
    secretPaths,
    catalog: options.catalog,
    locate: (path) => {
      if (!source.document.hasIn(path)) return undefined;
      const position = source.position([...path]);
      return `${displayName}:${position.line}:${position.column}`;
    },
  };
}

/**
 * Key paths of `services.<name>.environment.<KEY>` and `environments.<env>.services.<name>.environment.<KEY>`
 * whose KEY `isSecret` (declared in secrets.keys, or secret by name).
 */
function secretEnvironmentPaths(config: Config, isSecret: (name: string) => boolean): PathSegment[][] {
  const paths: PathSegment[][] = [];
  const add = (services: Config['services'], prefix: PathSegment[]) => {
    for (const [service, settings] of Object.entries(services ?? {})) {
      for (const key of Object.keys(settings?.environment ?? {}))
        if (isSecret(key)) paths.push([...prefix, 'services', service, 'environment', key]);
    }
  };
  add(config.services, []);
  for (const [name, env] of Object.entries(config.environments)) add(env.services, ['environments', name]);
  return paths;
}
