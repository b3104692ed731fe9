import { loadEnvironment, refuseOnSwarm } from '../../operations/environment.js';
import { globMatch, HostRunners, hostsInScope } from '../../operations/fleet.js';
import { collectStatus, renderStatus, type StatusReport, statusJson } from '../../operations/status.js';
import { ExternalError, PartialFailure } from '../../util/errors.js';
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

  const failed = report.hosts.filter((host) => !host.reachable);
  if (failed.length === 0) return 0;
  const message = `could not read ${failed.length} of ${report.hosts.length} host${report.hosts.length === 1 ? '' : 's'}: ${failed.map((host) => host.name).join(', ')}`;
  const hint = `check that ${failed.length === 1 ? 'the host is' : 'the hosts are'} up and reachable over ssh (\`stagecraft doctor -e ${env.model.environment}\`)`;
  if (failed.length === report.hosts.length) throw new ExternalError(message, { hint });
  throw new PartialFailure(message, { hint });
}
