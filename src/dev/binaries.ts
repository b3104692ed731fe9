import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ExternalError } from '../util/errors.js';

/** The full path of an executable found on PATH (or the path itself when it has a slash), if any. */
export function findExecutable(name: string, env: Record<string, string | undefined>): string | undefined {
  const candidates =
    isAbsolute(name) || name.includes('/')
      ? [name]
      : (env['PATH'] ?? '')
          .split(delimiter)
          .filter((dir) => dir !== '')
          .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A tool `stagecraft dev` needs, why, and how to install it. */
export interface Requirement {
  binary: string;
  why: string;
  install: string;
}

export const REQUIREMENTS = {
  docker: {
    binary: 'docker',
    why: 'it runs the compose infrastructure services',
    install:
      'install Docker Engine (or Docker Desktop) with the compose plugin: https://docs.docker.com/engine/install/',
  },
  mkcert: {
    binary: 'mkcert',
    why: 'it makes the locally trusted HTTPS certificates for the dev domains',
    install:
      'install mkcert (apt install mkcert, brew install mkcert, or https://github.com/FiloSottile/mkcert) and run `mkcert -install` once',
  },
  caddy: {
    binary: 'caddy',
    why: 'it is the HTTPS front door that routes the dev domains to your processes',
    install:
      'install Caddy 2 (apt install caddy, brew install caddy, or https://caddyserver.com/docs/install)',
  },
  encore: {
    binary: 'encore',
    why: 'the backend provider encore-ts runs `encore run`',
    install:
      'install the Encore CLI: curl -L https://encore.dev/install.sh | bash (or brew install encoredev/tap/encore)',
  },
} satisfies Record<string, Requirement>;

export type RequirementName = keyof typeof REQUIREMENTS;

/**
 * Finds every required tool at once; a missing one is an external failure (exit 2) naming what to
 * install, with the `--no-https` way out when only the certificates need mkcert.
 */
export function requireBinaries(
  names: readonly RequirementName[],
  env: Record<string, string | undefined>,
): Record<RequirementName, string> {
  const found: Partial<Record<RequirementName, string>> = {};
  const missing: Requirement[] = [];
  for (const name of names) {
    const requirement = REQUIREMENTS[name];
    const path = findExecutable(requirement.binary, env);
    if (path === undefined) missing.push(requirement);
    else found[name] = path;
  }
  if (missing.length === 0) return found as Record<RequirementName, string>;
  const alternatives: string[] = [];
  if (missing.some((requirement) => requirement.binary === 'mkcert')) {
    alternatives.push('run `stagecraft dev --no-https` to serve plain HTTP without certificates');
  }
  if (missing.some((requirement) => requirement.binary === 'docker')) {
    alternatives.push('start only the host processes with `--only backend,frontend`');
  }
  const orElse = alternatives.length > 0 ? `; or ${alternatives.join('; or ')}` : '';
  const [first] = missing;
  if (missing.length === 1 && first !== undefined) {
    throw new ExternalError(`${first.binary} is not installed (not found on PATH): ${first.why}`, {
      hint: `${first.install}${orElse}`,
    });
  }
  throw new ExternalError(
    `stagecraft dev needs tools that are not installed: ${missing.map((requirement) => requirement.binary).join(', ')}`,
    {
      details: missing.map(
        (requirement) => `${requirement.binary}: ${requirement.why}; ${requirement.install}`,
      ),
      hint: `install them (see above)${orElse}`,
    },
  );
}
