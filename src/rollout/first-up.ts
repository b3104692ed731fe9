// The first `docker compose up` (or `run`) of a project on a host creates the project's networks, and
// two running at once both create them: Docker then holds two networks of one name, and every later
// compose command fails ("network … is ambiguous"). So on each host the first compose command of a
// project runs alone; the ones that come meanwhile wait for it, later ones run side by side.
import type { Runner } from '../runners/types.js';

const firstRuns = new WeakMap<Runner, Map<string, Promise<unknown>>>();

/**
 * Runs `command` (a compose command of `project` on `runner`'s host that may create the project's
 * networks). The first one per runner and project runs alone; callers that arrive while it runs wait
 * for it (whatever its outcome) and then run theirs at once. Returns (or throws) what `command` does.
 */
export async function composeOnce<T>(runner: Runner, project: string, command: () => Promise<T>): Promise<T> {
  let projects = firstRuns.get(runner);
  if (projects === undefined) {
    projects = new Map();
    firstRuns.set(runner, projects);
  }
  const first = projects.get(project);
  if (first !== undefined) {
    await first.catch(() => undefined);
    return command();
  }
  const running = command();
  projects.set(project, running);
  return running;
}
