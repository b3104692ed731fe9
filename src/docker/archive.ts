// The pure half of sending an image without a registry: reading the headers of a `docker save` tar
// archive (POSIX ustar, with the PAX and GNU long-name records Go's archive/tar writes) and deciding
// which of its layer files a host does not need because it has that layer already. No I/O here:
// rollout/image-transfer.ts reads the file and streams the entries these functions choose.

/** Size of a tar block; headers are one block, data is padded to whole blocks. */
export const TAR_BLOCK = 512;

/** One header block, decoded: the entry's name (ustar prefix joined), its size in bytes and type flag. */
export interface TarHeader {
  name: string;
  size: number;
  /** '0' or '\0' file, '5' folder, '2' symlink, 'x' PAX record, 'g' global PAX, 'L' GNU long name. */
  type: string;
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

/** A numeric header field: octal text, or GNU base-256 when its first byte has the high bit set. */
function numeric(block: Buffer, start: number, length: number): number {
  if ((block[start]! & 0x80) !== 0) {
    let value = block[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  const text = field(block, start, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/**
 * Decodes one 512-byte tar header block; undefined for an all-zero block (the end of the archive).
 * Throws RangeError for a block that is not a tar header (wrong length or checksum).
 */
export function parseTarHeader(block: Buffer): TarHeader | undefined {
  if (block.length !== TAR_BLOCK)
    throw new RangeError(`a tar header is ${TAR_BLOCK} bytes, got ${block.length}`);
  if (block.every((byte) => byte === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (sum !== numeric(block, 148, 8))
    throw new RangeError('not a tar archive: a header checksum does not match');
  const name = field(block, 0, 100);
  const prefix = field(block, 257, 6).startsWith('ustar') ? field(block, 345, 155) : '';
  return {
    name: prefix === '' ? name : `${prefix}/${name}`,
    size: numeric(block, 124, 12),
    type: field(block, 156, 1) || '0',
  };
}

/** The `path` of a PAX extended header's records (`<len> path=<value>\n`), if it has one. */
export function paxPath(data: Buffer): string | undefined {
  let offset = 0;
  let path: string | undefined;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number.parseInt(data.subarray(offset, space).toString('utf8'), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (record.slice(0, equals) === 'path') path = record.slice(equals + 1);
    offset += length;
  }
  return path;
}

/** Bytes an entry takes after its header: its size rounded up to whole blocks. */
export function paddedSize(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

/** One image of `manifest.json` in a `docker save` archive: its config file and layer files, base first. */
export interface SavedManifest {
  Config: string;
  Layers: string[];
}

/**
 * Reads `manifest.json` of a `docker save` archive. Throws RangeError when it is not the expected
 * shape (a JSON array of `{Config, Layers}`).
 */
export function parseSavedManifest(text: string): SavedManifest[] {
  const value: unknown = JSON.parse(text);
  const ok =
    Array.isArray(value) &&
    value.every(
      (entry) =>
        typeof entry === 'object' &&
        entry !== null &&
        typeof (entry as SavedManifest).Config === 'string' &&
        Array.isArray((entry as SavedManifest).Layers) &&
        (entry as SavedManifest).Layers.every((layer) => typeof layer === 'string'),
    );
  if (!ok) throw new RangeError('manifest.json of the image archive is not a list of {Config, Layers}');
  return value as SavedManifest[];
}

/** The key of a layer stack: its diff ids from the base up to one layer, joined (a chain id, unhashed). */
function stackKey(diffIds: readonly string[], through: number): string {
  return diffIds.slice(0, through + 1).join(',');
}

/**
 * Every layer stack a host has: for each image's diff ids (`docker image inspect` RootFS.Layers, base
 * first), each of its prefixes. A layer can be reused only on top of the same layers below it, which
 * is how the engine stores it (by chain id).
 */
export function hostLayerStacks(images: readonly (readonly string[])[]): Set<string> {
  const stacks = new Set<string>();
  for (const diffIds of images) {
    for (let index = 0; index < diffIds.length; index++) stacks.add(stackKey(diffIds, index));
  }
  return stacks;
}

/**
 * The layer files of an archive that a host need not receive: layer `i` (the archive's
 * `manifest.Layers[i]`, whose diff id is `diffIds[i]`) when the host has the stack of layers 0..i. A
 * file used at several positions is left out only when every position is on the host. Throws
 * RangeError when the manifest and the diff ids disagree in length.
 */
export function layersToSkip(
  manifest: SavedManifest,
  diffIds: readonly string[],
  stacks: ReadonlySet<string>,
): Set<string> {
  if (manifest.Layers.length !== diffIds.length) {
    throw new RangeError(
      `the image archive lists ${manifest.Layers.length} layers but the image has ${diffIds.length}`,
    );
  }
  const needed = new Set<string>();
  const present = new Set<string>();
  manifest.Layers.forEach((path, index) => {
    if (stacks.has(stackKey(diffIds, index))) present.add(path);
    else needed.add(path);
  });
  return new Set([...present].filter((path) => !needed.has(path)));
}

/** `docker image inspect --format {{json .RootFS.Layers}}` output (one JSON array a line) → diff ids per image. */
export function parseImageLayers(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'null')
    .map((line) => {
      const value: unknown = JSON.parse(line);
      return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
    });
}

/**
 * A tar archive (POSIX ustar) of one regular file owned by root, for `docker cp - container:/`:
 * `path` relative to `/` (at most 100 bytes; Docker makes the missing parent folders), `content` as
 * UTF-8, `mode` its permission bits. Returned as text (every byte is ASCII or the content's UTF-8),
 * so that it can travel on stdin as a Secret. Throws RangeError for a longer path.
 */
export function singleFileTar(path: string, content: string, mode: number): string {
  if (Buffer.byteLength(path) > 100) throw new RangeError(`tar path over 100 bytes: ${path}`);
  const data = Buffer.from(content, 'utf8');
  const header = Buffer.alloc(TAR_BLOCK);
  const put = (start: number, text: string) => header.write(text, start, 'ascii');
  const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, '0')}\0`;
  put(0, path);
  put(100, octal(mode, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(data.length, 12));
  put(136, octal(Math.floor(Date.now() / 1000), 12));
  put(148, '        ');
  put(156, '0');
  put(257, 'ustar\0');
  put(263, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc(paddedSize(data.length) - data.length);
  return Buffer.concat([header, data, padding, Buffer.alloc(2 * TAR_BLOCK)]).toString('utf8');
}
