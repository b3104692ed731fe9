// The deploy lock as a release takes it (deploy, rollback, restart, prune, remove): one request shape,
// and one way of telling the user what happened to it.
import type { EnvironmentModel } from '../model/environment.js';
import { type AcquireOptions, type LockEvent, lockEventMessage } from '../state/lock.js';
import { systemClock } from '../util/clock.js';
import type { Session } from './session.js';

/** Says what happened to the deploy lock; a takeover is a warning nobody can miss. */
export function reportLockEvent(session: Session, event: LockEvent): void {
  if (event.kind === 'waiting') session.output.info(lockEventMessage(event));
  else session.output.warn(lockEventMessage(event));
}

/**
 * The `acquireLock` options of a release of `version` in the model's environment, held by this
 * process (so a dead holder's lock may be broken), with the model's lease expiry (ms), `waitMs` of
 * waiting for a held lock (0: fail at once), the release it runs (LockInfo.release) and events
 * reported to the session.
 */
export function releaseLockRequest(
  session: Session,
  model: Pick<EnvironmentModel, 'project' | 'environment' | 'lockExpiryMs'>,
  request: { version: string; message: string; waitMs: number | undefined; release?: string },
): AcquireOptions {
  return {
    ...(request.release === undefined ? {} : { release: request.release }),
    project: model.project,
    env: model.environment,
    version: request.version,
    message: request.message,
    expiryMs: model.lockExpiryMs,
    waitMs: request.waitMs ?? 0,
    clock: systemClock,
    pid: process.pid,
    onEvent: (event) => reportLockEvent(session, event),
  };
}
