import { executeDeploy, prepareDeploy, printPlan } from '../../operations/deploy.js';
import { hostsInScope } from '../../operations/fleet.js';
import { checkHostsReady, notSetUpError, runSetup } from '../../operations/setup.js';
import { runnerFor } from '../../runners/factory.js';
import type { Runner } from '../../runners/types.js';
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
  setup?: boolean;
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
  const { env: loadedEnv } = prepared;
  const hosts = hostsInScope(loadedEnv.model, context.globals);
  if (flags.setup === true && loadedEnv.model.driver !== 'local') {
    await runSetup(context, loadedEnv, { dryRun: false, hosts });
  } else {
    const runners: Runner[] = [];
    try {
      const notReady = await checkHostsReady(
        loadedEnv,
        (host) => {
          const runner = runnerFor(loadedEnv.model, host.name);
          runners.push(runner);
          return runner;
        },
        hosts,
      );
      if (notReady.length > 0) throw notSetUpError(loadedEnv.model, notReady);
    } finally {
      await Promise.all(runners.map((runner) => runner.close().catch(() => undefined)));
    }
  }
  return executeDeploy(context, prepared, options);
}
