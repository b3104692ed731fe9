// Images without a registry: the build machine saves each built image once (`docker save`, through
// its engine's API, so the engine may be Docker Desktop's VM or a remote DOCKER_HOST), and each host
// gets over its SSH connection a `docker load` of that archive with only the layers it lacks. The
// engine's load (moby image/tarexport) looks a layer up by its chain id before it reads the layer's
// file, so an archive whose manifest names layers the host has, but without their files, loads. If a
// host's engine refuses such an archive (an image store that does not skip present layers), the
// whole archive is sent again, so a transfer is never worse than `docker save | ssh docker load`.

import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  hostLayerStacks,
  layersToSkip,
  paddedSize,
  parseImageLayers,
  parseSavedManifest,
  parseTarHeader,
  paxPath,
  type SavedManifest,
  TAR_BLOCK,
} from '../docker/archive.js';
import { imageExistsArgs, imageIdsArgs, imageLayersArgs, loadArgs, saveArgs } from '../docker/image.js';
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';

/** One entry of a tar file: its name and where its bytes are (headers included, padding included). */
export interface TarEntry {
  name: string;
  /** Offset of its first header block (a PAX or long-name record before it counts as part of it). */
  start: number;
  /** Offset of its data, and the data's length in bytes. */
  dataStart: number;
  size: number;
  /** Offset just past its padded data. */
  end: number;
}

/** An image saved on the build machine: the archive, its entries, and what the image is made of. */
export interface SavedImage {
  image: string;
  /** The image id (`sha256:` + the sha256 of its config), the same on every engine that loads it. */
  id: string;
  file: string;
  /** Size of the whole archive in bytes: what `docker save | ssh docker load` would send. */
  bytes: number;
  entries: TarEntry[];
  manifest: SavedManifest;
  /** The layers' diff ids, base first (the config's rootfs.diff_ids). */
  diffIds: string[];
}

/** What one transfer to a host did. */
export interface TransferReport {
  host: string;
  image: string;
  /** Bytes sent on the SSH connection, and the whole archive's size (a full `docker save | docker load`). */
  sentBytes: number;
  fullBytes: number;
  layersSent: number;
  layersTotal: number;
  durationMs: number;
  /** The host refused the archive without its present layers and got the whole archive. */
  fellBack: boolean;
}

const CHUNK = 1024 * 1024;

/**
 * The entries of a tar file, in order, read header by header (the data is skipped, except PAX and
 * GNU long-name records, which name the entry after them). Throws RangeError for a file that is not
 * a tar archive; fs errors as they come.
 */
export async function scanArchive(file: string): Promise<TarEntry[]> {
  const handle = await open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const entries: TarEntry[] = [];
    const block = Buffer.alloc(TAR_BLOCK);
    let offset = 0;
    let pendingStart: number | undefined;
    let pendingName: string | undefined;
    while (offset + TAR_BLOCK <= fileSize) {
      await handle.read(block, 0, TAR_BLOCK, offset);
      const header = parseTarHeader(block);
      if (header === undefined) break;
      const dataStart = offset + TAR_BLOCK;
      const end = dataStart + paddedSize(header.size);
      if (header.type === 'x' || header.type === 'L') {
        const data = Buffer.alloc(header.size);
        await handle.read(data, 0, header.size, dataStart);
        pendingName =
          header.type === 'L' ? data.toString('utf8').replace(/\0+$/, '') : (paxPath(data) ?? pendingName);
        pendingStart ??= offset;
        offset = end;
        continue;
      }
      entries.push({
        name: (pendingName ?? header.name).replace(/^\.\//, ''),
        start: pendingStart ?? offset,
        dataStart,
        size: header.size,
        end,
      });
      pendingName = undefined;
      pendingStart = undefined;
      offset = end;
    }
    return entries;
  } finally {
    await handle.close();
  }
}

async function entryBytes(file: string, entries: TarEntry[], name: string): Promise<Buffer> {
  const entry = entries.find((candidate) => candidate.name === name);
  if (entry === undefined) throw new ExternalError(`the image archive ${file} has no ${name}`);
  const handle = await open(file, 'r');
  try {
    const data = Buffer.alloc(entry.size);
    await handle.read(data, 0, entry.size, entry.dataStart);
    return data;
  } finally {
    await handle.close();
  }
}

/**
 * Saves `image` from the engine of `runner` (the build machine) to `file` with `docker save` and
 * reads what it is made of. Throws ExternalError when docker fails or the archive lacks its manifest
 * or config.
 */
export async function saveImage(
  runner: Runner,
  image: string,
  file: string,
  signal?: AbortSignal,
): Promise<SavedImage> {
  await runner.exec(saveArgs(file, image), { ...(signal ? { signal } : {}) });
  const entries = await scanArchive(file);
  const [manifest] = parseSavedManifest((await entryBytes(file, entries, 'manifest.json')).toString('utf8'));
  if (manifest === undefined) throw new ExternalError(`docker save of ${image} wrote no image`);
  const config = await entryBytes(file, entries, manifest.Config);
  const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs
    ?.diff_ids;
  return {
    image,
    id: `sha256:${sha256Hex(config)}`,
    file,
    bytes: (await stat(file)).size,
    entries,
    manifest,
    diffIds: diffIds ?? [],
  };
}

/** The archive without the entries in `skip`, streamed from the file, with its end blocks; counts bytes. */
function filteredArchive(saved: SavedImage, skip: ReadonlySet<string>, counter: { bytes: number }): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    const handle = await open(saved.file, 'r');
    try {
      for (const entry of saved.entries) {
        if (skip.has(entry.name)) continue;
        for (let offset = entry.start; offset < entry.end; offset += CHUNK) {
          const length = Math.min(CHUNK, entry.end - offset);
          const buffer = Buffer.alloc(length);
          await handle.read(buffer, 0, length, offset);
          counter.bytes += length;
          yield buffer;
        }
      }
      const end = Buffer.alloc(2 * TAR_BLOCK);
      counter.bytes += end.length;
      yield end;
    } finally {
      await handle.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** The diff ids of every image on the host's engine (read-only: `docker image ls`, `docker image inspect`). */
async function hostImages(runner: Runner, signal?: AbortSignal): Promise<string[][]> {
  const options = signal ? { signal } : {};
  const ids = (await runner.exec(imageIdsArgs(), options)).stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (ids.length === 0) return [];
  // An image removed between the two commands makes inspect exit 1; the others are still printed.
  const inspected = await runner.exec(imageLayersArgs([...new Set(ids)]), { ...options, allowFailure: true });
  return parseImageLayers(inspected.stdout);
}

/**
 * Sends a saved image to a host: reads which layers the host's engine has, streams the archive
 * without those layers' files into `docker load` over the runner's connection, then checks that the
 * image's tag on the host names the same image id. When the host refuses the reduced archive, sends
 * the whole one (`fellBack`). Throws ExternalError when the load fails or the id differs.
 */
export async function transferImage(
  runner: Runner,
  saved: SavedImage,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<TransferReport> {
  const started = performance.now();
  const skip = layersToSkip(saved.manifest, saved.diffIds, hostLayerStacks(await hostImages(runner, signal)));
  const send = async (without: ReadonlySet<string>) => {
    const counter = { bytes: 0 };
    const result = await runner.exec(loadArgs(), {
      stdinStream: filteredArchive(saved, without, counter),
      allowFailure: true,
      onLine: log,
      ...(signal ? { signal } : {}),
    });
    return { result, bytes: counter.bytes };
  };
  let fellBack = false;
  let sent = await send(skip);
  if (sent.result.exitCode !== 0 && skip.size > 0 && signal?.aborted !== true) {
    log(`${runner.name} refused the archive without the layers it has; sending every layer`);
    fellBack = true;
    sent = await send(new Set());
  }
  if (sent.result.exitCode !== 0) {
    const last = `${sent.result.stderr}${sent.result.stdout}`.trim().split('\n').at(-1) ?? '';
    throw new ExternalError(
      `docker load of ${saved.image} on ${runner.name} failed${last ? `: ${last}` : ''}`,
      {
        hint: `check the disk space and the Docker engine on ${runner.name}, then deploy again`,
      },
    );
  }
  const loaded = (await runner.exec(imageExistsArgs(saved.image), signal ? { signal } : {})).stdout.trim();
  if (loaded !== saved.id) {
    throw new ExternalError(
      `${saved.image} on ${runner.name} is ${loaded || 'missing'} after docker load, not ${saved.id}`,
      { hint: 'another deploy may have tagged the image meanwhile: deploy again' },
    );
  }
  const skipped = fellBack ? 0 : saved.manifest.Layers.filter((layer) => skip.has(layer)).length;
  return {
    host: runner.name,
    image: saved.image,
    sentBytes: sent.bytes,
    fullBytes: saved.bytes,
    layersSent: saved.manifest.Layers.length - skipped,
    layersTotal: saved.manifest.Layers.length,
    durationMs: Math.round(performance.now() - started),
    fellBack,
  };
}

/** "sent 1 of 9 layers: 1.2 MB of 61.0 MB (2.0 %; 1203712 of 61009920 bytes) in 0.8 s" (decimal MB). */
export function describeTransfer(report: TransferReport): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const percent = report.fullBytes === 0 ? 0 : (100 * report.sentBytes) / report.fullBytes;
  return `sent ${report.layersSent} of ${report.layersTotal} layers: ${mb(report.sentBytes)} of ${mb(report.fullBytes)} (${percent.toFixed(1)} %; ${report.sentBytes} of ${report.fullBytes} bytes) in ${(report.durationMs / 1000).toFixed(1)} s${report.fellBack ? ', the whole archive after a refusal' : ''}`;
}

/**
 * The images a run saved, by service, in a private temporary folder of this machine that `close()`
 * removes. One per run (operations/deploy.ts `runRelease`).
 */
export class ImageArchives {
  #dir: Promise<string> | undefined;
  readonly #saved = new Map<string, SavedImage>();

  /** Saves `image` for `service` (see saveImage); the archive stays until close(). */
  async save(service: string, runner: Runner, image: string, signal?: AbortSignal): Promise<SavedImage> {
    this.#dir ??= mkdtemp(join(tmpdir(), 'stagecraft-images-'));
    const saved = await saveImage(runner, image, join(await this.#dir, `${service}.tar`), signal);
    this.#saved.set(service, saved);
    return saved;
  }

  /** The saved image of `service`, or undefined when no save step ran for it. */
  get(service: string): SavedImage | undefined {
    return this.#saved.get(service);
  }

  /** Removes the temporary folder and everything in it. */
  async close(): Promise<void> {
    const dir = this.#dir;
    this.#dir = undefined;
    this.#saved.clear();
    if (dir !== undefined) await rm(await dir, { recursive: true, force: true });
  }
}
