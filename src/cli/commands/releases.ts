import { loadEnvironment } from '../../operations/environment.js';
import { releaseHistory, releaseStatus } from '../../operations/history.js';
import { formatTable } from '../../render/table.js';
import { PHASES, type ReleaseRecord } from '../../state/types.js';
import { formatDuration } from '../../util/duration.js';
import { UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

function when(record: ReleaseRecord): string {
  return record.timestamp.replace('T', ' ').slice(0, 19);
}

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
  const rows = [['RELEASE ID', 'VERSION', 'KIND', 'STATUS', 'TIMESTAMP', 'BY']];
  for (const record of history) {
    rows.push([
      record.id,
      record.version,
      record.kind ?? 'deploy',
      releaseStatus(record),
      when(record),
      `${record.deployer?.user ?? '?'}@${record.deployer?.machine ?? '?'}`,
    ]);
  }
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
  const lines = [
    `Release ID:       ${record.id}`,
    `Environment:      ${record.environment}`,
    `Version:          ${record.version}`,
    `Commit SHA:       ${record.commit_sha || 'N/A'}`,
    `Kind:             ${record.kind}${record.rollback_of ? ` of ${record.rollback_of}` : record.restart_of ? ` of ${record.restart_of}` : ''}`,
    `Timestamp:        ${record.timestamp}`,
    `Previous Release: ${record.previous_id ?? 'N/A'}`,
    `Deployed by:      ${record.deployer.user}@${record.deployer.machine}${record.deployer.ci ? ' (CI)' : ''}`,
    `Duration:         ${record.duration_ms === undefined ? 'N/A' : formatDuration(record.duration_ms)}`,
    `Status:           ${releaseStatus(record)}`,
    '',
    'Phases:',
    ...PHASES.map((phase) => `  ${`${phase}:`.padEnd(14)} ${record.phases[phase] ?? 'pending'}`),
    '',
    'Images:',
    ...Object.entries(record.images)
      .sort()
      .map(([service, image]) => `  ${service}: ${image}`),
    '',
    'Hosts:',
    ...Object.entries(record.hosts)
      .sort()
      .map(
        ([host, info]) =>
          `  ${host}: compose sha256 ${info.compose_sha256.slice(0, 12)} (${info.services.join(', ')})`,
      ),
    ...(record.migrations
      ? [
          '',
          'Migrations:',
          ...Object.entries(record.migrations).map(([db, ids]) => `  ${db}: ${ids.join(', ') || 'none'}`),
        ]
      : []),
    ...(record.error ? ['', `Error: ${record.error}`] : []),
  ];
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
  for (const service of [...new Set([...Object.keys(from.images), ...Object.keys(to.images)])].sort()) {
    const [x, y] = [from.images[service] ?? '-', to.images[service] ?? '-'];
    if (x !== y) changes.push({ kind: 'image', name: service, from: x, to: y });
  }
  for (const host of [...new Set([...Object.keys(from.hosts), ...Object.keys(to.hosts)])].sort()) {
    const [x, y] = [from.hosts[host]?.compose_sha256 ?? '-', to.hosts[host]?.compose_sha256 ?? '-'];
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
          ...changes.map((change) => `  ${change.kind} ${change.name}: ${change.from} → ${change.to}`),
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
  const rows = [['TIMESTAMP', 'WHO', 'FROM', 'WHAT', 'VERSION', 'STATUS', 'MESSAGE']];
  for (const record of history) {
    rows.push([
      when(record),
      record.deployer.user,
      `${record.deployer.machine}${record.deployer.ci ? ' (CI)' : ''}`,
      record.kind,
      record.version,
      releaseStatus(record),
      record.message ?? '',
    ]);
  }
  context.output.result(history.length === 0 ? 'No releases found' : formatTable(rows));
  return 0;
}

export const run = list;
