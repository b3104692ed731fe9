import { executeDeploy, prepareDeploy, printPlan } from '../../operations/deploy.js';
import { loadEnvironment } from '../../operations/environment.js';
import { releaseHistory, releaseStatus } from '../../operations/history.js';
import { RunnerPool } from '../../runners/pool.js';
import { latestRecord, previousRelease, runningRelease } from '../../state/ledger.js';
import type { ReleaseRecord } from '../../state/types.js';
import { UserError } from '../../util/errors.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { lockWaitMs } from './deploy.js';

export interface RollbackFlags {
  toPrevious?: boolean;
  toRelease?: string;
  toVersion?: string;
  lockWait?: string;
}

/**
 * The release `rollback` returns to, from the environment's history (newest first) and exactly one
 * target flag. Removals are never a target. Throws UserError naming what is missing or unfit.
 */
export function rollbackTarget(history: ReleaseRecord[], flags: RollbackFlags, env: string): ReleaseRecord {
  const completed = history.filter(
    (record) => releaseStatus(record) === 'completed' && record.kind !== 'remove',
  );
  const latest = latestRecord(history, env);
  const current = runningRelease(latest);
  let target: ReleaseRecord | undefined;
  if (flags.toPrevious) {
    if (latest?.kind === 'remove')
      throw new UserError(`${env} was removed by ${latest.id}: no release runs to roll back from`, {
        hint: 'return to a release with --to-release <id> or --to-version <version> (see `stagecraft releases list`), or deploy',
      });
    if (current === undefined)
      throw new UserError(`no completed release found for environment "${env}"`, { hint: 'deploy first' });
    // The ledger's previous release, skipping releases of the version that runs now (a restart, a redeploy).
    target = previousRelease(history, env, current.id);
    while (target !== undefined && target.version === current.version)
      target = previousRelease(history, env, target.id);
    if (target === undefined)
      throw new UserError('no previous release to roll back to', { hint: 'see `stagecraft releases list`' });
  } else if (flags.toRelease !== undefined) {
    target = history.find((record) => record.id === flags.toRelease);
    if (target === undefined) {
      throw new UserError(`rollback target not found: "${flags.toRelease}"`, {
        hint: 'see `stagecraft releases list` for release ids',
      });
    }
  } else {
    // A release of the whole environment first; one limited to some hosts or services if no other.
    const ofVersion = completed.filter((record) => record.version === flags.toVersion);
    target = ofVersion.find((record) => record.scope === undefined) ?? ofVersion[0];
    if (target === undefined) {
      throw new UserError(
        `no completed release found with version "${flags.toVersion}" in environment "${env}"`,
        {
          hint: 'see `stagecraft releases list`',
        },
      );
    }
  }
  if (target.kind === 'remove') {
    throw new UserError(`"${target.id}" is the removal of ${env}, not a release to return to`, {
      hint: 'pick a deploy or rollback from `stagecraft releases list`',
    });
  }
  if (releaseStatus(target) !== 'completed') {
    const incomplete = Object.entries(target.phases)
      .filter(([, status]) => status !== 'completed' && status !== 'skipped')
      .map(([phase]) => phase);
    throw new UserError(
      `rollback target "${target.id}" is not fully deployed (phases: ${incomplete.join(', ')})`,
      {
        hint: 'pick a completed release from `stagecraft releases list`',
      },
    );
  }
  if (Object.keys(target.images).length === 0 && Object.keys(target.hosts).length === 0) {
    throw new UserError(`release "${target.id}" records no images to return to`);
  }
  return target;
}

export async function run(context: CommandContext, flags: RollbackFlags): Promise<number> {
  const chosen = [
    flags.toPrevious === true,
    flags.toRelease !== undefined,
    flags.toVersion !== undefined,
  ].filter(Boolean).length;
  if (chosen === 0) {
    throw new UserError('rollback target required', {
      hint: 'use --to-previous, --to-release <id>, or --to-version <version>',
    });
  }
  if (chosen > 1)
    throw new UserError('only one rollback target flag may be specified', {
      hint: 'pick one of --to-previous, --to-release, --to-version',
    });
  const env = await loadEnvironment(context, 'deploy');
  const target = rollbackTarget(await releaseHistory(context, env), flags, env.model.environment);
  if (env.model.requireConfirmation && !context.globals.dryRun) {
    await confirm(
      context,
      `Roll back ${env.model.project} ${env.model.environment} to release ${target.id} (version ${target.version})?`,
      'environment',
    );
  }
  // One connection per host for the reads of the hosts and every step, closed once at the end.
  const runners = new RunnerPool();
  runners.closeOnInterrupt();
  try {
    const options = { rollbackOf: target, lockWaitMs: lockWaitMs(flags.lockWait), runners };
    const prepared = await prepareDeploy(context, options);
    if (context.globals.dryRun) {
      context.output.info(
        `Would roll back ${env.model.environment} to release ${target.id} (version ${target.version})`,
      );
      printPlan(context, prepared.plan, 'text', undefined, {
        command: ['rollback'],
        flags: ['--to-release', target.id],
      });
      return 0;
    }
    context.output.info(
      `Rolling back environment "${env.model.environment}" to release ${target.id} (version ${target.version})`,
    );
    return await executeDeploy(context, prepared, options);
  } finally {
    await runners.close();
  }
}
