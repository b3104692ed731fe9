// The docker CLI on this machine when it cannot reach its daemon (Docker not started, DOCKER_HOST
// pointing at nothing, no access to the socket): an error that names the daemon and what to do.
import { ExternalError } from '../util/errors.js';

/** What the docker CLI said when it could not reach its daemon. */
export interface UnreachableDaemon {
  /** The daemon's address as docker named it (`unix:///var/run/docker.sock`), when it did. */
  address: string | undefined;
  /** The socket is there but this user may not use it. */
  permission: boolean;
  /** Where docker's words start in the text (what comes before is the failed command). */
  at: number;
}

const CANNOT_CONNECT = /Cannot connect to the Docker daemon at (\S+?)\.? Is the docker daemon running\?/i;
const PERMISSION = /permission denied while trying to connect to the Docker daemon socket at (\S+?):? /i;
const DURING_CONNECT = /error during connect:/i;

/** Reads docker's words for an unreachable daemon out of `text`; undefined when it holds none. */
export function unreachableDaemon(text: string): UnreachableDaemon | undefined {
  const cannot = CANNOT_CONNECT.exec(text);
  if (cannot) return { address: cannot[1], permission: false, at: cannot.index };
  const permission = PERMISSION.exec(text);
  if (permission) return { address: permission[1], permission: true, at: permission.index };
  const during = DURING_CONNECT.exec(text);
  if (during) return { address: undefined, permission: false, at: during.index };
  return undefined;
}

/**
 * The ExternalError (exit 2) for a step on this machine whose docker command could not reach the
 * daemon: which daemon (the address docker named, else DOCKER_HOST, else the docker CLI's current
 * context), what failed (`what`, e.g. the step `build:api`, and docker's own line) and what to do.
 * Undefined when `error` is no ExternalError or says nothing of the daemon.
 */
export function localDaemonError(
  error: unknown,
  what: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ExternalError | undefined {
  if (!(error instanceof ExternalError)) return undefined;
  const found = unreachableDaemon(error.message);
  if (found === undefined) return undefined;
  const dockerHost = env['DOCKER_HOST'] || undefined;
  const address = found.address ?? dockerHost;
  const daemon = address === undefined ? "the docker CLI's current context" : address;
  const hint = found.permission
    ? `this user may not use ${daemon}: add it to the docker group (then log in again); \`docker info\` shows whether the daemon answers`
    : dockerHost === undefined
      ? `start Docker on this machine (DOCKER_HOST is not set: docker uses its current context, see \`docker context ls\`); \`docker info\` shows whether the daemon answers`
      : `start the Docker daemon at ${dockerHost}, or set DOCKER_HOST to one that runs (unset it for the local default); \`docker info\` shows whether the daemon answers`;
  const command = error.message.slice(0, found.at).replace(/[:\s]+$/, '');
  return new ExternalError(
    `${what} could not reach the Docker daemon at ${daemon}${command === '' ? '' : ` (${command})`}`,
    {
      hint,
      cause: error,
      details: [error.message.slice(found.at)],
      ...(error.command === undefined ? {} : { command: error.command }),
    },
  );
}
