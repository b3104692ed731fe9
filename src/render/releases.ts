// Releases as `releases list|show` and `audit` print them for people. A record comes from a ledger
// file this machine or a host holds, so it is text from outside: every field is made printable
// (no terminal escape sequence reaches the screen), and a record written by an older Stagecraft,
// which lacks fields this one writes, is shown with what it has and the missing fields named, never
// a crash.
import { PHASES, type ReleaseRecord } from '../state/types.js';
import { formatDuration } from '../util/duration.js';
import { printable } from '../util/printable.js';

/** The fields of a release that the ledger format has today and older formats may lack. */
const EXPECTED_FIELDS = ['version', 'timestamp', 'kind', 'images', 'hosts', 'deployer'] as const;

/** A stored value as one printable line: strings made printable, other values as JSON, absent as `?`. */
function text(value: unknown, absent = '?'): string {
  if (value === undefined || value === null) return absent;
  return printable(typeof value === 'string' ? value : JSON.stringify(value));
}

function mapping(value: unknown): [string, unknown][] {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    : [];
}

/** Names of the fields the record lacks or has in another shape (an older ledger format). */
export function missingFields(record: ReleaseRecord): string[] {
  const raw = record as unknown as Record<string, unknown>;
  return EXPECTED_FIELDS.filter((field) => {
    const value = raw[field];
    if (field === 'images' || field === 'hosts' || field === 'deployer')
      return value === null || typeof value !== 'object' || Array.isArray(value);
    return typeof value !== 'string';
  });
}

/** `user@machine` (with ` (CI)`), printable; `?` for what an older record lacks. */
export function deployerOf(record: ReleaseRecord): { user: string; machine: string } {
  const deployer = (record as { deployer?: unknown }).deployer as
    | { user?: unknown; machine?: unknown; ci?: unknown }
    | undefined;
  const ok = deployer !== null && typeof deployer === 'object';
  return {
    user: text(ok ? deployer.user : undefined),
    machine: `${text(ok ? deployer.machine : undefined)}${ok && deployer.ci === true ? ' (CI)' : ''}`,
  };
}

/**
 * The release's kind, with its scope when it covered only some hosts or services: `deploy`,
 * `deploy (hosts h1)`, `rollback (hosts h1, h2; services api)`. Printable.
 */
export function kindOf(record: ReleaseRecord): string {
  const scope = (record as { scope?: unknown }).scope as { hosts?: unknown; services?: unknown } | undefined;
  const list = (value: unknown) =>
    Array.isArray(value) ? value.map((item) => text(item)).join(', ') : undefined;
  const parts =
    scope !== null && typeof scope === 'object'
      ? [
          list(scope.hosts) === undefined ? undefined : `hosts ${list(scope.hosts)}`,
          list(scope.services) === undefined ? undefined : `services ${list(scope.services)}`,
        ].filter((part) => part !== undefined)
      : [];
  return `${text(record.kind, 'deploy')}${parts.length === 0 ? '' : ` (${parts.join('; ')})`}`;
}

/** `YYYY-MM-DD HH:MM:SS` of the record's timestamp, or `?`. */
export function whenOf(record: ReleaseRecord): string {
  const timestamp = (record as { timestamp?: unknown }).timestamp;
  return typeof timestamp === 'string' ? printable(timestamp.replace('T', ' ').slice(0, 19)) : '?';
}

/** The rows of `releases list` (header first). */
export function listRows(
  history: readonly ReleaseRecord[],
  status: (record: ReleaseRecord) => string,
): string[][] {
  return [
    ['RELEASE ID', 'VERSION', 'KIND', 'STATUS', 'TIMESTAMP', 'BY'],
    ...history.map((record) => {
      const by = deployerOf(record);
      return [
        text(record.id),
        text(record.version),
        kindOf(record),
        status(record),
        whenOf(record),
        `${by.user}@${by.machine.replace(/ \(CI\)$/, '')}`,
      ];
    }),
  ];
}

/** The rows of `audit` (header first). */
export function auditRows(
  history: readonly ReleaseRecord[],
  status: (record: ReleaseRecord) => string,
): string[][] {
  return [
    ['TIMESTAMP', 'WHO', 'FROM', 'WHAT', 'VERSION', 'STATUS', 'MESSAGE'],
    ...history.map((record) => {
      const by = deployerOf(record);
      return [
        whenOf(record),
        by.user,
        by.machine,
        kindOf(record),
        text(record.version),
        status(record),
        text(record.message, ''),
      ];
    }),
  ];
}

/** The lines of `releases show`. */
export function showLines(record: ReleaseRecord, status: string): string[] {
  const by = deployerOf(record);
  const duration = typeof record.duration_ms === 'number' ? formatDuration(record.duration_ms) : 'N/A';
  const missing = missingFields(record);
  return [
    `Release ID:       ${text(record.id)}`,
    `Environment:      ${text(record.environment)}`,
    `Version:          ${text(record.version)}`,
    `Commit SHA:       ${text(record.commit_sha || undefined, 'N/A')}`,
    `Kind:             ${kindOf(record)}${record.rollback_of ? ` of ${text(record.rollback_of)}` : record.restart_of ? ` of ${text(record.restart_of)}` : ''}`,
    `Timestamp:        ${text(record.timestamp)}`,
    `Previous Release: ${text(record.previous_id, 'N/A')}`,
    `Deployed by:      ${by.user}@${by.machine}`,
    `Duration:         ${duration}`,
    `Status:           ${status}`,
    '',
    'Phases:',
    ...PHASES.map((phase) => `  ${`${phase}:`.padEnd(14)} ${text(record.phases[phase], 'pending')}`),
    '',
    'Images:',
    ...mapping(record.images).map(([service, image]) => `  ${text(service)}: ${text(image)}`),
    '',
    'Hosts:',
    ...mapping(record.hosts).map(([host, info]) => {
      const { compose_sha256: sha, services } = (info ?? {}) as {
        compose_sha256?: unknown;
        services?: unknown;
      };
      const names = Array.isArray(services) ? services.map((service) => text(service)).join(', ') : '?';
      return `  ${text(host)}: compose sha256 ${typeof sha === 'string' ? text(sha.slice(0, 12)) : '?'} (${names})`;
    }),
    ...(record.migrations
      ? [
          '',
          'Migrations:',
          ...mapping(record.migrations).map(
            ([db, ids]) =>
              `  ${text(db)}: ${Array.isArray(ids) && ids.length > 0 ? ids.map((id) => text(id)).join(', ') : 'none'}`,
          ),
        ]
      : []),
    ...(record.error ? ['', `Error: ${text(record.error)}`] : []),
    ...(missing.length > 0
      ? [
          '',
          `Note: this release was recorded in an older ledger format without ${missing.join(', ')} (shown as ?).`,
        ]
      : []),
  ];
}
