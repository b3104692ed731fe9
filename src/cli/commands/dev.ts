import type { CommandContext } from '../context.js';

/** The options commander hands to `dev` (`--no-hosts` is stored as editHosts; see program.ts). */
export interface DevCommandOptions {
  https?: boolean;
  editHosts?: boolean;
  detach?: boolean;
  only?: string;
}

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length === 0 ? undefined : items;
}

async function runtimeOf(context: CommandContext) {
  const loaded = await context.loadConfig('dev');
  return {
    loaded,
    output: context.output,
    env: context.env,
    verbose: context.globals.verbose,
    json: context.globals.json,
    color: context.output.options.color,
  };
}

/** `stagecraft dev [--no-https] [--no-hosts] [--detach] [--only a,b]` */
export async function run(context: CommandContext, options: DevCommandOptions = {}): Promise<number> {
  const { runDev } = await import('../../dev/index.js');
  return runDev(
    await runtimeOf(context),
    {
      https: options.https !== false,
      hosts: options.editHosts !== false,
      detach: options.detach === true,
      only: list(options.only),
    },
    process.argv,
  );
}

/** `stagecraft dev down` */
export async function runDown(context: CommandContext): Promise<number> {
  const { devDown } = await import('../../dev/index.js');
  const loaded = await context.loadConfig('dev');
  return devDown(loaded.root, context.output);
}
