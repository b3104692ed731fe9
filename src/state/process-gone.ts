import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

let ownNamespace: string | null | undefined;

/**
 * This process's PID namespace as Linux names it (`pid:[4026531836]`, the link /proc/self/ns/pid), or
 * undefined where there is none to read (macOS, no /proc). Two processes see each other's pids only
 * within one namespace: a container, even one sharing the host's hostname (`--network host`), has its
 * own.
 */
export function currentPidNamespace(): string | undefined {
  if (ownNamespace === undefined) {
    try {
      ownNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      ownNamespace = null;
    }
  }
  return ownNamespace ?? undefined;
}

/**
 * True when `pid` ran on this machine (`machine` is this hostname) in this PID namespace
 * (`pidNamespace`, as currentPidNamespace gave it there) and no process with that id runs any more
 * (kill(pid, 0) fails with ESRCH). False when the process may still run: another machine or
 * namespace (or none recorded where this process has one), no pid recorded (or not a positive
 * integer), this very process, or a pid taken since by another process (then the answer errs on
 * "still running", never on "gone").
 */
export function processGoneHere(pid: unknown, machine: unknown, pidNamespace: unknown): boolean {
  // A pid read from a file may be anything: only a positive integer names one process (0 and -1 name
  // groups of them).
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid || machine !== hostname()) return false;
  if ((pidNamespace ?? undefined) !== currentPidNamespace()) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
