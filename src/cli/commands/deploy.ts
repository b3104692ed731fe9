import { executeDeploy, prepareDeploy, printPlan } from '../../operations/deploy.js';
import { parseDuration } from '../../util/duration.js';
import { UserError } from '../../util/errors.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';

export interface DeployFlags {
  version?: string;
  skipBuild?: boolean;
  skipMigrations?: boolean;
  message?: string;
  lockWait?: string;
  autoRollback?: boolean;
}

export function lockWaitMs(value: string | undefined): number {
  if (value === undefined) return 0;
  try {
    return parseDuration(value);
  } catch {
    throw new UserError(`invalid --lock-wait "${value}"`, { hint: 'pass a duration such as 30s or 5m' });
  }
}

export async function run(context: CommandContext, flags: DeployFlags): Promise<number> {
  const options = {
    ...flags,
    lockWaitMs: lockWaitMs(flags.lockWait),
  };
  if (context.globals.dryRun) {
    const planned = await prepareDeploy(context, { ...options, planOnly: true });
    printPlan(context, planned.plan, 'text');
    return 0;
  }
  const prepared = await prepareDeploy(context, options);
  if (prepared.env.model.requireConfirmation) {
    await confirm(
      context,
      `Deploy ${prepared.plan.project} ${prepared.plan.version} to ${prepared.plan.environment}?`,
    );
  }
  return executeDeploy(context, prepared, options);
}
