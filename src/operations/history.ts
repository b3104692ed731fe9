import { runnerFor } from '../runners/factory.js';
import type { Runner } from '../runners/types.js';
import { Ledger, mergeLedgers, readRemoteLedger } from '../state/ledger.js';
import type { ReleaseRecord } from '../state/types.js';
import type { LoadedEnvironment } from './environment.js';
import type { Session } from './session.js';

/** The runner of the environment's lock host, where the shared ledger and the lock live. */
export function lockHostRunner(env: LoadedEnvironment): Runner {
  return runnerFor(env.model, env.model.lockHost);
}

/**
 * Release history of the environment: the local ledger merged with the lock host's, so history
 * survives a lost laptop and is shared by every operator and CI. An unreachable host is a warning.
 */
export async function releaseHistory(context: Session, env: LoadedEnvironment): Promise<ReleaseRecord[]> {
  const ledger = new Ledger({ projectRoot: env.loaded.root, env: context.env });
  const local = await ledger.list(env.model.environment);
  const runner = lockHostRunner(env);
  try {
    const remote = await readRemoteLedger(runner, env.model.project, env.model.environment);
    return mergeLedgers(local, remote).filter((record) => record.environment === env.model.environment);
  } catch (error) {
    context.output.warn(
      `showing the local history only: could not read the ledger on ${runner.name}: ${(error as Error).message}`,
    );
    return local;
  } finally {
    await runner.close().catch(() => undefined);
  }
}

export function releaseStatus(record: ReleaseRecord): 'completed' | 'failed' | 'running' | 'pending' {
  const statuses = Object.values(record.phases);
  if (statuses.includes('failed')) return 'failed';
  if (statuses.every((status) => status === 'completed' || status === 'skipped')) return 'completed';
  if (statuses.includes('running')) return 'running';
  return 'pending';
}
