import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allSteps } from '../../src/plan/types.js';
import { planProject } from '../support/prepare.js';

// Issue 11, kinds 3-8, on the inputs of test/fixtures/compose-fidelity, planned in-process with the
// real docker compose: what plan says and what a deploy would upload and run.

const cases = resolve(import.meta.dirname, '../fixtures/compose-fidelity');
const scratch = mkdtempSync(join(tmpdir(), 'stagecraft-fidelity-plan-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a case folder, so a test can change files. */
export function copyCase(name: string): string {
  const dir = join(scratch, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  cpSync(join(cases, name), dir, { recursive: true });
  return dir;
}

const composeAvailable = spawnSync('docker', ['compose', 'version']).status === 0;
if (!composeAvailable && process.env['CI'] === 'true') {
  it('docker compose is installed', () => expect.fail('CI must install the compose v2 plugin'));
}

describe.skipIf(!composeAvailable)('compose fidelity: health timing (kind 7)', { timeout: 60_000 }, () => {
  it('14: the wait covers start_period + probes, and plan shows it', async () => {
    const { plan, output } = await planProject(
      join(cases, '14-healthcheck-start-period-ignored'),
      'production',
    );
    const step = allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:ledger');
    // start_period 4m + interval 15s + 4 × (interval 15s + timeout 5s) = 5m35s
    expect(step?.action).toMatchObject({ kind: 'rollout', health: { timeoutMs: 335_000 } });
    expect(step?.title).toBe(
      'start-first ledger (1 replica) → ledger.bakery.example.test; healthy within 5m35s',
    );
    expect(output.warnings).toEqual([]);
  });

  it('14: an explicit health_timeout shorter than the health check is kept, with a warning', async () => {
    const dir = copyCase('14-healthcheck-start-period-ignored');
    const file = join(dir, 'stagecraft.yml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('driver: ssh', 'driver: ssh\n    rollout: { health_timeout: 2m }'),
    );
    const { plan, output } = await planProject(dir, 'production');
    const step = allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:ledger');
    expect(step?.action).toMatchObject({ kind: 'rollout', health: { timeoutMs: 120_000 } });
    expect(output.warnings).toEqual([
      'rollout.health_timeout 2m is shorter than the 5m35s the health check of ledger may take (start_period 4m + interval 15s + 4 × (interval + timeout 5s)): a slow start fails the deploy',
    ]);
  });

  it('a service without a health check waits the default 2m for 3s of running', async () => {
    const { plan } = await planProject(join(cases, '01-envfile-hash-in-value'), 'production');
    expect(allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:web')?.title).toBe(
      'start-first web (1 replica) → bakery.example.test; running 3s within 2m',
    );
  });
});
