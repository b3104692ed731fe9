// Chooses the runner for a host from the environment's driver and ssh settings.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseDuration } from '../util/duration.js';
import { ExternalError, UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { LocalRunner, runLocal } from './local.js';
import { buildSshOptions, SshRunner, type SshRunnerOptions } from './ssh.js';
import type { Runner } from './types.js';

/** A host as the config names it. */
export interface RunnerHost {
  name: string;
  address?: string;
  user?: string;
  port?: number;
}

/** The environment's `ssh:` block (stagecraft.yml). */
export interface RunnerSshSettings {
  user?: string;
  port?: number;
  identity_file?: string;
  known_hosts_file?: string;
  config_file?: string;
  proxy_jump?: string;
  /** A duration ("10s", "1m") or seconds. */
  connect_timeout?: string | number;
}

export interface RunnerSettings {
  driver: 'local' | 'ssh';
  ssh?: RunnerSshSettings;
  /** The project root: relative identity, known_hosts and config paths are resolved against it. */
  rootDir: string;
  /** Overrides the ssh control folder (default: a private folder under /tmp per runner). */
  controlDir?: string;
}

/** The SshRunner options for a host: host.address ?? host.name as target, host user/port before ssh's. */
export function sshRunnerOptions(host: RunnerHost, settings: RunnerSettings): SshRunnerOptions {
  const ssh = settings.ssh ?? {};
  const path = (value: string | undefined) =>
    value === undefined ? undefined : resolvePath(settings.rootDir, value);
  const options: SshRunnerOptions = { name: host.name, host: host.address ?? host.name };
  const user = host.user ?? ssh.user;
  const port = host.port ?? ssh.port;
  if (user !== undefined) options.user = user;
  if (port !== undefined) options.port = port;
  const identityFile = path(ssh.identity_file);
  if (identityFile !== undefined) options.identityFile = identityFile;
  const knownHostsFile = path(ssh.known_hosts_file);
  if (knownHostsFile !== undefined) options.knownHostsFile = knownHostsFile;
  const configFile = path(ssh.config_file);
  if (configFile !== undefined) options.configFile = configFile;
  if (ssh.proxy_jump !== undefined) options.proxyJump = ssh.proxy_jump;
  if (ssh.connect_timeout !== undefined) options.connectTimeoutSeconds = timeoutSeconds(ssh.connect_timeout);
  if (settings.controlDir !== undefined) options.controlDir = settings.controlDir;
  return options;
}

/** A LocalRunner for `driver: local`, else an SshRunner for the host. */
export function createRunner(host: RunnerHost, settings: RunnerSettings): Runner {
  if (settings.driver === 'local') return new LocalRunner({ name: host.name });
  return new SshRunner(sshRunnerOptions(host, settings));
}

/** What `runnerFor` needs of an environment (the model has it): its hosts and how to reach them. */
export interface RunnerEnvironment {
  hosts: readonly { name: string; target: string; user: string | undefined; port: number | undefined }[];
  connection: RunnerSettings;
}

/**
 * The runner of one host of an environment (a new one: the caller closes it). Throws UserError for a
 * host the environment does not have.
 */
export function runnerFor(env: RunnerEnvironment, hostName: string): Runner {
  const host = env.hosts.find((candidate) => candidate.name === hostName);
  if (host === undefined) {
    throw new UserError(`unknown host "${hostName}"`, {
      hint: `hosts: ${env.hosts.map((candidate) => candidate.name).join(', ')}`,
    });
  }
  return createRunner(runnerHost(host), env.connection);
}

/** The RunnerHost of a model host (`target` is what ssh connects to). */
export function runnerHost(host: RunnerEnvironment['hosts'][number]): RunnerHost {
  return {
    name: host.name,
    address: host.target,
    ...(host.user !== undefined ? { user: host.user } : {}),
    ...(host.port !== undefined ? { port: host.port } : {}),
  };
}

/**
 * The HostName ssh would connect to for a host (after ssh config aliases), from `ssh -G` (reads the
 * config only, no network). For `driver: local`: the host's address or name.
 */
export async function resolveSshHostname(host: RunnerHost, settings: RunnerSettings): Promise<string> {
  if (settings.driver === 'local') return host.address ?? host.name;
  const options = sshRunnerOptions(host, settings);
  const argv = ['ssh', ...buildSshOptions(options, '/tmp'), '-G', '--', options.host];
  const result = await runLocal(argv, { timeoutMs: 10_000 });
  const line = result.stdout.split('\n').find((candidate) => candidate.startsWith('hostname '));
  const hostname = line?.slice('hostname '.length).trim();
  if (hostname === undefined || hostname === '') {
    throw new ExternalError(`ssh -G did not report a hostname for ${host.name}`, {
      hint: 'check the ssh config for this host',
    });
  }
  return hostname;
}

/**
 * The IP address of a host: the ssh HostName when it is an IP, else its DNS answer (first address).
 * What compose `extra_hosts` needs.
 */
export async function resolveHostAddress(host: RunnerHost, settings: RunnerSettings): Promise<string> {
  const hostname = await resolveSshHostname(host, settings);
  if (isIP(hostname) !== 0) return hostname;
  try {
    return (await lookup(hostname)).address;
  } catch (error) {
    throw new ExternalError(`could not resolve ${hostname} (host ${host.name})`, {
      hint: 'give the host an IP address, or check DNS and /etc/hosts',
      cause: error,
    });
  }
}

/** "10s" / "1m30s" / 10 → whole seconds for ssh's ConnectTimeout (at least 1); throws UserError otherwise. */
function timeoutSeconds(value: string | number): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch {
    throw new UserError(`invalid ssh.connect_timeout "${value}"`, {
      hint: 'use a duration such as "10s" or "1m"',
    });
  }
  return Math.max(1, Math.ceil(ms / 1000));
}
