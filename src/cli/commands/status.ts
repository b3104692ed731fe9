import { loadEnvironment } from '../../operations/environment.js';
import { globMatch, HostRunners, hostsInScope, throwIfUnreachable } from '../../operations/fleet.js';
import { collectStatus, renderStatus, type StatusReport, statusJson } from '../../operations/status.js';
import type { CommandContext } from '../context.js';

function onlyServices(report: StatusReport, patterns: string[] | undefined): StatusReport {
  if (patterns === undefined) return report;
  const matches = (name: string) => patterns.some((pattern) => globMatch(pattern, name));
  return {
    ...report,
    ...(report.swarm === undefined
      ? {}
      : {
          swarm: {
            ...report.swarm,
            services: report.swarm.services.filter((service) => matches(service.name)),
          },
        }),
    hosts: report.hosts.map((host) => ({
      ...host,
      services: host.services.filter((service) =>
        patterns.some((pattern) => globMatch(pattern, service.name)),
      ),
    })),
  };
}

export async function run(context: CommandContext): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  const hosts = hostsInScope(env.model, context.globals);
  const runners = new HostRunners(env);
  let report: StatusReport;
  try {
    const collected =
      env.model.driver === 'swarm'
        ? await (await import('../../operations/swarm-status.js')).collectSwarmStatus(
            context,
            env,
            runners,
            hosts,
          )
        : await collectStatus(context, env, runners, hosts);
    report = onlyServices(collected, context.globals.services);
  } finally {
    await runners.closeAll();
  }
  const now = new Date();
  if (report.historyWarning !== undefined) {
    context.output.warn(
      `release history from this machine only: could not read the ledger on ${env.model.lockHost}: ${report.historyWarning}`,
    );
  }
  if (context.globals.json) context.output.json(statusJson(report, now));
  else context.output.result(renderStatus(report, now));

  throwIfUnreachable(report.hosts, env.model.environment);
  return 0;
}
