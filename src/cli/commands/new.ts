import type { CommandContext } from '../context.js';

interface NewOptions {
  template: string;
  name?: string;
  force?: boolean;
  install?: boolean;
}

/** `stagecraft new <dir> --template NAME`: a working project from an embedded template. */
export async function run(context: CommandContext, dir: string, options: NewOptions): Promise<number> {
  const { newProject } = await import('../../operations/scaffold.js');
  const result = await newProject(
    context.cwd,
    {
      dir,
      template: options.template,
      projectName: options.name,
      force: options.force === true,
      install: options.install !== false,
      dryRun: context.globals.dryRun,
    },
    (line) => context.output.info(line),
  );
  if (context.globals.json) {
    context.output.json({ dryRun: context.globals.dryRun, template: options.template, ...result });
    return 0;
  }
  const verb = context.globals.dryRun ? 'Would create' : 'Created';
  context.output.result(
    `✓ ${verb} ${result.projectName} from template ${options.template} in ${result.root}`,
  );
  for (const file of result.files)
    context.output.info(`  ${file.path}${file.overwritten ? ' (overwritten)' : ''}`);
  context.output.result(`\nNext:\n${result.nextSteps.map((step) => `  ${step}`).join('\n')}`);
  return 0;
}
