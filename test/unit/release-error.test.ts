import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/engine/run.js';
import { releaseError, returnTo } from '../../src/operations/deploy.js';
import type { Plan } from '../../src/plan/types.js';
import { PHASES, type ReleaseRecord } from '../../src/state/types.js';
import { PartialFailure } from '../../src/util/errors.js';

describe('releaseError', () => {
  const plan = {
    kind: 'deploy',
    releaseId: 'rel-20261203-100000000',
    version: 'v3',
    phases: [],
  } as unknown as Plan;
  const partial = {
    ok: false,
    phases: {},
    steps: [],
    error: new Error('health check failed'),
    failedPhase: 'rollout',
    hostsDone: ['h1'],
    hostsFailed: ['h2'],
  } as unknown as RunResult;
  const good = {
    id: 'rel-20261202-100000000',
    environment: 'production',
    version: 'v2',
    kind: 'deploy',
    phases: Object.fromEntries(PHASES.map((phase) => [phase, 'completed'])),
  } as unknown as ReleaseRecord;

  it('names the last good release to return to when hosts now differ (--to-previous would go one further)', () => {
    const error = releaseError(plan, partial, returnTo(good)) as PartialFailure;
    expect(error).toBeInstanceOf(PartialFailure);
    expect(error.message).toBe('deploy failed on h2 after completing on h1: health check failed');
    expect(error.hint).toBe(
      'the release is recorded as failed; run `stagecraft rollback --to-release rel-20261202-100000000` to return every host to the last good release (version v2)',
    );
  });
});
