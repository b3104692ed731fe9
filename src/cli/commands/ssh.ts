import { loadEnvironment } from '../../operations/environment.js';
import { HostRunners } from '../../operations/fleet.js';
import { sshSession } from '../../operations/remote.js';
import type { CommandContext } from '../context.js';

/** `stagecraft ssh HOST|ROLE [-- CMD…]`: exits with the shell's or the command's exit code. */
export async function run(context: CommandContext, target: string, command: string[]): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  const runners = new HostRunners(env);
  try {
    return await sshSession(env, runners, target, command);
  } finally {
    await runners.closeAll();
  }
}
