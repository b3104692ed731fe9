import { parseJsonLines } from '../docker/container.js';
import {
  type ContainerRow,
  decidePrune,
  type HostInventory,
  type ImageRow,
  type PruneDecision,
} from '../plan/prune.js';
import type { Action } from '../plan/types.js';
import type { Runner } from '../runners/types.js';

// The effects of a `retain` step on one runner: read what the host has (read-only), remove what
// plan/prune.ts decides, and measure the space before and after.

type RetainAction = Extract<Action, { kind: 'retain' }>;

/** What a retain step did on one host: what it removed and the bytes freed (when measured). */
export interface RetainReport {
  host: string;
  removed: PruneDecision;
  /** Build cache removed by `docker builder prune` (the build machine), as docker printed it. */
  buildCache?: string;
  /** Bytes used by images, containers, build cache and the environment's folder, before and after. */
  usedBefore?: number;
  usedAfter?: number;
  /** usedBefore − usedAfter (0 when usage grew meanwhile). */
  freedBytes?: number;
  /** Removals that failed (best effort): "what: why". */
  errors: string[];
}

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15 };

/** Bytes of a size as docker prints it ("181.7MB", "0B", "1.2kB"; decimal units), or 0. */
export function parseDockerSize(text: string): number {
  const match = /^([\d.]+)\s*([kKMGTP]?B)/.exec(text.trim());
  if (match === null) return 0;
  return Math.round(Number(match[1]) * (UNITS[match[2]!.toUpperCase()] ?? 1));
}

/** Bytes as a person reads them: "0 B", "512 kB", "45.2 MB" (decimal units, as docker prints). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** The images of a host: `docker image ls --no-trunc --digests`, one row per repository/tag/digest. */
export function parseImageRows(stdout: string): ImageRow[] {
  return parseJsonLines(stdout).map((raw) => {
    const row = raw as Record<string, unknown>;
    return {
      id: String(row['ID'] ?? ''),
      repository: String(row['Repository'] ?? ''),
      tag: String(row['Tag'] ?? '<none>'),
      digest: String(row['Digest'] ?? '<none>'),
    };
  });
}

/** Containers as retention reads them from `docker container inspect --format '{{json .}}'`. */
export function parseContainerRows(stdout: string): ContainerRow[] {
  return parseJsonLines(stdout)
    .flatMap((entry) => (Array.isArray(entry) ? entry : [entry]))
    .map((raw) => {
      const doc = raw as Record<string, unknown>;
      const state = (doc['State'] ?? {}) as Record<string, unknown>;
      const config = (doc['Config'] ?? {}) as Record<string, unknown>;
      const labels: Record<string, string> = {};
      for (const [key, value] of Object.entries((config['Labels'] ?? {}) as Record<string, unknown>)) {
        if (typeof value === 'string') labels[key] = value;
      }
      const mounts = Array.isArray(doc['Mounts']) ? (doc['Mounts'] as Record<string, unknown>[]) : [];
      return {
        id: String(doc['Id'] ?? ''),
        name: String(doc['Name'] ?? '').replace(/^\//, ''),
        imageId: String(doc['Image'] ?? ''),
        status: String(state['Status'] ?? ''),
        labels,
        mountSources: mounts.map((mount) => String(mount['Source'] ?? '')).filter((source) => source !== ''),
      };
    });
}

/**
 * Reads a host's images, containers and release folders (read-only: ls, ps, inspect). The three
 * reads do not depend on each other and run side by side (one round trip's time, not three).
 */
export async function readInventory(
  runner: Runner,
  releasesDir: string | undefined,
  signal?: AbortSignal,
): Promise<HostInventory> {
  const readContainers = async (): Promise<HostInventory['containers']> => {
    const ids = (await runner.exec(['docker', 'ps', '-aq', '--no-trunc'], { signal })).stdout
      .split('\n')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    if (ids.length === 0) return [];
    // A container removed between the two commands is simply not inspected (exit 1, the rest printed).
    const inspected = await runner.exec(
      ['docker', 'container', 'inspect', '--format', '{{json .}}', ...ids],
      {
        allowFailure: true,
        signal,
      },
    );
    return parseContainerRows(inspected.stdout);
  };
  const readFolders = async (): Promise<string[]> => {
    if (releasesDir === undefined) return [];
    const listed = await runner.exec(['ls', '-1', '-A', releasesDir], { allowFailure: true, signal });
    return listed.exitCode === 0 ? listed.stdout.split('\n').filter((name) => name !== '') : [];
  };
  const [images, containers, releaseFolders] = await Promise.all([
    runner.exec(['docker', 'image', 'ls', '--no-trunc', '--digests', '--format', '{{json .}}'], { signal }),
    readContainers(),
    readFolders(),
  ]);
  return { images: parseImageRows(images.stdout), containers, releaseFolders };
}

/**
 * Bytes in use on a host: images, containers and build cache as `docker system df` sums them
 * (shared layers counted once), plus `du` of `folder` when given.
 */
export async function measureUsage(
  runner: Runner,
  folder: string | undefined,
  signal?: AbortSignal,
): Promise<number> {
  const df = await runner.exec(['docker', 'system', 'df', '--format', '{{json .}}'], { signal });
  let total = 0;
  for (const raw of parseJsonLines(df.stdout)) {
    const row = raw as Record<string, unknown>;
    if (row['Type'] === 'Local Volumes') continue;
    total += parseDockerSize(String(row['Size'] ?? ''));
  }
  if (folder !== undefined) {
    const du = await runner.exec(['du', '-sk', folder], { allowFailure: true, signal });
    if (du.exitCode === 0) total += Number(du.stdout.trim().split(/\s+/)[0] ?? 0) * 1024;
  }
  return total;
}

/**
 * Runs a retain step on its runner: reads the host, removes what decidePrune says (containers, then
 * the images and the folders side by side), prunes build cache when asked, and measures before and after when asked.
 * Throws what the runner throws, unless `bestEffort`: then every failure lands in `errors`.
 */
export async function retainOnHost(
  runner: Runner,
  project: string,
  action: RetainAction,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<RetainReport> {
  const report: RetainReport = {
    host: runner.name,
    removed: { containers: [], images: [], folders: [] },
    errors: [],
  };
  const attempt = async (what: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      if (!action.bestEffort) throw error;
      const message = error instanceof Error ? error.message : String(error);
      report.errors.push(`${what}: ${message}`);
      log(`could not remove ${what}: ${message}`);
    }
  };
  const folder = action.releasesDir?.replace(/\/releases$/, '');
  await attempt('(read the host)', async () => {
    if (action.measure) report.usedBefore = await measureUsage(runner, folder, signal);
    const inventory = await readInventory(runner, action.releasesDir, signal);
    const decision = decidePrune(inventory, {
      keepReleases: action.keepReleases,
      keepImages: action.keepImages,
      removeImages: action.removeImages,
      project,
      containers: action.containers,
      ...(action.releasesDir === undefined ? {} : { releasesDir: action.releasesDir }),
    });
    if (decision.containers.length > 0) {
      await attempt(`containers ${decision.containers.map((c) => c.name).join(', ')}`, async () => {
        await runner.exec(['docker', 'rm', ...decision.containers.map((container) => container.id)], {
          signal,
        });
        report.removed.containers.push(...decision.containers);
      });
    }
    // Once the containers are gone, the images and the folders go side by side (one round trip's
    // time, not one per image); removed images are reported in the decision's order.
    const removedImages = new Set<(typeof decision.images)[number]>();
    const removals = decision.images.map((image) =>
      attempt(`image ${image.refs.join(', ')}`, async () => {
        await runner.exec(['docker', 'image', 'rm', ...image.refs], { signal });
        removedImages.add(image);
      }),
    );
    if (decision.folders.length > 0) {
      removals.push(
        attempt(`folders ${decision.folders.join(', ')}`, async () => {
          await runner.exec(['rm', '-rf', '--', ...decision.folders], { signal });
          report.removed.folders.push(...decision.folders);
        }),
      );
    }
    const settled = await Promise.allSettled(removals);
    report.removed.images.push(...decision.images.filter((image) => removedImages.has(image)));
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  });
  if (action.buildCacheUntilHours !== undefined) {
    await attempt('build cache', async () => {
      const pruned = await runner.exec(
        ['docker', 'builder', 'prune', '--force', '--filter', `until=${action.buildCacheUntilHours}h`],
        { signal },
      );
      const total = /Total:\s*(\S+)/.exec(pruned.stdout)?.[1];
      report.buildCache = total ?? '0B';
    });
  }
  if (action.measure && report.usedBefore !== undefined) {
    await attempt('(measure)', async () => {
      report.usedAfter = await measureUsage(runner, folder, signal);
      report.freedBytes = Math.max(0, report.usedBefore! - report.usedAfter);
    });
  }
  return report;
}

/** One line for a retain step's outcome: what went, and the bytes freed when measured. */
export function describeRetain(report: RetainReport): string {
  const { containers, images, folders } = report.removed;
  const parts = [
    `${folders.length} release folder${folders.length === 1 ? '' : 's'}`,
    `${images.length} image${images.length === 1 ? '' : 's'}`,
    `${containers.length} stopped container${containers.length === 1 ? '' : 's'}`,
  ];
  const cache = report.buildCache === undefined ? '' : `, build cache ${report.buildCache}`;
  const freed = report.freedBytes === undefined ? '' : `; freed ${formatBytes(report.freedBytes)}`;
  const errors = report.errors.length === 0 ? '' : ` (${report.errors.length} failed: see above)`;
  return `removed ${parts.join(', ')}${cache}${freed}${errors}`;
}
