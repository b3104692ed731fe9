import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { type ComposeExec, runComposeConfig } from '../compose/read.js';
import type { ComposeProject } from '../compose/types.js';
import { composeConfigArgs } from '../docker/compose.js';
import { PROJECT_FILES_LIMIT_BYTES, type ProjectFile } from '../plan/deploy.js';
import { UserFileError } from '../util/errors.js';
import { pathEntry, readUserFileBytes } from '../util/user-file.js';

/**
 * The files of `relativePath` under `root`: the file, or every file under the folder (name order,
 * symlinks to files followed, `.git` left out) and each empty folder (`folder: true`), paths relative
 * to root with `/`. Undefined when nothing is there. Modes: 0755 for executables, else 0644. Throws UserFileError for an entry that is
 * not a regular file once symlinks are followed (a FIFO, a device, a socket, a link to a folder, a
 * dangling or looping link), for a link to a file outside the project (its content is never read) and
 * for a file over PROJECT_FILES_LIMIT_BYTES.
 */
export function readProjectPath(root: string, relativePath: string): ProjectFile[] | undefined {
  const start = join(root, relativePath);
  const stat = lstatSync(start, { throwIfNoEntry: false });
  if (stat === undefined) return undefined;
  const realRoot = realpathSync(root);
  const files: ProjectFile[] = [];
  const visit = (path: string) => {
    const info = lstatSync(path, { throwIfNoEntry: false });
    if (info === undefined) return;
    if (info.isDirectory()) {
      const names = readdirSync(path)
        .filter((name) => name !== '.git')
        .sort();
      if (names.length === 0) {
        const folder = relative(root, path).split(sep).join('/');
        files.push({ path: folder, content: Buffer.alloc(0), mode: uploadMode(info.mode), folder: true });
      }
      for (const name of names) visit(join(path, name));
      return;
    }
    const shown = `./${relative(root, path).split(sep).join('/')}`;
    const hint =
      'mount regular files and folders of the project (Stagecraft uploads them to the hosts); put devices, pipes, sockets and files from elsewhere on the host and mount them by absolute path';
    if (info.isSymbolicLink() && pathEntry(path).kind === 'file') {
      // A link is followed only within the project: one to ~/.ssh/id_ed25519 would upload it.
      const target = realpathSync(path);
      const inside = relative(realRoot, target);
      if (inside.startsWith('..') || isAbsolute(inside))
        throw new UserFileError(path, `${shown} is a symbolic link to ${target}, outside the project`, {
          hint,
        });
    }
    const content = readUserFileBytes(path, { display: shown, maxBytes: PROJECT_FILES_LIMIT_BYTES, hint });
    if (content === undefined) return;
    const mode = info.isSymbolicLink() ? statSync(path).mode : info.mode;
    files.push({
      path: relative(root, path).split(sep).join('/'),
      content,
      mode: uploadMode(mode),
    });
  };
  visit(start);
  return files;
}

/**
 * The mode a project file gets on the hosts: executable or not as here, and private (0600, 0700)
 * when no one but its owner may read it here (a TLS key, a credentials file), else 0644 / 0755.
 */
export function uploadMode(localMode: number): number {
  const executable = (localMode & 0o111) !== 0;
  if ((localMode & 0o044) === 0) return executable ? 0o700 : 0o600;
  return executable ? 0o755 : 0o644;
}

/** A top-level volume as compose prints it (only what is read here). */
type VolumeEntry = { driver_opts?: { device?: unknown } } | null;

/** Stand-ins for $PWD and $HOME in the re-read of relativeBindSourcesOutside. */
const LAPTOP_PWD = '/stagecraft-laptop-pwd';
const LAPTOP_HOME = '/stagecraft-laptop-home';

/**
 * Bind-mount sources, secret or config files and local volumes' `driver_opts.device` that the compose
 * file writes as relative paths (or `~/…`, `${PWD}/…`, `$HOME/…`) but that lie outside `root` (compose prints every path absolute, so `../shared/x` and a host
 * path `/srv/x` look alike).
 * Only when some source is absolute and outside root, it asks compose again with
 * `--no-path-resolution` and returns those sources (absolute, as the first model printed them).
 */
export async function relativeBindSourcesOutside(
  compose: ComposeProject,
  options: {
    file: string;
    root: string;
    /** compose's project directory, where relative paths start (default root). */
    composeDir?: string;
    envFiles: string[];
    exec: ComposeExec;
    variables: Record<string, string>;
    /** The compose profiles in force (a service of an active profile mounts too). */
    profiles?: string[];
    /** The compose project it runs as (ComposeConfigOptions.projectName). */
    projectName?: string;
  },
): Promise<Set<string>> {
  const outside = new Map<string, string>();
  const isOutside = (path: string) => {
    const rel = relative(options.root, path);
    return rel.startsWith('..') || isAbsolute(rel);
  };
  for (const [service, spec] of Object.entries(compose.services)) {
    for (const mount of spec.volumes ?? []) {
      if (mount.type !== 'bind' || typeof mount.source !== 'string' || !isAbsolute(mount.source)) continue;
      if (isOutside(mount.source)) outside.set(`${service}\0${mount.target}`, mount.source);
    }
  }
  // Top-level secrets and configs read from a file (the host's compose reads it there).
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [name, entry] of Object.entries((compose[kind] ?? {}) as Record<string, { file?: unknown }>)) {
      if (typeof entry?.file === 'string' && isAbsolute(entry.file) && isOutside(entry.file))
        outside.set(`${kind}\0${name}`, entry.file);
    }
  }
  // A local volume's `driver_opts.device` (compose makes a relative one absolute).
  for (const [name, entry] of Object.entries((compose.volumes ?? {}) as Record<string, VolumeEntry>)) {
    const device = entry?.driver_opts?.device;
    if (typeof device === 'string' && isAbsolute(device) && isOutside(device))
      outside.set(`volumes\0${name}`, device);
  }
  const found = new Set<string>();
  if (outside.size === 0) return found;
  const composeDir = options.composeDir ?? options.root;
  const argv = composeConfigArgs({
    file: options.file,
    projectDir: composeDir,
    envFiles: options.envFiles,
    ...(options.profiles === undefined ? {} : { profiles: options.profiles }),
    ...(options.projectName === undefined ? {} : { projectName: options.projectName }),
  });
  argv.splice(argv.indexOf('config') + 1, 0, '--no-path-resolution');
  // `${PWD}/../x` and `$HOME/.aws` are this machine's folders too: read with stand-ins for both, a
  // source that starts with one came from them.
  const result = await runComposeConfig(options.exec, argv, {
    env: { ...options.variables, PWD: LAPTOP_PWD, HOME: LAPTOP_HOME },
  });
  if (result.exitCode !== 0) return found;
  const fromLaptop = (source: string) =>
    source.startsWith('~') || source.startsWith(LAPTOP_PWD) || source.startsWith(LAPTOP_HOME);
  const raw = JSON.parse(result.stdout) as ComposeProject;
  for (const [service, spec] of Object.entries(raw.services ?? {})) {
    for (const mount of spec.volumes ?? []) {
      const resolved = outside.get(`${service}\0${mount.target}`);
      if (resolved === undefined || typeof mount.source !== 'string') continue;
      // `~/x` is the laptop's home: also not on the hosts.
      if (fromLaptop(mount.source)) found.add(resolved);
      else if (!isAbsolute(mount.source) && resolve(composeDir, mount.source) === resolved)
        found.add(resolved);
    }
  }
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [name, entry] of Object.entries((raw[kind] ?? {}) as Record<string, { file?: unknown }>)) {
      const resolved = outside.get(`${kind}\0${name}`);
      if (
        resolved !== undefined &&
        typeof entry?.file === 'string' &&
        (!isAbsolute(entry.file) || fromLaptop(entry.file))
      )
        found.add(resolved);
    }
  }
  for (const [name, entry] of Object.entries((raw.volumes ?? {}) as Record<string, VolumeEntry>)) {
    const resolved = outside.get(`volumes\0${name}`);
    const device = entry?.driver_opts?.device;
    if (resolved !== undefined && typeof device === 'string' && (!isAbsolute(device) || fromLaptop(device)))
      found.add(resolved);
  }
  return found;
}
