import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { releaseStatus } from '../../src/operations/history.js';
import { LocalRunner } from '../../src/runners/local.js';
import {
  appendRemoteLedger,
  currentRelease,
  type FileLockIdentity,
  formatReleaseId,
  Ledger,
  lastGoodRelease,
  latestRecord,
  ledgerPath,
  leftUnfinished,
  mergeLedgers,
  nextReleaseId,
  parseLedgerJsonl,
  parseReleaseId,
  pendingPhases,
  previousRelease,
  readFileLock,
  readRemoteLedger,
  remoteLedgerPath,
  removeStaleFileLock,
  runningRelease,
  toJsonLine,
} from '../../src/state/ledger.js';
import { currentPidNamespace } from '../../src/state/process-gone.js';
import { PHASES, type PhaseStatus, type ReleaseRecord } from '../../src/state/types.js';
import { fixedClock } from '../../src/util/clock.js';
import { InternalError, UserError } from '../../src/util/errors.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stagecraft-ledger-'));
});

afterEach(async () => {
  delete process.env.STAGECRAFT_STATE_FILE;
  await rm(root, { recursive: true, force: true });
});

function release(
  id: string,
  overrides: Partial<ReleaseRecord> = {},
  status: PhaseStatus = 'completed',
): ReleaseRecord {
  return {
    id,
    environment: 'production',
    version: `v-${id.slice(-3)}`,
    commit_sha: 'abc123',
    timestamp: parseReleaseId(id)!.toISOString(),
    phases: Object.fromEntries(PHASES.map((phase) => [phase, status])) as ReleaseRecord['phases'],
    kind: 'deploy',
    images: { web: `reg/shop-web:${id}` },
    hosts: { h1: { compose_sha256: 'f'.repeat(64), services: ['web'] } },
    deployer: { user: 'alice', machine: 'laptop', ci: false },
    ...overrides,
  };
}

describe('release ids', () => {
  it('formats UTC time as rel-YYYYMMDD-HHMMSSmmm and parses both id forms', () => {
    expect(formatReleaseId(new Date('2025-01-02T03:04:05.006Z'))).toBe('rel-20250102-030405006');
    expect(parseReleaseId('rel-20250102-030405006')?.toISOString()).toBe('2025-01-02T03:04:05.006Z');
    expect(parseReleaseId('rel-20250102-030405')?.toISOString()).toBe('2025-01-02T03:04:05.000Z');
    expect(parseReleaseId('rel-2025')).toBeUndefined();
  });

  it('is strictly increasing within one millisecond and when the clock goes back', () => {
    const now = new Date('2025-01-01T12:00:00.123Z');
    expect(nextReleaseId(now, [])).toBe('rel-20250101-120000123');
    expect(nextReleaseId(now, ['rel-20250101-120000123'])).toBe('rel-20250101-120000124');
    expect(nextReleaseId(now, ['rel-20250101-120000999', 'rel-20240101-000000000'])).toBe(
      'rel-20250101-120001000',
    );
    expect(nextReleaseId(now, ['rel-20250101-115959'])).toBe('rel-20250101-120000123');
    expect(nextReleaseId(new Date('2025-12-31T23:59:59.999Z'), ['rel-20251231-235959999'])).toBe(
      'rel-20260101-000000000',
    );
  });

  it('Ledger.newReleaseId bumps past ids already in the file', async () => {
    const ledger = new Ledger({ projectRoot: root });
    const clock = fixedClock('2025-01-01T12:00:00.123Z');
    const first = await ledger.newReleaseId(clock);
    await ledger.create(release(first));
    const second = await ledger.newReleaseId(clock);
    await ledger.create(release(second));
    expect([first, second]).toEqual(['rel-20250101-120000123', 'rel-20250101-120000124']);
  });
});

describe('Ledger file', () => {
  it('chooses explicit path > STAGECRAFT_STATE_FILE > <root>/.stagecraft/releases.json', () => {
    expect(ledgerPath({ projectRoot: root })).toBe(join(root, '.stagecraft/releases.json'));
    process.env.STAGECRAFT_STATE_FILE = join(root, 'env.json');
    expect(new Ledger({ projectRoot: root }).path).toBe(join(root, 'env.json'));
    expect(ledgerPath({ projectRoot: root, path: 'state/x.json' })).toBe(join(root, 'state/x.json'));
  });

  it('reads a missing file as empty, writes {"releases": [...]} with 2-space JSON, appends in order', async () => {
    const ledger = new Ledger({ projectRoot: root });
    expect(await ledger.list()).toEqual([]);
    await ledger.create(release('rel-20250101-120000000'));
    await ledger.create(release('rel-20250102-120000000', { environment: 'staging' }));
    const text = await readFile(ledger.path, 'utf8');
    expect(text.startsWith('{\n  "releases": [\n    {\n      "id": "rel-20250101-120000000",')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
    const stored = JSON.parse(text) as { releases: ReleaseRecord[] };
    expect(stored.releases.map((r) => r.id)).toEqual(['rel-20250101-120000000', 'rel-20250102-120000000']);
    expect(await readdir(join(root, '.stagecraft'))).toEqual(['releases.json']);
  });

  it.runIf(process.platform === 'linux')(
    'a ledger under /proc (ENOENT although the parent exists) fails once instead of looping',
    async () => {
      const ledger = new Ledger({ projectRoot: root, path: '/proc/stagecraft-x/releases.json' });
      await expect(ledger.create(release('rel-20250101-120000000'))).rejects.toMatchObject({
        code: 'ENOENT',
        path: '/proc/stagecraft-x',
      });
    },
    5_000,
  );

  it('updates only the fields of one release and merges phases; rejects unknown phases', async () => {
    const ledger = new Ledger({ projectRoot: root });
    const a = release('rel-20250101-120000000', { phases: pendingPhases() });
    const b = release('rel-20250101-130000000', { phases: pendingPhases() });
    await ledger.create(a);
    await ledger.create(b);
    await ledger.setPhase(b.id, 'build', 'running');
    await ledger.update(b.id, {
      phases: { build: 'completed', push: 'failed' },
      error: 'boom',
      duration_ms: 5,
    });
    expect(await ledger.get(a.id)).toEqual(a);
    const updated = await ledger.get(b.id);
    expect(updated.phases).toEqual({ ...pendingPhases(), build: 'completed', push: 'failed' });
    expect(updated).toMatchObject({ error: 'boom', duration_ms: 5, id: b.id, version: b.version });
    await expect(ledger.setPhase(b.id, 'deploy', 'completed')).rejects.toThrow('unknown phase "deploy"');
    await expect(ledger.setPhase(b.id, 'deploy', 'completed')).rejects.toBeInstanceOf(InternalError);
    await expect(ledger.setPhase(b.id, 'build', 'done' as PhaseStatus)).rejects.toThrow(
      'unknown phase status',
    );
    await expect(ledger.create(a)).rejects.toThrow(/already exists/);
    await expect(ledger.create({ ...release('rel-20250101-140000000'), version: ' ' })).rejects.toThrow(
      'version must not be empty',
    );
  });

  it('get of an unknown id is a UserError with a hint', async () => {
    const error = await new Ledger({ projectRoot: root })
      .get('rel-19990101-000000000')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe('release not found: "rel-19990101-000000000"');
    expect((error as UserError).hint).toBe('stagecraft releases list');
  });

  it('keeps every record when many updates run at once', async () => {
    const ledger = new Ledger({ projectRoot: root });
    const ids = Array.from({ length: 20 }, (_, i) => `rel-20250101-1200${String(i).padStart(2, '0')}000`);
    await Promise.all(ids.map((id) => ledger.create(release(id, { phases: pendingPhases() }))));
    await Promise.all(ids.flatMap((id) => PHASES.map((phase) => ledger.setPhase(id, phase, 'completed'))));
    const all = await ledger.list();
    expect(all).toHaveLength(20);
    expect(all.every((record) => PHASES.every((phase) => record.phases[phase] === 'completed'))).toBe(true);
  }, 60_000);

  it('two Ledger instances in different "processes" see each other at once (no cache)', async () => {
    const a = new Ledger({ projectRoot: root });
    const b = new Ledger({ projectRoot: root });
    await a.create(release('rel-20250101-120000000'));
    expect((await b.list()).map((r) => r.id)).toEqual(['rel-20250101-120000000']);
  });

  it('reports a corrupt file as a UserError naming the file and the position', async () => {
    const ledger = new Ledger({ projectRoot: root });
    await ledger.create(release('rel-20250101-120000000'));
    await writeFile(ledger.path, '{\n  "releases": [\n    { "id": "x", }\n  ]\n}\n');
    const error = await ledger.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(
      new RegExp(`^the release ledger ${ledger.path} is not valid JSON \\(line 3, column \\d+\\): `),
    );
    await writeFile(ledger.path, '{"releases": {}}');
    await expect(ledger.list()).rejects.toThrow(/is not a release ledger/);
    await writeFile(ledger.path, '{"releases": [{"id": 1}]}');
    await expect(ledger.list()).rejects.toThrow(/invalid release at releases\[0\]\.id: expected a string/);
    // A corrupt file is never overwritten by a write.
    await expect(ledger.create(release('rel-20250102-120000000'))).rejects.toBeInstanceOf(UserError);
    expect(await readFile(ledger.path, 'utf8')).toBe('{"releases": [{"id": 1}]}');
    // A hand-edited entry that has id, environment and phases but not the rest is refused by field.
    const good = release('rel-20250101-120000000');
    for (const [change, field] of [
      [{ images: undefined }, '.images: expected service → image'],
      [{ hosts: { h1: { compose_sha256: 'x' } } }, '.hosts: expected host → { compose_sha256, services }'],
      [{ kind: 'upgrade' }, '.kind: expected deploy, rollback, restart or remove'],
      [{ deployer: { user: 'a', machine: 'b' } }, '.deployer: expected { user, machine, ci }'],
      [{ steps: [{ id: 'x' }] }, '.steps: expected a list of { id, status }'],
    ] as const) {
      await writeFile(ledger.path, JSON.stringify({ releases: [good, { ...good, ...change }] }));
      const refused = (await ledger.list().catch((e: unknown) => e)) as UserError;
      expect(refused).toBeInstanceOf(UserError);
      expect(refused.message).toBe(
        `the release ledger ${ledger.path} has an invalid release at releases[1]${field}`,
      );
    }
  });

  it('ignores a temp file left by a crash before the rename: the old content stays valid', async () => {
    const ledger = new Ledger({ projectRoot: root });
    await ledger.create(release('rel-20250101-120000000'));
    const before = await readFile(ledger.path, 'utf8');
    // What a crash between the temp write and the rename leaves behind: a half-written temp file.
    await writeFile(join(root, '.stagecraft', '.0a1b2c3d4e5f.tmp'), '{"releases": [{"id": "rel-2025');
    expect(await readFile(ledger.path, 'utf8')).toBe(before);
    expect((await ledger.list()).map((r) => r.id)).toEqual(['rel-20250101-120000000']);
    await ledger.create(release('rel-20250102-120000000'));
    expect((await ledger.list()).map((r) => r.id)).toEqual([
      'rel-20250102-120000000',
      'rel-20250101-120000000',
    ]);
  });
});

describe('list, current and previous', () => {
  const records = [
    release('rel-20250101-100000000'),
    release('rel-20250102-100000000', { environment: 'staging' }),
    release('rel-20250103-100000000', { kind: 'rollback' }),
    release('rel-20250104-100000000', {}, 'failed'),
    release('rel-20250105-100000000', { phases: { ...pendingPhases(), build: 'running' } }),
  ];
  // A rollback skips build, push and the migrations: still completed.
  records[2]!.phases = { ...records[2]!.phases, build: 'skipped', push: 'skipped', migrate_pre: 'skipped' };

  it('lists newest first, per environment', async () => {
    const ledger = new Ledger({ projectRoot: root });
    for (const record of [...records].reverse()) await ledger.create(record);
    expect((await ledger.list()).map((r) => r.id.slice(4, 12))).toEqual([
      '20250105',
      '20250104',
      '20250103',
      '20250102',
      '20250101',
    ]);
    expect((await ledger.list('staging')).map((r) => r.id)).toEqual(['rel-20250102-100000000']);
  });

  it('current = the newest completed release of the environment (failed and running ones are not)', async () => {
    const ledger = new Ledger({ projectRoot: root });
    for (const record of records) await ledger.create(record);
    expect((await ledger.current('production'))?.id).toBe('rel-20250103-100000000');
    expect((await ledger.current('staging'))?.id).toBe('rel-20250102-100000000');
    expect(await ledger.current('qa')).toBeUndefined();
    expect((await ledger.previous('production', 'rel-20250103-100000000'))?.id).toBe(
      'rel-20250101-100000000',
    );
    expect(await ledger.previous('production', 'rel-20250101-100000000')).toBeUndefined();
    expect(currentRelease(records, 'production')?.id).toBe('rel-20250103-100000000');
    expect(previousRelease(records, 'production', 'rel-20250105-100000000')?.id).toBe(
      'rel-20250103-100000000',
    );
  });

  it('after a removal nothing runs: current is none, latest is the removal, previous passes over it', () => {
    const removal = release('rel-20250106-100000000', { kind: 'remove', images: {}, hosts: {} });
    const withRemoval = [...records, removal];
    expect(currentRelease(withRemoval, 'production')).toBeUndefined();
    expect(latestRecord(withRemoval, 'production')?.id).toBe('rel-20250106-100000000');
    expect(runningRelease(removal)).toBeUndefined();
    expect(runningRelease(records[0])?.id).toBe('rel-20250101-100000000');
    // A deploy after the removal runs again; --to-previous from it skips the removal.
    const redeploy = release('rel-20250107-100000000');
    expect(currentRelease([...withRemoval, redeploy], 'production')?.id).toBe('rel-20250107-100000000');
    expect(previousRelease([...withRemoval, redeploy], 'production', redeploy.id)?.id).toBe(
      'rel-20250103-100000000',
    );
  });

  it('a release whose finalize was skipped is not completed', () => {
    const skipped = release('rel-20250106-100000000', {}, 'skipped');
    expect(currentRelease([...records, skipped], 'production')?.id).toBe('rel-20250103-100000000');
  });
});

describe('remote history', () => {
  it('toJsonLine writes one line per record, escaping newlines', () => {
    const line = toJsonLine(release('rel-20250101-100000000', { message: 'two\nlines' }));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line).message).toBe('two\nlines');
  });

  it('parseLedgerJsonl skips blank lines and reports cut or foreign lines', () => {
    const text = `${toJsonLine(release('rel-20250101-100000000'))}\n{"id": "rel-2025\n[1]\n${toJsonLine(release('rel-20250102-100000000'))}`;
    const parsed = parseLedgerJsonl(text);
    expect(parsed.records.map((r) => r.id)).toEqual(['rel-20250101-100000000', 'rel-20250102-100000000']);
    expect(parsed.invalidLines).toEqual([3, 4]);
  });

  it('mergeLedgers keeps one record per id, the most complete one, newest first', () => {
    const started = release('rel-20250103-100000000', { phases: { ...pendingPhases(), build: 'running' } });
    const finished = release('rel-20250103-100000000');
    const onlyRemote = release('rel-20250102-100000000', {
      deployer: { user: 'ci', machine: 'runner', ci: true },
    });
    const onlyLocal = release('rel-20250104-100000000', { phases: pendingPhases() });
    const remote = [started, onlyRemote, finished].map(toJsonLine).join('') + '{"cut';
    const merged = mergeLedgers([started, onlyLocal], remote);
    expect(merged.map((r) => r.id)).toEqual([onlyLocal.id, finished.id, onlyRemote.id]);
    expect(merged[1]).toEqual(finished);
    expect(merged[2]?.deployer.user).toBe('ci');
    // The local record wins when it is the more complete one.
    expect(mergeLedgers([finished], toJsonLine(started))[0]).toEqual(finished);
    expect(mergeLedgers([], '')).toEqual([]);
  });

  it('appends to and reads ~/.stagecraft/<project>-<env>/releases.jsonl through a runner', async () => {
    const runner = new LocalRunner({ cwd: root });
    expect(remoteLedgerPath('shop', 'production')).toBe('.stagecraft/shop-production/releases.jsonl');
    expect(() => remoteLedgerPath('../x', 'production')).toThrow(InternalError);
    expect(await readRemoteLedger(runner, 'shop', 'production')).toBe('');
    const a = release('rel-20250101-100000000');
    const b = release('rel-20250102-100000000');
    await appendRemoteLedger(runner, 'shop', 'production', a);
    // A line cut by a crash must not swallow the next record.
    await writeFile(join(root, remoteLedgerPath('shop', 'production')), `${toJsonLine(a)}{"id": "rel-cut`);
    await appendRemoteLedger(runner, 'shop', 'production', b);
    const text = await readRemoteLedger(runner, 'shop', 'production');
    expect(text).toBe(`${toJsonLine(a)}{"id": "rel-cut\n${toJsonLine(b)}`);
    expect(parseLedgerJsonl(text).records.map((r) => r.id)).toEqual([a.id, b.id]);
    expect(await readdir(join(root, '.stagecraft/shop-production'))).toEqual(['releases.jsonl']);
  });

  it('concurrent appends never interleave', async () => {
    const runner = new LocalRunner({ cwd: root });
    const big = (i: number) =>
      release(`rel-20250101-1000${String(i).padStart(2, '0')}000`, { message: 'x'.repeat(20_000 + i) });
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => appendRemoteLedger(runner, 'shop', 'production', big(i))),
    );
    const parsed = parseLedgerJsonl(await readRemoteLedger(runner, 'shop', 'production'));
    expect(parsed.invalidLines).toEqual([]);
    expect(parsed.records).toHaveLength(12);
  });
});

describe('Ledger.markAbandoned', () => {
  it('fails the named releases that are still running, not a finished one or one not named', async () => {
    const ledger = new Ledger({ projectRoot: root });
    const phases = (running: keyof ReleaseRecord['phases']): ReleaseRecord['phases'] => {
      const result = Object.fromEntries(PHASES.map((phase) => [phase, 'pending'])) as ReleaseRecord['phases'];
      for (const phase of PHASES) {
        if (phase === running) break;
        result[phase] = 'completed';
      }
      result[running] = 'running';
      return result;
    };
    await ledger.create(release('rel-20261201-100000000'));
    await ledger.create(release('rel-20261201-110000000', { phases: phases('rollout') }));
    await ledger.create(release('rel-20261201-120000000', { phases: phases('migrate_pre') }));

    const changed = await ledger.markAbandoned(
      ['rel-20261201-100000000', 'rel-20261201-110000000', 'rel-20261130-090000000'],
      'interrupted: gone',
    );
    expect(changed.map((record) => record.id)).toEqual(['rel-20261201-110000000']);
    const after = await ledger.get('rel-20261201-110000000');
    expect(after.phases).toEqual({
      build: 'completed',
      push: 'completed',
      migrate_pre: 'completed',
      rollout: 'failed',
      migrate_post: 'skipped',
      finalize: 'skipped',
    });
    expect(after.error).toBe('interrupted: gone');
    // Completed, or not named (a deploy still waiting for the lock): as they were.
    expect((await ledger.get('rel-20261201-100000000')).error).toBeUndefined();
    expect((await ledger.get('rel-20261201-120000000')).phases.migrate_pre).toBe('running');
  });
});

describe('the ledger file lock', () => {
  it('breaks a stale lock only while the path names that very file, not a fresh lock on its reused inode', async () => {
    const lockPath = join(root, 'releases.json.lock');
    const deadPid = spawnSync('true').pid!;
    let stale: FileLockIdentity | undefined;
    let fresh: FileLockIdentity | undefined;
    // ext4 and tmpfs hand the freed inode to the next file at once; try until they did.
    for (let attempt = 0; attempt < 20 && (fresh === undefined || fresh.ino !== stale?.ino); attempt++) {
      await writeFile(lockPath, String(deadPid), { flag: 'w' });
      stale = await readFileLock(lockPath);
      await rm(lockPath);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await writeFile(lockPath, String(process.pid), { flag: 'wx' });
      fresh = await readFileLock(lockPath);
    }
    expect(fresh?.ino).toBe(stale?.ino);
    await removeStaleFileLock(lockPath, stale!);
    expect(await readFile(lockPath, 'utf8')).toBe(String(process.pid));
    // The stale file itself still goes.
    await removeStaleFileLock(lockPath, fresh!);
    expect(await readdir(root)).not.toContain('releases.json.lock');
  });
});

describe('a ledger file lock left behind', () => {
  it('is broken at once when its writer here is gone, after 30 s when its writer is elsewhere', async () => {
    const lockPath = join(root, '.stagecraft', 'releases.json.lock');
    const deadPid = spawnSync('true').pid!;
    await mkdir(join(root, '.stagecraft'), { recursive: true });
    const ledger = new Ledger({ projectRoot: root });
    // This machine and PID namespace, its process gone: taken over at once.
    await writeFile(lockPath, `${deadPid}\n${hostname()}\n${currentPidNamespace() ?? ''}\n`);
    let started = Date.now();
    await ledger.create(release('rel-20261201-100000000'));
    expect(Date.now() - started).toBeLessThan(5000);
    // Another PID namespace (a container sharing the folder): its pid means nothing here, so only its
    // age tells; 40 s old, it is taken over.
    await writeFile(lockPath, `${deadPid}\n${hostname()}\npid:[1]\n`);
    const old = new Date(Date.now() - 40_000);
    await utimes(lockPath, old, old);
    started = Date.now();
    await ledger.create(release('rel-20261201-110000000'));
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await ledger.read()).map((record) => record.id)).toEqual([
      'rel-20261201-100000000',
      'rel-20261201-110000000',
    ]);
  });
});

describe('releases a deploy process left unfinished', () => {
  // A process that has exited: its pid names nothing any more.
  const deadPid = spawnSync('true').pid!;
  const here = hostname();
  const ns = currentPidNamespace();
  const unfinished = (id: string, deployer: ReleaseRecord['deployer'], status: PhaseStatus = 'pending') =>
    release(id, {
      deployer,
      phases: {
        build: 'completed',
        push: 'running',
        migrate_pre: status,
        rollout: 'pending',
        migrate_post: 'pending',
        finalize: 'pending',
      },
    });

  it('is a release neither completed nor failed whose deploy process on this machine is gone', () => {
    expect(
      leftUnfinished(
        unfinished('rel-20261201-100000000', {
          user: 'a',
          machine: here,
          ci: false,
          pid_namespace: ns,
          pid: deadPid,
        }),
      ),
    ).toBe(true);
    const pendingOnly = release(
      'rel-20261201-100000000',
      { deployer: { user: 'a', machine: here, ci: false, pid_namespace: ns, pid: deadPid } },
      'pending',
    );
    expect(leftUnfinished(pendingOnly)).toBe(true);
    expect(releaseStatus(pendingOnly)).toBe('interrupted');
    // Still running here, on another machine, without a pid, or already ended: not.
    const alive = unfinished('rel-20261201-100000000', {
      user: 'a',
      machine: here,
      ci: false,
      pid: process.ppid,
    });
    expect([leftUnfinished(alive), releaseStatus(alive)]).toEqual([false, 'running']);
    expect(
      leftUnfinished(
        unfinished('rel-20261201-100000000', {
          user: 'a',
          machine: `${here}-other`,
          ci: false,
          pid: deadPid,
        }),
      ),
    ).toBe(false);
    expect(
      leftUnfinished(
        unfinished('rel-20261201-100000000', { user: 'a', machine: here, ci: false, pid_namespace: ns }),
      ),
    ).toBe(false);
    // A pid the file holds that names no one process (a group, all processes, text) is never "gone".
    for (const pid of [0, -1, 1.5, Number.MAX_VALUE, '123'] as unknown as number[]) {
      const record = unfinished('rel-20261201-100000000', {
        user: 'a',
        machine: here,
        ci: false,
        pid_namespace: ns,
        pid,
      });
      expect(leftUnfinished(record)).toBe(false);
    }
    // Another PID namespace on this machine (a container with the host's hostname) may run it still.
    const elsewhere = unfinished('rel-20261201-100000000', {
      user: 'a',
      machine: here,
      ci: false,
      pid: deadPid,
      pid_namespace: 'pid:[1]',
    });
    expect([leftUnfinished(elsewhere), releaseStatus(elsewhere)]).toEqual([false, 'running']);
    // Nothing left to run (every phase skipped): nothing to fail, so not "interrupted".
    const skipped = release(
      'rel-20261201-100000000',
      { deployer: { user: 'a', machine: here, ci: false, pid_namespace: ns, pid: deadPid } },
      'skipped',
    );
    expect(leftUnfinished(skipped)).toBe(false);
    expect(
      leftUnfinished(
        unfinished(
          'rel-20261201-100000000',
          { user: 'a', machine: here, ci: false, pid_namespace: ns, pid: deadPid },
          'failed',
        ),
      ),
    ).toBe(false);
    expect(
      leftUnfinished(
        release('rel-20261201-100000000', {
          deployer: { user: 'a', machine: here, ci: false, pid_namespace: ns, pid: deadPid },
        }),
      ),
    ).toBe(false);
  });

  it('markLeftUnfinished records them as failed, the others as they were, and names the release that found them', async () => {
    const ledger = new Ledger({ projectRoot: root });
    const gone = { user: 'a', machine: here, ci: false, pid_namespace: ns, pid: deadPid };
    await ledger.create(release('rel-20261201-090000000', { deployer: gone }));
    await ledger.create(unfinished('rel-20261201-100000000', gone));
    await ledger.create(release('rel-20261201-103000000', { deployer: gone }, 'pending'));
    await ledger.create(unfinished('rel-20261201-110000000', { ...gone, pid: process.ppid }));
    await ledger.create(unfinished('rel-20261201-120000000', gone, 'pending'));
    await ledger.create({ ...unfinished('rel-20261201-130000000', gone), environment: 'staging' });

    const changed = await ledger.markLeftUnfinished('production', 'rel-20261201-140000000');
    expect(changed.map((record) => record.id)).toEqual([
      'rel-20261201-100000000',
      'rel-20261201-103000000',
      'rel-20261201-120000000',
    ]);
    const after = await ledger.get('rel-20261201-100000000');
    expect(after.phases).toEqual({
      build: 'completed',
      push: 'failed',
      migrate_pre: 'skipped',
      rollout: 'skipped',
      migrate_post: 'skipped',
      finalize: 'skipped',
    });
    expect(after.error).toBe(
      'interrupted: its deploy process ended before it finished (found when rel-20261201-140000000 started)',
    );
    expect(releaseStatus(after)).toBe('failed');
    expect((await ledger.get('rel-20261201-110000000')).phases.push).toBe('running');
    expect((await ledger.get('rel-20261201-130000000')).phases.push).toBe('running');
    expect((await ledger.get('rel-20261201-090000000')).error).toBeUndefined();
    expect(await ledger.markLeftUnfinished('production', 'rel-20261201-150000000')).toEqual([]);
  });
});

describe('lastGoodRelease', () => {
  it('is the newest completed whole release, or a scoped one that ran on every host asked for', () => {
    const whole = release('rel-20261201-100000000');
    const onH1 = release('rel-20261201-110000000', {
      scope: { hosts: ['h1'] },
      hosts: { h1: { compose_sha256: 'a', services: ['web'] } },
    });
    const failed = release('rel-20261201-120000000', {}, 'failed');
    const removal = release('rel-20261201-090000000', { kind: 'remove' });
    const all = [removal, whole, onH1, failed];
    expect(lastGoodRelease(all, 'rel-new')?.id).toBe(whole.id);
    expect(lastGoodRelease(all, 'rel-new', ['h1'])?.id).toBe(onH1.id);
    expect(lastGoodRelease(all, 'rel-new', ['h1', 'h2'])?.id).toBe(whole.id);
    expect(lastGoodRelease([removal, failed], 'rel-new')).toBeUndefined();
  });
});
