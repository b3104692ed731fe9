import { type Retention, retention } from '../plan/prune.js';
import { borrowRunner, type RunnerPool } from '../runners/pool.js';
import { Ledger, mergeLedgers, readRemoteLedger } from '../state/ledger.js';
import type { LoadedEnvironment } from './environment.js';
import type { Session } from './session.js';

/**
 * What the environment keeps, from its whole history: the local ledger (every environment: their
 * images are kept) merged with the lock host's. `current`: the release a deploy is making. Without
 * the lock host's history (`planOnly`, or it cannot be read) a release recorded only there would look
 * unknown, so nothing is decided: undefined (a warning says so unless `planOnly`). `retain` overrides
 * `releases.retain` (0: `remove` keeps none). `runners`: the command's pool (the lock host's shared
 * connection), else a connection of its own.
 */
export async function retentionFor(
  session: Session,
  env: LoadedEnvironment,
  current: { id: string; images: Record<string, string> } | undefined,
  options: { planOnly: boolean; retain?: number; runners?: RunnerPool },
): Promise<Retention | undefined> {
  const { model } = env;
  const retain = options.retain ?? model.releases.retain;
  const local = await new Ledger({ projectRoot: env.loaded.root, env: session.env }).list();
  if (options.planOnly) return retention(local, model.environment, retain, current);
  const runner = borrowRunner(options.runners, model, model.lockHost);
  try {
    const remote = await readRemoteLedger(runner, model.project, model.environment);
    return retention(mergeLedgers(local, remote), model.environment, retain, current);
  } catch (error) {
    session.output.warn(
      `old releases are kept this time: the release history on ${model.lockHost} could not be read (${(error as Error).message})`,
    );
    return undefined;
  } finally {
    await runner.close().catch(() => undefined);
  }
}
