import { hostname } from 'node:os';

/**
 * True when `pid` ran on this machine (`machine` is this hostname) and no process with that id runs
 * any more (kill(pid, 0) fails with ESRCH). False when the process may still run: another machine, no
 * pid recorded, this very process, or a pid taken since by another process (then the answer errs on
 * "still running", never on "gone").
 */
export function processGoneHere(pid: number | undefined, machine: string): boolean {
  if (pid === undefined || pid === process.pid || machine !== hostname()) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
