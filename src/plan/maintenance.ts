// `stagecraft maintenance on|off` as a plan (pure): the deploy lock, the gateway of every host that
// routes a service loaded with the routes in (or out of) maintenance, the switch recorded on the lock
// host, the lock released. The gateway steps are the deploy's own (`ingressStep`), so a route is
// configured the same way whichever command wrote it last.
import type { EnvironmentModel } from '../model/environment.js';
import { PHASES } from '../state/types.js';
import type { Secret } from '../util/secret.js';
import { ingressStep, phase, type RunningGateway } from './deploy.js';
import { lockAcquireStep, lockReleaseStep, recordStep } from './lock-steps.js';
import { isRouted } from './routes.js';
import type { Plan, PlannedTls, Step } from './types.js';

export interface MaintenancePlanInput {
  model: EnvironmentModel;
  state: 'on' | 'off';
  /** The Retry-After the 503 answers carry while on, in seconds. */
  retryAfterSeconds: number;
  /** TLS at the gateway, as a deploy plans it (the gateway keeps its certificates). */
  tls: PlannedTls;
  /** Service → basic auth password (the routes keep their auth while in maintenance). */
  passwords: Record<string, Secret>;
  /** Where the switch is recorded, for the record step's title (`~/.stagecraft/…/maintenance.jsonl`). */
  recordPath: string;
  /** The lock's reason. */
  message: string;
  /** Host → its gateway as read before the plan (plan/deploy.ts RunningGateway); absent: not read. */
  gateways?: Record<string, RunningGateway>;
}

/**
 * The plan of a maintenance switch: `lock:acquire` (migrate_pre), `ingress:<host>` for each host that
 * runs a routed service (rollout, side by side), `record` and `lock:release` (finalize); build, push
 * and migrations skipped. Plan kind `maintenance`, no release id (the switch is no release).
 */
export function planMaintenance(input: MaintenancePlanInput): Plan {
  const { model } = input;
  const lock = lockAcquireStep({ name: model.lockHost }, model.composeProject, input.message);
  const routed = model.services.filter(isRouted);
  const maintenance = input.state === 'on' ? { retryAfterSeconds: input.retryAfterSeconds } : undefined;
  const gateways: Step[] = model.hosts.flatMap((host) => {
    const here = routed.filter((service) => service.hosts.includes(host.name));
    if (here.length === 0) return [];
    return [
      ingressStep(
        model,
        { name: host.name },
        here,
        input.tls,
        { passwords: input.passwords, ...(maintenance === undefined ? {} : { maintenance }) },
        [lock.id],
        input.gateways?.[host.name],
      ),
    ];
  });
  const record = recordStep(`record maintenance ${input.state} in ${input.recordPath} on ${model.lockHost}`);
  const byPhase: Partial<Record<(typeof PHASES)[number], Step[]>> = {
    migrate_pre: [lock],
    rollout: gateways,
    finalize: [record, lockReleaseStep({ name: model.lockHost })],
  };
  return {
    kind: 'maintenance',
    project: model.project,
    environment: model.environment,
    version: '-',
    releaseId: '',
    hosts: model.hosts.map((host) => ({ name: host.name, roles: host.roles })),
    phases: PHASES.map((name) =>
      phase(
        name,
        byPhase[name] ?? [],
        byPhase[name] === undefined ? `maintenance does not ${name}` : undefined,
      ),
    ),
  };
}
