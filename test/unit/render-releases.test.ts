// releases list|show and audit as printed for people: terminal escapes in stored fields are
// neutralised, and a record of an older ledger format (fields missing) is shown, not a crash.
import { describe, expect, it } from 'vitest';
import { auditRows, listRows, missingFields, showLines } from '../../src/render/releases.js';
import type { ReleaseRecord } from '../../src/state/types.js';

const phases = {
  build: 'completed',
  push: 'completed',
  migrate_pre: 'skipped',
  rollout: 'completed',
  migrate_post: 'skipped',
  finalize: 'completed',
} as const;

const hostile: ReleaseRecord = {
  id: 'rel-20260101-120000000',
  environment: 'production',
  version: 'v1\u001b[2J',
  commit_sha: 'abc',
  timestamp: '2026-01-01T12:00:00.000Z',
  phases: { ...phases },
  kind: 'deploy',
  images: { api: 'reg/api:v1\u0007' },
  hosts: { h1: { compose_sha256: 'f'.repeat(64), services: ['api'] } },
  deployer: { user: 'eve\u001b]0;pwned\u0007', machine: 'laptop\u202e', ci: false },
  message: 'fix \u001b[31mred\u001b[0m\nsecond line',
};

/** An entry as an early Stagecraft wrote it: no deployer, images, hosts, kind or timestamp. */
const old = {
  id: 'rel-20250101-120000000',
  environment: 'production',
  version: 'v0',
  phases: { ...phases },
} as unknown as ReleaseRecord;

const status = () => 'completed';
const ESC = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e]/;

describe('release output', () => {
  it('prints every stored field with terminal escapes neutralised', () => {
    expect(auditRows([hostile], status)[1]).toEqual([
      '2026-01-01 12:00:00',
      'eve\\x1b]0;pwned\\x07',
      'laptop\\u{202e}',
      'deploy',
      'v1\\x1b[2J',
      'completed',
      'fix \\x1b[31mred\\x1b[0m\\x0asecond line',
    ]);
    const lines = showLines(hostile, 'completed');
    expect(lines).toContain('Deployed by:      eve\\x1b]0;pwned\\x07@laptop\\u{202e}');
    expect(lines).toContain('  api: reg/api:v1\\x07');
    expect(lines.filter((line) => ESC.test(line))).toEqual([]);
    expect(
      listRows([hostile], status)
        .flat()
        .filter((cell) => ESC.test(cell)),
    ).toEqual([]);
  });

  it('shows the scope of a release limited to some hosts or services beside its kind', () => {
    const scoped = {
      ...hostile,
      kind: 'rollback',
      scope: { hosts: ['h1', 'h2'], services: ['api\x1b[2J'] },
    } as ReleaseRecord;
    expect(listRows([scoped], status)[1]![2]).toBe('rollback (hosts h1, h2; services api\\x1b[2J)');
    expect(auditRows([scoped], status)[1]![3]).toBe('rollback (hosts h1, h2; services api\\x1b[2J)');
    expect(showLines(scoped, 'completed').find((line) => line.startsWith('Kind:'))).toMatch(
      /^Kind: +rollback \(hosts h1, h2; services api\\x1b\[2J\)/,
    );
  });

  it('shows a release of an older ledger format with ? for what it lacks, and says so', () => {
    expect(missingFields(old)).toEqual(['timestamp', 'kind', 'images', 'hosts', 'deployer']);
    expect(auditRows([old], status)[1]).toEqual(['?', '?', '?', 'deploy', 'v0', 'completed', '']);
    expect(listRows([old], status)[1]).toEqual([
      'rel-20250101-120000000',
      'v0',
      'deploy',
      'completed',
      '?',
      '?@?',
    ]);
    const lines = showLines(old, 'completed');
    expect(lines).toContain('Deployed by:      ?@?');
    expect(lines.at(-1)).toBe(
      'Note: this release was recorded in an older ledger format without timestamp, kind, images, hosts, deployer (shown as ?).',
    );
    expect(missingFields(hostile)).toEqual([]);
  });
});
