import { loadEnvironment } from '../../operations/environment.js';
import { releaseHistory, releaseStatus } from '../../operations/history.js';
import { auditRows, listRows, showLines } from '../../render/releases.js';
import { formatTable } from '../../render/table.js';
import type { ReleaseRecord } from '../../state/types.js';
import { UserError } from '../../util/errors.js';
import { printable } from '../../util/printable.js';
import type { CommandContext } from '../context.js';

function find(history: ReleaseRecord[], id: string): ReleaseRecord {
  const record = history.find((candidate) => candidate.id === id);
  if (record === undefined)
    throw new UserError(`release not found: "${id}"`, { hint: 'see `stagecraft releases list`' });
  return record;
}

export async function list(context: CommandContext): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  const history = await releaseHistory(context, env);
  if (context.globals.json) {
    context.output.json({
      environment: env.model.environment,
      releases: history.map((record) => ({ ...record, status: releaseStatus(record) })),
    });
    return 0;
  }
  if (history.length === 0) {
    context.output.result('No releases found');
    return 0;
  }
  const rows = listRows(history, releaseStatus);
  context.output.result(formatTable(rows));
  return 0;
}

export async function show(context: CommandContext, id: string): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  const record = find(await releaseHistory(context, env), id);
  if (context.globals.json) {
    context.output.json({ ...record, status: releaseStatus(record) });
    return 0;
  }
  const lines = showLines(record, releaseStatus(record));
  context.output.result(lines.join('\n'));
  return 0;
}

export async function diff(context: CommandContext, a: string, b: string): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  const history = await releaseHistory(context, env);
  const [from, to] = [find(history, a), find(history, b)];
  const changes: { kind: string; name: string; from: string; to: string }[] = [];
  if (from.version !== to.version)
    changes.push({ kind: 'version', name: 'version', from: from.version, to: to.version });
  const images = (record: ReleaseRecord) => (record.images ?? {}) as Record<string, string>;
  const hosts = (record: ReleaseRecord) => (record.hosts ?? {}) as ReleaseRecord['hosts'];
  for (const service of [...new Set([...Object.keys(images(from)), ...Object.keys(images(to))])].sort()) {
    const [x, y] = [images(from)[service] ?? '-', images(to)[service] ?? '-'];
    if (x !== y) changes.push({ kind: 'image', name: service, from: x, to: y });
  }
  for (const host of [...new Set([...Object.keys(hosts(from)), ...Object.keys(hosts(to))])].sort()) {
    const [x, y] = [hosts(from)[host]?.compose_sha256 ?? '-', hosts(to)[host]?.compose_sha256 ?? '-'];
    if (x !== y) changes.push({ kind: 'compose', name: host, from: x.slice(0, 12), to: y.slice(0, 12) });
  }
  if (context.globals.json) {
    context.output.json({ from: from.id, to: to.id, changes });
    return 0;
  }
  context.output.result(
    changes.length === 0
      ? `No differences between ${from.id} and ${to.id}`
      : [
          `${from.id} → ${to.id}`,
          ...changes.map((change) =>
            printable(`  ${change.kind} ${change.name}: ${String(change.from)} → ${String(change.to)}`),
          ),
        ].join('\n'),
  );
  return 0;
}

export async function audit(context: CommandContext): Promise<number> {
  const env = await loadEnvironment(context, 'deploy');
  const history = await releaseHistory(context, env);
  if (context.globals.json) {
    context.output.json(
      history.map((record) => ({
        id: record.id,
        timestamp: record.timestamp,
        kind: record.kind,
        version: record.version,
        status: releaseStatus(record),
        deployer: record.deployer,
        message: record.message ?? '',
      })),
    );
    return 0;
  }
  const rows = auditRows(history, releaseStatus);
  context.output.result(history.length === 0 ? 'No releases found' : formatTable(rows));
  return 0;
}

export const run = list;
