/**
 * argv builders for `docker compose` (Kamal-style: each function returns one argv array and runs
 * nothing). The compose project name and file are always explicit, so a command means the same thing
 * whatever the current folder or COMPOSE_* variables are.
 */

/**
 * A compose project on one host: its name (`-p`) and its rendered file (`-f`). `stagecraft dev` adds
 * an override file, the project folder and profiles; a command that needs only the project name
 * (`stop` after the files are gone) leaves `file` out.
 */
export interface ComposeTarget {
  project: string;
  file?: string;
  /** More files after `file` (`-f` each), e.g. the dev override. */
  overrides?: string[];
  /** `--project-directory`: relative paths and `.env` are resolved from it. */
  projectDir?: string;
  /** `--profile` for each. */
  profiles?: string[];
}

/** `docker compose -p <project> -f <file> <rest…>` */
export function composeArgs(project: string, file: string, ...rest: string[]): string[] {
  return ['docker', 'compose', '-p', project, '-f', file, ...rest];
}

function target(t: ComposeTarget, ...rest: string[]): string[] {
  const files = [...(t.file === undefined ? [] : [t.file]), ...(t.overrides ?? [])];
  return [
    'docker',
    'compose',
    '-p',
    t.project,
    ...files.flatMap((file) => ['-f', file]),
    ...(t.projectDir === undefined ? [] : ['--project-directory', t.projectDir]),
    ...(t.profiles ?? []).flatMap((profile) => ['--profile', profile]),
    ...rest,
  ];
}

export interface ComposeConfigOptions {
  file: string;
  projectDir: string;
  /**
   * `--env-file` for each, in order. Compose then reads only these (not `<projectDir>/.env`); an
   * empty list becomes `--env-file /dev/null`, so no `.env` is read. Undefined: compose's default.
   */
  envFiles?: string[];
  /** Profiles to enable (`--profile`); services of other profiles are left out of the model. */
  profiles?: string[];
  /**
   * The compose project the hosts run it as (`-p`): compose interpolates `${COMPOSE_PROJECT_NAME}`
   * and names default networks and volumes with it. Undefined: compose's default (the top-level
   * `name:`, else the folder's name).
   */
  projectName?: string;
}

/**
 * The Docker host given to `docker compose config` (`docker -H`): an address nothing can listen on,
 * so the read never reaches a daemon. Compose's model does not depend on one, yet the docker CLI
 * and compose each ping the daemon first: against a busy engine that costs seconds, against a
 * `DOCKER_HOST=ssh://…` or a remote context it opens an SSH connection. A flag rather than the
 * DOCKER_HOST variable, so a compose file that interpolates `${DOCKER_HOST}` still sees the user's.
 */
export const CONFIG_ONLY_DOCKER_HOST = 'unix:///dev/null/stagecraft-compose-config';

/**
 * `docker -H <none> compose [-p <project>] -f <file> --project-directory <dir> [--env-file f…]
 * [--profile p…] config --format json`: the normalised model (interpolated, env files applied, merges and `include`
 * resolved), read without contacting a daemon (CONFIG_ONLY_DOCKER_HOST).
 */
export function composeConfigArgs(options: ComposeConfigOptions): string[] {
  const profiles = (options.profiles ?? []).flatMap((profile) => ['--profile', profile]);
  const envFiles =
    options.envFiles === undefined
      ? []
      : (options.envFiles.length === 0 ? ['/dev/null'] : options.envFiles).flatMap((file) => [
          '--env-file',
          file,
        ]);
  return [
    'docker',
    '-H',
    CONFIG_ONLY_DOCKER_HOST,
    'compose',
    ...(options.projectName === undefined ? [] : ['-p', options.projectName]),
    '-f',
    options.file,
    '--project-directory',
    options.projectDir,
    ...envFiles,
    ...profiles,
    'config',
    '--format',
    'json',
  ];
}

/**
 * `docker -H <none> compose --env-file /dev/null -p <project> -f <file> config -q`: checks a rendered
 * compose file as it will be read on a host (no `.env` of this machine, no daemon contacted).
 */
export function composeConfigCheckArgs(project: string, file: string): string[] {
  return [
    'docker',
    '-H',
    CONFIG_ONLY_DOCKER_HOST,
    'compose',
    '--env-file',
    '/dev/null',
    '-p',
    project,
    '-f',
    file,
    'config',
    '-q',
  ];
}

/** `docker compose version --short`: succeeds only when the compose v2 plugin is installed. */
export function composeVersionArgs(): string[] {
  return ['docker', 'compose', 'version', '--short'];
}

export interface ComposeUpOptions {
  /** `--wait`: return when the containers are running/healthy (fails if one is unhealthy). */
  wait?: boolean;
  /** `--wait-timeout N` (seconds), with `wait`. */
  waitTimeoutSeconds?: number;
  /** `--no-deps`: do not start linked services (default true: Stagecraft orders services itself). */
  noDeps?: boolean;
  noRecreate?: boolean;
  forceRecreate?: boolean;
  /** `--scale svc=N`, sorted by service. */
  scale?: Record<string, number>;
  /** `--pull always|missing|never`. */
  pull?: 'always' | 'missing' | 'never';
  removeOrphans?: boolean;
  /** `--quiet-pull`. */
  quietPull?: boolean;
}

/**
 * `docker compose … up -d [options] [svc…]`; flags in a fixed order. `noDeps` defaults to true.
 * Beware: an `up` without `--scale` converges to the file's replica count, and compose scales down
 * by removing the highest-numbered (newest) containers; after a start-first scale-up retire the old
 * containers by id instead.
 */
export function composeUpArgs(
  t: ComposeTarget,
  services: string[],
  options: ComposeUpOptions = {},
): string[] {
  const args = ['up', '-d'];
  if (options.wait === true) args.push('--wait');
  if (options.wait === true && options.waitTimeoutSeconds !== undefined) {
    args.push('--wait-timeout', String(options.waitTimeoutSeconds));
  }
  if (options.noDeps ?? true) args.push('--no-deps');
  if (options.noRecreate === true) args.push('--no-recreate');
  if (options.forceRecreate === true) args.push('--force-recreate');
  if (options.pull !== undefined) args.push('--pull', options.pull);
  if (options.quietPull === true) args.push('--quiet-pull');
  if (options.removeOrphans === true) args.push('--remove-orphans');
  for (const service of Object.keys(options.scale ?? {}).sort()) {
    args.push('--scale', `${service}=${options.scale?.[service]}`);
  }
  return target(t, ...args, ...services);
}

/** `pull [--quiet] [--ignore-buildable] svc…` */
export function composePullArgs(
  t: ComposeTarget,
  services: string[],
  options: { quiet?: boolean; ignoreBuildable?: boolean } = {},
): string[] {
  const args = ['pull'];
  if (options.quiet ?? true) args.push('--quiet');
  if (options.ignoreBuildable === true) args.push('--ignore-buildable');
  return target(t, ...args, ...services);
}

/** `stop [-t N] svc…`; without a timeout each container uses its own `stop_grace_period`. */
export function composeStopArgs(
  t: ComposeTarget,
  services: string[] = [],
  options: { timeoutSeconds?: number } = {},
): string[] {
  const args = ['stop'];
  if (options.timeoutSeconds !== undefined) args.push('-t', String(options.timeoutSeconds));
  return target(t, ...args, ...services);
}

export interface ComposeRunOptions {
  /** Names passed as `-e NAME` (the value comes from the runner's environment, never argv). */
  envNames?: string[];
  /** `--name`: a predictable container name (e.g. for logs of a migration). */
  name?: string;
  user?: string;
  workdir?: string;
  entrypoint?: string;
  /** `-T`: no pseudo-TTY (default true: runs are scripted). */
  noTty?: boolean;
}

/** One-off container: `run --rm --no-deps [-T] [--name N] [-e K…] svc argv…` */
export function composeRunArgs(
  t: ComposeTarget,
  service: string,
  argv: string[],
  options: ComposeRunOptions = {},
): string[] {
  const args = ['run', '--rm', '--no-deps'];
  if (options.noTty ?? true) args.push('-T');
  if (options.name !== undefined) args.push('--name', options.name);
  if (options.user !== undefined) args.push('--user', options.user);
  if (options.workdir !== undefined) args.push('--workdir', options.workdir);
  if (options.entrypoint !== undefined) args.push('--entrypoint', options.entrypoint);
  for (const name of [...(options.envNames ?? [])].sort()) args.push('-e', name);
  return target(t, ...args, service, ...argv);
}
