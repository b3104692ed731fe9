import {
  inspectContainersArgs,
  listProjectContainersArgs,
  parseContainerInspect,
  parseJsonLines,
  removeContainersArgs,
  stopContainersArgs,
} from '../docker/container.js';
import type { Runner } from '../runners/types.js';

/**
 * Stops (with each container's own stop_grace_period) and removes the containers of compose project
 * `project` on the runner's host whose service is not in `keep`: services removed from the compose
 * file, or moved to other hosts. One-off containers (`docker compose run`) are left alone. Returns
 * the services removed, sorted.
 */
export async function pruneServices(
  runner: Runner,
  project: string,
  keep: string[],
  signal?: AbortSignal,
): Promise<string[]> {
  const listed = await runner.exec(listProjectContainersArgs(project), { signal });
  const ids = parseJsonLines(listed.stdout).map((entry) => String((entry as { ID?: string }).ID ?? ''));
  if (ids.length === 0) return [];
  const facts = parseContainerInspect((await runner.exec(inspectContainersArgs(ids), { signal })).stdout);
  const gone = facts.filter((container) => {
    const service = container.labels['com.docker.compose.service'];
    return (
      service !== undefined &&
      !keep.includes(service) &&
      container.labels['com.docker.compose.oneoff'] !== 'True'
    );
  });
  if (gone.length === 0) return [];
  const running = gone.filter((container) => container.running).map((container) => container.id);
  if (running.length > 0) await runner.exec(stopContainersArgs(running), { signal });
  await runner.exec(
    removeContainersArgs(
      gone.map((container) => container.id),
      { force: true },
    ),
    { signal },
  );
  return [...new Set(gone.map((container) => container.labels['com.docker.compose.service']!))].sort();
}
