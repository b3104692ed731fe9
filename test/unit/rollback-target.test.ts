import { describe, expect, it } from 'vitest';
import { rollbackTarget } from '../../src/cli/commands/rollback.js';
import { sameVersionOtherImages } from '../../src/operations/deploy.js';
import { parseReleaseId } from '../../src/state/ledger.js';
import { PHASES, type ReleaseRecord } from '../../src/state/types.js';
import { UserError } from '../../src/util/errors.js';

function record(id: string, version: string, kind: ReleaseRecord['kind'] = 'deploy'): ReleaseRecord {
  return {
    id,
    environment: 'staging',
    version,
    commit_sha: 'abc123',
    timestamp: parseReleaseId(id)!.toISOString(),
    phases: Object.fromEntries(PHASES.map((phase) => [phase, 'completed'])) as ReleaseRecord['phases'],
    kind,
    images: kind === 'remove' ? {} : { api: `reg/shop-api:${version}` },
    hosts: kind === 'remove' ? {} : { h1: { services: ['api'] } as ReleaseRecord['hosts'][string] },
    deployer: { user: 'ci', machine: 'laptop', ci: false },
  };
}

// Newest first, as `releases list` shows them: v1, then v2, then the app removed (as v2).
const v1 = record('rel-20261201-100000000', 'v1');
const v2 = record('rel-20261201-110000000', 'v2');
const removal = record('rel-20261201-120000000', 'v2', 'remove');
const history = [removal, v2, v1];

const failure = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error as UserError;
  }
  throw new Error('expected a UserError');
};

describe('rollbackTarget', () => {
  it('--to-previous from a running release skips its own version and returns to the one before', () => {
    expect(rollbackTarget([v2, v1], { toPrevious: true }, 'staging').id).toBe(v1.id);
  });

  it('--to-previous passes over a release limited to some hosts or services; --to-version prefers a whole one', () => {
    const v1Whole = record('rel-20261201-100000000', 'v1');
    const v1OnH1 = { ...record('rel-20261201-103000000', 'v1'), scope: { hosts: ['h1'] } };
    const v2OnH1 = { ...record('rel-20261201-110000000', 'v2'), scope: { hosts: ['h1'] } };
    const v3 = record('rel-20261201-120000000', 'v3');
    expect(rollbackTarget([v3, v2OnH1, v1OnH1, v1Whole], { toPrevious: true }, 'staging').id).toBe(
      v1Whole.id,
    );
    expect(rollbackTarget([v3, v2OnH1, v1OnH1, v1Whole], { toVersion: 'v1' }, 'staging').id).toBe(v1Whole.id);
    // Only a scoped release of that version: it is the one asked for.
    expect(rollbackTarget([v3, v2OnH1, v1Whole], { toVersion: 'v2' }, 'staging').id).toBe(v2OnH1.id);
  });

  it('--to-previous after a removal refuses, naming the removal and the flags that work', () => {
    const error = failure(() => rollbackTarget(history, { toPrevious: true }, 'staging'));
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(
      'staging was removed by rel-20261201-120000000: no release runs to roll back from',
    );
    expect(error.hint).toContain('--to-release <id> or --to-version <version>');
  });

  it('--to-version finds the release of that version, never the removal recorded with it', () => {
    expect(rollbackTarget(history, { toVersion: 'v2' }, 'staging').id).toBe(v2.id);
    expect(rollbackTarget(history, { toVersion: 'v1' }, 'staging').id).toBe(v1.id);
  });

  it('--to-release of the removal refuses: there is nothing to return to in it', () => {
    const error = failure(() => rollbackTarget(history, { toRelease: removal.id }, 'staging'));
    expect(error.message).toBe(
      '"rel-20261201-120000000" is the removal of staging, not a release to return to',
    );
    expect(rollbackTarget(history, { toRelease: v1.id }, 'staging').id).toBe(v1.id);
  });
});

describe('sameVersionOtherImages', () => {
  it('finds the newest completed release of the version with other images, not one with the same', () => {
    const first = record('rel-20261201-100000000', 's19');
    const second = {
      ...record('rel-20261201-110000000', 's19'),
      images: { api: 'reg/shop-api:s19@sha256:bb' },
    };
    const failed = {
      ...record('rel-20261201-115000000', 's19'),
      phases: { ...first.phases, rollout: 'failed' as const },
    };
    const newest = [failed, second, first];
    expect(sameVersionOtherImages(newest, 'rel-new', 's19', { api: 'reg/shop-api:s19@sha256:cc' })?.id).toBe(
      second.id,
    );
    expect(sameVersionOtherImages(newest, 'rel-new', 's19', { api: 'reg/shop-api:s19@sha256:bb' })?.id).toBe(
      first.id,
    );
    expect(
      sameVersionOtherImages([second], 'rel-new', 's19', { api: 'reg/shop-api:s19@sha256:bb' }),
    ).toBeUndefined();
    expect(sameVersionOtherImages(newest, 'rel-new', 's20', { api: 'x' })).toBeUndefined();
  });
});
