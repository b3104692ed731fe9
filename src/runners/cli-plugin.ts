// Finds a docker CLI plugin's binary the way the docker CLI does, so a read-only `docker compose …`
// can start compose itself instead of starting `docker`, which starts compose (half the time of a
// `docker compose config`).
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type RunLocalOptions, runLocal } from './local.js';
import type { ExecResult } from './types.js';

/** What the lookup depends on; every field defaults to this process's. */
export interface CliPluginLookup {
  env?: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
  home?: string;
  /** The text of the docker CLI's config.json, or undefined when it cannot be read. */
  readConfig?: (path: string) => string | undefined;
  isFile?: (path: string) => boolean;
}

/**
 * The folders the docker CLI searches for `docker-<name>` plugins, in its order: the config file's
 * `cliPluginsExtraDirs`, `cli-plugins` in the config folder (`$DOCKER_CONFIG`, else `~/.docker`),
 * then the platform's system folders. Source: docker/cli `cli-plugins/manager/manager.go`
 * (getPluginDirs) and `manager_unix.go` / `manager_windows.go` (defaultSystemPluginDirs).
 * A folder a docker build adds at build time is not known here: a plugin only there is not found.
 */
export function cliPluginDirs(lookup: CliPluginLookup = {}): string[] {
  const env = lookup.env ?? process.env;
  const platform = lookup.platform ?? process.platform;
  const configDir = env['DOCKER_CONFIG'] || join(lookup.home ?? homedir(), '.docker');
  const text = (lookup.readConfig ?? readText)(join(configDir, 'config.json'));
  const extra = extraDirs(text);
  const system =
    platform === 'win32'
      ? [
          join(env['ProgramData'] ?? 'C:\\ProgramData', 'Docker', 'cli-plugins'),
          join(env['ProgramFiles'] ?? 'C:\\Program Files', 'Docker', 'cli-plugins'),
        ]
      : [
          '/usr/local/lib/docker/cli-plugins',
          '/usr/local/libexec/docker/cli-plugins',
          '/usr/lib/docker/cli-plugins',
          '/usr/libexec/docker/cli-plugins',
        ];
  return [...extra, join(configDir, 'cli-plugins'), ...system];
}

/**
 * The path of the binary the docker CLI runs for `docker <name>` (`docker-<name>`, `.exe` on
 * Windows): the first that exists in cliPluginDirs. Undefined when there is none, or when the config
 * file cannot be parsed (then only `docker` itself knows).
 */
export function findCliPlugin(name: string, lookup: CliPluginLookup = {}): string | undefined {
  const platform = lookup.platform ?? process.platform;
  const isFile = lookup.isFile ?? fileExists;
  const binary = `docker-${name}${platform === 'win32' ? '.exe' : ''}`;
  let dirs: string[];
  try {
    dirs = cliPluginDirs(lookup);
  } catch {
    return undefined;
  }
  for (const dir of dirs) {
    const path = join(dir, binary);
    if (isFile(path)) return path;
  }
  return undefined;
}

/**
 * The argv and environment that run `argv` (`docker [global flags] <plugin> …`) through the plugin's
 * binary directly, as the docker CLI would: the same arguments after `docker`, with
 * DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND set (the plugin protocol, docker/cli
 * `docs/extend/cli_plugins.md`). Returns `argv` and `env` unchanged when the plugin is not found.
 */
export function viaCliPlugin(
  argv: readonly string[],
  plugin: string,
  env: Record<string, string> = {},
  find: (name: string) => string | undefined = cachedPlugin,
): { argv: string[]; env: Record<string, string> } {
  const path = argv[0] === 'docker' && subcommandOf(argv) === plugin ? find(plugin) : undefined;
  if (path === undefined) return { argv: [...argv], env };
  return {
    argv: [path, ...argv.slice(1)],
    env: { ...env, DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND: 'docker' },
  };
}

/**
 * Runs a read-only `docker [global flags] <plugin> …` (argv) with runLocal, through the plugin's
 * binary when it is found (viaCliPlugin). Returns and throws what runLocal does.
 */
export function runLocalViaCliPlugin(
  argv: readonly string[],
  plugin: string,
  options: RunLocalOptions = {},
): Promise<ExecResult> {
  const direct = viaCliPlugin(argv, plugin, options.env);
  return runLocal(direct.argv, { ...options, env: direct.env });
}

/** The docker global flags that take a value as the next argument (`docker --help`). */
const VALUE_FLAGS = new Set([
  '-H',
  '--host',
  '-c',
  '--context',
  '--config',
  '-l',
  '--log-level',
  '--tlscacert',
  '--tlscert',
  '--tlskey',
]);

/** The first argument of a docker argv that is not a global flag or a flag's value: its command. */
function subcommandOf(argv: readonly string[]): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (VALUE_FLAGS.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

const found = new Map<string, string | undefined>();
function cachedPlugin(name: string): string | undefined {
  if (!found.has(name)) found.set(name, findCliPlugin(name));
  return found.get(name);
}

function extraDirs(text: string | undefined): string[] {
  if (text === undefined || text.trim() === '') return [];
  const parsed = JSON.parse(text) as { cliPluginsExtraDirs?: unknown };
  const dirs = parsed?.cliPluginsExtraDirs;
  return Array.isArray(dirs) ? dirs.filter((dir): dir is string => typeof dir === 'string') : [];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function fileExists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
