import { loadEnvironment } from '../../operations/environment.js';
import { HostRunners } from '../../operations/fleet.js';
import { execInService } from '../../operations/remote.js';
import type { CommandContext } from '../context.js';

export interface ExecFlags {
  interactive?: boolean;
  new?: boolean;
}

/** `stagecraft exec SERVICE [-i] [--new] -- CMD…`: exits with the command's exit code. */
export async function run(
  context: CommandContext,
  service: string,
  command: string[],
  flags: ExecFlags,
): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  const runners = new HostRunners(env);
  try {
    return await execInService(context, env, runners, service, command, {
      interactive: flags.interactive === true,
      new: flags.new === true,
    });
  } finally {
    await runners.closeAll();
  }
}
