import { ExternalError, type StagecraftError, UserError } from '../util/errors.js';
import { registerSecretValue, Secret } from '../util/secret.js';

/** Where a database is, for messages: never the password. */
export interface ConnectionTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  /** `host:port/database`, e.g. `127.0.0.1:5432/shop`. */
  display: string;
}

export interface DatabaseConnection {
  /** The full URL, password included: only for the driver or a child's environment. */
  url: Secret;
  target: ConnectionTarget;
}

export interface ConnectionSource {
  /** The config name of the database (`main`). */
  database: string;
  /** The variable named by `databases.<name>.connection_env`. */
  connectionEnv: string;
  /** The environment's variables (env_file, then process env). */
  variables: Record<string, string>;
  envName: string | undefined;
  /** The environment's env_file setting, for the hint when the variable is missing. */
  envFile: string | string[] | undefined;
}

/**
 * Resolves and parses a database's connection URL. The URL and its password are registered as secret
 * values before anything else happens, so no message can print them.
 */
export function resolveConnection(source: ConnectionSource): DatabaseConnection {
  const raw = source.variables[source.connectionEnv];
  if (raw === undefined || raw.trim() === '') {
    const files = source.envFile === undefined ? [] : [source.envFile].flat();
    const where =
      files.length > 0
        ? `add ${source.connectionEnv}=postgres://user:password@host:5432/db to ${files.join(' or ')} (env_file of environment ${source.envName}) or export it`
        : `export ${source.connectionEnv}=postgres://user:password@host:5432/db, or give environment ${source.envName ?? '(none)'} an env_file that sets it`;
    throw new UserError(
      `${source.connectionEnv} is not set: database ${source.database} takes its connection URL from it (connection_env)`,
      { hint: where },
    );
  }
  const url = new Secret(raw);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UserError(`${source.connectionEnv} is not a valid URL (database ${source.database})`, {
      hint: `set it to a PostgreSQL URL such as postgres://user:password@host:5432/db`,
    });
  }
  if (parsed.password !== '') {
    registerSecretValue(parsed.password);
    try {
      registerSecretValue(decodeURIComponent(parsed.password));
    } catch {
      // a malformed escape: the raw form is registered already
    }
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UserError(
      `${source.connectionEnv} is a ${parsed.protocol.replace(/:$/, '')} URL; database ${source.database} needs PostgreSQL`,
      { hint: 'use a postgres://user:password@host:5432/db URL (the raw engine supports PostgreSQL only)' },
    );
  }
  const decode = (part: string, what: string) => decodeUrlPart(part, what, source.connectionEnv);
  const queryHost = parsed.searchParams.get('host');
  const host = decode(parsed.hostname, 'host') || queryHost || 'localhost';
  const port = Number(parsed.port || parsed.searchParams.get('port') || 5432);
  const database =
    decode(parsed.pathname.replace(/^\//, ''), 'database name') || decode(parsed.username, 'user name');
  const user = decode(parsed.username, 'user name') || 'postgres';
  const hostDisplay = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { url, target: { host, port, database, user, display: `${hostDisplay}:${port}/${database}` } };
}

/**
 * Percent-decodes one part of a connection URL. A malformed escape (`%zz`, a lone `%`) is the user's
 * input, so it is a UserError naming the variable and the part (never the value).
 */
function decodeUrlPart(part: string, what: string, connectionEnv: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UserError(`${connectionEnv} has a malformed %-escape in its ${what}`, {
      hint: 'write a literal % as %25; every % must start an escape of two hex digits (%40 is @)',
    });
  }
}

/** The variable psql's `-d` reads in the one-off container: the URL without its password. */
export const PSQL_URL_ENV = 'STAGECRAFT_PSQL_URL';

/**
 * The environment that lets psql connect with a `postgres://` URL while no argv carries the password
 * (`ps` on the host shows a container's processes): `STAGECRAFT_PSQL_URL` is the URL with the password
 * removed from its user info and from a `password=` query parameter, `PGPASSWORD` the password
 * (percent-decoded), which libpq reads from the environment. `connectionEnv` names the variable, for
 * messages. Throws UserError for a value that is not a postgres:// or postgresql:// URL (a key=value
 * conninfo would have to be passed whole) or has a malformed %-escape in the password.
 */
export function psqlConnectionEnv(url: string, connectionEnv: string): Record<string, string> {
  const match = /^(postgres(?:ql)?:\/\/)(?:([^@/]*)@)?([^?#]*)(\?[^#]*)?(#.*)?$/s.exec(url);
  if (match === null) {
    throw new UserError(`${connectionEnv} is not a postgres:// URL, which raw migrations need`, {
      hint: 'set it to a URL such as postgres://user:password@host:5432/db (percent-encode special characters)',
    });
  }
  const [, scheme, userInfo, rest, query, fragment] = match as unknown as [
    string,
    string,
    string | undefined,
    string,
    string | undefined,
    string | undefined,
  ];
  let password: string | undefined;
  let user = userInfo ?? '';
  const colon = user.indexOf(':');
  if (colon !== -1) {
    password = decodeUrlPart(user.slice(colon + 1), 'password', connectionEnv);
    user = user.slice(0, colon);
  }
  const params = (query ?? '')
    .replace(/^\?/, '')
    .split('&')
    .filter((param) => param !== '');
  const kept: string[] = [];
  for (const param of params) {
    if (param.split('=', 1)[0] === 'password') {
      password = decodeUrlPart(param.slice('password='.length), 'password', connectionEnv);
    } else kept.push(param);
  }
  const bare = `${scheme}${user === '' ? '' : `${user}@`}${rest}${kept.length > 0 ? `?${kept.join('&')}` : ''}${fragment ?? ''}`;
  if (password !== undefined) registerSecretValue(password);
  return { [PSQL_URL_ENV]: bare, ...(password === undefined ? {} : { PGPASSWORD: password }) };
}

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOENT: 'no server socket',
};

/** Translates a failure to connect into an error that names host:port and the database, never the URL. */
export function connectionError(
  error: unknown,
  target: ConnectionTarget,
  database: string,
  connectionEnv: string,
): StagecraftError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const where = `${target.host}:${target.port}`;
  const check = `check ${connectionEnv} for database ${database}`;
  if (typeof code === 'string' && code in UNREACHABLE) {
    return new ExternalError(`cannot reach PostgreSQL at ${where}: ${UNREACHABLE[code]}`, {
      hint: `check that the server is running and reachable from here; ${check}`,
      cause: error,
    });
  }
  if (/timeout/i.test(message) && code === undefined) {
    return new ExternalError(`cannot reach PostgreSQL at ${where}: connection timed out`, {
      hint: `check that the server is running and reachable from here; ${check}`,
      cause: error,
    });
  }
  if (code === '28P01') {
    return new ExternalError(`PostgreSQL at ${where} rejected the password of user ${target.user}`, {
      hint: `fix the credentials in ${connectionEnv} (database ${database})`,
      cause: error,
    });
  }
  if (code === '28000') {
    return new ExternalError(`PostgreSQL at ${where} refused user ${target.user}: ${message}`, {
      hint: `fix the user in ${connectionEnv} or the server's pg_hba.conf (database ${database})`,
      cause: error,
    });
  }
  if (code === '3D000') {
    return new ExternalError(`database "${target.database}" does not exist on PostgreSQL at ${where}`, {
      hint: `create it (createdb ${target.database}) or fix the database name in ${connectionEnv}`,
      cause: error,
    });
  }
  if (code === '57P03' || code === '53300') {
    return new ExternalError(`PostgreSQL at ${where} is not accepting connections: ${message}`, {
      hint: 'wait until the server is up (or has free connection slots) and try again',
      cause: error,
    });
  }
  return new ExternalError(`cannot connect to PostgreSQL at ${where}: ${message}`, {
    hint: `${check}, and that the server is reachable from here`,
    cause: error,
  });
}
