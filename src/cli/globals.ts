import type { SessionFlags } from '../operations/session.js';
import { UserError } from '../util/errors.js';

/** Flags every command accepts (SPEC §2); the type lives with the session operations get. */
export type GlobalOptions = SessionFlags;

export interface RawGlobalFlags {
  config?: string;
  env?: string;
  verbose?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
  json?: boolean;
  color?: boolean;
  yes?: boolean;
  hosts?: string;
  roles?: string;
  services?: string;
}

function parseBoolean(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new UserError(`${name}=${value} is not a boolean`, { hint: `set ${name} to true or false` });
}

/**
 * A comma-separated scope list. An empty variable counts as unset; a flag given with nothing in it
 * (`--hosts "$UNSET"`, `--services ,`) is a UserError: read as "everything", it would act on every
 * host or service.
 */
function list(flag: string, given: string | undefined, variable: string | undefined): string[] | undefined {
  const value = given ?? (variable || undefined);
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) {
    const name = given !== undefined ? `--${flag}` : `STAGECRAFT_${flag.toUpperCase()}`;
    throw new UserError(`${name} ${JSON.stringify(value)} names nothing`, {
      hint: `give ${name} a comma-separated list (globs allowed), or leave it out to act on all`,
    });
  }
  return items;
}

/**
 * A flag that names one thing: given empty (`-e "$UNSET"`), a UserError, since read as "not given"
 * it would act on the default environment. An empty variable counts as unset.
 */
function named(flag: string, given: string | undefined, variable: string | undefined): string | undefined {
  if (given === undefined) return variable || undefined;
  if (given.trim() === '') {
    throw new UserError(`--${flag} ${JSON.stringify(given)} names nothing`, {
      hint: `give --${flag} a value, or leave it out for the default`,
    });
  }
  return given;
}

/** Flag > STAGECRAFT_* environment variable > built-in default (config defaults apply later). */
export function resolveGlobals(
  flags: RawGlobalFlags,
  env: Record<string, string | undefined>,
): GlobalOptions {
  const bool = (flag: boolean | undefined, variable: string): boolean =>
    flag === true || (flag === undefined && parseBoolean(variable, env[variable]) === true);
  const noColorVariable = parseBoolean('STAGECRAFT_NO_COLOR', env['STAGECRAFT_NO_COLOR']);
  return {
    config: named('config', flags.config, env['STAGECRAFT_CONFIG']),
    env: named('env', flags.env, env['STAGECRAFT_ENV']),
    verbose: bool(flags.verbose, 'STAGECRAFT_VERBOSE'),
    quiet: bool(flags.quiet, 'STAGECRAFT_QUIET'),
    dryRun: bool(flags.dryRun, 'STAGECRAFT_DRY_RUN'),
    json: bool(flags.json, 'STAGECRAFT_JSON'),
    color: flags.color !== false && noColorVariable !== true,
    yes: bool(flags.yes, 'STAGECRAFT_YES'),
    hosts: list('hosts', flags.hosts, env['STAGECRAFT_HOSTS']),
    roles: list('roles', flags.roles, env['STAGECRAFT_ROLES']),
    services: list('services', flags.services, env['STAGECRAFT_SERVICES']),
  };
}
