import { resolve } from 'node:path';
import { configJsonSchema } from '../../config/json-schema.js';
import { builtinProviders } from '../../providers/index.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { CommandContext } from '../context.js';

export async function run(context: CommandContext, options: { output?: string }): Promise<number> {
  const text = `${JSON.stringify(configJsonSchema(builtinProviders().catalog()), null, 2)}\n`;
  if (options.output === undefined) {
    context.output.result(text);
    return 0;
  }
  const path = resolve(context.cwd, options.output);
  await writeFileAtomic(path, text);
  context.output.info(`wrote ${path}`);
  return 0;
}
