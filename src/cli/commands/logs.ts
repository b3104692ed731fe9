import { loadEnvironment } from '../../operations/environment.js';
import { HostRunners, hostsInScope, requireService } from '../../operations/fleet.js';
import {
  followLogs,
  grepPattern,
  type LogsOptions,
  linesArgument,
  printLogs,
  sinceArgument,
} from '../../operations/logs.js';
import type { CommandContext } from '../context.js';

export interface LogsFlags {
  follow?: boolean;
  since?: string;
  lines?: string;
  /** docker's name for --lines. */
  tail?: string;
  grep?: string;
  timestamps?: boolean;
}

/** Without --since, the last 100 lines of each container (as Kamal does). */
const DEFAULT_LINES = 100;

export async function run(context: CommandContext, service: string, flags: LogsFlags): Promise<number> {
  const since = flags.since === undefined ? undefined : sinceArgument(flags.since);
  const lines = linesArgument(flags.lines ?? flags.tail) ?? (since === undefined ? DEFAULT_LINES : undefined);
  const options: LogsOptions = {
    follow: flags.follow === true,
    since,
    lines,
    format: { timestamps: flags.timestamps === true, grep: grepPattern(flags.grep) },
  };
  const env = await loadEnvironment(context, 'deploy');
  requireService(env.model, service);
  const hosts = hostsInScope(env.model, context.globals);
  const runners = new HostRunners(env);
  const swarm = env.model.driver === 'swarm' ? await import('../../operations/swarm-logs.js') : undefined;
  try {
    if (!options.follow) {
      return swarm === undefined
        ? await printLogs(context, env, runners, hosts, service, options)
        : await swarm.printSwarmLogs(context, env, runners, hosts, service, options);
    }
    const abort = new AbortController();
    // `on`, not `once`: execa's signal-exit handler re-raises a signal that no other listener is left for.
    const stop = () => abort.abort();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      return swarm === undefined
        ? await followLogs(context, env, runners, hosts, service, options, abort.signal)
        : await swarm.followSwarmLogs(context, env, runners, hosts, service, options, abort.signal);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  } finally {
    await runners.closeAll();
  }
}
