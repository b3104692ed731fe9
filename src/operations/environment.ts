import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { baseImages } from '../compose/build-file.js';
import type { ComposeFilesRead } from '../compose/guard.js';
import { withConfiguredHealthchecks } from '../compose/health.js';
import { type ComposeLocator, composeLocator } from '../compose/locate.js';
import {
  ambiguousComposeFiles,
  type ComposeExec,
  composeAdditions,
  composeFileFor,
  readCompose,
} from '../compose/read.js';
import type { ComposeProject } from '../compose/types.js';
import type { EnvironmentPurpose } from '../config/environment.js';
import type { LoadedConfig } from '../config/load.js';
import { MAX_YAML_BYTES } from '../config/yaml-guard.js';
import {
  buildEnvironmentModel,
  composeProjectName,
  type EnvironmentModel,
  serviceSettings,
} from '../model/environment.js';
import { projectModel } from '../model/project.js';
import { runLocalViaCliPlugin } from '../runners/cli-plugin.js';
import { readInfraState } from '../state/infra.js';
import { UserError, UserFileError } from '../util/errors.js';
import { looksSecretName, registerSecretValue } from '../util/secret.js';
import { pathEntry, readUserFile } from '../util/user-file.js';
import { relativeBindSourcesOutside } from './project-files.js';
import type { Session } from './session.js';

export interface LoadedEnvironment {
  loaded: LoadedConfig;
  compose: ComposeProject;
  model: EnvironmentModel;
  /** Values of the environment's secret variables (declared in `secrets.keys`, or secret by name). */
  secretValues: string[];
  /** Bind-mount sources written relative in the compose file that lie outside the project folder. */
  relativeBindSources: Set<string>;
  /** Where keys are in the compose file as written (`file:line:column` for errors). */
  locateCompose: ComposeLocator;
  /** The env files compose reads (services' and includes' `env_file`), absolute, sorted. */
  composeEnvFiles: string[];
  /** The compose secrets' `file:`s, absolute, sorted. A version leaves them and composeEnvFiles out. */
  composeSecretFiles: string[];
}

/**
 * Secret values at least this long make a variable that holds one secret too (`PGPASS=${DB_PASSWORD}`
 * in an env file); shorter ones are also ordinary words of other values (`shop`).
 */
const MIN_DERIVED_SECRET_LENGTH = 6;

/**
 * Names of the variables that hold secrets: `secrets.keys`, any whose name says so, and any whose
 * value holds such a secret's value (MIN_DERIVED_SECRET_LENGTH or longer). Sorted.
 */
export function secretNames(loaded: LoadedConfig): string[] {
  const declared = (projectModel(loaded).secrets?.keys ?? []).flatMap((key) =>
    key.fromEnv === undefined ? [key.name] : [key.name, key.fromEnv],
  );
  const named = new Set([...declared, ...Object.keys(loaded.variables).filter(looksSecretName)]);
  const values = [...named]
    .map((name) => loaded.variables[name])
    .filter((value): value is string => value !== undefined && value.length >= MIN_DERIVED_SECRET_LENGTH);
  const derived =
    values.length === 0
      ? []
      : Object.entries(loaded.variables)
          .filter(([name, value]) => !named.has(name) && values.some((secret) => value.includes(secret)))
          .map(([name]) => name);
  return [...new Set([...named, ...derived])].sort();
}

/** `NAME: …${VAR}…` or `- NAME=…$VAR…` on one line of a compose file: a variable set from another. */
const ASSIGNED_FROM =
  /^\s*(?:-\s*)?["']?([A-Za-z_][A-Za-z0-9_]*)["']?\s*[:=].*?\$\{?([A-Za-z_][A-Za-z0-9_]*)/;

/**
 * Registers for redaction the values of variables the compose file assigns to a secret-named key
 * (`APP_SECRET: ${SEED}`): compose's own errors may quote them (`Invalid hostPort: <value>`) before
 * the model says which values are secret. A line-by-line look at the text; an unreadable file is
 * left to the reader that follows.
 */
function registerSecretSources(file: string, variables: Record<string, string>): void {
  let text: string | undefined;
  try {
    text = readUserFile(file, { maxBytes: MAX_YAML_BYTES });
  } catch {
    return;
  }
  for (const line of text?.split('\n') ?? []) {
    const match = ASSIGNED_FROM.exec(line);
    if (match === null || !looksSecretName(match[1]!)) continue;
    const value = variables[match[2]!];
    if (value !== undefined) registerSecretValue(value);
  }
}

/**
 * Runs `read`; a UserFileError about `file` itself (the compose file too large, say) is thrown again
 * starting with `at`, where stagecraft.yml's compose.file names it.
 */
async function atComposeFileKey<T>(at: string | undefined, file: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (at === undefined || !(error instanceof UserFileError) || error.path !== file) throw error;
    throw new UserError(`${at} compose.file: ${error.message}`, { hint: error.hint ?? '', cause: error });
  }
}

/**
 * Warnings for files and folders of the project bind-mounted read-write (a folder of uploads, a
 * SQLite file): each release uploads its own copy, so what a container writes there stays behind in
 * that release's folder (and goes with it).
 */
function writableProjectMounts(compose: ComposeProject, root: string): string[] {
  const warnings: string[] = [];
  for (const [name, spec] of Object.entries(compose.services)) {
    for (const mount of spec.volumes ?? []) {
      if (mount.type !== 'bind' || typeof mount.source !== 'string' || mount.read_only === true) continue;
      const shown = relative(root, mount.source);
      if (shown === '' || shown.startsWith('..') || isAbsolute(shown)) continue;
      if (statSync(mount.source, { throwIfNoEntry: false }) === undefined) continue;
      warnings.push(
        `service ${name} mounts ./${shown} read-write at ${mount.target}: every release gets its own copy from this machine, so what the container writes there stays behind with that release: keep data in a named volume, or mount it :ro`,
      );
    }
  }
  return warnings;
}

/** The variable a "… variable is not set …" warning is about, if it is one. */
function unsetVariable(warning: string): string | undefined {
  return /the "([^"]+)" variable is not set/i.exec(warning)?.[1];
}

/**
 * Loads stagecraft.yml and the compose file, and resolves the environment's model. Compose reads the
 * environment's env files itself (`--env-file`, never the project's `.env` unless it is one of them)
 * and sees this process's environment plus STAGECRAFT_ENV and whatever `extraVariables` adds
 * (STAGECRAFT_VERSION). Compose's warnings are shown; with `compose.strict` they are a UserError.
 */
export async function loadEnvironment(
  context: Session,
  purpose: EnvironmentPurpose,
  extraVariables: (loaded: LoadedConfig) => Promise<Record<string, string>> = async () => ({}),
): Promise<LoadedEnvironment> {
  const loaded = await context.loadConfig(purpose);
  const project = projectModel(loaded);
  const file = composeFileFor(loaded.root, project, loaded.locate?.(['compose', 'file']));
  const ambiguous = ambiguousComposeFiles(loaded.root, project);
  if (ambiguous !== undefined) context.output.warn(ambiguous);
  // Plain `docker compose` would read it; Stagecraft reads only the environment's env files.
  if (
    loaded.envName !== undefined &&
    loaded.envFiles.length === 0 &&
    pathEntry(join(dirname(file), '.env')).kind === 'file'
  ) {
    context.output.warn(
      `.env is here, but environment ${loaded.envName} has no env_file, so its values are not used (plain \`docker compose\` would read it): list it under environments.${loaded.envName}.env_file to use it`,
    );
  }
  // Read as the hosts run it: `${COMPOSE_PROJECT_NAME}` and default names are the environment's.
  const projectName =
    loaded.envName === undefined
      ? {}
      : { projectName: composeProjectName(loaded.config.project.name, loaded.envName) };
  for (const warning of composeAdditions(file, loaded.variables, projectName.projectName))
    context.output.warn(warning);
  const warnings: string[] = [];
  const variables = { STAGECRAFT_ENV: loaded.envName ?? '', ...(await extraVariables(loaded)) };
  const exec: ComposeExec = (argv, options) =>
    runLocalViaCliPlugin(argv, 'compose', {
      ...options,
      cwd: loaded.root,
      allowFailure: true,
      ownProcessGroup: true,
    });
  const composeFileAt = loaded.locate?.(['compose', 'file']);
  // compose takes relative paths from the compose file's folder (its default project directory).
  const composeDir = dirname(file);
  registerSecretSources(file, loaded.variables);
  let composeRead: ComposeFilesRead = { files: [], envFiles: [] };
  const resolved = await atComposeFileKey(composeFileAt, file, () =>
    readCompose({
      onFilesRead: (read) => {
        composeRead = read;
      },
      file,
      projectDir: composeDir,
      envFiles: loaded.envFiles,
      variables,
      ...(project.compose.profiles ? { profiles: project.compose.profiles } : {}),
      ...projectName,
      exec,
      onWarning: (warning) => warnings.push(warning),
      interpolation: { ...loaded.variables, ...variables },
    }),
  );
  const envSettings = loaded.envName === undefined ? undefined : loaded.config.environments?.[loaded.envName];
  const compose = withConfiguredHealthchecks(resolved, (name) =>
    serviceSettings(loaded.config, envSettings, name),
  );
  const relativeBindSources = await relativeBindSourcesOutside(compose, {
    file,
    root: loaded.root,
    composeDir,
    envFiles: loaded.envFiles,
    exec,
    variables,
    ...(project.compose.profiles ? { profiles: project.compose.profiles } : {}),
    ...projectName,
  });
  for (const warning of writableProjectMounts(compose, loaded.root)) context.output.warn(warning);
  // The env files' own warnings were shown with their file:line when the config was loaded.
  const known = new Set(loaded.warnings.map(unsetVariable).filter((name) => name !== undefined));
  const fresh = warnings.filter((warning) => {
    const name = unsetVariable(warning);
    return name === undefined || !known.has(name);
  });
  const composeName = file.startsWith(`${loaded.root}/`) ? file.slice(loaded.root.length + 1) : file;
  if (project.compose.strict && [...loaded.warnings, ...fresh].length > 0) {
    throw new UserError(`compose.strict: ${composeName} resolves with warnings`, {
      details: [...loaded.warnings, ...fresh.map((warning) => `${composeName}: ${warning}`)],
      hint: "set the variables in the environment's env_file (or give them defaults), or turn compose.strict off",
    });
  }
  for (const warning of fresh) context.output.warn(`${composeName}: ${warning}`);
  const settings = loaded.envName === undefined ? undefined : project.environments[loaded.envName];
  const cloudHosts =
    settings?.driver === 'ssh' && settings.hosts === undefined && loaded.envName !== undefined
      ? readInfraState(loaded.root, loaded.envName)?.hosts
      : undefined;
  const locateCompose = composeLocator(file, composeName, composeRead.files);
  const model = buildEnvironmentModel(loaded, compose, cloudHosts, locateCompose, (service) =>
    baseImages(compose, service),
  );
  for (const warning of model.warnings) context.output.warn(warning);
  const secretValues = secretNames(loaded)
    .map((name) => loaded.variables[name])
    .filter((value): value is string => value !== undefined && value.length >= 4);
  return {
    loaded,
    compose,
    model,
    secretValues,
    relativeBindSources,
    locateCompose,
    composeEnvFiles: composeRead.envFiles,
    composeSecretFiles: secretFilesOf(compose),
  };
}

/** The absolute `file:` of each top-level compose secret (a build's secrets are among them), sorted. */
function secretFilesOf(compose: ComposeProject): string[] {
  const secrets = compose['secrets'];
  if (secrets === null || typeof secrets !== 'object') return [];
  const files = Object.values(secrets).flatMap((secret) => {
    const file = (secret as { file?: unknown } | null)?.file;
    return typeof file === 'string' && isAbsolute(file) ? [file] : [];
  });
  return [...new Set(files)].sort();
}

/**
 * Refuses a command that driver swarm does not support yet: a UserError (exit 1, nothing changed)
 * naming the command, so no command runs a compose-host code path against a swarm. Returns when the
 * environment is not a swarm.
 */
export function refuseOnSwarm(env: LoadedEnvironment, command: string, hint?: string): void {
  if (env.model.driver !== 'swarm') return;
  throw new UserError(
    `not yet supported on driver swarm: \`stagecraft ${command}\` (environment ${env.model.environment})`,
    {
      hint:
        hint ??
        `run it against the swarm's manager ${env.model.swarm?.manager} with docker itself (\`stagecraft ssh ${env.model.swarm?.manager}\`); \`plan\`, \`deploy\`, \`setup\`, \`rollback\`, \`build\`, \`releases\`, \`lock\`, \`prune\`, \`status\`, \`logs\`, \`exec\` and \`remove\` support driver swarm`,
    },
  );
}
