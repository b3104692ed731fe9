// The rollout's decisions, pure (as Uncloud's deploy strategy plans operations from the current
// containers and the desired spec): given the containers a service has on a host now and what the
// plan wants, which operations bring it there. `replace.ts` executes them; `plan --refresh` prints them.
import type { ContainerFacts } from '../docker/container.js';
import { SPEC_HASH_LABEL } from '../docker/labels.js';
import type { Action } from '../plan/types.js';

/** What a rollout wants for one service on one host (a `rollout` action). */
export type DesiredRollout = Pick<
  Extract<Action, { kind: 'rollout' }>,
  'service' | 'strategy' | 'replicas' | 'specHash' | 'route'
> & {
  /** The id of the image the service's reference names on the host now; unknown: not compared. */
  imageId?: string;
};

/** A container at the desired spec: its spec-hash label, and its image when the desired one is known. */
export function atDesiredSpec(
  container: ContainerFacts,
  desired: Pick<DesiredRollout, 'specHash' | 'imageId'>,
): boolean {
  return (
    container.labels[SPEC_HASH_LABEL] === desired.specHash &&
    (desired.imageId === undefined || container.imageId === desired.imageId)
  );
}

/**
 * One operation of a rollout. "The new containers" are the ones at the desired spec once the
 * operations before have run (those already running at spec count as new: a retried rollout resumes).
 */
export type RolloutOp =
  /** `docker rm -f` containers: exited leftovers of a crash or an interrupted rollout. */
  | { op: 'remove'; containers: string[] }
  /** stop-first / recreate: `compose up --force-recreate --scale service=replicas` replaces them in place. */
  | { op: 'recreate'; replicas: number }
  /** start-first: `compose up --no-recreate --scale service=scale` starts `adding` containers beside the others. */
  | { op: 'scale-up'; scale: number; adding: number }
  /** Wait until the new containers are healthy (or running and stable without a health check). */
  | { op: 'wait' }
  /** Connect the new containers that are not on the ingress network yet (under the route's alias). */
  | { op: 'route' }
  /** After `recreate`: remove what compose left that is not at the desired spec. */
  | { op: 'remove-leftovers' }
  /** start-first: drain, then stop and remove the old containers. */
  | { op: 'retire'; containers: string[] };

export interface RolloutDecision {
  /** `unchanged`: nothing to do (every container at spec, healthy, routed). */
  status: 'unchanged' | 'change';
  ops: RolloutOp[];
  /** Set when the only change is routing containers already at spec again. */
  reroute?: boolean;
}

function ids(containers: ContainerFacts[]): string[] {
  return containers.map((container) => container.id);
}

/**
 * Decides a service's rollout on one host from its containers now (`existing`, from `docker
 * container inspect`) and the desired state. `ingressNetwork` is the gateway's network (undefined:
 * no gateway on the host): a routed service's containers not on it are routed again. Pure: no I/O.
 */
export function decideRollout(
  existing: readonly ContainerFacts[],
  desired: DesiredRollout,
  ingressNetwork: string | undefined,
): RolloutDecision {
  const current = existing.filter((container) => atDesiredSpec(container, desired) && container.running);
  const stale = existing.filter((container) => !current.includes(container));
  const healthy = current.every(
    (container) => container.health === undefined || container.health === 'healthy',
  );
  // Scaled to zero (compose `scale: 0`): what runs stops with its grace period; nothing starts.
  if (desired.replicas === 0) return scaledToZero(existing);
  if (stale.length === 0 && current.length === desired.replicas && healthy) {
    const unrouted =
      desired.route === undefined || ingressNetwork === undefined
        ? []
        : current.filter((c) => c.ips[ingressNetwork] === undefined);
    if (unrouted.length === 0) return { status: 'unchanged', ops: [] };
    return { status: 'change', ops: [{ op: 'route' }], reroute: true };
  }
  if (desired.strategy !== 'start-first') {
    return {
      status: 'change',
      ops: [
        { op: 'recreate', replicas: desired.replicas },
        { op: 'wait' },
        ...(desired.route ? [{ op: 'route' } as const] : []),
        { op: 'remove-leftovers' },
      ],
    };
  }
  const dead = stale.filter((container) => !container.running);
  const live = stale.filter((container) => container.running);
  const missing = Math.max(0, desired.replicas - current.length);
  return {
    status: 'change',
    ops: [
      ...(dead.length > 0 ? [{ op: 'remove', containers: ids(dead) } as const] : []),
      ...(missing > 0
        ? [{ op: 'scale-up', scale: live.length + current.length + missing, adding: missing } as const]
        : []),
      { op: 'wait' },
      ...(desired.route ? [{ op: 'route' } as const] : []),
      ...(live.length > 0 ? [{ op: 'retire', containers: ids(live) } as const] : []),
    ],
  };
}

function scaledToZero(existing: readonly ContainerFacts[]): RolloutDecision {
  const dead = existing.filter((container) => !container.running);
  const live = existing.filter((container) => container.running);
  if (existing.length === 0) return { status: 'unchanged', ops: [] };
  return {
    status: 'change',
    ops: [
      ...(dead.length > 0 ? [{ op: 'remove', containers: ids(dead) } as const] : []),
      ...(live.length > 0 ? [{ op: 'retire', containers: ids(live) } as const] : []),
    ],
  };
}

/**
 * The operations a rollout may run when the containers on the host are not known (`plan` without
 * `--refresh`): what it does when every container is old and running.
 */
export function assumedRollout(desired: DesiredRollout): RolloutOp[] {
  if (desired.replicas === 0) return [{ op: 'retire', containers: [] }];
  return desired.strategy === 'start-first'
    ? [
        { op: 'scale-up', scale: desired.replicas * 2, adding: desired.replicas },
        { op: 'wait' },
        ...(desired.route ? [{ op: 'route' } as const] : []),
        { op: 'retire', containers: [] },
      ]
    : decideRollout([], desired, undefined).ops;
}

/** One line per operation, as `plan` prints them, e.g. "start 2 new beside the others (scale to 4)". */
export function describeRolloutOp(op: RolloutOp, desired: DesiredRollout): string {
  const short = (containers: string[]) => containers.map((id) => id.slice(0, 12)).join(', ');
  switch (op.op) {
    case 'remove':
      return `remove exited ${short(op.containers)}`;
    case 'recreate':
      return `recreate ${desired.service} in place (${op.replicas} replica${op.replicas === 1 ? '' : 's'})`;
    case 'scale-up':
      return `start ${op.adding} new ${desired.service} beside the others (scale to ${op.scale})`;
    case 'wait':
      return 'wait until the new containers are healthy';
    case 'route':
      return `route ${desired.route?.domains.join(', ') ?? desired.service} to the new containers`;
    case 'remove-leftovers':
      return 'remove containers left at an older spec';
    case 'retire':
      if (desired.replicas === 0)
        return op.containers.length > 0
          ? `stop and remove ${short(op.containers)} (scaled to 0)`
          : `stop and remove the containers of ${desired.service} (scaled to 0)`;
      return op.containers.length > 0
        ? `drain, stop and remove ${short(op.containers)}`
        : 'drain, stop and remove the old containers';
  }
}
