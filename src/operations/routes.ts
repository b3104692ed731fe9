// What a plan's gateway routes need beyond the model, for `deploy`, `rollback`, `plan` and
// `maintenance`: the basic auth passwords (resolved from their secrets) and the maintenance switch
// (read from the lock host).
import type { RouteInputs } from '../plan/routes.js';
import { borrowRunner, type RunnerPool } from '../runners/pool.js';
import { type MaintenanceRecord, readMaintenance } from '../state/maintenance.js';
import type { Secret } from '../util/secret.js';
import type { LoadedEnvironment } from './environment.js';
import { resolveSecretValues } from './secret-files.js';
import type { Session } from './session.js';

/** What a plan shows for a password it does not resolve (a secret command runs only in a deploy). */
const PLACEHOLDER = '(resolved at deploy)';

/**
 * Service → the password of its `basic_auth` (the secret `password_secret` names: secrets.keys, the
 * process environment or the env file), as a Secret. In a plan (`planOnly`) no secret command runs:
 * such passwords are placeholders. Throws UserError when a password has no value.
 */
export async function routePasswords(
  session: Session,
  env: LoadedEnvironment,
  planOnly: boolean,
): Promise<Record<string, Secret>> {
  const protectedServices = env.model.services.filter((service) => service.basicAuth !== undefined);
  if (protectedServices.length === 0) return {};
  const names = [...new Set(protectedServices.map((service) => service.basicAuth!.passwordSecret))].sort();
  const values = await resolveSecretValues(
    env.loaded,
    names,
    session.env,
    planOnly ? { commands: 'placeholder', placeholder: PLACEHOLDER } : undefined,
  );
  return Object.fromEntries(
    protectedServices.map((service) => [service.name, values.get(service.basicAuth!.passwordSecret)!]),
  );
}

/**
 * The maintenance switch as recorded on the lock host (undefined: off, or driver swarm, which has no
 * switch). A plan that cannot read it warns and assumes off; a deploy throws ExternalError. `runners`:
 * the command's pool (the lock host's shared connection), else a connection of its own.
 */
export async function recordedMaintenance(
  session: Session,
  env: LoadedEnvironment,
  planOnly: boolean,
  runners?: RunnerPool,
): Promise<MaintenanceRecord | undefined> {
  const { model } = env;
  if (model.driver === 'swarm') return undefined;
  const runner = borrowRunner(runners, model, model.lockHost);
  try {
    return await readMaintenance(runner, model.project, model.environment);
  } catch (error) {
    if (!planOnly) throw error;
    session.output.warn(`maintenance state not read, assumed off: ${(error as Error).message}`);
    return undefined;
  } finally {
    await runner.close().catch(() => undefined);
  }
}

/** The route inputs of a release plan: the passwords, and maintenance when it is recorded on. */
export function routeInputs(
  passwords: Record<string, Secret>,
  maintenance: MaintenanceRecord | undefined,
): RouteInputs {
  return {
    passwords,
    ...(maintenance?.state === 'on'
      ? { maintenance: { retryAfterSeconds: maintenance.retry_after_seconds } }
      : {}),
  };
}

/** What a deploy says while maintenance is on (the routes keep answering 503 after it). */
export function maintenanceNotice(env: LoadedEnvironment, record: MaintenanceRecord): string {
  const { model } = env;
  return `maintenance is on for ${model.project} ${model.environment} since ${record.at} (${record.by.user}@${record.by.machine}): the routes keep answering 503 after this release; \`stagecraft maintenance off -e ${model.environment}\` restores them`;
}
