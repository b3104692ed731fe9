// The deploy lock of one project and environment, held on a Runner (the lock host, or this machine
// for `driver: local`) as the folder `~/.stagecraft/<project>-<env>/lock/`, created with an atomic
// `mkdir` (as Kamal does), with `lock/info.json` saying who holds it. SPEC §3 (Lock).
import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Runner } from '../runners/types.js';
import { type Clock, systemClock } from '../util/clock.js';
import { ExternalError } from '../util/errors.js';
import { lastStderrLine, remoteStateDir } from './ledger.js';
import type { LockInfo } from './types.js';

/** Which lock: one per project and environment. */
export interface LockTarget {
  project: string;
  env: string;
}

/** Something that happened while acquiring, for the CLI to print. */
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
  /** How long the lock lives before another deploy may break it. */
  expiryMs: number;
  /** How long to wait for a held lock (0 or undefined: fail at once). */
  waitMs?: number;
  /** How often to look again while waiting (default 1500 ms). */
  pollMs?: number;
  clock?: Clock;
  onEvent?: (event: LockEvent) => void;
  signal?: AbortSignal;
}

export interface ReleaseOptions extends LockTarget {
  /**
   * Who releases: the LockInfo acquireLock() returned (that exact lock), or a holder and machine (any
   * lock they took). Default: the lock acquireLock() took through a runner of the same name in this
   * process, else this OS user on this machine.
   */
  held?: Pick<LockInfo, 'holder' | 'machine'> & Partial<LockInfo>;
  /** Release whoever holds it (`stagecraft lock release --force` for a stale lock). */
  force?: boolean;
}

/** Exit code of the acquire script when the lock folder already exists. */
const HELD = 17;
/** Exit code of the status script when there is no lock. */
const NO_LOCK = 3;
/** Exit code of the compare-and-remove script when the lock changed hands. */
const CHANGED = 9;

/**
 * mkdir $2 (atomic: fails if it exists), then info.json from stdin through a temp file. Exit 17 when
 * the lock exists (or vanished in between: the caller looks again); any other failure shows mkdir's error.
 */
const ACQUIRE_SCRIPT =
  'umask 077; mkdir -p "$1" || exit 1; ' +
  'if mkdir "$2" 2>/dev/null; then ' +
  'cat > "$2/.info.tmp" && mv -f "$2/.info.tmp" "$2/info.json" && exit 0; s=$?; rm -rf "$2"; exit "$s"; fi; ' +
  `[ -d "$2" ] && exit ${HELD}; if mkdir "$2"; then rmdir "$2"; exit ${HELD}; fi; exit 1`;

/** Prints info.json (possibly nothing) when the lock exists, else exits 3. */
const STATUS_SCRIPT = `if [ -d "$1" ]; then cat "$1/info.json" 2>/dev/null; exit 0; fi; exit ${NO_LOCK}`;

/** Removes lock $1 only if its info.json still reads $2 (it did not change hands meanwhile). */
const REMOVE_IF_SCRIPT = `c=$(cat "$1/info.json" 2>/dev/null); if [ "$c" = "$2" ]; then rm -rf "$1"; exit 0; fi; [ -d "$1" ] || exit 0; exit ${CHANGED}`;

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

export function isLockExpired(info: LockInfo, now: Date): boolean {
  const expires = Date.parse(info.expires_at);
  return Number.isNaN(expires) || expires <= now.getTime();
}

/** `alice@laptop since <time> (version abc, "message"); expires <time>` */
export function describeLock(info: LockInfo): string {
  const details = [
    info.version === '' ? undefined : `version ${info.version}`,
    info.message === '' ? undefined : JSON.stringify(info.message),
  ]
    .filter((part) => part !== undefined)
    .join(', ');
  return `${info.holder}@${info.machine} since ${info.acquired_at}${details === '' ? '' : ` (${details})`}; expires ${info.expires_at}`;
}

interface CurrentLock {
  /** info.json as read ('' when missing), trailing newlines removed (as the shell compares it). */
  raw: string;
  info: LockInfo | undefined;
}

async function readLock(runner: Runner, dir: string): Promise<CurrentLock | undefined> {
  const result = await runner.exec(['sh', '-c', STATUS_SCRIPT, 'sh', dir], { allowFailure: true });
  if (result.exitCode === NO_LOCK) return undefined;
  if (result.exitCode !== 0)
    throw lockCommandError(runner, 'read the deploy lock', dir, result.stderr, result.exitCode);
  const raw = result.stdout.replace(/\n+$/, '');
  return { raw, info: parseLockInfo(raw) };
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

/** Removes the lock if it still reads `raw`; false when it changed hands in between. */
async function removeIf(runner: Runner, dir: string, raw: string): Promise<boolean> {
  const result = await runner.exec(['sh', '-c', REMOVE_IF_SCRIPT, 'sh', dir, raw], { allowFailure: true });
  if (result.exitCode === 0) return true;
  if (result.exitCode === CHANGED) return false;
  throw lockCommandError(runner, 'remove the deploy lock', dir, result.stderr, result.exitCode);
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
 * Takes the deploy lock and returns what it wrote. A held lock that has expired (or has no info a
 * second after it was seen) is broken, with an `onEvent` report; a live one is waited for up to
 * `waitMs`, polling every `pollMs`; otherwise an ExternalError names the holder.
 */
/**
 * True when the lock was taken on this machine by a process that no longer runs (a deploy killed with
 * SIGKILL): the next deploy may take it over instead of waiting for it to expire.
 */
function holderIsGone(info: LockInfo): boolean {
  if (info.pid === undefined || info.machine !== defaultHolder().machine) return false;
  try {
    process.kill(info.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function acquireLock(runner: Runner, options: AcquireOptions): Promise<LockInfo> {
  const clock = options.clock ?? systemClock;
  const who = defaultHolder();
  const dir = lockDir(options.project, options.env);
  const parent = remoteStateDir(options.project, options.env);
  const waitMs = options.waitMs ?? 0;
  const pollMs = options.pollMs ?? 1500;
  const started = Date.now();
  let sawMissingInfo = false;
  let announced: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const now = clock.now();
    const info: LockInfo = {
      holder: options.holder ?? who.holder,
      machine: options.machine ?? who.machine,
      acquired_at: now.toISOString(),
      expires_at: new Date(now.getTime() + options.expiryMs).toISOString(),
      version: options.version,
      message: options.message ?? '',
      ...(options.pid === undefined ? {} : { pid: options.pid }),
    };
    const result = await runner.exec(['sh', '-c', ACQUIRE_SCRIPT, 'sh', parent, dir], {
      stdin: serializeLockInfo(info),
      allowFailure: true,
    });
    if (result.exitCode === 0) {
      acquiredHere.set(heldKey(runner, dir), info);
      return info;
    }
    if (result.exitCode !== HELD) {
      throw lockCommandError(runner, 'create the deploy lock', dir, result.stderr, result.exitCode);
    }
    const current = await readLock(runner, dir);
    if (current === undefined) continue; // released in between: try again at once
    if (current.info === undefined) {
      // Another acquire between its mkdir and its info.json, or one that died there: look again once.
      if (!sawMissingInfo) {
        sawMissingInfo = true;
        await sleep(Math.min(1000, pollMs), undefined, { signal: options.signal });
        continue;
      }
      sawMissingInfo = false;
      options.onEvent?.({ kind: 'broken', previous: undefined, reason: 'no-info' });
      await removeIf(runner, dir, current.raw);
      continue;
    }
    sawMissingInfo = false;
    if (isLockExpired(current.info, clock.now())) {
      options.onEvent?.({ kind: 'broken', previous: current.info, reason: 'expired' });
      await removeIf(runner, dir, current.raw);
      continue;
    }
    if (holderIsGone(current.info)) {
      options.onEvent?.({ kind: 'broken', previous: current.info, reason: 'holder-gone' });
      await removeIf(runner, dir, current.raw);
      continue;
    }
    const waited = Date.now() - started;
    if (waitMs > 0 && waited < waitMs) {
      if (announced !== current.raw) {
        announced = current.raw;
        options.onEvent?.({ kind: 'waiting', holder: current.info });
      }
      await sleep(Math.max(1, Math.min(pollMs, waitMs - waited)), undefined, { signal: options.signal });
      continue;
    }
    throw new ExternalError(
      `deploy lock for ${options.project}-${options.env} is held by ${describeLock(current.info)}` +
        (waitMs > 0 ? `; gave up after waiting ${formatWait(waitMs)}` : ''),
      { hint: 'wait for that deploy, pass --lock-wait 5m, or run `stagecraft lock release` if it is stale' },
    );
  }
}

/**
 * Releases the deploy lock: always with `force`, else only when it is ours (see ReleaseOptions.held).
 * Returns false when there was no lock; throws when someone else holds it.
 */
export async function releaseLock(runner: Runner, options: ReleaseOptions): Promise<boolean> {
  const dir = lockDir(options.project, options.env);
  const key = heldKey(runner, dir);
  const current = await readLock(runner, dir);
  if (current === undefined) {
    acquiredHere.delete(key);
    return false;
  }
  if (options.force === true) {
    const result = await runner.exec(['rm', '-rf', dir], { allowFailure: true });
    if (result.exitCode !== 0)
      throw lockCommandError(runner, 'remove the deploy lock', dir, result.stderr, result.exitCode);
    acquiredHere.delete(key);
    return true;
  }
  const held: Pick<LockInfo, 'holder' | 'machine'> & Partial<LockInfo> =
    options.held ?? acquiredHere.get(key) ?? defaultHolder();
  const info = current.info;
  const ours =
    info !== undefined &&
    info.holder === held.holder &&
    info.machine === held.machine &&
    (held.acquired_at === undefined || info.acquired_at === held.acquired_at);
  if (ours && (await removeIf(runner, dir, current.raw))) {
    acquiredHere.delete(key);
    return true;
  }
  const who = info === undefined ? 'an interrupted acquire (no info.json)' : describeLock(info);
  throw new ExternalError(
    `deploy lock for ${options.project}-${options.env} is held by ${who}, not by ${held.holder}@${held.machine}`,
    { hint: 'if that deploy is no longer running, run `stagecraft lock release --force`' },
  );
}

/** Who holds the deploy lock, or undefined. A lock folder without info reads as holder "unknown". */
export async function lockStatus(runner: Runner, target: LockTarget): Promise<LockInfo | undefined> {
  const current = await readLock(runner, lockDir(target.project, target.env));
  if (current === undefined) return undefined;
  return (
    current.info ?? {
      holder: 'unknown',
      machine: 'unknown',
      acquired_at: '',
      expires_at: '',
      version: '',
      message: 'lock folder without info.json (an interrupted acquire?)',
    }
  );
}

/** The names of the brief: `import * as lock from './lock.js'; lock.acquire(...)`. */
export { acquireLock as acquire, lockStatus as status, releaseLock as release };
