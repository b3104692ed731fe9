import { infraDown, infraUp, openInfra, planUp, printInfraPlan } from '../../operations/infra.js';
import { changingSteps } from '../../plan/infra.js';
import { confirm } from '../confirm.js';
import type { CommandContext } from '../context.js';

/** `stagecraft infra plan`: what `up` would create, keep, refuse or delete; reads the account, changes nothing. */
export async function plan(context: CommandContext): Promise<number> {
  const session = await openInfra(context);
  printInfraPlan(context, await planUp(session, context.env));
  return 0;
}

/** `stagecraft infra up`: apply the plan, record the hosts, run setup on them. `--dry-run` = plan. */
export async function up(context: CommandContext, flags: { setup?: boolean }): Promise<number> {
  const session = await openInfra(context);
  if (context.globals.dryRun) {
    printInfraPlan(context, await planUp(session, context.env));
    return 0;
  }
  const outcome = await infraUp(context, session, (question) => confirm(context, question), {
    setup: flags.setup !== false,
  });
  context.output.result(
    outcome.changed === 0
      ? `infra ${session.environment}: no changes${flags.setup === false ? '' : '; hosts verified by setup'}`
      : `infra ${session.environment}: ${outcome.changed} change${outcome.changed === 1 ? '' : 's'} applied${flags.setup === false ? '' : '; hosts set up'}`,
  );
  return 0;
}

/** `stagecraft infra down [--delete-volumes]`: delete the environment's droplets and firewall after confirmation. */
export async function down(context: CommandContext, flags: { deleteVolumes?: boolean }): Promise<number> {
  const session = await openInfra(context);
  const done = await infraDown(
    context,
    session,
    { deleteVolumes: flags.deleteVolumes === true, dryRun: context.globals.dryRun },
    (question) => confirm(context, question),
  );
  if (!context.globals.dryRun) {
    const count = changingSteps(done).length;
    context.output.result(
      count === 0
        ? `infra ${session.environment}: nothing to delete`
        : `infra ${session.environment}: deleted (${count} step${count === 1 ? '' : 's'})`,
    );
  }
  return 0;
}
