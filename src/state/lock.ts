// The deploy lock of one project and environment: a lease held on a Runner (the lock host, or this
// machine for `driver: local`) as the folder `~/.stagecraft/<project>-<env>/lock/` with `info.json`
// saying who holds it, since when and until when. SPEC §3 (Lock).
//
// Every time is the lock host's clock (`date +%s` there), never this machine's: an operator whose
// clock is ahead cannot see a live lease as expired. Every change (take, take over, renew, release)
// runs as one script on the host under a short mutex (`lock.mutex/`, made with an atomic mkdir), so a
// check and the change it decides are one step: racing acquirers cannot delete a winner's lock. A
// deploy renews its lease with a heartbeat (startLeaseHeartbeat); a lease is taken over only once it
// has expired by the host's clock, and the taker is told (LockEvent 'broken') so that it says so loudly.

import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Runner } from '../runners/types.js';
import type { Clock } from '../util/clock.js';
import { ExternalError } from '../util/errors.js';
import { printable } from '../util/printable.js';
import { lastStderrLine, remoteStateDir } from './ledger.js';
import { currentPidNamespace, processGoneHere } from './process-gone.js';
import type { LockInfo } from './types.js';

/** Which lock: one per project and environment. */
export interface LockTarget {
  project: string;
  env: string;
}

/** Something that happened while acquiring, for the CLI to print (a takeover loudly). */
export type LockEvent =
  | { kind: 'broken'; previous: LockInfo | undefined; reason: 'expired' | 'no-info' | 'holder-gone' }
  | { kind: 'waiting'; holder: LockInfo };

export interface AcquireOptions extends LockTarget {
  /** The version being deployed (shown to whoever finds the lock held). */
  version: string;
  /** Why (shown to whoever finds the lock held); default ''. */
  message?: string;
  /** Who takes it: default the OS user name. */
  holder?: string;
  /** From where: default this machine's host name. */
  machine?: string;
  /** The holding process (a deploy): once it is gone from this machine, the lock may be broken. A manual lock has none. */
  pid?: number;
  /** The release the holder runs (LockInfo.release); a manual lock has none. */
  release?: string;
  /** How long the lease lives without renewal (rounded up to whole seconds of the host's clock). */
  expiryMs: number;
  /** How long to wait for a held lock (0 or undefined: fail at once). */
  waitMs?: number;
  /** How often to look again while waiting (default 1500 ms). */
  pollMs?: number;
  /**
   * This machine's clock. Not used for the lease: every lock time is the lock host's (kept in the
   * options so that a caller with a skewed or injected clock sees it makes no difference).
   */
  clock?: Clock;
  onEvent?: (event: LockEvent) => void;
  signal?: AbortSignal;
}

export interface ReleaseOptions extends LockTarget {
  /**
   * Who releases: the LockInfo acquireLock() returned (that exact lease), or a holder and machine (any
   * lock they took). Default: the lock acquireLock() took through a runner of the same name in this
   * process, else this OS user on this machine.
   */
  held?: Pick<LockInfo, 'holder' | 'machine'> & Partial<LockInfo>;
  /** Release whoever holds it (`stagecraft lock release` for a stale lock). */
  force?: boolean;
}

/** Exit code of the acquire script when the lock is held (and live by the host's clock). */
const HELD = 17;
/** Exit code of the status and release scripts when there is no lock. */
const NO_LOCK = 3;
/** Exit code of the release script when the lock is not the one named. */
const CHANGED = 9;
/** Exit code of the renew script when the lease is no longer ours. */
const LOST = 21;
/** A lock folder without info.json younger than this (host seconds) is an acquire in progress. */
const NO_INFO_GRACE_SECONDS = 60;
const END = '@@END@@';

/**
 * Shell prelude of every changing script: $1 is `.stagecraft/<project>-<env>`. Takes the mutex
 * `$1/lock.mutex` (atomic mkdir; one left by a killed script is removed after 30 s by the host's
 * clock; a mkdir that fails three times in a row with no mutex there is an error) and gives it back on
 * exit. Defines `iso EPOCH` (UTC RFC 3339) and `exp_of` (the lease's
 * expiry in host epoch seconds: `expires_epoch`, else `expires_at` parsed, else empty).
 */
const PRELUDE =
  'P="$1"; L="$P/lock"; M="$P/lock.mutex"; umask 077; mkdir -p "$P" || exit 1; ' +
  'mt() { stat -c %Y "$1" 2>/dev/null || stat -f %m "$1" 2>/dev/null || echo 0; }; ' +
  'iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ; }; ' +
  // A failed mkdir with no mutex there is an error only when it repeats: the holder may have removed
  // the mutex between our mkdir and the check (racing acquirers saw "could not create the deploy lock").
  'n=0; f=0; until mkdir "$M" 2>/dev/null; do if [ ! -d "$M" ]; then f=$((f+1)); [ "$f" -lt 3 ] || exit 1; continue; fi; f=0; n=$((n+1)); ' +
  'if [ "$n" -ge 100 ]; then [ $(( $(date +%s) - $(mt "$M") )) -gt 30 ] && rmdir "$M" 2>/dev/null; n=0; fi; sleep 0.05; done; ' +
  "trap 'rmdir \"$M\" 2>/dev/null' EXIT; trap 'exit 130' INT TERM HUP; " +
  'exp_of() { e=$(sed -n \'s/^ *"expires_epoch": *\\([0-9][0-9]*\\).*/\\1/p\' "$L/info.json" 2>/dev/null | head -n 1); ' +
  'if [ -z "$e" ]; then a=$(sed -n \'s/^ *"expires_at": *"\\([^"]*\\)".*/\\1/p\' "$L/info.json" 2>/dev/null | head -n 1); ' +
  '[ -n "$a" ] && e=$(date -u -d "$a" +%s 2>/dev/null); fi; echo "$e"; }; ';

/**
 * $2: lease length in seconds, $3: lease id; stdin: info.json with its placeholders (infoTemplate). Prints
 * a status word (ACQUIRED, BROKE-EXPIRED, BROKE-NOINFO; HELD or HELD-NOINFO with exit 17), the
 * host's epoch, the previous info (if any), @@END@@, then the new info.json.
 */
const ACQUIRE_SCRIPT =
  PRELUDE +
  't=$(cat); now=$(date +%s); ' +
  'if [ -d "$L" ]; then ' +
  'if [ -s "$L/info.json" ]; then e=$(exp_of); ' +
  `if [ -n "$e" ] && [ "$now" -lt "$e" ]; then echo HELD; echo "$now"; cat "$L/info.json"; exit ${HELD}; fi; ` +
  'echo BROKE-EXPIRED; echo "$now"; cat "$L/info.json"; echo; ' +
  `else if [ $(( now - $(mt "$L") )) -lt ${NO_INFO_GRACE_SECONDS} ]; then echo HELD-NOINFO; echo "$now"; exit ${HELD}; fi; ` +
  'echo BROKE-NOINFO; echo "$now"; fi; ' +
  'rm -rf "$L" || exit 1; else echo ACQUIRED; echo "$now"; fi; ' +
  `echo ${END}; mkdir "$L" || exit 1; x=$((now + $2)); ` +
  'printf "%s\\n" "$t" | sed -e "s/@@$3A@@/$(iso "$now")/" -e "s/@@$3E@@/$(iso "$x")/" ' +
  '-e "s/\\"@@$3N@@\\"/$x/" > "$L/.info.tmp" && mv -f "$L/.info.tmp" "$L/info.json" ' +
  '|| { s=$?; rm -rf "$L"; exit "$s"; }; cat "$L/info.json"';

/** $2: lease id, $3: seconds. Extends our lease from the host's now; exit 21 (printing the lock) when it is not ours. */
const RENEW_SCRIPT =
  PRELUDE +
  `grep -q "\\"lease_id\\": \\"$2\\"" "$L/info.json" 2>/dev/null || { cat "$L/info.json" 2>/dev/null; exit ${LOST}; }; ` +
  'now=$(date +%s); x=$((now + $3)); ' +
  'sed -e "s/^\\( *\\"expires_epoch\\": *\\)[0-9][0-9]*/\\1$x/" -e "s/^\\( *\\"expires_at\\": *\\"\\)[^\\"]*/\\1$(iso "$x")/" ' +
  '"$L/info.json" > "$L/.info.tmp" && mv -f "$L/.info.tmp" "$L/info.json" || exit 1; cat "$L/info.json"';

/** $2: force | lease | raw, $3: the lease id or the exact info.json. Exit 3: no lock; 9: not that lock (printed). */
const RELEASE_SCRIPT =
  PRELUDE +
  `[ -d "$L" ] || exit ${NO_LOCK}; ` +
  'case "$2" in force) ;; ' +
  `lease) grep -q "\\"lease_id\\": \\"$3\\"" "$L/info.json" 2>/dev/null || { cat "$L/info.json" 2>/dev/null; exit ${CHANGED}; } ;; ` +
  `*) c=$(cat "$L/info.json" 2>/dev/null); [ "$c" = "$3" ] || { printf "%s\\n" "$c"; exit ${CHANGED}; } ;; esac; ` +
  'rm -rf "$L"';

/** The host's epoch, then info.json (possibly nothing) when the lock exists, else exit 3. Changes nothing. */
const STATUS_SCRIPT = `if [ -d "$1/lock" ]; then date +%s; cat "$1/lock/info.json" 2>/dev/null; exit 0; fi; exit ${NO_LOCK}`;

/** Locks this process took, by runner name and lock folder: what release() gives back by default. */
const acquiredHere = new Map<string, LockInfo>();

function heldKey(runner: Runner, dir: string): string {
  return `${runner.name}\u0000${dir}`;
}

/** The OS user and host name: who holds a lock unless told otherwise. */
export function defaultHolder(): { holder: string; machine: string } {
  let holder = process.env['USER'] ?? 'unknown';
  try {
    holder = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep $USER
  }
  return { holder, machine: hostname() };
}

/** `.stagecraft/<project>-<env>/lock` (relative to the runner's home). */
export function lockDir(project: string, env: string): string {
  return `${remoteStateDir(project, env)}/lock`;
}

/** The bytes of info.json. */
export function serializeLockInfo(info: LockInfo): string {
  return `${JSON.stringify(info, null, 2)}\n`;
}

/** Whether a lease has expired at `nowEpochSeconds` of the lock host (expires_epoch, else expires_at). */
export function isLockExpired(info: LockInfo, nowEpochSeconds: number): boolean {
  const expires = info.expires_epoch ?? Math.floor(Date.parse(info.expires_at) / 1000);
  return Number.isNaN(expires) || expires <= nowEpochSeconds;
}

/**
 * The line to print for a lock event: `waiting for the deploy lock held by …` (info), or the takeover
 * warning `TOOK OVER the deploy lock of …: <why>` that nobody may miss. Safe to print on a terminal.
 */
export function lockEventMessage(event: LockEvent): string {
  if (event.kind === 'waiting') return `waiting for the deploy lock held by ${describeLock(event.holder)}`;
  const previous = event.previous === undefined ? 'an unfinished acquire' : describeLock(event.previous);
  const why =
    event.reason === 'expired'
      ? 'its lease expired by the lock host’s clock'
      : event.reason === 'holder-gone'
        ? 'its deploy process is gone from this machine'
        : 'the lock folder was left without info for over a minute';
  return `TOOK OVER the deploy lock of ${previous}: ${why}`;
}

/** `alice@laptop since <time> (version abc, "message"); expires <time>`, safe to print on a terminal. */
export function describeLock(info: LockInfo): string {
  const details = [
    info.version === '' ? undefined : `version ${printable(info.version)}`,
    info.message === '' ? undefined : JSON.stringify(printable(info.message)),
  ]
    .filter((part) => part !== undefined)
    .join(', ');
  return `${printable(info.holder)}@${printable(info.machine)} since ${printable(info.acquired_at)}${details === '' ? '' : ` (${details})`}; expires ${printable(info.expires_at)}`;
}

function parseLockInfo(raw: string): LockInfo | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockInfo> | null;
    const fields = ['holder', 'machine', 'acquired_at', 'expires_at', 'version', 'message'] as const;
    if (typeof value !== 'object' || value === null) return undefined;
    if (!fields.every((field) => typeof value[field] === 'string')) return undefined;
    return value as LockInfo;
  } catch {
    return undefined;
  }
}

function lockCommandError(
  runner: Runner,
  what: string,
  dir: string,
  stderr: string,
  code: number,
): ExternalError {
  return new ExternalError(
    `could not ${what} ~/${dir} on ${runner.name}: ${lastStderrLine(stderr) || `exit code ${code}`}`,
    { hint: `check the disk and the permissions of ~/.stagecraft on ${runner.name}` },
  );
}

function formatWait(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * True when the lock was taken on this machine by a process that no longer runs (a deploy killed with
 * SIGKILL): the next deploy may take it over instead of waiting for it to expire.
 */
function holderIsGone(info: LockInfo): boolean {
  return processGoneHere(info.pid, info.machine, info.pid_namespace);
}

function leaseSeconds(expiryMs: number): number {
  return Math.max(1, Math.ceil(expiryMs / 1000));
}

/**
 * The info.json the acquire script fills in with the host's times: placeholders `@@<id>A@@`,
 * `@@<id>E@@` and `"@@<id>N@@"` (acquired_at, expires_at, expires_epoch), where `<id>` is the random
 * lease id, so that no field value can contain one.
 */
function infoTemplate(options: AcquireOptions, leaseId: string): string {
  const who = defaultHolder();
  const template = {
    holder: options.holder ?? who.holder,
    machine: options.machine ?? who.machine,
    acquired_at: `@@${leaseId}A@@`,
    expires_at: `@@${leaseId}E@@`,
    version: options.version,
    message: options.message ?? '',
    ...(options.pid === undefined ? {} : { pid: options.pid, pid_namespace: currentPidNamespace() }),
    ...(options.release === undefined ? {} : { release: options.release }),
    lease_id: leaseId,
    expires_epoch: `@@${leaseId}N@@`,
  };
  return JSON.stringify(template, null, 2);
}

/**
 * Takes the deploy lock (a lease of `expiryMs` on the lock host's clock) and returns what it wrote,
 * with the host's times. A held lease that has expired by the host's clock, a lock folder left
 * without info for a minute, or a lock whose deploy process is gone from this machine is taken over,
 * reported through `onEvent` ('broken'); a live one is waited for up to `waitMs`, polling every
 * `pollMs`; otherwise an ExternalError names the holder.
 */
export async function acquireLock(runner: Runner, options: AcquireOptions): Promise<LockInfo> {
  const dir = lockDir(options.project, options.env);
  const parent = remoteStateDir(options.project, options.env);
  const waitMs = options.waitMs ?? 0;
  const pollMs = options.pollMs ?? 1500;
  const started = Date.now();
  let announced: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const leaseId = randomBytes(12).toString('hex');
    const result = await runner.exec(
      ['sh', '-c', ACQUIRE_SCRIPT, 'sh', parent, String(leaseSeconds(options.expiryMs)), leaseId],
      { stdin: infoTemplate(options, leaseId), allowFailure: true },
    );
    const [status = '', , ...rest] = result.stdout.split('\n');
    if (result.exitCode === 0 && status !== 'HELD') {
      const body = rest.join('\n');
      const cut = body.indexOf(`${END}\n`);
      const previousRaw = cut === -1 ? '' : body.slice(0, cut).trim();
      const info = parseLockInfo(cut === -1 ? body : body.slice(cut + END.length + 1));
      if (info === undefined) {
        throw lockCommandError(runner, 'create the deploy lock', dir, 'info.json was not written', 1);
      }
      if (status === 'BROKE-EXPIRED')
        options.onEvent?.({ kind: 'broken', previous: parseLockInfo(previousRaw), reason: 'expired' });
      if (status === 'BROKE-NOINFO')
        options.onEvent?.({ kind: 'broken', previous: undefined, reason: 'no-info' });
      acquiredHere.set(heldKey(runner, dir), info);
      return info;
    }
    if (result.exitCode !== HELD) {
      throw lockCommandError(runner, 'create the deploy lock', dir, result.stderr, result.exitCode);
    }
    const raw = rest.join('\n').replace(/\n+$/, '');
    const current = status === 'HELD' ? parseLockInfo(raw) : undefined;
    if (current !== undefined && holderIsGone(current)) {
      if (await removeIf(runner, parent, 'raw', raw)) {
        options.onEvent?.({ kind: 'broken', previous: current, reason: 'holder-gone' });
      }
      continue;
    }
    const waited = Date.now() - started;
    if (waitMs > 0 && waited < waitMs) {
      if (current !== undefined && announced !== raw) {
        announced = raw;
        options.onEvent?.({ kind: 'waiting', holder: current });
      }
      await sleep(Math.max(1, Math.min(pollMs, waitMs - waited)), undefined, { signal: options.signal });
      continue;
    }
    const who =
      current === undefined
        ? 'an acquire in progress (a lock folder without info.json yet)'
        : describeLock(current);
    throw new ExternalError(
      `deploy lock for ${options.project}-${options.env} is held by ${who}` +
        (waitMs > 0 ? `; gave up after waiting ${formatWait(waitMs)}` : ''),
      { hint: 'wait for that deploy, pass --lock-wait 5m, or run `stagecraft lock release` if it is stale' },
    );
  }
}

/** Removes the lock if it is still the one named (by lease id or exact info.json); false when not. */
async function removeIf(
  runner: Runner,
  parent: string,
  mode: 'lease' | 'raw',
  match: string,
): Promise<boolean> {
  const result = await runner.exec(['sh', '-c', RELEASE_SCRIPT, 'sh', parent, mode, match], {
    allowFailure: true,
  });
  if (result.exitCode === 0 || result.exitCode === NO_LOCK) return result.exitCode === 0;
  if (result.exitCode === CHANGED) return false;
  throw lockCommandError(runner, 'remove the deploy lock', `${parent}/lock`, result.stderr, result.exitCode);
}

/**
 * Extends a lease we hold by `expiryMs` from the lock host's now and returns the new info. Throws
 * LeaseLostError when the lock is gone or held by another lease (taken over after it expired), an
 * ExternalError when the host cannot be asked.
 */
export async function renewLease(
  runner: Runner,
  target: LockTarget & { leaseId: string; expiryMs: number },
): Promise<LockInfo> {
  const parent = remoteStateDir(target.project, target.env);
  const result = await runner.exec(
    ['sh', '-c', RENEW_SCRIPT, 'sh', parent, target.leaseId, String(leaseSeconds(target.expiryMs))],
    { allowFailure: true },
  );
  if (result.exitCode === LOST) {
    const now = parseLockInfo(result.stdout.trim());
    throw new LeaseLostError(
      `lost the deploy lock for ${target.project}-${target.env} on ${runner.name}: ${now === undefined ? 'the lock is gone' : `it is now held by ${describeLock(now)}`}`,
    );
  }
  const info = result.exitCode === 0 ? parseLockInfo(result.stdout.trim()) : undefined;
  if (info === undefined) {
    throw lockCommandError(runner, 'renew the deploy lock', `${parent}/lock`, result.stderr, result.exitCode);
  }
  return info;
}

/** The lease is no longer ours: whatever the deploy does next would run without the lock. */
export class LeaseLostError extends ExternalError {}

export interface LeaseHeartbeat {
  /** Stops renewing (before release). */
  stop(): void;
  /**
   * Renews the lease now unless it was renewed in the last second (calls at once share one renew):
   * before a step, so a lease released or taken over stops the deploy before that step. Throws
   * LeaseLostError when it is lost (onLost is told too), ExternalError when the host cannot be asked.
   */
  check(): Promise<void>;
}

/**
 * Renews a held lease every `intervalMs` (default a third of the lease, at most a minute) while a
 * deploy runs. `onLost` is called once when the lease is lost: taken over, gone, or not renewed for
 * longer than the lease lasts (measured here with a monotonic clock, which no skew affects).
 */
export function startLeaseHeartbeat(
  runner: Runner,
  lease: LockInfo,
  options: LockTarget & { expiryMs: number; intervalMs?: number; onLost: (error: Error) => void },
): LeaseHeartbeat {
  const leaseId = lease.lease_id;
  if (leaseId === undefined) return { stop: () => undefined, check: async () => undefined };
  const interval = options.intervalMs ?? Math.max(1000, Math.min(60_000, Math.floor(options.expiryMs / 3)));
  let lastRenewed = performance.now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async (): Promise<void> => {
    if (stopped) return;
    try {
      await renewLease(runner, { ...options, leaseId });
      lastRenewed = performance.now();
    } catch (error) {
      if (stopped) return;
      if (error instanceof LeaseLostError || performance.now() - lastRenewed >= options.expiryMs) {
        stopped = true;
        options.onLost(
          error instanceof LeaseLostError
            ? error
            : new LeaseLostError(
                `could not renew the deploy lock for ${options.project}-${options.env} on ${runner.name} within its ${Math.round(options.expiryMs / 1000)}s lease: ${(error as Error).message}`,
              ),
        );
        return;
      }
    }
    if (!stopped) timer = setTimeout(() => void tick(), interval);
  };
  timer = setTimeout(() => void tick(), interval);
  let checking: Promise<void> | undefined;
  let lost: Error | undefined;
  const check = async (): Promise<void> => {
    if (lost !== undefined) throw lost;
    if (stopped || performance.now() - lastRenewed < 1000) return;
    checking ??= renewLease(runner, { ...options, leaseId })
      .then(() => {
        lastRenewed = performance.now();
      })
      .catch((error: unknown) => {
        if (error instanceof LeaseLostError) {
          lost = error;
          if (!stopped) {
            stopped = true;
            if (timer !== undefined) clearTimeout(timer);
            options.onLost(error);
          }
        }
        throw error;
      })
      .finally(() => {
        checking = undefined;
      });
    return checking;
  };
  return {
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
    check,
  };
}

/**
 * Releases the deploy lock: always with `force`, else only when it is ours (see ReleaseOptions.held).
 * Returns false when there was no lock; throws when someone else holds it.
 */
export async function releaseLock(runner: Runner, options: ReleaseOptions): Promise<boolean> {
  const dir = lockDir(options.project, options.env);
  const parent = remoteStateDir(options.project, options.env);
  const key = heldKey(runner, dir);
  if (options.force === true) {
    const result = await runner.exec(['sh', '-c', RELEASE_SCRIPT, 'sh', parent, 'force', ''], {
      allowFailure: true,
    });
    if (result.exitCode !== 0 && result.exitCode !== NO_LOCK)
      throw lockCommandError(runner, 'remove the deploy lock', dir, result.stderr, result.exitCode);
    acquiredHere.delete(key);
    return result.exitCode === 0;
  }
  const current = await readLock(runner, parent);
  if (current === undefined) {
    acquiredHere.delete(key);
    return false;
  }
  const held: Pick<LockInfo, 'holder' | 'machine'> & Partial<LockInfo> =
    options.held ?? acquiredHere.get(key) ?? defaultHolder();
  const info = current.info;
  const ours =
    info !== undefined &&
    info.holder === held.holder &&
    info.machine === held.machine &&
    (held.acquired_at === undefined || info.acquired_at === held.acquired_at) &&
    (held.lease_id === undefined || info.lease_id === held.lease_id);
  if (
    ours &&
    (info.lease_id !== undefined
      ? await removeIf(runner, parent, 'lease', info.lease_id)
      : await removeIf(runner, parent, 'raw', current.raw))
  ) {
    acquiredHere.delete(key);
    return true;
  }
  const who = info === undefined ? 'an interrupted acquire (no info.json)' : describeLock(info);
  throw new ExternalError(
    `deploy lock for ${options.project}-${options.env} is held by ${who}, not by ${printable(held.holder)}@${printable(held.machine)}`,
    { hint: 'if that deploy is no longer running, run `stagecraft lock release`' },
  );
}

interface CurrentLock {
  /** info.json as read ('' when missing), trailing newlines removed (as the shell compares it). */
  raw: string;
  info: LockInfo | undefined;
  /** The lock host's clock when it was read (epoch seconds). */
  hostNow: number;
}

async function readLock(runner: Runner, parent: string): Promise<CurrentLock | undefined> {
  const result = await runner.exec(['sh', '-c', STATUS_SCRIPT, 'sh', parent], { allowFailure: true });
  if (result.exitCode === NO_LOCK) return undefined;
  if (result.exitCode !== 0)
    throw lockCommandError(runner, 'read the deploy lock', `${parent}/lock`, result.stderr, result.exitCode);
  const [now = '', ...rest] = result.stdout.split('\n');
  const raw = rest.join('\n').replace(/\n+$/, '');
  return { raw, info: parseLockInfo(raw), hostNow: Number(now) };
}

/**
 * Who holds the deploy lock, or undefined. A lock folder without info reads as holder "unknown".
 * `expired` says whether the lease has run out by the lock host's clock.
 */
export async function lockStatus(
  runner: Runner,
  target: LockTarget,
): Promise<(LockInfo & { expired?: boolean }) | undefined> {
  const current = await readLock(runner, remoteStateDir(target.project, target.env));
  if (current === undefined) return undefined;
  if (current.info === undefined) {
    return {
      holder: 'unknown',
      machine: 'unknown',
      acquired_at: '',
      expires_at: '',
      version: '',
      message: 'lock folder without info.json (an interrupted acquire?)',
    };
  }
  return Number.isFinite(current.hostNow) && current.hostNow > 0
    ? { ...current.info, expired: isLockExpired(current.info, current.hostNow) }
    : current.info;
}

/** The names of the brief: `import * as lock from './lock.js'; lock.acquire(...)`. */
export { acquireLock as acquire, lockStatus as status, releaseLock as release };
