import { stringify } from 'yaml';
import type { PathSegment } from '../../config/issues.js';
import { readInfraState } from '../../state/infra.js';
import { REDACTED } from '../../util/secret.js';
import type { CommandContext } from '../context.js';

function redactPaths(value: unknown, paths: PathSegment[][]): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  for (const path of paths) {
    let node: Record<string | number, unknown> | undefined = copy;
    for (const segment of path.slice(0, -1))
      node = node?.[segment] as Record<string | number, unknown> | undefined;
    const last = path[path.length - 1];
    if (node !== undefined && last !== undefined && last in node) node[last] = REDACTED;
  }
  return copy;
}

export async function run(context: CommandContext): Promise<number> {
  const loaded = await context.loadConfig('any');
  const config = redactPaths(loaded.config, loaded.secretPaths);
  const infra = loaded.envName === undefined ? undefined : readInfraState(loaded.root, loaded.envName);
  const infraHosts = infra?.hosts.map(({ name, role, address }) => ({ name, role, address }));
  if (context.globals.json) {
    context.output.json({
      file: loaded.file,
      environment: loaded.envName ?? null,
      config,
      ...(infraHosts ? { infra_hosts: infraHosts } : {}),
    });
    return 0;
  }
  const header = `# ${loaded.file}${loaded.envName ? `, environment ${loaded.envName}` : ''}\n`;
  const hosts = infraHosts
    ? `# hosts of ${loaded.envName} from \`infra up\` (${infra!.provider}, ${infra!.updated_at}):\n${stringify({ infra_hosts: infraHosts }, { lineWidth: 0 })}`
    : '';
  context.output.result(header + stringify(config, { sortMapEntries: false, lineWidth: 0 }) + hosts);
  return 0;
}
