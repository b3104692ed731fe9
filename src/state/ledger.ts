// The release ledger: `.stagecraft/releases.json` on this machine (rewritten atomically on every
// change) and `~/.stagecraft/<project>-<env>/releases.jsonl` on the lock host (appended), merged for
// `releases`. Format and rules: reference/original-design.md §4.3, SPEC §3 (State).

import { open, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Runner } from '../runners/types.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { type Clock, systemClock } from '../util/clock.js';
import { ExternalError, InternalError, UserError } from '../util/errors.js';
import { makeDirectory } from '../util/make-dir.js';
import { readUserFile } from '../util/user-file.js';
import { currentPidNamespace, processGoneHere } from './process-gone.js';
import { PHASES, type PhaseName, type PhaseStatus, type ReleaseRecord } from './types.js';

export const LEDGER_ENV_VAR = 'STAGECRAFT_STATE_FILE';

const STATUSES: readonly PhaseStatus[] = ['pending', 'running', 'completed', 'failed', 'skipped'];
const RELEASE_ID = /^rel-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(\d{3})?$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

// ---------------------------------------------------------------------------------------------------
// Release ids

/** `rel-YYYYMMDD-HHMMSSmmm` in UTC. */
export function formatReleaseId(date: Date): string {
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return (
    `rel-${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}${pad(date.getUTCMilliseconds(), 3)}`
  );
}

/** The time of a release id (the 19-character form without milliseconds is read as .000), or undefined. */
export function parseReleaseId(id: string): Date | undefined {
  const match = RELEASE_ID.exec(id);
  if (!match) return undefined;
  const [, year, month, day, hours, minutes, seconds, millis] = match.map(Number) as number[];
  return new Date(
    Date.UTC(year!, month! - 1, day!, hours!, minutes!, seconds!, Number.isNaN(millis) ? 0 : millis!),
  );
}

export function isReleaseId(id: string): boolean {
  return parseReleaseId(id) !== undefined;
}

/**
 * The id of a new release at `now`, strictly greater than every existing id (when the newest is at
 * or after `now`, one millisecond after the newest), so ids stay unique and sorted even within one
 * millisecond or with a clock that went back.
 */
export function nextReleaseId(now: Date, existingIds: Iterable<string>): string {
  let newest: string | undefined;
  for (const id of existingIds) if (isReleaseId(id) && (newest === undefined || id > newest)) newest = id;
  const candidate = formatReleaseId(now);
  if (newest === undefined || candidate > newest) return candidate;
  return formatReleaseId(new Date(parseReleaseId(newest)!.getTime() + 1));
}

// ---------------------------------------------------------------------------------------------------
// Pure queries (work on any list: local, remote or merged)

/** Newest first: by id (lexicographic = chronological), then by timestamp. */
export function sortNewestFirst(records: readonly ReleaseRecord[]): ReleaseRecord[] {
  return [...records].sort((a, b) =>
    a.id === b.id ? b.timestamp.localeCompare(a.timestamp) : a.id < b.id ? 1 : -1,
  );
}

/**
 * A release that finished: `finalize` completed and no phase pending, running or failed (skipped
 * phases are fine: a rollback skips build, push and migrations).
 */
export function isCompletedRelease(record: ReleaseRecord): boolean {
  return (
    record.phases.finalize === 'completed' &&
    PHASES.every((phase) => record.phases[phase] === 'completed' || record.phases[phase] === 'skipped')
  );
}

/**
 * True for a release neither completed nor failed whose deploy process ran on this machine and is gone
 * (killed before it could record how it ended).
 */
export function leftUnfinished(record: ReleaseRecord): boolean {
  const phases = Object.values(record.phases);
  if (isCompletedRelease(record) || phases.includes('failed')) return false;
  // Nothing left to run (every phase skipped, a status this version does not know): nothing to fail.
  if (!phases.includes('running') && !phases.includes('pending')) return false;
  const { pid, machine, pid_namespace } = record.deployer ?? {};
  return processGoneHere(pid, machine, pid_namespace);
}

/**
 * The newest *completed* record of `env`: a release, or a removal (`stagecraft remove`, kind
 * `remove`), which completes like a release but leaves nothing running. Undefined when there is none.
 */
export function latestRecord(records: readonly ReleaseRecord[], env: string): ReleaseRecord | undefined {
  return sortNewestFirst(records).find((record) => record.environment === env && isCompletedRelease(record));
}

/** What runs once `record` completed: the record itself, or none when it is a removal. */
export function runningRelease(record: ReleaseRecord | undefined): ReleaseRecord | undefined {
  return record?.kind === 'remove' ? undefined : record;
}

/**
 * The release an environment runs now: the newest *completed* release of `env`, or none when the
 * newest completed record is a removal. (The original design used the newest release of any status;
 * a failed or interrupted release is not what runs, and a rollback target must be a completed
 * release.)
 */
export function currentRelease(records: readonly ReleaseRecord[], env: string): ReleaseRecord | undefined {
  return runningRelease(latestRecord(records, env));
}

/**
 * The newest completed release of `env` older than release `beforeId` (the `--to-previous` target);
 * removals are passed over: there is nothing to return to in one; so are releases limited to some
 * hosts or services (`scope`): they are not what the whole environment ran.
 */
export function previousRelease(
  records: readonly ReleaseRecord[],
  env: string,
  beforeId: string,
): ReleaseRecord | undefined {
  return sortNewestFirst(records).find(
    (record) =>
      record.environment === env &&
      record.id < beforeId &&
      record.kind !== 'remove' &&
      record.scope === undefined &&
      isCompletedRelease(record),
  );
}

/**
 * The newest completed release of `releases` other than `exceptId` (never a removal) that a host can
 * return to: a release of the whole environment, or, with `hosts`, one limited to some hosts
 * (`scope`) that ran on every one of `hosts`. Undefined when there is none.
 */
export function lastGoodRelease(
  releases: readonly ReleaseRecord[],
  exceptId: string,
  hosts?: readonly string[],
): ReleaseRecord | undefined {
  return sortNewestFirst(releases).find(
    (release) =>
      release.id !== exceptId &&
      release.kind !== 'remove' &&
      isCompletedRelease(release) &&
      (release.scope === undefined || hosts?.every((host) => release.hosts[host] !== undefined) === true),
  );
}

/** The newest release of `env` whatever its status: what a new release records as `previous_id`. */
export function newestRelease(records: readonly ReleaseRecord[], env: string): ReleaseRecord | undefined {
  return sortNewestFirst(records).find((record) => record.environment === env);
}

// ---------------------------------------------------------------------------------------------------
// Validation

function assertPhase(phase: string): asserts phase is PhaseName {
  if (!(PHASES as readonly string[]).includes(phase)) {
    throw new InternalError(`unknown phase "${phase}"`, { hint: `phases are ${PHASES.join(', ')}` });
  }
}

function assertStatus(status: string): asserts status is PhaseStatus {
  if (!(STATUSES as readonly string[]).includes(status)) {
    throw new InternalError(`unknown phase status "${status}"`, {
      hint: `statuses are ${STATUSES.join(', ')}`,
    });
  }
}

function validateRecord(record: ReleaseRecord): void {
  if (!isReleaseId(record.id)) throw new InternalError(`invalid release id "${record.id}"`);
  if (typeof record.environment !== 'string' || record.environment.trim() === '') {
    throw new InternalError('environment must not be empty');
  }
  if (typeof record.version !== 'string' || record.version.trim() === '') {
    throw new InternalError('version must not be empty');
  }
  for (const phase of Object.keys(record.phases)) assertPhase(phase);
  for (const phase of PHASES) assertStatus(record.phases[phase]);
}

/** A fresh phases map: every phase pending. */
export function pendingPhases(): Record<PhaseName, PhaseStatus> {
  return Object.fromEntries(PHASES.map((phase) => [phase, 'pending'])) as Record<PhaseName, PhaseStatus>;
}

// ---------------------------------------------------------------------------------------------------
// The local ledger file

export interface LedgerOptions {
  /** The project root; the default file is `<projectRoot>/.stagecraft/releases.json`. */
  projectRoot: string;
  /** An explicit file (wins over STAGECRAFT_STATE_FILE). */
  path?: string;
  /** Where STAGECRAFT_STATE_FILE is looked up (default process.env, read on every call). */
  env?: Record<string, string | undefined>;
}

/** The ledger file: explicit path > $STAGECRAFT_STATE_FILE > `<projectRoot>/.stagecraft/releases.json`. */
export function ledgerPath(options: LedgerOptions): string {
  if (options.path !== undefined) return resolve(options.projectRoot, options.path);
  const fromEnv = (options.env ?? process.env)[LEDGER_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return join(options.projectRoot, '.stagecraft', 'releases.json');
}

/** The fields a release may change after creation; phases are merged, not replaced. */
export type ReleasePatch = Partial<Omit<ReleaseRecord, 'id' | 'phases'>> & {
  phases?: Partial<Record<PhaseName, PhaseStatus>>;
};

/** Mutations of one file in this process run one at a time. */
const queues = new Map<string, Promise<unknown>>();

/**
 * `.stagecraft/releases.json`. Every change re-reads the file and rewrites it whole and atomically
 * (temp file, fsync, rename, fsync of the folder), under an in-process queue and a lock file
 * (`releases.json.lock`) against other Stagecraft processes. Releases are only appended; an update
 * touches the fields of one release. Reads never cache. Every method returns copies.
 */
export class Ledger {
  readonly #options: LedgerOptions;

  constructor(options: LedgerOptions) {
    this.#options = { ...options };
  }

  /** The file, resolved on every call (the environment variable is read fresh). */
  get path(): string {
    return ledgerPath(this.#options);
  }

  /** Every release as stored (file order: oldest first). A missing file is an empty ledger. */
  async read(): Promise<ReleaseRecord[]> {
    return readLedgerFile(this.path);
  }

  /** A new unique id at the clock's time (see nextReleaseId). */
  async newReleaseId(clock: Clock = systemClock): Promise<string> {
    return nextReleaseId(
      clock.now(),
      (await this.read()).map((record) => record.id),
    );
  }

  /** Appends a release; its id must be new. */
  async create(record: ReleaseRecord): Promise<ReleaseRecord> {
    validateRecord(record);
    return this.#mutate((releases) => {
      if (releases.some((existing) => existing.id === record.id)) {
        throw new InternalError(`release ${record.id} already exists in ${this.path}`);
      }
      const copy = structuredClone(record);
      releases.push(copy);
      return copy;
    });
  }

  /** Changes fields of one release (phases are merged); the id never changes. */
  async update(id: string, patch: ReleasePatch): Promise<ReleaseRecord> {
    for (const [phase, status] of Object.entries(patch.phases ?? {})) {
      assertPhase(phase);
      assertStatus(status);
    }
    return this.#mutate((releases) => {
      const record = releases.find((candidate) => candidate.id === id);
      if (record === undefined) throw notFound(id);
      const { phases, ...fields } = structuredClone(patch);
      for (const [key, value] of Object.entries(fields)) {
        if (key === 'id' || value === undefined) continue;
        (record as unknown as Record<string, unknown>)[key] = value;
      }
      if (phases !== undefined) Object.assign(record.phases, phases);
      validateRecord(record);
      return structuredClone(record);
    });
  }

  /** Sets one phase's status; an unknown phase or status is rejected. */
  async setPhase(id: string, phase: string, status: PhaseStatus): Promise<ReleaseRecord> {
    assertPhase(phase);
    return this.update(id, { phases: { [phase]: status } });
  }

  /** One release, or a UserError `release not found: "<id>"`. */
  async get(id: string): Promise<ReleaseRecord> {
    const record = (await this.read()).find((candidate) => candidate.id === id);
    if (record === undefined) throw notFound(id);
    return record;
  }

  /** Releases (of one environment, or all), newest first. */
  async list(env?: string): Promise<ReleaseRecord[]> {
    const releases = await this.read();
    return sortNewestFirst(
      env === undefined ? releases : releases.filter((record) => record.environment === env),
    );
  }

  /** The newest completed release of `env` (see currentRelease). */
  async current(env: string): Promise<ReleaseRecord | undefined> {
    return currentRelease(await this.read(), env);
  }

  /** The newest completed release of `env` before release `beforeId`. */
  async previous(env: string, beforeId: string): Promise<ReleaseRecord | undefined> {
    return previousRelease(await this.read(), env, beforeId);
  }

  /**
   * Marks releases `ids` that are unfinished (neither completed nor failed) as failed: called by a
   * deploy that took the deploy lock over from their holder, whose process is gone or whose lease
   * expired (LockInfo.release), or that found their deploy process gone on this machine, so nothing
   * runs them any more. Their running phase (or, when none ran, their first pending one) becomes
   * failed, the other pending phases skipped, and `error` says what happened. Ids not in this file, or
   * finished, are left alone. Returns the records changed.
   */
  async markAbandoned(ids: readonly string[], error: string): Promise<ReleaseRecord[]> {
    return this.#mutate((releases) => {
      const changed: ReleaseRecord[] = [];
      for (const record of releases) {
        if (!ids.includes(record.id)) continue;
        if (isCompletedRelease(record) || PHASES.some((phase) => record.phases[phase] === 'failed')) continue;
        // The phase it was in fails (the one it was about to start when none ran); the rest is skipped.
        const at =
          PHASES.find((phase) => record.phases[phase] === 'running') ??
          PHASES.find((phase) => record.phases[phase] === 'pending');
        for (const phase of PHASES) {
          if (phase === at) record.phases[phase] = 'failed';
          else if (record.phases[phase] === 'pending') record.phases[phase] = 'skipped';
        }
        record.error = error;
        changed.push(structuredClone(record));
      }
      return changed;
    });
  }

  /**
   * Marks the releases of `env` that a deploy process on this machine left unfinished (leftUnfinished:
   * killed before it could record how it ended, e.g. during the build, before it held the deploy lock)
   * as failed, as markAbandoned does. `byId` is the release that found them, named in their error.
   * Returns the records changed.
   */
  async markLeftUnfinished(env: string, byId: string): Promise<ReleaseRecord[]> {
    const left = (await this.list(env)).filter(leftUnfinished).map((record) => record.id);
    if (left.length === 0) return [];
    return this.markAbandoned(
      left,
      `interrupted: its deploy process ended before it finished (found when ${byId} started)`,
    );
  }

  async #mutate<T>(change: (releases: ReleaseRecord[]) => T): Promise<T> {
    const path = this.path;
    const run = async (): Promise<T> =>
      withFileLock(`${path}.lock`, async () => {
        const releases = await readLedgerFile(path);
        const result = change(releases);
        await makeDirectory(dirname(path), 0o750);
        await writeFileAtomic(path, serializeLedger(releases), 0o644);
        return result;
      });
    const previous = queues.get(path) ?? Promise.resolve();
    const next = previous.then(run, run);
    const settled = next.catch(() => undefined);
    queues.set(path, settled);
    void settled.then(() => {
      if (queues.get(path) === settled) queues.delete(path);
    });
    return next;
  }
}

function notFound(id: string): UserError {
  return new UserError(`release not found: "${id}"`, { hint: 'stagecraft releases list' });
}

/** The file's bytes for a list of releases: `{"releases": [...]}`, 2-space JSON, final newline. */
export function serializeLedger(releases: readonly ReleaseRecord[]): string {
  return `${JSON.stringify({ releases }, null, 2)}\n`;
}

/** Parses a ledger file's text; a corrupt file is a UserError naming the file and the position. */
export function parseLedger(text: string, path: string): ReleaseRecord[] {
  if (text.trim() === '') return [];
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const offset = position ? Number(position[1]) : text.length;
    const before = text.slice(0, offset).split('\n');
    const where = `line ${before.length}, column ${(before[before.length - 1] ?? '').length + 1}`;
    throw new UserError(`the release ledger ${path} is not valid JSON (${where}): ${message}`, {
      hint: 'restore the file from a backup or fix it by hand; the lock host keeps a copy of the history in ~/.stagecraft/<project>-<env>/releases.jsonl',
    });
  }
  const releases = (document as { releases?: unknown } | null)?.releases;
  if (typeof document !== 'object' || document === null || !Array.isArray(releases)) {
    throw new UserError(`the release ledger ${path} is not a release ledger: expected {"releases": [...]}`, {
      hint: 'restore the file from a backup, or move it away to start a new history',
    });
  }
  releases.forEach((record: unknown, index) => {
    const problem = releaseShapeProblem(record);
    if (problem !== undefined) {
      throw new UserError(
        `the release ledger ${path} has an invalid release at releases[${index}]${problem}`,
        {
          hint: 'every release needs id, environment, version, commit_sha, timestamp, kind, phases, images, hosts and deployer as Stagecraft writes them; fix or remove that entry',
        },
      );
    }
  });
  return releases as ReleaseRecord[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringRecord = (value: unknown) =>
  isRecord(value) && Object.values(value).every((item) => typeof item === 'string');
const isStringList = (value: unknown) =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/**
 * What is wrong with one release record (`.images: expected …`), or undefined when it has the shape
 * every reader relies on (ReleaseRecord): a hand-edited entry is refused here, not by a crash later.
 */
function releaseShapeProblem(record: unknown): string | undefined {
  if (!isRecord(record)) return ': expected an object';
  for (const key of ['id', 'environment', 'version', 'commit_sha', 'timestamp'] as const)
    if (typeof record[key] !== 'string') return `.${key}: expected a string`;
  if (!['deploy', 'rollback', 'restart', 'remove'].includes(String(record['kind'])))
    return '.kind: expected deploy, rollback, restart or remove';
  if (!isStringRecord(record['phases'])) return '.phases: expected phase → status';
  if (!isStringRecord(record['images'])) return '.images: expected service → image';
  const hosts = record['hosts'];
  if (
    !isRecord(hosts) ||
    !Object.values(hosts).every(
      (host) =>
        isRecord(host) &&
        typeof host['compose_sha256'] === 'string' &&
        isStringList(host['services']) &&
        (host['files_hashes'] === undefined || isStringRecord(host['files_hashes'])),
    )
  )
    return '.hosts: expected host → { compose_sha256, services }';
  const scope = record['scope'];
  if (
    scope !== undefined &&
    (!isRecord(scope) ||
      (scope['hosts'] !== undefined && !isStringList(scope['hosts'])) ||
      (scope['services'] !== undefined && !isStringList(scope['services'])))
  )
    return '.scope: expected { hosts?, services? }';
  const deployer = record['deployer'];
  if (
    !isRecord(deployer) ||
    typeof deployer['user'] !== 'string' ||
    typeof deployer['machine'] !== 'string' ||
    typeof deployer['ci'] !== 'boolean'
  )
    return '.deployer: expected { user, machine, ci }';
  for (const key of ['previous_id', 'rollback_of', 'restart_of', 'message', 'error'] as const)
    if (record[key] !== undefined && typeof record[key] !== 'string') return `.${key}: expected a string`;
  if (record['duration_ms'] !== undefined && typeof record['duration_ms'] !== 'number')
    return '.duration_ms: expected a number';
  const migrations = record['migrations'];
  if (migrations !== undefined && !(isRecord(migrations) && Object.values(migrations).every(isStringList)))
    return '.migrations: expected database → migration ids';
  const steps = record['steps'];
  if (
    steps !== undefined &&
    !(
      Array.isArray(steps) &&
      steps.every(
        (step) => isRecord(step) && typeof step['id'] === 'string' && typeof step['status'] === 'string',
      )
    )
  )
    return '.steps: expected a list of { id, status }';
  return undefined;
}

/** Largest ledger read (thousands of releases are a few MB). */
const MAX_LEDGER_BYTES = 256 * 1024 * 1024;

async function readLedgerFile(path: string): Promise<ReleaseRecord[]> {
  // A FIFO or device in its place is refused at once, never read without end.
  const text = readUserFile(path, {
    display: `the release ledger ${path}`,
    maxBytes: MAX_LEDGER_BYTES,
    hint: 'the ledger is a JSON file Stagecraft writes: move what is there away, and `stagecraft releases` starts a new one',
  });
  return text === undefined ? [] : parseLedger(text, path);
}

/** A lock file without a pid this old is left by a process that died between creating and writing it. */
const FILE_LOCK_EMPTY_STALE_MS = 10_000;
const FILE_LOCK_WAIT_MS = 60_000;
/** A lock whose process cannot be seen from here (another machine or PID namespace) is stale this old. */
const FILE_LOCK_FOREIGN_STALE_MS = 30_000;

/**
 * Runs `fn` holding `lockPath` (created with O_EXCL, holding our pid) against other processes that
 * rewrite the same ledger. A lock is stale only when the process it names is gone (or it stayed empty
 * for 10 s); pid, inode and modification time are read through one file handle, and a stale lock is
 * deleted only while the path still names that same file (removeStaleFileLock), so a writer that
 * finished and exited in between can never make another writer's fresh lock look stale (which lost
 * releases under 15 concurrent writers).
 */
async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  await makeDirectory(dirname(lockPath), 0o750);
  const started = Date.now();
  let ownIno: number | undefined;
  let pause = 2;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o644);
      try {
        await handle.writeFile(fileLockText());
        ownIno = (await handle.stat()).ino;
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stale = await staleFileLock(lockPath);
    if (stale !== undefined) {
      await removeStaleFileLock(lockPath, stale);
      continue;
    }
    if (Date.now() - started > FILE_LOCK_WAIT_MS) {
      throw new ExternalError(
        `the release ledger is being written by another Stagecraft process (${lockPath})`,
        {
          hint: `wait for it to finish, or remove ${lockPath} if no Stagecraft process is running`,
        },
      );
    }
    await sleep(pause + Math.floor(Math.random() * pause));
    pause = Math.min(10, pause * 2);
  }
  try {
    return await fn();
  } finally {
    // Remove our own lock only (by inode).
    try {
      if ((await stat(lockPath)).ino === ownIno) await rm(lockPath, { force: true });
    } catch {
      // gone already
    }
  }
}

/**
 * What identifies one lock file: its inode, modification time (ms) and content (the pid). The inode
 * alone does not: a file system hands a freed inode to the next file at once (tmpfs, ext4), so the
 * lock a writer made just after the stale one went can carry the stale one's inode.
 */
export interface FileLockIdentity {
  ino: number;
  mtimeMs: number;
  text: string;
}

/** The lock file at `lockPath` as one file handle reads it; undefined when there is none. */
export async function readFileLock(lockPath: string): Promise<FileLockIdentity | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(lockPath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const info = await handle.stat();
    return { ino: info.ino, mtimeMs: info.mtimeMs, text: await handle.readFile('utf8') };
  } finally {
    await handle.close();
  }
}

/**
 * What a ledger file lock holds: the writer's pid, machine and PID namespace, a line each (a writer in a
 * container sharing the project folder cannot see this one's pid, nor a writer on another machine).
 */
function fileLockText(): string {
  return `${process.pid}\n${hostname()}\n${currentPidNamespace() ?? ''}\n`;
}

/**
 * The identity of a stale lock file, or undefined when it is live or gone. Stale: its process is gone
 * (processGoneHere: this machine and PID namespace); a lock from elsewhere, whose process cannot be
 * seen from here (or from a version that wrote only a pid), once it is FILE_LOCK_FOREIGN_STALE_MS old
 * (a writer holds it for milliseconds); an empty one after FILE_LOCK_EMPTY_STALE_MS.
 */
async function staleFileLock(lockPath: string): Promise<FileLockIdentity | undefined> {
  const lock = await readFileLock(lockPath);
  if (lock === undefined) return undefined;
  const age = Date.now() - lock.mtimeMs;
  const [pidText = '', machine, namespace] = lock.text.split('\n');
  const pid = Number(pidText.trim());
  if (!Number.isInteger(pid) || pid <= 0) return age > FILE_LOCK_EMPTY_STALE_MS ? lock : undefined;
  const here = machine === hostname() && (namespace || undefined) === currentPidNamespace();
  if (!here) return age > FILE_LOCK_FOREIGN_STALE_MS ? lock : undefined;
  return processGoneHere(pid, machine, namespace || undefined) ? lock : undefined;
}

/**
 * Deletes the stale lock `stale`, under a short break lock (`<lock>.break`, O_EXCL) so breakers take
 * turns: with it held, the lock path can only still name the stale file (its owner is gone, and no
 * other breaker runs) or a fresh lock, which is never touched — told apart by inode, modification
 * time and content together (FileLockIdentity; by inode alone, a fresh lock on the reused inode was
 * deleted and two writers held the ledger at once). Moving the lock aside and back instead let a third
 * writer take the empty path in between.
 */
export async function removeStaleFileLock(lockPath: string, stale: FileLockIdentity): Promise<void> {
  const breakPath = `${lockPath}.break`;
  try {
    const handle = await open(breakPath, 'wx', 0o644);
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another breaker is at work; one that died leaves its break lock: after 10 s it is removed.
    const info = await stat(breakPath).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > FILE_LOCK_EMPTY_STALE_MS) {
      await rm(breakPath, { force: true });
    }
    return;
  }
  try {
    const current = await readFileLock(lockPath);
    if (
      current !== undefined &&
      current.ino === stale.ino &&
      current.mtimeMs === stale.mtimeMs &&
      current.text === stale.text
    ) {
      await rm(lockPath, { force: true });
    }
  } finally {
    await rm(breakPath, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Remote history (JSONL on the lock host) and merging

/** One release as one JSON line (JSON escapes newlines inside strings), newline-terminated. */
export function toJsonLine(record: ReleaseRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** The releases of a JSONL text; lines that are not a release (e.g. cut by a crash) are reported, not fatal. */
export function parseLedgerJsonl(text: string): { records: ReleaseRecord[]; invalidLines: number[] } {
  const records: ReleaseRecord[] = [];
  const invalidLines: number[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      const record = JSON.parse(line) as Partial<ReleaseRecord> | null;
      if (
        typeof record === 'object' &&
        record !== null &&
        typeof record.id === 'string' &&
        typeof record.environment === 'string' &&
        typeof record.phases === 'object' &&
        record.phases !== null
      ) {
        records.push(record as ReleaseRecord);
        return;
      }
    } catch {
      // reported below
    }
    invalidLines.push(index + 1);
  });
  return { records, invalidLines };
}

/** How far a record got: phases no longer pending or running, then whether it has a duration. */
function progress(record: ReleaseRecord): number {
  const settled = PHASES.filter((phase) => {
    const status = record.phases[phase];
    return status !== undefined && status !== 'pending' && status !== 'running';
  }).length;
  return settled * 2 + (record.duration_ms === undefined ? 0 : 1);
}

/**
 * Local and remote history as one list, newest first, one record per id. The remote JSONL is
 * append-only, so an id may appear several times (created, then finished); the most complete
 * record wins (fewest phases pending or running), and on a tie the later one (remote lines come
 * after local records, later lines after earlier ones).
 */
export function mergeLedgers(local: readonly ReleaseRecord[], remoteJsonl: string): ReleaseRecord[] {
  const byId = new Map<string, ReleaseRecord>();
  for (const record of [...local, ...parseLedgerJsonl(remoteJsonl).records]) {
    const existing = byId.get(record.id);
    if (existing === undefined || progress(record) >= progress(existing))
      byId.set(record.id, structuredClone(record));
  }
  return sortNewestFirst([...byId.values()]);
}

function assertName(what: string, value: string): void {
  if (!NAME.test(value) || value.includes('..')) {
    throw new InternalError(`invalid ${what} name for a state path: "${value}"`);
  }
}

/** `.stagecraft/<project>-<env>`: the folder of this environment's state on a host (relative to home). */
export function remoteStateDir(project: string, env: string): string {
  assertName('project', project);
  assertName('environment', env);
  return `.stagecraft/${project}-${env}`;
}

/** `.stagecraft/<project>-<env>/releases.jsonl` on the lock host (relative to home). */
export function remoteLedgerPath(project: string, env: string): string {
  return `${remoteStateDir(project, env)}/releases.jsonl`;
}

/**
 * Appends $1 with stdin in a single write: stdin goes to a temp file first, then one `cat >>`
 * (O_APPEND) writes it; a last line cut by a crash gets its newline first so it cannot swallow ours.
 */
export const APPEND_SCRIPT =
  'umask 077; f="$1"; t="$f.append.$$"; mkdir -p "$(dirname "$f")" || exit 1; ' +
  'cat > "$t" || { rm -f "$t"; exit 1; }; ' +
  'if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then printf "\\n" >> "$f"; fi; ' +
  'cat "$t" >> "$f"; s=$?; rm -f "$t"; exit "$s"';

/** Appends one release as a JSON line to the lock host's history. */
export async function appendRemoteLedger(
  runner: Runner,
  project: string,
  env: string,
  record: ReleaseRecord,
): Promise<void> {
  const path = remoteLedgerPath(project, env);
  const result = await runner.exec(['sh', '-c', APPEND_SCRIPT, 'sh', path], {
    stdin: toJsonLine(record),
    allowFailure: true,
  });
  if (result.exitCode !== 0) {
    throw new ExternalError(
      `could not append release ${record.id} to ~/${path} on ${runner.name}: ${lastStderrLine(result.stderr) || `exit code ${result.exitCode}`}`,
      { hint: `check the disk and the permissions of ~/.stagecraft on ${runner.name}` },
    );
  }
}

/** The last non-empty line of a command's stderr. */
export function lastStderrLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  return (lines[lines.length - 1] ?? '').trim();
}

/** The lock host's history as JSONL text ('' when there is none yet); merge it with mergeLedgers. */
export async function readRemoteLedger(runner: Runner, project: string, env: string): Promise<string> {
  return (await runner.read(remoteLedgerPath(project, env))) ?? '';
}
