// A crash between writing the temp file and renaming it over the ledger: simulated by making rename fail.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const failRename = vi.hoisted(() => ({ on: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...original,
    rename: async (from: string, to: string) => {
      if (failRename.on) throw Object.assign(new Error('simulated crash before rename'), { code: 'EIO' });
      return original.rename(from, to);
    },
  };
});

const { Ledger } = await import('../../src/state/ledger.js');
const { PHASES } = await import('../../src/state/types.js');

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stagecraft-ledger-crash-'));
});

afterEach(async () => {
  failRename.on = false;
  await rm(root, { recursive: true, force: true });
});

function record(id: string) {
  return {
    id,
    environment: 'production',
    version: 'v1',
    commit_sha: '',
    timestamp: '2025-01-01T12:00:00.000Z',
    phases: Object.fromEntries(PHASES.map((phase) => [phase, 'pending'])) as Record<
      (typeof PHASES)[number],
      'pending'
    >,
    kind: 'deploy' as const,
    images: {},
    hosts: {},
    deployer: { user: 'alice', machine: 'laptop', ci: false },
  };
}

describe('ledger durability', () => {
  it('a failed rename leaves the old file intact and readable, and the next write succeeds', async () => {
    const ledger = new Ledger({ projectRoot: root });
    await ledger.create(record('rel-20250101-120000000'));
    const before = await readFile(ledger.path, 'utf8');

    failRename.on = true;
    await expect(ledger.create(record('rel-20250101-130000000'))).rejects.toThrow(
      'simulated crash before rename',
    );
    await expect(ledger.setPhase('rel-20250101-120000000', 'build', 'completed')).rejects.toThrow(
      /simulated/,
    );
    failRename.on = false;

    expect(await readFile(ledger.path, 'utf8')).toBe(before);
    expect((await ledger.list()).map((r) => r.id)).toEqual(['rel-20250101-120000000']);
    // A write whose rename failed removes its temp file (a crash could still leave one; it is never read).
    const leftovers = (await readdir(join(root, '.stagecraft'))).filter((name) => name.endsWith('.tmp'));
    expect(leftovers).toEqual([]);

    await ledger.create(record('rel-20250101-130000000'));
    expect((await ledger.list()).map((r) => r.id)).toEqual([
      'rel-20250101-130000000',
      'rel-20250101-120000000',
    ]);
    // The ledger's own lock file is gone after every operation, failed or not.
    expect(await readdir(join(root, '.stagecraft'))).not.toContain('releases.json.lock');
  });
});
