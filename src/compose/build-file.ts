import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PathSegment } from '../config/issues.js';
import { sameImage } from '../docker/image.js';
import { UserError } from '../util/errors.js';
import { pathEntry } from '../util/user-file.js';
import { compareStrings } from './canonical.js';
import { literalKeys } from './project.js';
import { renderCompose } from './render.js';
import type { ComposeProject, ComposeService } from './types.js';

/** What `docker compose build` needs to build one service exactly as the compose file says. */
export interface BuildFile {
  /** The compose document (rendered bytes) given to `docker compose -f - build` on stdin. */
  text: string;
  /**
   * Names of the variables that build secrets read (`secrets: { x: { environment: NAME } }`): the
   * build runs with them in its environment, never in argv or the file.
   */
  secretVariables: string[];
}

/**
 * A compose file with only `service`, its `build:` section exactly as `docker compose config`
 * printed it (absolute context, dockerfile_inline, platforms, secrets, ssh, additional_contexts,
 * cache_from/to, labels, network, shm_size, extra_hosts, tags, target, args, …), its `platform`,
 * `image: <ref>` and the top-level secrets the build uses. Building it with compose passes every
 * build key to BuildKit as compose itself would. With `cacheRef`, a build that sets neither cache_from
 * nor cache_to reads its cache from that image and writes it inline into the image it builds (the
 * push then carries it). Refuses (UserError) a build for more than one platform: a deploy runs one
 * image per service, loaded into the engine before it is pushed.
 */
export function renderBuildFile(
  compose: ComposeProject,
  service: string,
  image: string,
  cacheRef?: string,
): BuildFile {
  const spec = compose.services[service] as ComposeService | undefined;
  const build = spec?.build;
  if (spec === undefined || build === undefined) {
    throw new UserError(`service ${service} has no build section in the compose file`);
  }
  const platforms = (build as { platforms?: string[] }).platforms ?? [];
  if (platforms.length > 1) {
    throw new UserError(
      `service ${service}: build.platforms lists ${platforms.length} platforms (${platforms.join(', ')}); Stagecraft builds one image per service`,
      {
        hint: `keep the one platform your hosts run (e.g. platforms: [linux/amd64], or platform: linux/amd64 on the service)`,
      },
    );
  }
  // Each build runs from a file of its own service: another service is not there to build first.
  const additional = (build as { additional_contexts?: unknown }).additional_contexts;
  for (const [name, source] of Object.entries(
    additional !== null && typeof additional === 'object' ? (additional as Record<string, unknown>) : {},
  )) {
    if (typeof source !== 'string' || !source.startsWith('service:')) continue;
    throw new UserError(
      `service ${service}: build.additional_contexts.${name} is ${source}, the image of another service, which Stagecraft does not build first`,
      {
        hint: `build from the other service's sources instead (a folder, or a multi-stage Dockerfile), or push its image and use docker-image://<image>`,
      },
    );
  }
  // compose prints `$` doubled in keys too, but reads keys literally (see literalKeys).
  const out: ComposeService = { image, build: literalKeys(build) as ComposeService['build'] };
  // The image name the compose file gives it is tagged too, as `docker compose build` tags it: another
  // service's Dockerfile may build FROM it (buildSteps builds this one first).
  if (typeof spec.image === 'string' && spec.image !== '' && !sameImage(spec.image, image)) {
    const section = out.build as Record<string, unknown>;
    const tags = Array.isArray(section['tags']) ? (section['tags'] as unknown[]) : [];
    if (!tags.some((tag) => typeof tag === 'string' && sameImage(tag, spec.image!)))
      section['tags'] = [...tags, spec.image];
  }
  const keys = build as Record<string, unknown>;
  const ownCache = keys['cache_from'] !== undefined || keys['cache_to'] !== undefined;
  if (cacheRef !== undefined && !ownCache) {
    Object.assign(out.build as Record<string, unknown>, {
      cache_from: [cacheRef],
      cache_to: ['type=inline'],
    });
  }
  if (typeof spec.platform === 'string') out['platform'] = spec.platform;
  const document: ComposeProject = { name: 'stagecraft-build', services: { [service]: out } };
  const used = ((build as { secrets?: unknown[] }).secrets ?? []).map((entry) =>
    typeof entry === 'string' ? entry : String((entry as { source?: unknown }).source),
  );
  const secretVariables: string[] = [];
  if (used.length > 0) {
    const declared = (compose['secrets'] ?? {}) as Record<string, Record<string, unknown>>;
    const secrets: Record<string, unknown> = {};
    for (const name of [...new Set(used)].sort(compareStrings)) {
      const entry = declared[name];
      if (entry === undefined) continue;
      const { name: _derived, ...rest } = entry;
      secrets[name] = rest;
      if (typeof rest['environment'] === 'string') secretVariables.push(rest['environment']);
    }
    document['secrets'] = secrets;
  }
  return { text: renderCompose(document).text, secretVariables: secretVariables.sort(compareStrings) };
}

/**
 * `docker compose -p stagecraft-build -f - --env-file /dev/null build <service>`: builds the file
 * given on stdin; no `.env` of the working folder is read (the file needs no interpolation).
 */
export function composeBuildArgs(service: string): string[] {
  return [
    'docker',
    'compose',
    '-p',
    'stagecraft-build',
    '-f',
    '-',
    '--env-file',
    '/dev/null',
    'build',
    service,
  ];
}

/** A file a build would read that is not a regular file: `path` is the compose key that names it. */
export interface BuildInputProblem {
  service: string;
  path: PathSegment[];
  file: string;
  why: string;
  /** 'context' for the build context itself (a folder), 'file' for a file the build reads. */
  what: 'context' | 'file';
}

/**
 * The build contexts that are not folders, and the files the builds of `services` read that BuildKit
 * would block on or read without end (a FIFO, a device, a folder): each service's Dockerfile (`build.dockerfile`, default `Dockerfile` in the
 * context; not for `dockerfile_inline` or a remote context) and the `file:` of each top-level secret
 * in its `build.secrets`. `compose` is as `docker compose config` printed it (absolute contexts and
 * secret files). A missing file is left to the build, which names it.
 */
export function unreadableBuildInputs(
  compose: ComposeProject,
  services: readonly string[],
): BuildInputProblem[] {
  const problems: BuildInputProblem[] = [];
  const declared = (compose['secrets'] ?? {}) as Record<string, { file?: unknown } | undefined>;
  for (const service of services) {
    const build = compose.services[service]?.build as
      | { context?: string; dockerfile?: string; dockerfile_inline?: string; secrets?: unknown[] }
      | undefined;
    if (build === undefined) continue;
    const context = build.context ?? '.';
    const remote = /^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(context);
    if (!remote) {
      // The context is a folder the builder reads whole: anything else fails the build, or hangs it.
      const folder = statSync(context, { throwIfNoEntry: false });
      if (folder === undefined || !folder.isDirectory()) {
        const entry = pathEntry(context);
        problems.push({
          service,
          path: ['services', service, 'build'],
          file: context,
          why:
            entry.kind === 'missing'
              ? 'does not exist'
              : entry.kind === 'file'
                ? 'is a file, not a folder'
                : entry.why,
          what: 'context',
        });
        continue;
      }
    }
    if (build.dockerfile_inline === undefined && !remote) {
      const file = resolve(context, build.dockerfile ?? 'Dockerfile');
      const entry = pathEntry(file);
      if (entry.kind === 'other') {
        const path = [
          'services',
          service,
          'build',
          ...(build.dockerfile === undefined ? [] : ['dockerfile']),
        ];
        problems.push({ service, path, file, why: entry.why, what: 'file' });
      }
    }
    for (const item of build.secrets ?? []) {
      const name = typeof item === 'string' ? item : String((item as { source?: unknown }).source);
      const file = declared[name]?.file;
      if (typeof file !== 'string') continue;
      const entry = pathEntry(file);
      if (entry.kind === 'other')
        problems.push({ service, path: ['secrets', name, 'file'], file, why: entry.why, what: 'file' });
    }
  }
  return problems;
}

/**
 * The images `service`'s Dockerfile builds FROM (`FROM [--platform=…] image [AS name]`, stages named
 * earlier left out), read from `build.dockerfile_inline` or the Dockerfile in its context; [] for a
 * remote context or a Dockerfile that cannot be read (the build names that). Line continuations and
 * `${ARG}` references are not resolved: such an image is left as written. No writes.
 */
export function baseImages(compose: ComposeProject, service: string): string[] {
  const build = compose.services[service]?.build as
    | { context?: string; dockerfile?: string; dockerfile_inline?: string }
    | undefined;
  if (build === undefined) return [];
  let text = build.dockerfile_inline;
  if (text === undefined) {
    const context = build.context ?? '.';
    if (/^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(context)) return [];
    const file = resolve(context, build.dockerfile ?? 'Dockerfile');
    if (pathEntry(file).kind !== 'file') return [];
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
  }
  const stages = new Set<string>();
  const images: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (match === null) continue;
    const [, image = '', stage] = match;
    if (!stages.has(image.toLowerCase())) images.push(image);
    if (stage !== undefined) stages.add(stage.toLowerCase());
  }
  return images;
}
