import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ExternalError } from '../util/errors.js';
import { TOOLS, type ToolName } from '../util/tools.js';

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

/** A tool `stagecraft dev` needs and why (how to install it is in the tools catalogue). */
export interface Requirement {
  tool: ToolName;
  why: string;
}

/** What the stack itself needs; providers name their own (e.g. an Encore backend needs `encore`). */
export const STACK_REQUIREMENTS = {
  docker: { tool: 'docker', why: 'it runs the compose infrastructure services' },
  mkcert: { tool: 'mkcert', why: 'it makes the locally trusted HTTPS certificates for the dev domains' },
  caddy: { tool: 'caddy', why: 'it is the HTTPS front door that routes the dev domains to your processes' },
} satisfies Record<string, Requirement>;

/**
 * Finds every required tool at once and returns the full path of each, by tool name. A missing one
 * throws ExternalError (exit 2) naming what to install, with the `--no-https` way out when only the
 * certificates need mkcert.
 */
export function requireBinaries(
  requirements: readonly Requirement[],
  env: Record<string, string | undefined>,
): Partial<Record<ToolName, string>> {
  const found: Partial<Record<ToolName, string>> = {};
  const missing: (Requirement & { binary: string; install: string })[] = [];
  for (const requirement of requirements) {
    const { binary, install } = TOOLS[requirement.tool];
    const path = findExecutable(binary, env);
    if (path === undefined) {
      if (!missing.some((entry) => entry.tool === requirement.tool))
        missing.push({ ...requirement, binary, install });
    } else found[requirement.tool] = path;
  }
  if (missing.length === 0) return found;
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
