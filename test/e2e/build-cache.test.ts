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
const REPOSITORY = '127.0.0.1:5000/shop-e2e/shopcache';

beforeAll(async () => {
  harness = await requireHarness();
  project = shopProject(harness);
  const path = join(project.root, 'stagecraft.yml');
  writeFileSync(path, readFileSync(path, 'utf8').replace('name: shop\n', 'name: shopcache\n'));
});

afterAll(() => {
  if (project) removeProject(project);
});

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
  it('a build machine with an empty cache takes every unchanged layer from the registry and rebuilds only the changed one', async () => {
    const first = await stagecraftIn(project, ['build', '--push', '-e', 'production', '--version', 'c1']);
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
    // Every web layer came from the first machine's cache; the API's changed layer was built again.
    expect(cached(output, '[web 3/4] COPY index.html serve.mjs ./')).toBe(true);
    expect(cached(output, '[web 4/4] COPY src ./src')).toBe(true);
    expect(cached(output, '[api 3/3] COPY package.json server.mjs ./')).toBe(false);
    expect(digestOf(fresh.stdout, 'api')).not.toBe(digestOf(first.stdout, 'api'));
  });
});
