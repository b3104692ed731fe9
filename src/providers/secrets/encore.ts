// Provider `encore`: `encore secret set --type <types> <NAME>` for each secret, the value on stdin (the
// Encore CLI reads it from there when stdin is not a terminal). Encore never gives values back, so
// every key is sent; nothing is compared.
import * as z from 'zod';
import { runLocal } from '../../runners/local.js';
import { ExternalError } from '../../util/errors.js';
import { resolvePath } from '../../util/paths.js';
import type { SecretsProvider, SecretsSyncOutcome, SecretsSyncRequest } from './types.js';

const SECRET_TYPES = ['dev', 'preview', 'local', 'prod'] as const;
type SecretType = (typeof SECRET_TYPES)[number];

/**
 * Encore secret types for a Stagecraft environment when `types` is not configured: `prod` for
 * production-like names, `local` for dev/local, `dev` (Encore's development cloud envs) otherwise.
 */
export function defaultSecretTypes(environment: string): SecretType[] {
  if (/^(prod|production|live)$/i.test(environment)) return ['prod'];
  if (/^(dev|local)$/i.test(environment)) return ['local'];
  return ['dev'];
}

/** `encore secret set --type <types> <name>`: the value is not an argument; it goes on stdin. */
export function encoreSecretSetArgv(name: string, types: readonly string[]): string[] {
  return ['encore', 'secret', 'set', '--type', types.join(','), name];
}

async function sync(request: SecretsSyncRequest): Promise<SecretsSyncOutcome> {
  const config = request.config as { types?: SecretType[]; workdir?: string };
  const types = config.types ?? defaultSecretTypes(request.environment);
  const cwd =
    config.workdir === undefined ? request.defaultWorkdir : resolvePath(request.root, config.workdir);
  const set: string[] = [];
  for (const [name, value] of [...request.values].sort(([a], [b]) => a.localeCompare(b))) {
    const argv = encoreSecretSetArgv(name, types);
    if (request.dryRun) {
      set.push(name);
      continue;
    }
    const result = await runLocal(argv, { cwd, stdin: value, allowFailure: true, timeoutMs: 120_000 });
    if (result.exitCode !== 0) {
      const why = `${result.stderr}\n${result.stdout}`
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '')
        .at(-1);
      throw new ExternalError(
        `encore secret set ${name} (types ${types.join(',')}) failed with exit code ${result.exitCode}${why === undefined ? '' : `: ${why}`}`,
        {
          command: argv.join(' '),
          details: set.length > 0 ? [`already set: ${set.join(', ')}`] : [],
          hint: `check that \`encore secret set\` works in ${cwd} (logged in with \`encore auth login\`, app linked with \`encore app link\`)`,
        },
      );
    }
    request.log(`set ${name} (types ${types.join(',')})`);
    set.push(name);
  }
  return { destination: 'store', store: `Encore (types ${types.join(',')})`, set };
}

export const encoreSecrets: SecretsProvider = {
  id: 'encore',
  description: 'Secrets set with `encore secret set`, values on stdin.',
  schema: z.strictObject({
    types: z.array(z.enum(SECRET_TYPES)).optional(),
    workdir: z.string().optional(),
  }),
  destination: 'store',
  sync,
};
