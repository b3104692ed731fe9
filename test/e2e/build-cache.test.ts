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
    expect(output).toMatch(/\[web 3\/4\] COPY index\.html serve\.mjs \.\/\n\s*#\d+ CACHED/);
    expect(output).toMatch(/\[web 4\/4\] COPY src \.\/src\n\s*#\d+ CACHED/);
    expect(output).not.toMatch(/\[api 3\/3\] COPY package\.json server\.mjs \.\/\n\s*#\d+ CACHED/);
    expect(digestOf(fresh.stdout, 'api')).not.toBe(digestOf(first.stdout, 'api'));
  });
});
