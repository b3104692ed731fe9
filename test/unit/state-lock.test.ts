import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalRunner } from '../../src/runners/local.js';
import {
  acquireLock as acquire,
  defaultHolder,
  describeLock,
  type LockEvent,
  lockDir,
  lockEventMessage,
  releaseLock as release,
  renewLease,
  startLeaseHeartbeat,
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
  vi.useRealTimers();
  await rm(root, { recursive: true, force: true });
});

const target = { project: 'shop', env: 'production' };
const alice = { holder: 'alice', machine: 'laptop', version: 'abc', message: 'hotfix' };
const bob = { holder: 'bob', machine: 'ci-runner', version: 'def' };
const MINUTE = 60_000;

describe('deploy lock', { timeout: 30_000 }, () => {
  it("is taken under ~/.stagecraft/<project>-<env>/lock with info.json in the lock host's time", async () => {
    expect(await status(runner, target)).toBeUndefined();
    const before = Math.floor(Date.now() / 1000);
    // This machine's clock (injected, far in the past) plays no part: times are the host's.
    const clock = fixedClock('2001-01-01T12:00:00.000Z');
    const info = await acquire(runner, { ...target, ...alice, expiryMs: 30 * MINUTE, clock });
    const after = Math.floor(Date.now() / 1000);
    expect(info).toMatchObject({ holder: 'alice', machine: 'laptop', version: 'abc', message: 'hotfix' });
    expect(info.lease_id).toMatch(/^[0-9a-f]{24}$/);
    const acquired = Date.parse(info.acquired_at) / 1000;
    expect(acquired).toBeGreaterThanOrEqual(before);
    expect(acquired).toBeLessThanOrEqual(after);
    expect(info.expires_epoch).toBe(acquired + 30 * 60);
    expect(Date.parse(info.expires_at) / 1000).toBe(acquired + 30 * 60);
    expect(lockDir('shop', 'production')).toBe('.stagecraft/shop-production/lock');
    const onDisk = JSON.parse(
      await readFile(join(root, '.stagecraft/shop-production/lock/info.json'), 'utf8'),
    );
    expect(onDisk).toEqual(info);
    expect(await readdir(join(root, '.stagecraft/shop-production/lock'))).toEqual(['info.json']);
    expect(await status(runner, target)).toEqual({ ...info, expired: false });
    // Another environment has its own lock.
    expect(await status(runner, { project: 'shop', env: 'staging' })).toBeUndefined();
  });

  it('refuses a second acquire, naming the holder, version, message and expiry', async () => {
    const held = await acquire(runner, { ...target, ...alice, expiryMs: 30 * MINUTE });
    const error = await acquire(runner, { ...target, ...bob, expiryMs: 30 * MINUTE }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toBe(
      `deploy lock for shop-production is held by alice@laptop since ${held.acquired_at} (version abc, "hotfix"); expires ${held.expires_at}`,
    );
    expect((error as ExternalError).hint).toBe(
      'wait for that deploy, pass --lock-wait 5m, or run `stagecraft lock release` if it is stale',
    );
    expect((await status(runner, target))?.holder).toBe('alice');
  });

  it("cannot be taken over by a client whose clock is 31 minutes ahead (times are the host's)", async () => {
    await acquire(runner, { ...target, ...alice, expiryMs: 30 * MINUTE });
    const ahead = fixedClock(new Date(Date.now() + 31 * MINUTE).toISOString());
    // This process's own clock (Date) is 31 minutes ahead too; the host's (`date` in the script) is not.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31 * MINUTE);
    const events: LockEvent[] = [];
    await expect(
      acquire(runner, {
        ...target,
        ...bob,
        expiryMs: 30 * MINUTE,
        clock: ahead,
        onEvent: (e) => events.push(e),
      }),
    ).rejects.toThrow(/is held by alice@laptop/);
    expect(events).toEqual([]);
    expect(await status(runner, target)).toMatchObject({ holder: 'alice', expired: false });
  });

  it("takes over a lease only once it has expired by the host's clock, and reports it", async () => {
    await acquire(runner, { ...target, ...alice, expiryMs: 1000, release: 'rel-20261201-100000000' });
    const events: LockEvent[] = [];
    await sleep(2100);
    // This process's clock is 31 minutes behind: the lease is expired by the host's clock all the same,
    // and the new one is written in the host's time.
    const hostNow = Math.floor(Date.now() / 1000);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 31 * MINUTE);
    const info = await acquire(runner, {
      ...target,
      ...bob,
      expiryMs: 30 * MINUTE,
      // A client clock far behind does not keep an expired lease alive either.
      clock: fixedClock('2001-01-01T00:00:00Z'),
      onEvent: (event) => events.push(event),
    });
    expect(info.holder).toBe('bob');
    expect(Date.parse(info.acquired_at) / 1000).toBeGreaterThanOrEqual(hostNow);
    expect(Date.parse(info.acquired_at) / 1000).toBeLessThanOrEqual(hostNow + 5);
    expect(info.expires_epoch).toBe(Date.parse(info.acquired_at) / 1000 + 30 * 60);
    expect(events).toEqual([
      {
        kind: 'broken',
        reason: 'expired',
        // The release alice ran: the taker records it as interrupted.
        previous: expect.objectContaining({ holder: 'alice', release: 'rel-20261201-100000000' }),
      },
    ]);
    expect(lockEventMessage(events[0]!)).toMatch(
      /^TOOK OVER the deploy lock of alice@laptop since \S+Z \(version abc, "hotfix"\); expires \S+Z: its lease expired by the lock host’s clock$/,
    );
    expect((await status(runner, target))?.holder).toBe('bob');
  });

  it('a heartbeat keeps a lease alive past its expiry; the taken-over holder learns it lost the lease', async () => {
    const held = await acquire(runner, { ...target, ...alice, expiryMs: 4000 });
    const lost: Error[] = [];
    const beat = startLeaseHeartbeat(runner, held, {
      ...target,
      expiryMs: 4000,
      intervalMs: 500,
      onLost: (error) => lost.push(error),
    });
    await sleep(6000);
    // Outlasted its 4 s lease: still alive, so nobody may take it.
    await expect(acquire(runner, { ...target, ...bob, expiryMs: MINUTE })).rejects.toThrow(/held by alice/);
    expect(lost).toEqual([]);
    beat.stop();
    await sleep(4600);
    await acquire(runner, { ...target, ...bob, expiryMs: MINUTE });
    await expect(renewLease(runner, { ...target, leaseId: held.lease_id!, expiryMs: 4000 })).rejects.toThrow(
      /lost the deploy lock for shop-production on local: it is now held by bob@ci-runner/,
    );
    // Releasing a lease that is no longer ours does not remove the new holder's lock.
    await expect(release(runner, { ...target, held })).rejects.toThrow(/held by bob@ci-runner/);
    expect((await status(runner, target))?.holder).toBe('bob');
  });

  it('reports a lease lost while the heartbeat runs', async () => {
    const held = await acquire(runner, { ...target, ...alice, expiryMs: MINUTE });
    const lost: Error[] = [];
    const beat = startLeaseHeartbeat(runner, held, {
      ...target,
      expiryMs: MINUTE,
      intervalMs: 200,
      onLost: (error) => lost.push(error),
    });
    await release(runner, { ...target, force: true });
    await sleep(800);
    beat.stop();
    expect(lost.map((error) => error.message)).toEqual([
      'lost the deploy lock for shop-production on local: the lock is gone',
    ]);
  });

  it('check() renews before a step: a lease released between two heartbeats is lost at once', async () => {
    const held = await acquire(runner, { ...target, ...alice, expiryMs: MINUTE });
    const lost: Error[] = [];
    const beat = startLeaseHeartbeat(runner, held, {
      ...target,
      expiryMs: MINUTE,
      onLost: (error) => lost.push(error),
    });
    await sleep(1100);
    await beat.check();
    await release(runner, { ...target, force: true });
    // Within a second of a renewal no renew is made (steps at once share one).
    await beat.check();
    await sleep(1100);
    const message = 'lost the deploy lock for shop-production on local: the lock is gone';
    await expect(Promise.all([beat.check(), beat.check()])).rejects.toThrow(message);
    await expect(beat.check()).rejects.toThrow(message);
    beat.stop();
    expect(lost.map((error) => error.message)).toEqual([message]);
  });

  it('leaves a lock folder without info.json alone while it may be an acquire in progress', async () => {
    await mkdir(join(root, '.stagecraft/shop-production/lock'), { recursive: true });
    expect((await status(runner, target))?.holder).toBe('unknown');
    await expect(acquire(runner, { ...target, ...bob, expiryMs: MINUTE })).rejects.toThrow(
      /held by an acquire in progress/,
    );
    // One left a minute ago (by the host's clock) by an acquire that died is taken over.
    const old = new Date(Date.now() - 2 * MINUTE);
    await utimes(join(root, '.stagecraft/shop-production/lock'), old, old);
    const events: LockEvent[] = [];
    const info = await acquire(runner, {
      ...target,
      ...bob,
      expiryMs: MINUTE,
      onEvent: (e) => events.push(e),
    });
    expect(info.holder).toBe('bob');
    expect(events).toEqual([{ kind: 'broken', reason: 'no-info', previous: undefined }]);
    expect(lockEventMessage(events[0]!)).toBe(
      'TOOK OVER the deploy lock of an unfinished acquire: the lock folder was left without info for over a minute',
    );
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
    expect(lockEventMessage(events[0]!)).toBe(`waiting for the deploy lock held by ${describeLock(held)}`);
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
    ).rejects.toMatchObject({ hint: expect.stringMatching(/run `stagecraft lock release`$/) });
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

  it('serialises many workers that each wait for the lock, take it and give it back: none errs', {
    timeout: 90_000,
  }, async () => {
    // Each change runs under the host-side mutex; a worker whose mkdir of the mutex failed just before
    // its holder removed it once took that for an error ("could not create the deploy lock").
    const order: string[] = [];
    const workers = Array.from({ length: 6 }, async (_, i) => {
      const worker = new LocalRunner({ cwd: root, name: `w${i}` });
      for (let round = 0; round < 2; round++) {
        const held = await acquire(worker, {
          ...target,
          ...bob,
          holder: `w${i}`,
          expiryMs: MINUTE,
          waitMs: 60_000,
          pollMs: 10,
        });
        order.push(held.holder);
        expect(await release(worker, { ...target, held })).toBe(true);
      }
    });
    await Promise.all(workers);
    expect(order).toHaveLength(12);
    expect(await status(runner, target)).toBeUndefined();
  });

  it("lets exactly one of many racing acquirers take over an expired lease, and keeps the winner's lock", async () => {
    await acquire(runner, { ...target, ...alice, expiryMs: 1000 });
    await sleep(2100);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        acquire(new LocalRunner({ cwd: root, name: `r${i}` }), {
          ...target,
          ...bob,
          holder: `user${i}`,
          expiryMs: MINUTE,
        }),
      ),
    );
    const winners = results.filter((r) => r.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    const winner = (winners[0] as PromiseFulfilledResult<{ holder: string; lease_id?: string }>).value;
    const now = await status(runner, target);
    expect(now?.holder).toBe(winner.holder);
    expect(now?.lease_id).toBe(winner.lease_id);
    expect(await readdir(join(root, '.stagecraft/shop-production'))).toEqual(['lock']);
  });

  it('neutralises terminal escape sequences in lock fields when describing them', () => {
    expect(
      describeLock({
        holder: 'evil\u001b]0;pwned\u0007',
        machine: 'm\u001b[2J',
        acquired_at: 'T1',
        expires_at: 'T2',
        version: 'v\u009b1m',
        message: 'hi\u202eeno',
      }),
    ).toBe('evil\\x1b]0;pwned\\x07@m\\x1b[2J since T1 (version v\\x9b1m, "hi\\\\u{202e}eno"); expires T2');
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
