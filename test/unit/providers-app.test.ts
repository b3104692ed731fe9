// Adding an app provider is one provider object and one registry line: no core file knows its id.
// This test registers a provider the core has never seen and checks that config validation, the
// dev planner, the dev process, the dev tools and the deploy build all come from its hooks.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { ComposeProject } from '../../src/compose/types.js';
import { loadConfig } from '../../src/config/load.js';
import { processSpec } from '../../src/dev/processes.js';
import { buildArgs } from '../../src/docker/image.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { planDevTopology } from '../../src/plan/dev.js';
import type { AppProvider } from '../../src/providers/app.js';
import { builtinProviders } from '../../src/providers/index.js';

/** A provider the core has never seen: `deno task dev` in dev, a Dockerfile build for deploys. */
const denoBackend: AppProvider = {
  id: 'deno-test',
  description: 'Deno (registered by this test only).',
  schema: z.strictObject({ port: z.number().int(), dir: z.string(), image_of: z.string().optional() }),
  dev: {
    plan: ({ config, root }) => {
      const deno = config as { port: number; dir: string };
      return { workdir: join(root, deno.dir), port: deno.port, service: undefined };
    },
    tools: [{ tool: 'git', why: 'the deno-test provider wants it' }],
    spec: (plan, settings) => ({
      name: plan.name,
      argv: ['deno', 'task', 'dev', '--port', String(plan.port)],
      cwd: plan.workdir,
      env: { ...settings.baseEnv, DENO_DIR: join(plan.workdir, '.deno') },
      readyPort: plan.port,
      readyTimeoutMs: 1234,
      required: true,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 100,
    }),
  },
  build: (config, root) => {
    const deno = config as { dir: string; image_of?: string };
    return deno.image_of === undefined
      ? undefined
      : {
          service: deno.image_of,
          context: join(root, deno.dir),
          dockerfile: undefined,
          target: 'prod',
          args: { DENO: '2' },
        };
  },
};

const yaml = `
project: { name: p, registry: registry.example/p }
backend:
  provider: deno-test
  providers:
    deno-test: { port: 8123, dir: ./api, image_of: api }
environments:
  dev: { driver: local }
`;

function loadWithTestProvider() {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-test-'));
  writeFileSync(join(root, 'stagecraft.yml'), yaml);
  mkdirSync(join(root, 'api'));
  const registry = builtinProviders();
  registry.register('backend', denoBackend); // the one registry line
  return loadConfig({ cwd: root, purpose: 'any', processEnv: {}, catalog: registry.catalog() });
}

describe('a provider registered outside the core', () => {
  it('is validated by its own schema and unknown to the built-in catalog', () => {
    const loaded = loadWithTestProvider();
    expect(loaded.config.backend?.provider).toBe('deno-test');
    expect(() =>
      loadConfig({
        cwd: loaded.root,
        purpose: 'any',
        processEnv: {},
        catalog: builtinProviders().catalog(),
      }),
    ).toThrow(/has 2 problems/);
  });

  it('gets its dev process, tools and supervised process from its hooks', () => {
    const loaded = loadWithTestProvider();
    const topology = planDevTopology({
      config: loaded.config,
      catalog: loaded.catalog,
      root: loaded.root,
      compose: { file: join(loaded.root, 'docker-compose.yml'), services: [] },
      only: undefined,
      dockerAddress: '127.0.0.1',
      bindIp: '127.0.0.1',
      envName: 'dev',
    });
    expect(topology.notes).toEqual([]);
    expect(topology.processes.map((plan) => [plan.name, plan.provider, plan.workdir, plan.port])).toEqual([
      ['backend', 'deno-test', join(loaded.root, 'api'), 8123],
    ]);
    expect(topology.routes).toEqual([
      { domain: 'api.localhost', target: 'backend', upstream: 'localhost:8123' },
    ]);
    const plan = topology.processes[0]!;
    expect(plan.hooks.tools).toEqual([{ tool: 'git', why: 'the deno-test provider wants it' }]);
    const spec = processSpec(plan, {
      baseEnv: { PATH: '/bin' },
      readyTimeoutMs: undefined,
      caFile: undefined,
      color: false,
      tools: {},
      warn: () => undefined,
    });
    expect(spec).toEqual({
      name: 'backend',
      argv: ['deno', 'task', 'dev', '--port', '8123'],
      cwd: join(loaded.root, 'api'),
      env: { PATH: '/bin', DENO_DIR: join(loaded.root, 'api', '.deno') },
      readyPort: 8123,
      readyTimeoutMs: 1234,
      required: true,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 100,
    });
  });

  it('gives the deploy model the image it builds', () => {
    const loaded = loadWithTestProvider();
    const compose: ComposeProject = { services: { api: { image: 'p-api' } } };
    const model = buildEnvironmentModel(loaded, compose);
    expect(model.services.find((service) => service.name === 'api')?.build).toEqual({
      fromCompose: false,
      context: join(loaded.root, 'api'),
      dockerfile: undefined,
      target: 'prod',
      args: { DENO: '2' },
    });
  });

  it("builds for the compose service's platform, as docker compose build does (case 11's kind)", () => {
    const loaded = loadWithTestProvider();
    const compose: ComposeProject = { services: { api: { image: 'p-api', platform: 'linux/amd64' } } };
    const model = buildEnvironmentModel(loaded, compose);
    expect(model.services.find((service) => service.name === 'api')?.build?.platform).toBe('linux/amd64');
    const argv = buildArgs({ tags: ['r/p-api:v1'], context: '/x/api', platform: 'linux/amd64' });
    expect(argv).toEqual(['docker', 'build', '-t', 'r/p-api:v1', '--platform', 'linux/amd64', '/x/api']);
  });
});
