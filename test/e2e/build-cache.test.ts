import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerHostOf, dockerOn, type HarnessEnv, requireHarness } from './support/harness.js';
import { removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

// The registry build cache (project.registry_cache): a second build machine that never built the
// project — h3's engine stands in for a fresh CI runner — reuses the first machine's layers.
let harness: HarnessEnv;
let project: ShopProject;
// A repository no earlier run pushed to (the harness registry keeps its data between runs).
const NAME = `shopcache${randomUUID().slice(0, 8)}`;
const REPOSITORY = `127.0.0.1:5000/shop-e2e/${NAME}`;

beforeAll(async () => {
  harness = await requireHarness();
  project = shopProject(harness);
  const path = join(project.root, 'stagecraft.yml');
  writeFileSync(path, readFileSync(path, 'utf8').replace('name: shop\n', `name: ${NAME}\n`));
});

afterAll(() => {
  if (project) removeProject(project);
});

/**
 * How many records of an image's inline build cache (the `moby.buildkit.cache.v0` key of its config,
 * base64 JSON written by BuildKit) name a layer, read from the harness registry's HTTP API v2.
 */
async function inlineCacheLayers(repository: string, tag: string): Promise<number> {
  const base = `http://127.0.0.1:5000/v2/shop-e2e/${repository}`;
  const manifest = (await (
    await fetch(`${base}/manifests/${tag}`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    })
  ).json()) as { config: { digest: string } };
  const config = (await (await fetch(`${base}/blobs/${manifest.config.digest}`)).json()) as Record<
    string,
    unknown
  >;
  const cache = config['moby.buildkit.cache.v0'];
  if (typeof cache !== 'string') return 0;
  const records = JSON.parse(Buffer.from(cache, 'base64').toString('utf8')) as { layers?: unknown[] }[];
  return records.filter((record) => (record.layers ?? []).length > 0).length;
}

/** `sha256:…` of a pushed image from the build's last lines (`<repository>@sha256:…`). */
function digestOf(stdout: string, service: string): string | undefined {
  return stdout.match(new RegExp(`${REPOSITORY}-${service}@(sha256:[0-9a-f]{64})`))?.[1];
}

/**
 * Whether BuildKit's plain progress says the step titled `title` was CACHED: its line `#<n> <title>`
 * and the next line of the same `#<n>` (each image's build counts from #1, so only what follows the
 * title counts).
 */
function cached(output: string, title: string): boolean {
  const lines = output.split('\n').map((line) => line.trim());
  const at = lines.findIndex((line) => /^#\d+ /.test(line) && line.slice(line.indexOf(' ') + 1) === title);
  if (at === -1) throw new Error(`no build step ${title} in the output:\n${output}`);
  const number = lines[at]!.slice(0, lines[at]!.indexOf(' '));
  return lines.slice(at + 1).find((line) => line.startsWith(`${number} `)) === `${number} CACHED`;
}

describe('build cache in the registry', () => {
  it('the first machine pushes its layers inline as :buildcache; a machine with an empty cache imports them and rebuilds the changed layer', async () => {
    // Web content no earlier build had and a repository with no cache yet: the first machine builds
    // every web layer itself.
    const unique = randomUUID();
    appendFileSync(join(project.root, 'web', 'serve.mjs'), `// this run's web: ${unique}\n`);
    appendFileSync(join(project.root, 'web', 'src', 'main.js'), `// this run's web: ${unique}\n`);
    const first = await stagecraftIn(project, [
      'build',
      '--push',
      '-e',
      'production',
      '--version',
      'c1',
      '-v',
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(
      `push ${REPOSITORY}-web:c1, and as ${REPOSITORY}-web:buildcache (build cache)`,
    );

    // A change no earlier run made (the harness registry keeps its data between runs).
    appendFileSync(join(project.root, 'api', 'server.mjs'), `// a change to the API only: ${randomUUID()}\n`);
    // h3's engine stands in for a fresh CI runner: nothing in its own build cache.
    await dockerOn(harness, 'h3', ['builder', 'prune', '-af']);
    const fresh = await stagecraftIn(
      project,
      ['build', '--push', '-e', 'production', '--version', 'c2', '-v'],
      {
        env: { DOCKER_HOST: dockerHostOf(harness, 'h3') },
      },
    );
    expect(fresh.code, fresh.stderr).toBe(0);
    const output = `${fresh.stdout}${fresh.stderr}`;
    expect(output).toContain(`[web] importing cache manifest from ${REPOSITORY}-web:buildcache`);
    expect(output).toContain(`[api] importing cache manifest from ${REPOSITORY}-api:buildcache`);
    // The first machine's image (pushed as c1 and as :buildcache) carries BuildKit's inline cache: a
    // record for each of web's own layers. (:buildcache is now the fresh machine's.)
    expect(await inlineCacheLayers(`${NAME}-web`, 'c1')).toBeGreaterThanOrEqual(3);
    // Not asserted: that the fresh machine then finds every web layer CACHED. It does when the pushed
    // image built those layers itself; BuildKit's inline cache drops layers a build took from a cache
    // another build imported (moby/buildkit#2996), and on the shared build engine that happened in
    // most full runs (1 Dec 2026: by hand, a build whose :buildcache came from such an image missed, the
    // same build from a freshly built one hit). docs/ci-and-templates.md says so.
    expect(cached(output, '[api 3/3] COPY package.json server.mjs ./')).toBe(false);
    expect(digestOf(fresh.stdout, 'api')).not.toBe(digestOf(first.stdout, 'api'));
  });
});
