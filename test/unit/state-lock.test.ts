import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalRunner } from '../../src/runners/local.js';
import {
  acquireLock as acquire,
  defaultHolder,
  describeLock,
  type LockEvent,
  lockDir,
  releaseLock as release,
  lockStatus as status,
} from '../../src/state/lock.js';
import { fixedClock } from '../../src/util/clock.js';
import { ExternalError } from '../../src/util/errors.js';

let root: string;
let runner: LocalRunner;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'stagecraft-lock-'));
  runner = new LocalRunner({ cwd: root });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const target = { project: 'shop', env: 'production' };
const alice = { holder: 'alice', machine: 'laptop', version: 'abc', message: 'hotfix' };
const bob = { holder: 'bob', machine: 'ci-runner', version: 'def' };
const MINUTE = 60_000;

describe('deploy lock', () => {
  it('is taken with mkdir and info.json under ~/.stagecraft/<project>-<env>/lock', async () => {
    expect(await status(runner, target)).toBeUndefined();
    const clock = fixedClock('2025-01-01T12:00:00.000Z');
    const info = await acquire(runner, { ...target, ...alice, expiryMs: 30 * MINUTE, clock });
    expect(info).toEqual({
      holder: 'alice',
      machine: 'laptop',
      acquired_at: '2025-01-01T12:00:00.000Z',
      expires_at: '2025-01-01T12:30:00.000Z',
      version: 'abc',
      message: 'hotfix',
    });
    expect(lockDir('shop', 'production')).toBe('.stagecraft/shop-production/lock');
    const onDisk = JSON.parse(
      await readFile(join(root, '.stagecraft/shop-production/lock/info.json'), 'utf8'),
    );
    expect(onDisk).toEqual(info);
    expect(await readdir(join(root, '.stagecraft/shop-production/lock'))).toEqual(['info.json']);
    expect(await status(runner, target)).toEqual(info);
    // Another environment has its own lock.
    expect(await status(runner, { project: 'shop', env: 'staging' })).toBeUndefined();
  });

  it('refuses a second acquire, naming the holder, version, message and expiry', async () => {
    const clock = fixedClock('2025-01-01T12:00:00.000Z');
    await acquire(runner, { ...target, ...alice, expiryMs: 30 * MINUTE, clock });
    const error = await acquire(runner, { ...target, ...bob, expiryMs: 30 * MINUTE, clock }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toBe(
      'deploy lock for shop-production is held by alice@laptop since 2025-01-01T12:00:00.000Z (version abc, "hotfix"); expires 2025-01-01T12:30:00.000Z',
    );
    expect((error as ExternalError).hint).toBe(
      'wait for that deploy, pass --lock-wait 5m, or run `stagecraft lock release` if it is stale',
    );
    expect((await status(runner, target))?.holder).toBe('alice');
  });

  it('breaks an expired lock and reports it', async () => {
    await acquire(runner, {
      ...target,
      ...alice,
      expiryMs: 30 * MINUTE,
      clock: fixedClock('2025-01-01T12:00:00Z'),
    });
    const events: LockEvent[] = [];
    const info = await acquire(runner, {
      ...target,
      ...bob,
      expiryMs: 30 * MINUTE,
      clock: fixedClock('2025-01-01T12:30:00Z'),
      onEvent: (event) => events.push(event),
    });
    expect(info.holder).toBe('bob');
    expect(events).toEqual([
      { kind: 'broken', reason: 'expired', previous: expect.objectContaining({ holder: 'alice' }) },
    ]);
    expect((await status(runner, target))?.holder).toBe('bob');
  });

  it('breaks a lock folder left without info.json (an acquire that died) after looking twice', async () => {
    await mkdir(join(root, '.stagecraft/shop-production/lock'), { recursive: true });
    expect((await status(runner, target))?.holder).toBe('unknown');
    const events: LockEvent[] = [];
    const info = await acquire(runner, {
      ...target,
      ...bob,
      expiryMs: MINUTE,
      pollMs: 50,
      onEvent: (event) => events.push(event),
    });
    expect(info.holder).toBe('bob');
    expect(events).toEqual([{ kind: 'broken', reason: 'no-info', previous: undefined }]);
  });

  it('waits for a lock with waitMs and gets it once the holder releases', async () => {
    const held = await acquire(runner, { ...target, ...alice, expiryMs: 30 * MINUTE });
    const events: LockEvent[] = [];
    const started = Date.now();
    setTimeout(() => void release(runner, { ...target, held }), 300);
    const info = await acquire(runner, {
      ...target,
      ...bob,
      expiryMs: 30 * MINUTE,
      waitMs: 10_000,
      pollMs: 100,
      onEvent: (event) => events.push(event),
    });
    expect(info.holder).toBe('bob');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(events).toEqual([{ kind: 'waiting', holder: held }]);
  });

  it('gives up after waitMs', async () => {
    await acquire(runner, { ...target, ...alice, expiryMs: 30 * MINUTE });
    const started = Date.now();
    await expect(
      acquire(runner, { ...target, ...bob, expiryMs: MINUTE, waitMs: 300, pollMs: 100 }),
    ).rejects.toThrow(/is held by alice@laptop .*; gave up after waiting 300ms$/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('releases only the lock we hold unless forced', async () => {
    expect(await release(runner, { ...target, held: alice })).toBe(false);
    const held = await acquire(runner, { ...target, ...alice, expiryMs: MINUTE });
    await expect(
      release(runner, { ...target, held: { holder: 'bob', machine: 'ci-runner' } }),
    ).rejects.toThrow(/is held by alice@laptop .*, not by bob@ci-runner/);
    await expect(
      release(runner, { ...target, held: { ...held, acquired_at: '2020-01-01T00:00:00.000Z' } }),
    ).rejects.toMatchObject({ hint: expect.stringMatching(/lock release --force/) });
    expect(await release(runner, { ...target, held })).toBe(true);
    expect(await status(runner, target)).toBeUndefined();

    await acquire(runner, { ...target, ...alice, expiryMs: MINUTE });
    expect(await release(runner, { ...target, held: { holder: 'alice', machine: 'laptop' } })).toBe(true);

    await acquire(runner, { ...target, ...alice, expiryMs: MINUTE });
    expect(await release(runner, { ...target, force: true })).toBe(true);
    expect(await readdir(join(root, '.stagecraft/shop-production'))).toEqual([]);
  });

  it('by default gives back the lock this process took, else one of this user on this machine', async () => {
    // The lock acquire() took through a runner of this name.
    await acquire(runner, { ...target, ...alice, expiryMs: MINUTE });
    expect(await release(new LocalRunner({ cwd: root }), target)).toBe(true);

    // Taken elsewhere (another runner name, i.e. not by this process's deploy) by this OS user here.
    const elsewhere = new LocalRunner({ cwd: root, name: 'elsewhere' });
    const mine = await acquire(elsewhere, { ...target, version: 'v9', expiryMs: MINUTE });
    expect({ holder: mine.holder, machine: mine.machine }).toEqual(defaultHolder());
    expect(await release(runner, target)).toBe(true);

    // Someone else's lock is not released without force.
    await acquire(elsewhere, { ...target, ...bob, expiryMs: MINUTE });
    await expect(release(runner, target)).rejects.toThrow(/is held by bob@ci-runner .*, not by /);
    expect((await status(runner, target))?.holder).toBe('bob');
  });

  it('lets exactly one of many concurrent acquires win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        acquire(runner, { ...target, ...bob, holder: `user${i}`, expiryMs: MINUTE }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(7);
  });

  it('reports a lock folder it cannot create', async () => {
    await mkdir(join(root, '.stagecraft'), { recursive: true });
    await writeFile(join(root, '.stagecraft/shop-production'), 'not a folder');
    const error = await acquire(runner, { ...target, ...alice, expiryMs: MINUTE }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toMatch(
      /^could not create the deploy lock ~\/\.stagecraft\/shop-production\/lock on local: mkdir: .*File exists/,
    );
  });

  it('describes a lock without empty parts', () => {
    expect(
      describeLock({
        holder: 'ci',
        machine: 'runner',
        acquired_at: 'T1',
        expires_at: 'T2',
        version: '',
        message: '',
      }),
    ).toBe('ci@runner since T1; expires T2');
  });
});
