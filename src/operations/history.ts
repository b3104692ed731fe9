import { runnerFor } from '../runners/factory.js';
import type { Runner } from '../runners/types.js';
import { isCompletedRelease, leftUnfinished } from '../state/ledger.js';
import type { ReleaseRecord } from '../state/types.js';
import type { LoadedEnvironment } from './environment.js';
import { HostRunners, readHistory } from './fleet.js';
import type { Session } from './session.js';

/** The runner of the environment's lock host, where the shared ledger and the lock live. */
export function lockHostRunner(env: LoadedEnvironment): Runner {
  return runnerFor(env.model, env.model.lockHost);
}

/**
 * Release history of the environment, newest first: the local ledger merged with the lock host's
 * (fleet.ts readHistory, the one reader), so history survives a lost laptop and is shared by every
 * operator and CI. An unreachable lock host is a warning; the local history is returned then.
 */
export async function releaseHistory(session: Session, env: LoadedEnvironment): Promise<ReleaseRecord[]> {
  const runners = new HostRunners(env);
  try {
    const history = await readHistory(session, env, runners);
    if (history.remoteError !== undefined) {
      session.output.warn(
        `showing the local history only: could not read the ledger on ${env.model.lockHost}: ${history.remoteError}`,
      );
    }
    return history.releases;
  } finally {
    await runners.closeAll();
  }
}

/**
 * A release's status as `releases` shows it: completed (state/ledger isCompletedRelease, the one
 * rule: finalize completed and no phase other than completed or skipped), failed, running, interrupted
 * (running, but its deploy process on this machine is gone: killed before it could record the end;
 * the next deploy records it as failed), pending.
 */
export function releaseStatus(
  record: ReleaseRecord,
): 'completed' | 'failed' | 'running' | 'interrupted' | 'pending' {
  if (isCompletedRelease(record)) return 'completed';
  const statuses = Object.values(record.phases);
  if (statuses.includes('failed')) return 'failed';
  if (leftUnfinished(record)) return 'interrupted';
  return statuses.includes('running') ? 'running' : 'pending';
}
