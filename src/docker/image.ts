/** argv builders for images: build, tag, push, and the existence checks that make images immutable. */

export interface BuildOptions {
  /** Tags (`-t`), in the given order; the first is the release reference. */
  tags: string[];
  /** Build context (a folder). */
  context: string;
  /** `-f`: Dockerfile path; omitted when undefined (docker uses <context>/Dockerfile). */
  dockerfile?: string;
  /** `--build-arg K=V`, sorted by key. */
  buildArgs?: Record<string, string>;
  target?: string;
  /** `--label k=v`, sorted by key. */
  labels?: Record<string, string>;
  platform?: string;
  /** `--pull`: always try a newer base image. */
  pull?: boolean;
  noCache?: boolean;
  /** `--iidfile`: where docker writes the built image id. */
  iidfile?: string;
  /** `--cache-from`: an image whose inline cache the build may reuse. */
  cacheFrom?: string;
  /** `--cache-to`, e.g. `type=inline` (the cache travels inside the pushed image). */
  cacheTo?: string;
}

/** `docker build -t ref… [-f dockerfile] [--build-arg K=V…] [--target T] [--label k=v…] … context` */
export function buildArgs(options: BuildOptions): string[] {
  const args = ['docker', 'build'];
  for (const tag of options.tags) args.push('-t', tag);
  if (options.dockerfile !== undefined) args.push('-f', options.dockerfile);
  for (const [key, value] of sortedEntries(options.buildArgs)) args.push('--build-arg', `${key}=${value}`);
  if (options.target !== undefined) args.push('--target', options.target);
  for (const [key, value] of sortedEntries(options.labels)) args.push('--label', `${key}=${value}`);
  if (options.platform !== undefined) args.push('--platform', options.platform);
  if (options.pull === true) args.push('--pull');
  if (options.noCache === true) args.push('--no-cache');
  if (options.iidfile !== undefined) args.push('--iidfile', options.iidfile);
  if (options.cacheFrom !== undefined) args.push('--cache-from', options.cacheFrom);
  if (options.cacheTo !== undefined) args.push('--cache-to', options.cacheTo);
  args.push(options.context);
  return args;
}

/** The tag that holds a repository's build cache. */
export const BUILD_CACHE_TAG = 'buildcache';

/**
 * The build-cache reference of an image: its repository with tag `buildcache`, e.g.
 * `ghcr.io/acme/shop-api:v1` → `ghcr.io/acme/shop-api:buildcache` (a digest is dropped too).
 */
export function buildCacheRef(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const repository = colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
  return `${repository}:${BUILD_CACHE_TAG}`;
}

/** `docker push ref` */
export function pushArgs(ref: string): string[] {
  return ['docker', 'push', ref];
}

/** `docker pull [--quiet] ref` */
export function pullArgs(ref: string, options: { quiet?: boolean } = {}): string[] {
  return options.quiet === false ? ['docker', 'pull', ref] : ['docker', 'pull', '--quiet', ref];
}

/** `docker tag source target` */
export function tagArgs(source: string, target: string): string[] {
  return ['docker', 'tag', source, target];
}

/**
 * Does `ref` exist in its registry? `docker manifest inspect [--insecure] ref` exits 0 when it does
 * and 1 when it does not (or the registry cannot be reached: see `isManifestMissing`), without
 * pulling. `--insecure` is needed for a plain-HTTP registry: without it the docker CLI answers
 * "no such manifest" for an image that exists on 127.0.0.1:5000. It defaults to on for loopback
 * registries (localhost, 127.0.0.0/8, [::1]) and off elsewhere, so TLS is verified for real ones.
 */
export function manifestInspectArgs(ref: string, options: { insecure?: boolean } = {}): string[] {
  return (options.insecure ?? isLoopbackRegistry(ref))
    ? ['docker', 'manifest', 'inspect', '--insecure', ref]
    : ['docker', 'manifest', 'inspect', ref];
}

/** `docker manifest inspect -v [--insecure] ref`: also prints the manifest digest (see `parseManifestDigest`). */
export function manifestDigestArgs(ref: string, options: { insecure?: boolean } = {}): string[] {
  return (options.insecure ?? isLoopbackRegistry(ref))
    ? ['docker', 'manifest', 'inspect', '-v', '--insecure', ref]
    : ['docker', 'manifest', 'inspect', '-v', ref];
}

/** True when a failed `docker manifest inspect` means "not in the registry" rather than "registry unreachable/denied". */
export function isManifestMissing(stderr: string): boolean {
  return /no such manifest|manifest unknown|name unknown/i.test(stderr);
}

/**
 * `repo@sha256:…` from the output of `manifestDigestArgs` for a single-platform image; undefined for
 * a multi-platform list (it prints one entry per platform, none of them the list's own digest).
 */
export function parseManifestDigest(stdout: string, ref: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const digest = (parsed as { Descriptor?: { digest?: unknown } }).Descriptor?.digest;
  return typeof digest === 'string' && digest.startsWith('sha256:')
    ? `${repositoryOf(ref)}@${digest}`
    : undefined;
}

/**
 * The registry a reference names (its first path part when that has a `.` or `:`, or is
 * `localhost`), else undefined (Docker Hub's default).
 */
function registryOf(ref: string): string | undefined {
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  return /[.:]|^localhost$/.test(first) ? first : undefined;
}

/** The registry host of a reference is loopback: localhost, 127.x.y.z or [::1] (with or without a port). */
export function isLoopbackRegistry(ref: string): boolean {
  const first = registryOf(ref);
  if (first === undefined) return false;
  const host = first.startsWith('[') ? first.slice(0, first.indexOf(']') + 1) : first.split(':')[0];
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host ?? '');
}

/** The repo digests of a local image as a JSON array: `docker image inspect --format {{json .RepoDigests}} ref` */
export function inspectRepoDigestArgs(ref: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{json .RepoDigests}}', ref];
}

/** Exit 0 (and the image id on stdout) when `ref` is in the local image store, 1 otherwise. */
export function imageExistsArgs(ref: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}', ref];
}

/**
 * The digest reference (`repo@sha256:…`) for `ref` from the output of `inspectRepoDigestArgs`:
 * the entry of the same repository (ref without tag or digest), or undefined when it was never pushed.
 */
export function pickRepoDigest(stdout: string, ref: string): string | undefined {
  let digests: unknown;
  try {
    digests = JSON.parse(stdout.trim() || 'null');
  } catch {
    return undefined;
  }
  if (!Array.isArray(digests)) return undefined;
  const repository = repositoryOf(ref);
  return digests.find(
    (entry): entry is string => typeof entry === 'string' && entry.startsWith(`${repository}@sha256:`),
  );
}

/** `registry/path/name:tag@sha256:…` → `registry/path/name` (a registry port is not a tag). */
export function repositoryOf(ref: string): string {
  const withoutDigest = ref.split('@')[0] ?? ref;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

function sortedEntries(record: Record<string, string> | undefined): [string, string][] {
  return Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Writes the image to a tar archive on this machine: `docker save -o FILE ref`. The docker CLI
 * receives the archive from its engine through the Docker API, so the engine may be anywhere
 * (Docker Desktop's VM, a remote DOCKER_HOST). Engines before 25 write the legacy layout
 * (`<id>/layer.tar`, `manifest.json`); 25 and later an OCI layout with `manifest.json` beside it.
 */
export function saveArgs(file: string, ref: string): string[] {
  return ['docker', 'save', '-o', file, ref];
}

/** Loads an image archive from stdin: `docker load` (prints `Loaded image: ref`). */
export function loadArgs(): string[] {
  return ['docker', 'load'];
}

/** Every image of the engine, intermediate ones included, as full ids: `docker image ls -aq --no-trunc`. */
export function imageIdsArgs(): string[] {
  return ['docker', 'image', 'ls', '-aq', '--no-trunc'];
}

/** The layer diff ids of images, one JSON array per line: `docker image inspect --format {{json .RootFS.Layers}}`. */
export function imageLayersArgs(ids: readonly string[]): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{json .RootFS.Layers}}', ...ids];
}

/**
 * Whether two image references name one image as docker resolves them: the default registry
 * (`docker.io`, `index.docker.io`), its `library/` namespace and the `:latest` tag are implied.
 */
export function sameImage(a: string, b: string): boolean {
  return canonicalImage(a) === canonicalImage(b);
}

/** `ref` in one spelling per image: `nginx` → `nginx:latest`, `docker.io/library/x:1` → `x:1`. */
export function canonicalImage(reference: string): string {
  let ref = reference;
  const registry = registryOf(ref);
  if (registry === 'docker.io' || registry === 'index.docker.io') ref = ref.slice(registry.length + 1);
  else if (registry !== undefined) return withTag(ref);
  if (ref.startsWith('library/')) ref = ref.slice('library/'.length);
  return withTag(ref);
}

/** `ref` with `:latest` when it names neither a tag nor a digest. */
function withTag(ref: string): string {
  return ref.includes('@') || repositoryOf(ref) !== ref ? ref : `${ref}:latest`;
}

/**
 * `docker image inspect --format '{{.Id}} {{json .RepoTags}} {{json .RepoDigests}}' ref…`: a line per
 * image the host has (missing ones are left out, with exit 1); see parseImageIds.
 */
export function inspectImageIdsArgs(refs: string[]): string[] {
  return [
    'docker',
    'image',
    'inspect',
    '--format',
    '{{.Id}} {{json .RepoTags}} {{json .RepoDigests}}',
    ...refs,
  ];
}

/**
 * The image id each of `refs` names in inspectImageIdsArgs' output, matched by its tags and digests
 * as docker resolves them (sameImage); a ref the host has no image for is absent.
 */
export function parseImageIds(stdout: string, refs: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^(sha256:[0-9a-f]{64}) (\[.*?\]|null) (\[.*\]|null)$/.exec(line.trim());
    if (match === null) continue;
    const tags = (JSON.parse(match[2]!) as string[] | null) ?? [];
    const digests = (JSON.parse(match[3]!) as string[] | null) ?? [];
    for (const name of [...tags, ...digests]) names.set(canonicalImage(name), match[1]!);
  }
  const ids = new Map<string, string>();
  for (const ref of refs) {
    const id = names.get(canonicalImage(ref));
    if (id !== undefined) ids.set(ref, id);
  }
  return ids;
}
