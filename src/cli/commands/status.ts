import { loadEnvironment, refuseOnSwarm } from '../../operations/environment.js';
import { globMatch, HostRunners, hostsInScope, throwIfUnreachable } from '../../operations/fleet.js';
import { collectStatus, renderStatus, type StatusReport, statusJson } from '../../operations/status.js';
import type { CommandContext } from '../context.js';

function onlyServices(report: StatusReport, patterns: string[] | undefined): StatusReport {
  if (patterns === undefined) return report;
  return {
    ...report,
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
  refuseOnSwarm(env, 'status');
  const hosts = hostsInScope(env.model, context.globals);
  const runners = new HostRunners(env);
  let report: StatusReport;
  try {
    report = onlyServices(await collectStatus(context, env, runners, hosts), context.globals.services);
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
