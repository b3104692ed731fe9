import { hostname } from 'node:os';

/**
 * True when `pid` ran on this machine (`machine` is this hostname) and no process with that id runs
 * any more (kill(pid, 0) fails with ESRCH). False when the process may still run: another machine, no
 * pid recorded (or not a positive integer), this very process, or a pid taken since by another
 * process (then the answer errs on "still running", never on "gone").
 */
export function processGoneHere(pid: unknown, machine: unknown): boolean {
  // A pid read from a file may be anything: only a positive integer names one process (0 and -1 name
  // groups of them).
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid || machine !== hostname()) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
