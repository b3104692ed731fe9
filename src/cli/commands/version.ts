import { buildInfo } from '../../util/build-info.js';
import type { CommandContext } from '../context.js';

/**
 * `stagecraft version`: the version and which build this is, e.g.
 * "Stagecraft version 0.1.0 (npm build, commit 1a2b3c4, Node v20.19.0 linux-x64)".
 * --json: { version, build: npm|sea|source, commit, node, platform }.
 */
export async function run(context: CommandContext): Promise<number> {
  const info = buildInfo();
  if (context.globals.json) context.output.json(info);
  else
    context.output.result(
      `Stagecraft version ${info.version} (${info.build} build, commit ${info.commit}, Node ${info.node} ${info.platform})`,
    );
  return 0;
}
