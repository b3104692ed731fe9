import type { EnvironmentModel } from '../model/environment.js';
import { isCompletedRelease, isReleaseId, sortNewestFirst } from '../state/ledger.js';
import type { ReleaseRecord } from '../state/types.js';
import type { PhaseName, Step } from './types.js';

// Retention, decided without touching anything: which releases an environment keeps (from the
// ledger), and on one host which release folders, images and stopped containers go (from what the
// host reports). The effects live in rollout/retain.ts; both `deploy` (its last steps) and `stagecraft
// prune` plan the same `retain` steps from here.

/** What an environment keeps and what it may remove, from its release history. */
export interface Retention {
  /** Ids of the releases kept, newest first (their folders stay on every host). */
  keepReleases: string[];
  /** Image references no removal may touch: those of kept releases and of every other environment. */
  keepImages: string[];
  /** Image references of this environment's releases that are not kept (removed unless in use). */
  removeImages: string[];
}

/**
 * The releases `retain` keeps for `environment`: the release being made (`current`, when a deploy
 * plans it) and the newest completed releases before it, `retain` in all (a removal record is no
 * release to return to and does not count). Images of those releases are kept, as is every image of
 * another environment (they share repositories); the images of this environment's other releases
 * (older, failed, interrupted) may go. `history` is the merged ledger, any order, any environment.
 */
export function retention(
  history: readonly ReleaseRecord[],
  environment: string,
  retain: number,
  current?: { id: string; images: Record<string, string> },
): Retention {
  const own = sortNewestFirst(history.filter((record) => record.environment === environment));
  const kept = own
    .filter((record) => record.kind !== 'remove' && record.id !== current?.id && isCompletedRelease(record))
    .slice(0, Math.max(0, retain - (current === undefined ? 0 : 1)));
  const keepReleases = [...(current === undefined ? [] : [current.id]), ...kept.map((record) => record.id)];
  const keepImages = new Set<string>(Object.values(current?.images ?? {}));
  for (const record of kept) for (const ref of Object.values(record.images)) keepImages.add(ref);
  for (const record of history) {
    if (record.environment !== environment)
      for (const ref of Object.values(record.images)) keepImages.add(ref);
  }
  const removeImages = new Set<string>();
  for (const record of own) {
    if (keepReleases.includes(record.id)) continue;
    for (const ref of Object.values(record.images)) if (!keepImages.has(ref)) removeImages.add(ref);
  }
  return {
    keepReleases,
    keepImages: [...keepImages].sort(),
    removeImages: [...removeImages].sort(),
  };
}

/** One row of `docker image ls --no-trunc --digests --format '{{json .}}'`. */
export interface ImageRow {
  id: string;
  repository: string;
  /** `<none>` for an image pulled by digest only. */
  tag: string;
  /** `sha256:…`, or `<none>` for an image never pushed or pulled. */
  digest: string;
}

/** A container on a host as retention sees it (`docker container inspect`). */
export interface ContainerRow {
  id: string;
  name: string;
  /** The image id the container runs (`sha256:…`): an image in use is never removed. */
  imageId: string;
  /** created | running | paused | restarting | removing | exited | dead */
  status: string;
  labels: Record<string, string>;
  /** Host paths of its bind mounts and volumes. */
  mountSources: string[];
}

/** What one host has that retention may remove. */
export interface HostInventory {
  images: ImageRow[];
  containers: ContainerRow[];
  /** Names of the entries under the environment's `releases/` folder (empty on the build machine). */
  releaseFolders: string[];
}

/** What retention removes on one host, exactly. */
export interface PruneDecision {
  /** Stopped containers of the compose project. */
  containers: { id: string; name: string }[];
  /** Images by id, with the references `docker image rm` is given (tags, or repo@digest when untagged). */
  images: { id: string; refs: string[] }[];
  /** Release folders (paths relative to the home folder). */
  folders: string[];
}

const STOPPED = new Set(['created', 'exited', 'dead']);

/** `repo:tag@sha256:…`, `repo@sha256:…` or `repo:tag` → its parts (a registry port is no tag). */
export function parseImageRef(ref: string): { repository: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const name = at === -1 ? ref : ref.slice(0, at);
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const repository = colon > slash ? name.slice(0, colon) : name;
  const tag = colon > slash ? name.slice(colon + 1) : undefined;
  return { repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/**
 * Ids of the images a reference names on a host: by digest when the reference has one (what `docker
 * pull repo:tag@digest` stores), else by tag.
 */
export function resolveImageRef(ref: string, images: readonly ImageRow[]): string[] {
  const { repository, tag, digest } = parseImageRef(ref);
  return [
    ...new Set(
      images
        .filter(
          (row) =>
            row.repository === repository &&
            (digest !== undefined ? row.digest === digest : row.tag === (tag ?? 'latest')),
        )
        .map((row) => row.id),
    ),
  ].sort();
}

/**
 * What retention removes on one host (pure): stopped containers of compose project `project` (when
 * `containers`); release folders under `releasesDir` that are not kept and that no remaining container
 * mounts from; images that a removable reference names and that no
 * kept reference names and no remaining container runs (any project's).
 */
export function decidePrune(
  inventory: HostInventory,
  policy: Retention & { project: string; releasesDir?: string; containers: boolean },
): PruneDecision {
  const removed = policy.containers
    ? inventory.containers.filter(
        (container) =>
          container.labels['com.docker.compose.project'] === policy.project && STOPPED.has(container.status),
      )
    : [];
  const removedIds = new Set(removed.map((container) => container.id));
  const remaining = inventory.containers.filter((container) => !removedIds.has(container.id));
  const inUse = new Set(remaining.map((container) => container.imageId));
  const kept = new Set(policy.keepImages.flatMap((ref) => resolveImageRef(ref, inventory.images)));
  const removable = new Set(policy.removeImages.flatMap((ref) => resolveImageRef(ref, inventory.images)));
  const repositories = new Set(policy.removeImages.map((ref) => parseImageRef(ref).repository));
  const images = [...removable]
    .filter((id) => !kept.has(id) && !inUse.has(id))
    .sort()
    .map((id) => {
      const rows = inventory.images.filter((row) => row.id === id && repositories.has(row.repository));
      const tags = rows.filter((row) => row.tag !== '<none>').map((row) => `${row.repository}:${row.tag}`);
      const refs =
        tags.length > 0
          ? tags
          : rows.filter((row) => row.digest !== '<none>').map((row) => `${row.repository}@${row.digest}`);
      return { id, refs: [...new Set(refs)].sort() };
    })
    .filter((image) => image.refs.length > 0);
  const folders: string[] = [];
  if (policy.releasesDir !== undefined) {
    const dir = policy.releasesDir;
    // Only a mount pins a folder. A container's compose labels (config_files, working_dir) name the
    // release that created it, and a service unchanged since then (a database) keeps that release's
    // labels for ever; compose reads them from no file.
    const used = (name: string) =>
      remaining.some((container) =>
        container.mountSources.some(
          (path) => path.includes(`${dir}/${name}/`) || path.endsWith(`${dir}/${name}`),
        ),
      );
    for (const name of [...inventory.releaseFolders].sort()) {
      if (!isReleaseId(name) || policy.keepReleases.includes(name) || used(name)) continue;
      folders.push(`${dir}/${name}`);
    }
  }
  return {
    containers: removed.map((container) => ({ id: container.id, name: container.name })),
    images,
    folders,
  };
}

/** The `releases/` folder of an environment on its hosts (relative to the home folder). */
export function releasesRoot(model: EnvironmentModel): string {
  // The same folder as plan/deploy.ts releaseDir (not imported from there: deploy.ts imports this module).
  return `.stagecraft/${model.composeProject}/releases`;
}

/**
 * The `retain` steps: one per host of the environment (release folders, images, stopped containers
 * of the project), then one on the build machine (images of releases not kept, build cache unused
 * for `releases.build_cache`). With driver local the build machine is the host: one step does both.
 * Host steps in `rollout` and `finalize` each follow `after` (the engine runs them in parallel);
 * elsewhere they run one after another. The build machine's step goes to `buildPhase` (default:
 * `phase`), after `buildAfter` (default: `after` when hosts run in parallel, else the last host step). `bestEffort` (a deploy's last steps): a failure to remove is
 * reported, never fails the release.
 */
export function retainSteps(
  model: EnvironmentModel,
  kept: Retention,
  options: {
    phase: PhaseName;
    after: string[];
    bestEffort: boolean;
    measure: boolean;
    buildPhase?: PhaseName;
    buildAfter?: string[];
  },
): Step[] {
  const steps: Step[] = [];
  let previous = options.after;
  const buildCacheHours = Math.max(1, Math.round(model.releases.buildCacheMaxAgeMs / 3_600_000));
  const policy = {
    keepReleases: kept.keepReleases,
    keepImages: kept.keepImages,
    removeImages: kept.removeImages,
    bestEffort: options.bestEffort,
    measure: options.measure,
  };
  const summary = `keep ${kept.keepReleases.length} release${kept.keepReleases.length === 1 ? '' : 's'} (retain ${model.releases.retain})`;
  const local = model.driver === 'local';
  const parallel = options.phase === 'rollout' || options.phase === 'finalize';
  for (const host of model.hosts) {
    const step: Step = {
      id: `retain:${host.name}`,
      phase: options.phase,
      host: { name: host.name },
      title: `${summary}: remove older release folders, unused images and stopped containers${local ? `, build cache unused for ${buildCacheHours}h` : ''}`,
      action: {
        kind: 'retain',
        ...policy,
        releasesDir: releasesRoot(model),
        containers: true,
        ...(local ? { buildCacheUntilHours: buildCacheHours } : {}),
      },
      dependsOn: previous,
    };
    steps.push(step);
    if (!parallel) previous = [step.id];
  }
  if (!local) {
    steps.push({
      id: 'retain:build',
      phase: options.buildPhase ?? options.phase,
      title: `${summary} on the build machine: remove images of older releases, build cache unused for ${buildCacheHours}h`,
      action: { kind: 'retain', ...policy, containers: false, buildCacheUntilHours: buildCacheHours },
      dependsOn: options.buildAfter ?? (parallel ? options.after : [steps[steps.length - 1]!.id]),
    });
  }
  return steps;
}
