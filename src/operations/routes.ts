// What a plan's gateway routes need beyond the model, for `deploy`, `rollback`, `plan` and
// `maintenance`: the basic auth passwords (resolved from their secrets), the maintenance switch
// (read from the lock host) and the image each host's gateway runs (read from each host).
import { execArgs, inspectContainersArgs, parseContainerInspect } from '../docker/container.js';
import { INGRESS_PORTS_CONTAINER_LABEL } from '../docker/labels.js';
import { othersOn, readConfigArgv, routesFromConfig } from '../ingress/caddy.js';
import { gatewayImage } from '../ingress/gateway-image.js';
import { gatewayPortsContainer } from '../ingress/gateway-name.js';
import { gatewayReplacement, type RunningGateway } from '../plan/deploy.js';
import type { RouteInputs } from '../plan/routes.js';
import { borrowRunner, type RunnerPool } from '../runners/pool.js';
import { type MaintenanceRecord, readMaintenance } from '../state/maintenance.js';
import { RESOLVED_AT_DEPLOY, type Secret } from '../util/secret.js';
import type { LoadedEnvironment } from './environment.js';
import { resolveSecretValues } from './secret-files.js';
import type { Session } from './session.js';

/** What a plan shows for a password it does not resolve (a secret command runs only in a deploy). */
const PLACEHOLDER = RESOLVED_AT_DEPLOY;

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

/**
 * Host → its gateway as it runs now (`docker container inspect`, one per host, side by side), for the
 * hosts of `hosts` that have one whose image is known; the other apps on it are read (its live config)
 * only when that image is not `ingress.image`. Driver swarm has none here (its gateway is a stack
 * service). A host that cannot be read is a warning and is left out: the gateway step decides again.
 */
export async function runningGateways(
  session: Session,
  env: LoadedEnvironment,
  hosts: string[],
  runners?: RunnerPool,
): Promise<Record<string, RunningGateway>> {
  const { model } = env;
  if (model.driver === 'swarm') return {};
  const found: Record<string, RunningGateway> = {};
  await Promise.all(
    hosts.map(async (host) => {
      const runner = borrowRunner(runners, model, host);
      try {
        const inspected = await runner.exec(inspectContainersArgs([model.ingress.container]), {
          allowFailure: true,
        });
        const facts = inspected.exitCode === 0 ? parseContainerInspect(inspected.stdout)[0] : undefined;
        const image = facts === undefined ? undefined : gatewayImage(facts);
        if (facts === undefined || image === undefined) return;
        let others: string[] = [];
        if (image !== model.ingress.image && facts.running) {
          const config = await runner.exec(
            execArgs(model.ingress.container, readConfigArgv(), { interactive: false }),
            { allowFailure: true },
          );
          if (config.exitCode === 0)
            others = othersOn(routesFromConfig(JSON.parse(config.stdout) as unknown), model.composeProject);
        }
        found[host] = {
          image,
          inPortsContainer:
            facts.labels[INGRESS_PORTS_CONTAINER_LABEL] === gatewayPortsContainer(model.ingress.container),
          others,
        };
      } catch (error) {
        session.output.warn(`could not read the gateway on ${host}: ${(error as Error).message}`);
      } finally {
        await runner.close().catch(() => undefined);
      }
    }),
  );
  return found;
}

/**
 * What a deploy (`command`: "this deploy", or "maintenance on", …) says before it changes anything
 * about the gateways it replaces for a new image: the gap on each host, and the other apps that move
 * to the new image too.
 */
export function gatewayImageWarnings(
  env: LoadedEnvironment,
  gateways: Record<string, RunningGateway>,
  command = 'this deploy',
): string[] {
  const { model } = env;
  const { ingress } = model;
  return Object.entries(gateways)
    .filter(([, gateway]) => gateway.image !== ingress.image)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([host, gateway]) => [
      `ingress.image changed: ${command} ${gatewayReplacement(model, { name: host }, gateway)}`,
      ...(gateway.others.length === 0
        ? []
        : [
            `the gateway ${ingress.container} on ${host} also serves ${gateway.others.join(', ')}: it moves to ${ingress.image} for them too; give every app on this host the same ingress.image or the next deploy of another moves it back`,
          ]),
    ]);
}
