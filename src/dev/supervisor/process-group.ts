import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../../util/sleep.js';

/**
 * Process groups: every long-running process of the dev stack is started as the leader of its own
 * group (`detached: true` calls setsid), so one `kill(-pgid)` reaches its whole tree (npx → node →
 * esbuild…), the terminal's Ctrl+C reaches only Stagecraft, and Stagecraft decides the order.
 */

export interface SpawnGroupOptions {
  cwd: string;
  env: Record<string, string>;
  stdio: StdioOptions;
}

/** Starts `argv` as the leader of a new process group (and session). */
export function spawnGroup(argv: readonly string[], options: SpawnGroupOptions): ChildProcess {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('spawnGroup: empty argv');
  return spawn(file, args, { cwd: options.cwd, env: options.env, stdio: options.stdio, detached: true });
}

/** Sends `signal` to every process of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
  starttime: string;
}

function readStat(pid: number | string): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp session … starttime(22) …"; comm may contain spaces and parentheses.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    pid: Number(pid),
    state: fields[0] ?? '?',
    pgrp: Number(fields[2]),
    starttime: fields[19] ?? '',
  };
}

const hasProc = (() => {
  let cached: boolean | undefined;
  return () => {
    if (cached === undefined) {
      try {
        cached = process.platform === 'linux' && readdirSync('/proc').length > 0;
      } catch {
        cached = false;
      }
    }
    return cached;
  };
})();

/**
 * The live (non-zombie) processes of a group. On Linux from /proc, because a zombie still answers
 * `kill(pid, 0)` until its parent reaps it; elsewhere `kill(-pgid, 0)` tells whether any remain.
 */
export function groupMembers(pgid: number): number[] {
  if (!hasProc()) return signalGroup(pgid, 0) ? [pgid] : [];
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') {
      members.push(stat.pid);
    }
  }
  return members;
}

/** A token that identifies one incarnation of a pid (its start time), so a reused pid is never killed. */
export function processIdentity(pid: number): string | undefined {
  if (!hasProc()) return undefined;
  return readStat(pid)?.starttime;
}

/** Whether `pid` is alive (not a zombie) and, when `identity` is given, is still the same process. */
export function processAlive(pid: number, identity?: string): boolean {
  if (hasProc()) {
    const stat = readStat(pid);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return false;
    return identity === undefined || identity === '' || stat.starttime === identity;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits until the group has no live member; false on timeout. */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (groupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

export type StopOutcome = 'gone' | 'exited' | 'killed';

/**
 * Stops a whole group: `signal`, up to `timeoutMs` for every member to exit, then SIGKILL.
 * Returns `gone` when nothing was left to stop.
 */
export async function stopGroup(
  pgid: number,
  signal: NodeJS.Signals,
  timeoutMs: number,
): Promise<StopOutcome> {
  if (groupMembers(pgid).length === 0) return 'gone';
  signalGroup(pgid, signal);
  if (signal !== 'SIGKILL' && (await waitGroupGone(pgid, timeoutMs))) return 'exited';
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, 2000);
  return 'killed';
}
