import { isIP } from 'node:net';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { defaultHostsFile } from './hosts-file.js';

/** The flags of `stagecraft dev`. */
export interface DevFlags {
  /** false with --no-https. */
  https: boolean;
  /** false with --no-hosts. */
  hosts: boolean;
  detach: boolean;
  only: string[] | undefined;
}

/** Everything `dev` decides from flags, environment variables and stagecraft.yml (in that order). */
export interface DevSettings {
  https: boolean;
  /** The hosts file to edit; undefined with --no-hosts. */
  hostsFile: string | undefined;
  httpPort: number;
  httpsPort: number;
  /** Where published container ports are reachable from here. */
  dockerAddress: string;
  /** The host IP the dev override binds container ports to. */
  bindIp: string;
  /** STAGECRAFT_DEV_READY_TIMEOUT, if set. */
  readyTimeoutMs: number | undefined;
}

/**
 * The engine's address as seen from this machine: STAGECRAFT_DEV_DOCKER_ADDRESS, else the host of a
 * tcp:// or ssh:// DOCKER_HOST, else 127.0.0.1 (a local engine or Docker Desktop).
 */
export function dockerAddress(env: Record<string, string | undefined>): string {
  const explicit = env['STAGECRAFT_DEV_DOCKER_ADDRESS'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const host = env['DOCKER_HOST'] ?? '';
  const match = /^(?:tcp|ssh|http|https):\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/.exec(host);
  if (match?.[1] !== undefined) return match[1].replace(/^\[|\]$/g, '');
  return '127.0.0.1';
}

export function resolveDevSettings(
  config: Config,
  root: string,
  env: Record<string, string | undefined>,
  flags: DevFlags,
): DevSettings {
  const address = dockerAddress(env);
  const timeoutText = env['STAGECRAFT_DEV_READY_TIMEOUT'];
  let readyTimeoutMs: number | undefined;
  if (timeoutText !== undefined && timeoutText !== '') {
    try {
      readyTimeoutMs = parseDuration(timeoutText);
    } catch {
      readyTimeoutMs = undefined;
    }
    if (readyTimeoutMs === undefined || readyTimeoutMs <= 0) {
      throw new UserError(`STAGECRAFT_DEV_READY_TIMEOUT=${timeoutText} is not a duration`, {
        hint: 'use a duration such as 30s or 2m',
      });
    }
  }
  const hostsPath = env['STAGECRAFT_HOSTS_FILE'] || config.dev?.hosts_file;
  return {
    https: flags.https && config.dev?.https !== false,
    hostsFile: flags.hosts ? (hostsPath ? resolvePath(root, hostsPath) : defaultHostsFile()) : undefined,
    httpPort: config.dev?.proxy?.http_port ?? 80,
    httpsPort: config.dev?.proxy?.https_port ?? 443,
    dockerAddress: address,
    bindIp: isIP(address) !== 0 ? address : '0.0.0.0',
    readyTimeoutMs,
  };
}
