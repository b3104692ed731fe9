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
  // Compose reads the project (a subprocess, most of a plan's wait) while the deploy code loads: the
  // environment is loaded first, and the rest of the plan's modules once stagecraft.yml is read.
  const { loadVersioned } = await import('../../operations/versioned.js');
  let configRead: () => void = () => undefined;
  const configReady = new Promise<void>((resolve) => {
    configRead = resolve;
  });
  const loading = loadVersioned(
    {
      ...context,
      loadConfig: (purpose) => context.loadConfig(purpose).finally(() => configRead()),
    },
    options.version,
    'plan',
  );
  const [{ deployShapeFlags, prepareDeploy, renderPlan, readRolloutDecisions }] = await Promise.all([
    configReady.then(() => import('../../operations/deploy.js')),
    loading,
  ]);
  const apply = { flags: deployShapeFlags(options) };
  // Without --refresh the output is known once the plan is: rendered while compose checks the files.
  let print: (() => void) | undefined;
  const prepared = await prepareDeploy(context, {
    ...options,
    planOnly: true,
    loading,
    readGateways: options.refresh === true,
    ...(options.refresh === true
      ? {}
      : { whileChecking: (plan) => (print = renderPlan(context, plan, format, undefined, apply)) }),
  });
  if (print === undefined) {
    const decisions = options.refresh === true ? await readRolloutDecisions(context, prepared) : undefined;
    print = renderPlan(context, prepared.plan, format, decisions, apply);
  }
  print();
  return 0;
}
