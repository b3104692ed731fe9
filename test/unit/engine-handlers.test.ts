import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { type HandlerDeps, stepHandler } from '../../src/engine/handlers.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import type { Action, Step } from '../../src/plan/types.js';
import {
  type RecordedCall,
  RecordingRunner,
  type RecordingRunnerOptions,
} from '../../src/runners/recording.js';
import type { Runner } from '../../src/runners/types.js';
import { ExternalError, UserError } from '../../src/util/errors.js';
import { Secret } from '../../src/util/secret.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;
const model = buildEnvironmentModel(
  load(
    `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web }
  db: { role: web }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }]
`,
    { envName: 'production' },
  ),
  compose,
);

const step = (action: Action, extra: Partial<Step> = {}): Step => ({
  id: `${action.kind}:x`,
  phase: 'rollout',
  host: { name: 'h1' },
  title: `the ${action.kind} step`,
  action,
  dependsOn: [],
  ...extra,
});

function harness(script: RecordingRunnerOptions['script'] = undefined) {
  const log: RecordedCall[] = [];
  const local = new RecordingRunner({ name: 'local', log, ...(script ? { script } : {}) });
  const h1 = new RecordingRunner({ name: 'h1', log, ...(script ? { script } : {}) });
  const injected: string[] = [];
  const deps: HandlerDeps = {
    model,
    runner: (host) => (host === undefined ? local : h1),
    pushed: {},
    lock: {
      acquire: async (runner: Runner, message: string) => {
        injected.push(`acquire ${runner.name} ${message}`);
      },
      release: async (runner: Runner) => {
        injected.push(`release ${runner.name}`);
      },
    },
    migrate: async (s, runner) => {
      injected.push(`migrate ${s.id} on ${runner.name}`);
      return '2 applied';
    },
    record: async () => {
      injected.push('record');
    },
  };
  const handle = stepHandler(deps);
  const signal = new AbortController().signal;
  const lines: string[] = [];
  return {
    log,
    deps,
    injected,
    lines,
    run: (s: Step) => handle(s, (line) => lines.push(line), signal),
    argv: () => log.flatMap((call) => (call.kind === 'exec' ? [`${call.host}: ${call.argv.join(' ')}`] : [])),
  };
}

const build: Action = {
  kind: 'build',
  service: 'api',
  image: 'r/shop-api:v1',
  argv: ['docker', 'build', '-t', 'r/shop-api:v1', '.'],
  existsArgv: ['docker', 'manifest', 'inspect', 'r/shop-api:v1'],
};

describe('stepHandler', () => {
  it('does not rebuild an image that exists', async () => {
    const h = harness();
    expect(await h.run(step(build, { host: undefined }))).toEqual({
      status: 'unchanged',
      detail: 'r/shop-api:v1 exists; not rebuilt',
    });
    expect(h.argv()).toEqual(['local: docker manifest inspect r/shop-api:v1']);
  });

  it('builds an image that does not exist yet, on this machine', async () => {
    const h = harness({ 'docker manifest inspect': { exitCode: 1, stderr: 'no such manifest' } });
    expect(await h.run(step(build, { host: undefined }))).toEqual({
      status: 'completed',
      detail: 'built r/shop-api:v1',
    });
    expect(h.argv()).toEqual([
      'local: docker manifest inspect r/shop-api:v1',
      'local: docker build -t r/shop-api:v1 .',
    ]);
  });

  it('pins a pushed image by the digest the registry gave', async () => {
    const h = harness({
      'docker image inspect': { stdout: '["r/shop-api@sha256:abc"]\n' },
    });
    const outcome = await h.run(
      step(
        {
          kind: 'push',
          service: 'api',
          image: 'r/shop-api:v1',
          argv: ['docker', 'push', 'r/shop-api:v1'],
          digestArgv: ['docker', 'image', 'inspect', '--format', '{{json .RepoDigests}}', 'r/shop-api:v1'],
        },
        { host: undefined },
      ),
    );
    expect(outcome).toEqual({ status: 'completed', detail: 'pushed r/shop-api@sha256:abc' });
    expect(h.deps.pushed).toEqual({ api: 'r/shop-api@sha256:abc' });
  });

  it('reports a failing hook (allowFailure) as the user’s error, with its last line', async () => {
    const h = harness({ '/p/hook': { exitCode: 3, stderr: 'checking\nmigrations pending\n' } });
    const hook = step({ kind: 'exec', argv: ['/p/hook'] }, { host: undefined, allowFailure: true });
    const error = await h.run(hook).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe('the exec step failed with exit code 3: migrations pending');
  });

  it('lets any other failing command fail as an external error (no allowFailure)', async () => {
    const h = harness({ cp: { exitCode: 1, stderr: 'No such file' } });
    const error = await h.run(step({ kind: 'exec', argv: ['cp', '-a', 'a', 'b'] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalError);
  });

  it('sends an exec step’s stdin (a secret env file’s lines) to the command, never into argv', async () => {
    const h = harness();
    await h.run(
      step({
        kind: 'exec',
        argv: ['set-lines', 'd/secrets/api.env', 'A'],
        stdin: new Secret('A="s3cret"\n'),
      }),
    );
    expect(h.log).toEqual([
      { kind: 'exec', host: 'h1', argv: ['set-lines', 'd/secrets/api.env', 'A'], stdin: '[secret]' },
    ]);
  });

  it('uploads to the step’s host with the planned mode', async () => {
    const h = harness();
    await h.run(
      step({
        kind: 'upload',
        path: 'd/compose.yml',
        content: 'services: {}\n',
        mode: 0o644,
        file: 'compose',
      }),
    );
    expect(h.log).toEqual([
      { kind: 'upload', host: 'h1', path: 'd/compose.yml', mode: 0o644, content: 'services: {}\n' },
    ]);
  });

  it('runs lock, migrate and record through what was injected, on the step’s runner', async () => {
    const h = harness();
    expect(await h.run(step({ kind: 'lock-acquire', message: 'deploy v1' }))).toEqual({
      status: 'completed',
      detail: 'lock held on h1',
    });
    expect(
      await h.run(step({ kind: 'migrate', database: 'main', strategy: 'pre_deploy', engine: 'raw' })),
    ).toEqual({ status: 'completed', detail: '2 applied' });
    await h.run(step({ kind: 'record' }, { host: undefined }));
    await h.run(step({ kind: 'lock-release' }));
    expect(h.injected).toEqual(['acquire h1 deploy v1', 'migrate migrate:x on h1', 'record', 'release h1']);
    expect(h.log).toEqual([]);
  });

  it('starts the gateway under the container and network names its action carries', async () => {
    const h = harness();
    const outcome = await h.run(
      step({
        kind: 'ingress',
        image: 'caddy:2',
        httpPort: 8080,
        httpsPort: 8443,
        container: 'gw-planned',
        network: 'net-planned',
        routes: [{ service: 'api', domains: ['api.shop.example'], port: 3000 }],
        tls: { mode: 'off' },
      }),
    );
    expect(outcome).toEqual({ status: 'completed', detail: 'ingress created' });
    expect(h.argv()).toContain(
      'h1: docker volume create --label stagecraft.ingress=gw-planned gw-planned-data',
    );
    // The ports container publishes the ports on the planned network; the gateway runs inside it.
    expect(h.argv()).toContain(
      'h1: docker create --name gw-planned-ports --restart unless-stopped --network net-planned -p 8080:80 --label stagecraft.ingress=gw-planned --label stagecraft.ingress-ports=8080:80 --sysctl net.ipv4.tcp_migrate_req=1 caddy:2 caddy run --config /etc/stagecraft/ports.json',
    );
    expect(h.argv()).toContain(
      'h1: docker run -d --name gw-planned --restart unless-stopped --network container:gw-planned-ports -v gw-planned-data:/data --label stagecraft.ingress=gw-planned --label stagecraft.ingress-data=gw-planned-data --label stagecraft.ingress-ports=8080:80 --label stagecraft.ingress-image=caddy:2 --label stagecraft.ingress-ports-container=gw-planned-ports caddy:2 caddy run --resume',
    );
    expect(h.argv().some((line) => line.includes(model.ingress.container))).toBe(false);
  });
});
