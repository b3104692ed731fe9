import { dirname, resolve } from 'node:path';
import type { CommandContext } from '../context.js';

interface AttachOptions {
  projectName?: string;
  force?: boolean;
}

/** `stagecraft attach`: Stagecraft added to the repository in the current folder. */
export async function run(context: CommandContext, options: AttachOptions): Promise<number> {
  const { attachProject } = await import('../../operations/scaffold.js');
  const root =
    context.globals.config === undefined
      ? context.cwd
      : dirname(resolve(context.cwd, context.globals.config));
  const result = await attachProject({
    root,
    projectName: options.projectName,
    force: options.force === true,
    dryRun: context.globals.dryRun,
  });
  if (context.globals.json) {
    context.output.json({ dryRun: context.globals.dryRun, ...result });
    return 0;
  }
  const verb = context.globals.dryRun ? 'would write' : 'wrote';
  context.output.result(
    context.globals.dryRun
      ? `✓ Would attach Stagecraft to ${result.projectName} in ${result.root}`
      : `✓ Stagecraft attached to ${result.projectName} in ${result.root}`,
  );
  for (const file of result.files)
    context.output.info(`  ${verb} ${file.path}${file.overwritten ? ' (overwritten)' : ''}`);
  if (result.gitignore.length > 0)
    context.output.info(`  ${verb} .gitignore entries: ${result.gitignore.join(' ')}`);
  if (result.proposedCompose !== undefined) {
    context.output.warn(
      'no compose file was found: docker-compose.yml is proposed from your Dockerfiles, review it',
    );
  }
  context.output.result(`\nNext:\n${result.nextSteps.map((step) => `  ${step}`).join('\n')}`);
  return 0;
}
