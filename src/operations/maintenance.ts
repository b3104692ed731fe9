// `stagecraft maintenance on|off`: the app's routes answer 503 with a maintenance page (and
// Retry-After) while on; off restores them. A plan run by the engine under the deploy lock
// (plan/maintenance.ts); the switch is recorded on the lock host (state/maintenance.ts), where every
// later deploy reads it, so a deploy keeps maintenance on and says so.
import { hostname, userInfo } from 'node:os';
import { planMaintenance } from '../plan/maintenance.js';
import { isRouted } from '../plan/routes.js';
import { runnerFor } from '../runners/factory.js';
import { appendMaintenance, type MaintenanceRecord, maintenancePath } from '../state/maintenance.js';
import { systemClock } from '../util/clock.js';
import { UserError } from '../util/errors.js';
import { ingressTls, printPlan } from './deploy.js';
import { loadEnvironment, refuseOnSwarm } from './environment.js';
import { maintenanceError, runMaintenance } from './prune.js';
import { gatewayImageWarnings, recordedMaintenance, routePasswords, runningGateways } from './routes.js';
import type { Session } from './session.js';

/** Retry-After of the 503 answers when `--retry-after` is not given, in seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 300;

export interface MaintenanceOptions {
  state: 'on' | 'off';
  retryAfterSeconds?: number;
  message?: string;
  lockWaitMs?: number;
  /** Asked before the switch when the environment requires confirmation (`--yes` answers). */
  confirm: (question: string) => Promise<void>;
}

/**
 * Switches maintenance on or off for the environment's routes: plans it, prints the plan with
 * `--dry-run`, else asks when the environment requires confirmation, runs it and reports (`--json`:
 * the step events, then one `maintenance` line). Returns the exit code. Throws UserError (no route,
 * driver swarm, bad config, a password without a value), ExternalError (a host or gateway failed).
 */
export async function runMaintenanceSwitch(session: Session, options: MaintenanceOptions): Promise<number> {
  const env = await loadEnvironment(session, 'deploy');
  refuseOnSwarm(
    env,
    `maintenance ${options.state}`,
    options.state === 'on'
      ? `a swarm's gateway has no maintenance switch yet: to stop serving a service, scale it to 0 on the manager (\`docker service scale ${env.model.swarm?.stack}_<service>=0\`), and back to its replicas after`
      : 'a swarm is never in maintenance: nothing to switch off',
  );
  const { model } = env;
  const routed = model.services.filter(isRouted);
  if (routed.length === 0) {
    throw new UserError(`${model.project} ${model.environment} has no route to put in maintenance`, {
      hint: 'maintenance applies to services the gateway routes: give one a port and domains in stagecraft.yml',
    });
  }
  const dryRun = session.globals.dryRun;
  const routingHosts = model.hosts
    .map((host) => host.name)
    .filter((host) => routed.some((service) => service.hosts.includes(host)));
  const [current, passwords, gateways] = await Promise.all([
    recordedMaintenance(session, env, dryRun),
    routePasswords(session, env, dryRun),
    // The switch's gateway step replaces a gateway that runs another image than ingress.image too.
    runningGateways(session, env, routingHosts),
  ]);
  for (const warning of gatewayImageWarnings(env, gateways, `maintenance ${options.state}`))
    session.output.warn(warning);
  const retryAfterSeconds =
    options.retryAfterSeconds ?? current?.retry_after_seconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  const message = options.message ?? `maintenance ${options.state} ${model.composeProject}`;
  const plan = planMaintenance({
    model,
    state: options.state,
    retryAfterSeconds,
    tls: ingressTls(env),
    passwords,
    recordPath: `~/${maintenancePath(model.project, model.environment)}`,
    message,
    gateways,
  });
  if (dryRun) {
    printPlan(session, plan, 'text', undefined, { command: ['maintenance', options.state] });
    return 0;
  }
  if (model.requireConfirmation && options.state === 'on') {
    await options.confirm(
      `Put ${model.project} ${model.environment} in maintenance (every route answers 503)?`,
    );
  }
  const was = current?.state ?? 'off';
  session.output.info(
    `Maintenance ${options.state} for ${model.project} ${model.environment}${was === options.state ? ` (it was ${was} already: the gateways are set again)` : ''}`,
  );
  const record: MaintenanceRecord = {
    state: options.state,
    at: systemClock.now().toISOString(),
    retry_after_seconds: retryAfterSeconds,
    by: { user: userInfo().username, machine: hostname(), ci: process.env['CI'] === 'true' },
    ...(options.message === undefined ? {} : { message: options.message }),
  };
  const result = await runMaintenance(session, env, plan, {
    record: async () => {
      const runner = runnerFor(model, model.lockHost);
      try {
        await appendMaintenance(runner, model.project, model.environment, record);
      } finally {
        await runner.close().catch(() => undefined);
      }
    },
    ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
  });
  if (!result.ok) throw maintenanceError(plan, result);
  const hosts = plan.phases
    .flatMap((phase) => phase.steps)
    .filter((step) => step.action.kind === 'ingress')
    .map((step) => step.host!.name);
  const where = routed
    .flatMap((service) => service.domains.map((domain) => `${domain}${service.path ?? ''}`))
    .sort();
  if (session.globals.json) {
    session.output.result(
      JSON.stringify({
        event: 'maintenance',
        environment: model.environment,
        state: options.state,
        retry_after_seconds: retryAfterSeconds,
        hosts,
        routes: where,
      }),
    );
  } else {
    session.output.result(
      options.state === 'on'
        ? `✓ Maintenance on for ${model.project} ${model.environment}: ${where.join(', ')} answer 503 (Retry-After ${retryAfterSeconds} s) on ${hosts.join(', ')}; deploys keep it on until \`stagecraft maintenance off -e ${model.environment}\``
        : `✓ Maintenance off for ${model.project} ${model.environment}: ${where.join(', ')} served again on ${hosts.join(', ')}`,
    );
  }
  return 0;
}
