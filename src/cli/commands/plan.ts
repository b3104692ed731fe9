import { deployShapeFlags, prepareDeploy, printPlan, readRolloutDecisions } from '../../operations/deploy.js';
import { UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

export async function run(
  context: CommandContext,
  options: {
    format?: string;
    version?: string;
    skipBuild?: boolean;
    skipMigrations?: boolean;
    refresh?: boolean;
  },
): Promise<number> {
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'json') {
    throw new UserError(`invalid format: ${format} (must be 'text' or 'json')`, {
      hint: 'pass --format text or --format json',
    });
  }
  const prepared = await prepareDeploy(context, { ...options, planOnly: true });
  const decisions = options.refresh === true ? await readRolloutDecisions(context, prepared) : undefined;
  printPlan(context, prepared.plan, format, decisions, { flags: deployShapeFlags(options) });
  return 0;
}
