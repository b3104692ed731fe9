// The Encore CLI as both Encore providers use it (backend `encore-ts` in dev, secrets `encore`):
// `encore secret set` is written here once. The value goes on stdin (the Encore CLI reads it from
// there when stdin is not a terminal), never into argv or output.
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { Secret } from '../util/secret.js';

export const ENCORE_SECRET_TYPES = ['dev', 'preview', 'local', 'prod'] as const;
export type EncoreSecretType = (typeof ENCORE_SECRET_TYPES)[number];

/**
 * The Encore secret types to set when none are configured. For an environment (`secrets sync`):
 * `prod` for production-like names, `local` for dev/local, `dev` (Encore's development cloud envs)
 * otherwise. For `stagecraft dev` (`environment` undefined): every non-production type, so the
 * secrets follow the app into Encore's preview and dev environments too.
 */
export function defaultSecretTypes(environment?: string): EncoreSecretType[] {
  if (environment === undefined) return ['dev', 'preview', 'local'];
  if (/^(prod|production|live)$/i.test(environment)) return ['prod'];
  if (/^(dev|local)$/i.test(environment)) return ['local'];
  return ['dev'];
}

/** `encore secret set --type <types> <name>`: the value is not an argument; it goes on stdin. */
export function encoreSecretSetArgv(name: string, types: readonly string[], encore = 'encore'): string[] {
  return [encore, 'secret', 'set', '--type', types.join(','), name];
}

export interface EncoreSecretSet {
  name: string;
  value: Secret | string;
  types: readonly string[];
  /** The Encore app folder: where the command runs. */
  cwd: string;
  /** Full path of the encore binary (default: `encore` on PATH). */
  encore?: string;
  /** Extra environment of the command (local runner only). */
  env?: Record<string, string>;
  /** What to say in the hint (where `encore secret set` should work). */
  hint: string;
  /** Names already set in this run (named in the error, so the user knows what is done). */
  alreadySet?: readonly string[];
  signal?: AbortSignal;
}

/**
 * Runs `encore secret set` for one secret through `runner` (in `cwd`). Throws ExternalError naming
 * the secret, the types and the last line Encore printed when the command fails.
 */
export async function setEncoreSecret(runner: Runner, request: EncoreSecretSet): Promise<void> {
  const argv = encoreSecretSetArgv(request.name, request.types, request.encore);
  const stdin = request.value instanceof Secret ? request.value : new Secret(request.value);
  const result = await runner.exec(argv, {
    stdin,
    env: request.env,
    allowFailure: true,
    timeoutMs: 120_000,
    signal: request.signal,
  });
  if (result.exitCode === 0) return;
  const why = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .at(-1);
  throw new ExternalError(
    `encore secret set ${request.name} (types ${request.types.join(',')}) failed with exit code ${result.exitCode}${why === undefined ? '' : `: ${why}`}`,
    {
      command: argv.join(' '),
      details:
        (request.alreadySet?.length ?? 0) > 0 ? [`already set: ${request.alreadySet?.join(', ')}`] : [],
      hint: request.hint,
    },
  );
}
