// Provider `encore`: `encore secret set --type <types> <NAME>` for each secret, the value on stdin (the
// Encore CLI reads it from there when stdin is not a terminal). Encore never gives values back, so
// every key is sent; nothing is compared.
import * as z from 'zod';
import { resolvePath } from '../../util/paths.js';
import {
  defaultSecretTypes,
  ENCORE_SECRET_TYPES,
  type EncoreSecretType,
  setEncoreSecret,
} from '../encore-cli.js';
import type { SecretsProvider, SecretsSyncOutcome, SecretsSyncRequest } from './types.js';

export { defaultSecretTypes, encoreSecretSetArgv } from '../encore-cli.js';

async function sync(request: SecretsSyncRequest): Promise<SecretsSyncOutcome> {
  const config = request.config as { types?: EncoreSecretType[]; workdir?: string };
  const types = config.types ?? defaultSecretTypes(request.environment);
  const cwd =
    config.workdir === undefined ? request.defaultWorkdir : resolvePath(request.root, config.workdir);
  const set: string[] = [];
  // Loaded when syncing only: validating a config (every command) does not need a runner.
  const { LocalRunner } = await import('../../runners/local.js');
  const runner = new LocalRunner({ cwd });
  for (const [name, value] of [...request.values].sort(([a], [b]) => a.localeCompare(b))) {
    if (!request.dryRun) {
      await setEncoreSecret(runner, {
        name,
        value,
        types,
        cwd,
        alreadySet: set,
        hint: `check that \`encore secret set\` works in ${cwd} (logged in with \`encore auth login\`, app linked with \`encore app link\`)`,
      });
      request.log(`set ${name} (types ${types.join(',')})`);
    }
    set.push(name);
  }
  return { destination: 'store', store: `Encore (types ${types.join(',')})`, set };
}

export const encoreSecrets: SecretsProvider = {
  id: 'encore',
  description: 'Secrets set with `encore secret set`, values on stdin.',
  schema: z.strictObject({
    types: z.array(z.enum(ENCORE_SECRET_TYPES)).optional(),
    workdir: z.string().optional(),
  }),
  destination: 'store',
  doctorTools: [{ tool: 'encore', why: 'this project uses Encore (backend encore-ts or secrets encore)' }],
  sync,
};
