import { loadEnvironment } from '../../operations/environment.js';
import { hostsInScope } from '../../operations/fleet.js';
import { runSetup, setupPlanJson, setupPlanText } from '../../operations/setup.js';
import { UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

/** `stagecraft setup`: bring the environment's hosts to what a deploy needs; `--dry-run` prints the plan. */
export async function run(context: CommandContext): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  if (env.model.driver === 'local') {
    throw new UserError(
      `environment ${env.model.environment} uses driver local: there are no hosts to set up`,
      {
        hint: 'setup prepares the hosts of a driver ssh or swarm environment; pass --env <name>',
      },
    );
  }
  const hosts = hostsInScope(env.model, context.globals);
  const outcome = await runSetup(context, env, { dryRun: context.globals.dryRun, hosts });
  if (context.globals.dryRun) {
    if (context.globals.json) context.output.json(setupPlanJson(outcome.plan));
    else context.output.result(setupPlanText(outcome.plan));
    return 0;
  }
  const swarm = outcome.plan.swarm;
  const swarmChanges = swarm?.steps.length ?? 0;
  const summary =
    outcome.changed === 0
      ? `setup: ${hosts.length} host${hosts.length === 1 ? '' : 's'} already set up${swarm ? `, the swarm of ${swarm.manager} formed and labelled` : ''}; nothing changed`
      : `setup: ${outcome.changed} change${outcome.changed === 1 ? '' : 's'} on ${new Set([...outcome.plan.hosts.filter((h) => h.steps.length > 0).map((h) => h.host), ...(swarm?.steps ?? []).map((step) => step.host)]).size} host(s)${swarmChanges > 0 ? ` (${swarmChanges} to the swarm of ${swarm!.manager})` : ''}; every host verified`;
  if (context.globals.json) {
    context.output.json({ ...setupPlanJson(outcome.plan), changed: outcome.changed });
  } else {
    context.output.result(summary);
  }
  return 0;
}
