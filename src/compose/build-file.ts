import { UserError } from '../util/errors.js';
import { compareStrings } from './canonical.js';
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
  const out: ComposeService = { image, build: structuredClone(build) };
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
