// What a command on a swarm environment says when its manager cannot answer as one. The runner's
// error carries the remote command's stderr; Docker's own words tell the cases apart.
import type { EnvironmentModel } from '../model/environment.js';
import { UserError } from '../util/errors.js';

/**
 * `error` as what to do when the manager has no Docker Engine (exit 127 / "docker: command not
 * found"), runs Docker outside any swarm ("docker swarm init" in Docker's message) or is a worker
 * ("Worker nodes can't be used"): a UserError (exit 1) naming the manager and the fix. Any other
 * error is returned unchanged.
 */
export function managerError(error: unknown, model: EnvironmentModel): unknown {
  if (!(error instanceof Error) || model.swarm === undefined) return error;
  const manager = model.swarm.manager;
  const setup = `run \`stagecraft setup -e ${model.environment}\`: it installs Docker and forms the swarm with ${manager} as its manager`;
  const text = error.message;
  if (/exited with code 127\b|docker: command not found/.test(text)) {
    return new UserError(`${manager}, the manager of ${model.environment}, has no Docker Engine`, {
      hint: setup,
    });
  }
  if (/not a swarm manager/.test(text) && /Worker nodes/.test(text)) {
    return new UserError(`${manager} is a worker of its swarm, not a manager`, {
      hint: `set environments.${model.environment}.manager to a manager of that swarm (\`docker node ls\` on one lists them), or promote ${manager} with \`docker node promote\``,
    });
  }
  if (/not a swarm manager/.test(text) || /not part of a swarm/.test(text)) {
    return new UserError(`${manager}, the manager of ${model.environment}, is in no swarm`, { hint: setup });
  }
  return error;
}

/** Runs `read` (commands on the manager), turning its failures into managerError's. */
export async function onManager<T>(model: EnvironmentModel, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw managerError(error, model);
  }
}
