import { deployShapeFlags, executeDeploy, prepareDeploy, printPlan } from '../../operations/deploy.js';
import type { LoadedEnvironment } from '../../operations/environment.js';
import { hostsInScope } from '../../operations/fleet.js';
import { checkHostsReady, notSetUpError, runSetup } from '../../operations/setup.js';
import { RunnerPool } from '../../runners/pool.js';
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
    const planned = await prepareDeploy(context, { ...options, planOnly: true, dryRun: true });
    printPlan(context, planned.plan, 'text', undefined, { flags: deployShapeFlags(flags) });
    return 0;
  }
  // One connection per host for the whole deploy: the ready check, the reads before the plan and
  // every step share it; closed once at the end, on errors and on Ctrl+C too.
  const runners = new RunnerPool();
  runners.closeOnInterrupt();
  try {
    return await deploy(context, flags, { ...options, runners });
  } finally {
    await runners.close();
  }
}

async function deploy(
  context: CommandContext,
  flags: DeployFlags,
  options: DeployFlags & { lockWaitMs: number; runners: RunnerPool },
): Promise<number> {
  const question = (project: string, version: string, environment: string) =>
    `Deploy ${project} ${version} to ${environment}?`;
  let confirmed = false;
  const prepared = await prepareDeploy(context, {
    ...options,
    // Before the deploy reads anything from the hosts: a new host has no deploy user to log in as yet.
    beforeHosts: async (loadedEnv, version) => {
      const { model } = loadedEnv;
      // `--setup` changes the hosts: ask first. A deploy alone asks once its plan is built.
      if (flags.setup === true && model.requireConfirmation) {
        await confirm(context, question(model.project, version, model.environment), 'environment');
        confirmed = true;
      }
      await prepareHosts(context, loadedEnv, flags.setup === true, options.runners);
    },
  });
  if (prepared.env.model.requireConfirmation && !confirmed) {
    await confirm(
      context,
      question(prepared.plan.project, prepared.plan.version, prepared.plan.environment),
      'environment',
    );
  }
  return executeDeploy(context, prepared, options);
}

/**
 * `--setup`: set the hosts in scope up; otherwise check each has Docker and compose v2 running,
 * over the deploy's shared connections (`runners`).
 */
async function prepareHosts(
  context: CommandContext,
  env: LoadedEnvironment,
  setup: boolean,
  runners: RunnerPool,
): Promise<void> {
  const hosts = hostsInScope(env.model, context.globals);
  if (setup && env.model.driver !== 'local') {
    await runSetup(context, env, { dryRun: false, hosts });
    return;
  }
  const notReady = await checkHostsReady(env, (host) => runners.get(env.model, host.name), hosts);
  if (notReady.length > 0) throw notSetUpError(env.model, notReady);
}
