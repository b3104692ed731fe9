import { executeBuild, prepareBuild } from '../../operations/build.js';
import { printPlan } from '../../operations/deploy.js';
import type { CommandContext } from '../context.js';

/** Builds (and with --push pushes) the images a deploy would use; records no release. */
export async function run(
  context: CommandContext,
  options: { push?: boolean; version?: string },
): Promise<number> {
  const prepared = await prepareBuild(context, options);
  if (context.globals.dryRun) {
    printPlan(context, prepared.plan, 'text', undefined, {
      command: ['build'],
      flags: [
        ...(options.version === undefined ? [] : ['--version', options.version]),
        ...(options.push === true ? ['--push'] : []),
      ],
    });
    return 0;
  }
  const images = await executeBuild(context, prepared);
  if (context.globals.json) context.output.json({ version: prepared.plan.version, images });
  else context.output.result(Object.values(images).join('\n'));
  return 0;
}
