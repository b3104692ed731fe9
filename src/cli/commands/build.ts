import { stepHandler } from '../../engine/handlers.js';
import { runPlan } from '../../engine/run.js';
import { prepareDeploy, printPlan } from '../../operations/deploy.js';
import { pushSteps } from '../../plan/deploy.js';
import { progressRenderer } from '../../render/progress.js';
import { LocalRunner } from '../../runners/local.js';
import { ExternalError, UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

/** Builds (and with --push pushes) the images a deploy would use; records no release. */
export async function run(
  context: CommandContext,
  options: { push?: boolean; version?: string },
): Promise<number> {
  const prepared = await prepareDeploy(context, { version: options.version, skipMigrations: true });
  const plan = {
    ...prepared.plan,
    phases: prepared.plan.phases.map((phase) =>
      phase.name === 'build' || (phase.name === 'push' && options.push === true)
        ? phase
        : {
            name: phase.name,
            skipped: phase.name === 'push' ? 'pass --push to push' : 'not part of build',
            steps: [],
          },
    ),
  };
  if (
    plan.phases[0]?.steps.length === 0 &&
    plan.phases[0]?.skipped !== undefined &&
    context.globals.services
  ) {
    throw new UserError(`no buildable service among ${context.globals.services.join(', ')}`, {
      hint: 'services build when they have build: in the compose file',
    });
  }
  if (options.push === true && prepared.env.model.registry === undefined) {
    throw new UserError('nothing to push to: project.registry is not set', {
      hint: 'set project.registry in stagecraft.yml',
    });
  }
  if (options.push === true && plan.phases[1]?.steps.length === 0) {
    plan.phases[1] = { name: 'push', steps: pushSteps(plan.phases[0]?.steps ?? []) };
  }
  if (context.globals.dryRun) {
    printPlan(context, plan, 'text');
    return 0;
  }
  const local = new LocalRunner({ cwd: prepared.env.loaded.root });
  const pushed: Record<string, string> = {};
  const result = await runPlan(plan, {
    handle: stepHandler({
      model: prepared.env.model,
      runner: () => local,
      pushed,
      lock: { acquire: async () => undefined, release: async () => undefined },
      migrate: async () => '',
      record: async () => undefined,
    }),
    emit: progressRenderer(context.output),
    onPhase: async () => undefined,
    parallelHosts: 1,
    canary: false,
    signal: new AbortController().signal,
  });
  if (!result.ok)
    throw result.error instanceof ExternalError
      ? result.error
      : new ExternalError(`build failed: ${String(result.error)}`);
  const images = Object.fromEntries(
    (plan.phases[0]?.steps ?? []).map((step) => {
      const action = step.action as Extract<typeof step.action, { kind: 'build' }>;
      return [action.service, pushed[action.service] ?? action.image];
    }),
  );
  if (context.globals.json) context.output.json({ version: plan.version, images });
  else context.output.result(Object.values(images).join('\n'));
  return 0;
}
