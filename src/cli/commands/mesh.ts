import { loadEnvironment } from '../../operations/environment.js';
import { HostRunners, hostsInScope, throwIfUnreachable } from '../../operations/fleet.js';
import { collectMeshStatus, meshStatusJson, renderMeshStatus } from '../../operations/mesh-status.js';
import { UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

/**
 * `stagecraft mesh status`: each host's mesh state beside what the config wants. Read-only. Exit 0
 * when every host was read (differences included: they are reported, `--json` has `agrees`), 2 when
 * no host could be read, partial when some could not.
 */
export async function status(context: CommandContext): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  if (env.model.mesh === undefined) {
    throw new UserError(
      `environment ${env.model.environment} has no mesh (network.provider is none or unset)`,
      {
        hint: 'set network.provider to tailscale or headscale and its network.providers section (docs/mesh.md)',
      },
    );
  }
  const hosts = hostsInScope(env.model, context.globals);
  const runners = new HostRunners(env);
  let report: Awaited<ReturnType<typeof collectMeshStatus>>;
  try {
    report = await collectMeshStatus(env, runners, hosts);
  } finally {
    await runners.closeAll();
  }
  if (context.globals.json) context.output.json(meshStatusJson(report));
  else context.output.result(renderMeshStatus(report));
  throwIfUnreachable(report.hosts, env.model.environment);
  return 0;
}
