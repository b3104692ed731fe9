import { VERSION } from '../../version.js';
import type { CommandContext } from '../context.js';

export async function run(context: CommandContext): Promise<number> {
  if (context.globals.json) context.output.json({ version: VERSION, node: process.version });
  else context.output.result(`Stagecraft version ${VERSION}`);
  return 0;
}
