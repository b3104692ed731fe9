import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ComposeProject, ComposeService } from '../../src/compose/types.js';
import { keptImages, prepareDeploy } from '../../src/operations/deploy.js';
import { allSteps, type Plan, type Step } from '../../src/plan/types.js';
import { Ledger } from '../../src/state/ledger.js';
import { PHASES, type ReleaseRecord } from '../../src/state/types.js';
import { UserError } from '../../src/util/errors.js';
import {
  COMPOSE_FIDELITY_CASES,
  caseCopies,
  composeBuildArgv,
  composeBuildFile,
  composeCliAvailable,
  composeConfigOfText,
} from '../support/compose-fixtures.js';
import { planProject, projectContext, uploadedCompose, uploadedText } from '../support/prepare.js';

// Issue 11, kinds 3-8, on the inputs of test/fixtures/compose-fidelity, planned in-process with the
// real docker compose: what plan says and what a deploy would upload and run.

const cases = COMPOSE_FIDELITY_CASES;
/** A copy of a case folder, so a test can change files. */
const copyCase = caseCopies('stagecraft-fidelity-plan-');

/** Plans production of a copy of case 07 whose app/docker-compose.yml is `compose`. */
async function planCase07With(compose: string) {
  const dir = copyCase('07-bind-mount-outside-project');
  writeFileSync(join(dir, 'app/docker-compose.yml'), compose);
  return planProject(join(dir, 'app'), 'production');
}
const composeAvailable = composeCliAvailable();

describe.skipIf(!composeAvailable)('compose fidelity: health timing (kind 7)', { timeout: 60_000 }, () => {
  it('14: the wait covers start_period + probes, and plan shows it', async () => {
    const { plan, output } = await planProject(
      join(cases, '14-healthcheck-start-period-ignored'),
      'production',
    );
    const step = allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:ledger');
    // start_period 4m + interval 15s + 4 × (interval 15s + timeout 5s) = 5m35s
    expect(step?.action).toMatchObject({ kind: 'rollout', health: { timeoutMs: 335_000 } });
    expect(step?.title).toBe(
      'start-first ledger (1 replica) → ledger.bakery.example.test; healthy within 5m35s',
    );
    expect(output.warnings).toEqual([]);
  });

  it('14: timings without a test (the image’s own HEALTHCHECK) set the wait too', async () => {
    const dir = copyCase('14-healthcheck-start-period-ignored');
    const compose = join(dir, 'docker-compose.yml');
    writeFileSync(compose, readFileSync(compose, 'utf8').replace(/^ +test: .*\n/m, ''));
    expect(readFileSync(compose, 'utf8')).not.toContain('test:');
    const { plan } = await planProject(dir, 'production');
    const step = allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:ledger');
    expect(step?.action).toMatchObject({ kind: 'rollout', health: { timeoutMs: 335_000 } });
  });

  it('14: an explicit health_timeout shorter than the health check is kept, with a warning', async () => {
    const dir = copyCase('14-healthcheck-start-period-ignored');
    const file = join(dir, 'stagecraft.yml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('driver: ssh', 'driver: ssh\n    rollout: { health_timeout: 2m }'),
    );
    const { plan, output } = await planProject(dir, 'production');
    const step = allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:ledger');
    expect(step?.action).toMatchObject({ kind: 'rollout', health: { timeoutMs: 120_000 } });
    expect(output.warnings).toEqual([
      'rollout.health_timeout 2m is shorter than the 5m35s the health check of ledger may take (start_period 4m + interval 15s + 4 × (interval + timeout 5s)): a slow start fails the deploy',
    ]);
  });

  it('14: health.path in stagecraft.yml replaces the compose check, and its start_period sets the wait', async () => {
    const dir = copyCase('14-healthcheck-start-period-ignored');
    const file = join(dir, 'stagecraft.yml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'domains: [ledger.bakery.example.test] }',
        'domains: [ledger.bakery.example.test], health: { path: /up, start_period: 3m } }',
      ),
    );
    const { plan } = await planProject(dir, 'production');
    const step = allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:ledger');
    // start_period 3m + interval 2s + 3 × (interval 2s + timeout 5s) = 3m23s
    expect(step?.title).toBe(
      'start-first ledger (1 replica) → ledger.bakery.example.test; healthy within 3m23s',
    );
    expect(uploadedCompose(plan, 'web-1').services['ledger']!['healthcheck']).toEqual({
      test: [
        'CMD-SHELL',
        "wget -q -O /dev/null 'http://127.0.0.1:8080/up' 2>/dev/null || curl -fsS -o /dev/null 'http://127.0.0.1:8080/up' 2>/dev/null || node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' 'http://127.0.0.1:8080/up'",
      ],
      interval: '2s',
      timeout: '5s',
      retries: 3,
      start_period: '3m',
    });
  });

  it('a service without a health check waits the default 2m for 3s of running', async () => {
    const { plan } = await planProject(join(cases, '01-envfile-hash-in-value'), 'production');
    expect(allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:web')?.title).toBe(
      'start-first web (1 replica) → bakery.example.test; running 3s within 2m',
    );
  });
});

describe.skipIf(!composeAvailable)('compose fidelity: build keys (kind 5)', { timeout: 60_000 }, () => {
  const buildOf = (plan: Plan, service: string) => {
    const step = allSteps(plan).find((candidate) => candidate.id === `build:${service}`);
    if (step?.action.kind !== 'build') throw new Error(`no build of ${service}`);
    return step.action;
  };

  it('11: platform and build.platforms reach the build (docker compose build on the build section)', async () => {
    const dir = join(cases, '11-build-platform-ignored');
    const { plan } = await planProject(dir, 'production');
    const build = buildOf(plan, 'api');
    expect(build.argv).toEqual(composeBuildArgv('api'));
    expect(parse(build.stdin ?? '')).toEqual(
      composeBuildFile(
        'api',
        'registry.example.test/bakery/bakery-api:v1',
        {
          context: join(dir, 'api'),
          dockerfile: 'Dockerfile',
          platforms: ['linux/amd64'],
          // The registry build cache (project.registry_cache defaults to true).
          cache_from: ['registry.example.test/bakery/bakery-api:buildcache'],
          cache_to: ['type=inline'],
        },
        { platform: 'linux/amd64' },
      ),
    );
  });

  it('11: dockerfile_inline is built, not a Dockerfile that is not there', async () => {
    const dir = join(cases, '11-build-platform-ignored/inline-dockerfile');
    const { plan } = await planProject(dir, 'production');
    expect(parse(buildOf(plan, 'api').stdin ?? '').services.api.build).toEqual({
      context: join(dir, 'api'),
      dockerfile_inline: 'FROM nginx:1.25\nRUN echo "inline build" > /usr/share/nginx/html/index.html\n',
      cache_from: ['registry.example.test/bakery/bakery-api:buildcache'],
      cache_to: ['type=inline'],
    });
  });

  it('build secrets travel as BuildKit secrets: a file stays a path, an environment value only in the env', async () => {
    const dir = copyCase('11-build-platform-ignored');
    writeFileSync(join(dir, 'npmrc.txt'), 'token\n');
    writeFileSync(join(dir, '.env.production'), 'NPM_TOKEN=npm-s3cr3t-token\n');
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      'services:\n  api:\n    build:\n      context: ./api\n      secrets: [npmrc, npm_token]\n      ssh: [default]\n      cache_from: ["type=registry,ref=registry.example.test/cache"]\n      additional_contexts: { shared: ./api }\nsecrets:\n  npmrc: { file: ./npmrc.txt }\n  npm_token: { environment: NPM_TOKEN }\n',
    );
    const file = join(dir, 'stagecraft.yml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('driver: ssh', 'driver: ssh\n    env_file: .env.production'),
    );
    const { plan } = await planProject(dir, 'production');
    const build = buildOf(plan, 'api');
    expect(build.stdin).not.toContain('npm-s3cr3t-token');
    expect(parse(build.stdin ?? '')).toEqual({
      ...composeBuildFile('api', 'registry.example.test/bakery/bakery-api:v1', {
        context: join(dir, 'api'),
        dockerfile: 'Dockerfile',
        secrets: [{ source: 'npmrc' }, { source: 'npm_token' }],
        ssh: ['default'],
        cache_from: ['type=registry,ref=registry.example.test/cache'],
        additional_contexts: { shared: join(dir, 'api') },
      }),
      secrets: { npm_token: { environment: 'NPM_TOKEN' }, npmrc: { file: join(dir, 'npmrc.txt') } },
    });
    expect(Object.fromEntries(Object.entries(build.env ?? {}).map(([k, v]) => [k, v.reveal()]))).toEqual({
      NPM_TOKEN: 'npm-s3cr3t-token',
    });
  });

  it('more than one build platform is refused at plan, naming the service', async () => {
    const dir = copyCase('11-build-platform-ignored');
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      'services:\n  api:\n    build:\n      context: ./api\n      platforms: [linux/amd64, linux/arm64]\n',
    );
    const error = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(
      'service api: build.platforms lists 2 platforms (linux/amd64, linux/arm64); Stagecraft builds one image per service',
    );
  });
});

describe.skipIf(!composeAvailable)(
  'compose fidelity: local files reach the hosts (kind 3)',
  { timeout: 60_000 },
  () => {
    const uploads = (plan: Plan, host: string) =>
      allSteps(plan)
        .filter((step) => step.host?.name === host && step.action.kind === 'upload')
        .map((step) => {
          const action = step.action as Extract<Step['action'], { kind: 'upload' }>;
          return [action.path.replace(/^.*\/releases\/[^/]+\//, ''), action.mode.toString(8)];
        });

    it('06: a bind-mounted folder is uploaded file by file beside the compose file', async () => {
      const { plan } = await planProject(join(cases, '06-bind-mount-directory'), 'production');
      expect(uploads(plan, 'web-1')).toEqual([
        ['compose.yml', '644'],
        ['conf.d/default.conf', '644'],
      ]);
      expect(uploadedText(plan, 'web-1', 'conf.d/default.conf')).toBe(
        'server { listen 80; location / { return 200 "fresh bread\\n"; } }\n',
      );
      expect(uploadedCompose(plan, 'web-1').services['web']?.['volumes']).toEqual([
        {
          type: 'bind',
          source: './conf.d',
          target: '/etc/nginx/conf.d',
          read_only: true,
          bind: { create_host_path: true },
        },
      ]);
    });

    it('06: a file only its owner may read here (a TLS key) stays private on the hosts; an executable stays one', async () => {
      const dir = copyCase('06-bind-mount-directory');
      writeFileSync(join(dir, 'conf.d', 'tls.key'), 'PRIVATE KEY\n', { mode: 0o600 });
      writeFileSync(join(dir, 'conf.d', 'reload.sh'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(dir, 'conf.d', 'private.sh'), '#!/bin/sh\n', { mode: 0o700 });
      chmodSync(join(dir, 'conf.d', 'tls.key'), 0o600);
      chmodSync(join(dir, 'conf.d', 'private.sh'), 0o700);
      const { plan } = await planProject(dir, 'production');
      expect(uploads(plan, 'web-1')).toEqual([
        ['compose.yml', '644'],
        ['conf.d/default.conf', '644'],
        ['conf.d/private.sh', '700'],
        ['conf.d/reload.sh', '755'],
        ['conf.d/tls.key', '600'],
      ]);
    });

    it("${COMPOSE_PROJECT_NAME} and default names are the compose project the hosts run, not the file's name:", async () => {
      const dir = copyCase('06-bind-mount-directory');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        `name: oven
services:
  web:
    image: nginx:1.25
    environment:
      PROJECT: \${COMPOSE_PROJECT_NAME}
    volumes:
      - ./conf.d:/etc/nginx/conf.d:ro
      - cache:/var/cache/nginx
volumes:
  cache: {}
`,
      );
      const { plan } = await planProject(dir, 'production');
      const compose = uploadedCompose(plan, 'web-1');
      // What `docker compose -p bakery-production` makes of the file on the host.
      expect(compose.name).toBe('bakery-production');
      expect(compose.services['web']?.['environment']).toEqual({ PROJECT: 'bakery-production' });
      expect(compose.volumes).toEqual({ cache: {} });
    });

    it('a service whose image another service builds runs the image this release built, as compose runs it', async () => {
      const dir = copyCase('06-bind-mount-directory');
      mkdirSync(join(dir, 'app'));
      writeFileSync(join(dir, 'app', 'Dockerfile'), 'FROM busybox:1.36\n');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        `services:
  web:
    build: ./app
    image: acme/shop:dev
  worker:
    image: docker.io/acme/shop:dev
    command: ["sleep", "2d"]
`,
      );
      const config = join(dir, 'stagecraft.yml');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace(
          '  name: bakery\n',
          '  name: bakery\n  registry: registry.example.test/bakery\n',
        ),
      );
      const { plan } = await planProject(dir, 'production');
      const compose = uploadedCompose(plan, 'web-1');
      const built = `registry.example.test/bakery/bakery-web:${plan.version}`;
      expect(compose.services['web']?.['image']).toBe(built);
      expect(compose.services['worker']?.['image']).toBe(built);
      // Without a registry the image goes over SSH once, for both.
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace('  registry: registry.example.test/bakery\n', ''),
      );
      const overSsh = (await planProject(dir, 'production')).plan;
      const ids = allSteps(overSsh).map((step) => step.id);
      expect(ids.filter((id) => id.startsWith('transfer:'))).toEqual(['transfer:web-1:web']);
      // --services worker builds web's image too: worker runs it.
      const context = projectContext(dir, 'production');
      context.globals.services = ['worker'];
      const scoped = (await prepareDeploy(context, { version: 'v1', planOnly: true })).plan;
      expect(
        allSteps(scoped)
          .map((step) => step.id)
          .filter((id) => /^(build|save|transfer):/.test(id)),
      ).toEqual(['build:web', 'save:web', 'transfer:web-1:web']);
      // worker waits for the image it runs to be on the host.
      expect(allSteps(overSsh).find((step) => step.id === 'rollout:web-1:worker')?.dependsOn).toContain(
        'transfer:web-1:web',
      );
      expect(allSteps(overSsh).find((step) => step.id === 'pull:web-1')).toBeUndefined();
      expect(uploadedCompose(overSsh, 'web-1').services['worker']?.['image']).toBe(
        `bakery-web:${overSsh.version}`,
      );
    });

    it('--services api keeps the image the current release runs for every other built service (its new tag was never built)', async () => {
      const dir = copyCase('18-removed-service-left-running');
      mkdirSync(join(dir, 'app'), { recursive: true });
      writeFileSync(join(dir, 'app', 'Dockerfile'), 'FROM busybox:1.36\n');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    build: ./app\n  api:\n    build: ./app\n',
      );
      const config = join(dir, 'stagecraft.yml');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace('services:\n', 'services:\n  api: { role: web }\n'),
      );
      const scoped = async () => {
        const context = projectContext(dir, 'production');
        context.globals.services = ['api'];
        return {
          ...(await prepareDeploy(context, { version: 'v2', planOnly: true })),
          output: context.output,
        };
      };
      // No release recorded: a plan (which reads no host) says so; a deploy (lock host's history too) refuses.
      const unknown = await scoped();
      expect(unknown.output.warnings).toContain(
        "--services api: web keeps the image the running release has, which this machine's ledger does not record; the plan shows the new tag (a deploy reads the lock host's history)",
      );
      const context = projectContext(dir, 'production');
      expect(() => keptImages(context, unknown.env, ['api'], undefined, false)).toThrow(
        "--services api leaves out web, which runs a built image, and no completed release of production (in this machine's ledger or the lock host's history) records it",
      );
      // Without a registry the images go over SSH, under their tags.
      const webImage = 'bakery-web:v1';
      await new Ledger({ projectRoot: dir, env: {} }).create({
        id: 'rel-20261201-100000000',
        environment: 'production',
        version: 'v1',
        commit_sha: 'abc123',
        timestamp: '2026-12-01T10:00:00.000Z',
        phases: Object.fromEntries(PHASES.map((phase) => [phase, 'completed'])) as ReleaseRecord['phases'],
        kind: 'deploy',
        images: { web: webImage, api: 'bakery-api:v1' },
        hosts: {},
        deployer: { user: 'ci', machine: 'laptop', ci: false },
      });
      const { plan } = await scoped();
      expect(
        allSteps(plan)
          .filter((step) => step.action.kind === 'build')
          .map((step) => step.id),
      ).toEqual(['build:api']);
      const compose = uploadedCompose(plan, 'web-1');
      expect(compose.services['web']?.['image']).toBe(webImage);
      expect(compose.services['api']?.['image']).toBe('bakery-api:v2');
    });

    it('network_mode: host needs stop-first, and a routed service cannot use it (the gateway joins it on no network)', async () => {
      const dir = copyCase('18-removed-service-left-running');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    network_mode: host\n',
      );
      const problems = async () =>
        ((await planProject(dir, 'production').catch((error: unknown) => error)) as UserError).details;
      expect(await problems()).toEqual([
        'service web uses network_mode: host, so the gateway cannot route bakery.localhost to it (its containers join no network the gateway is on): remove network_mode, or remove services.web.domains and reach it by a host port',
        'service web uses network_mode: host, so a new container cannot start beside the old one: set services.web.rollout: stop-first',
      ]);
      const config = join(dir, 'stagecraft.yml');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace(
          '  web: { role: web, port: 80, domains: [bakery.localhost] }',
          '  web: { role: web, rollout: stop-first }',
        ),
      );
      expect((await planProject(dir, 'production')).plan.phases.length).toBeGreaterThan(0);
    });

    it("07: a volume whose driver_opts.device is a project folder (this machine's path) is refused at its key", async () => {
      const dir = copyCase('06-bind-mount-directory');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    volumes: [data:/srv]\nvolumes:\n  data:\n    driver_opts: { type: none, o: bind, device: ./conf.d }\n',
      );
      const error = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toBe(
        `docker-compose.yml:7:41 volume data: driver_opts.device ./conf.d is a folder of this machine's project (${join(dir, 'conf.d')}), which the hosts do not have`,
      );
      // Outside the project too: compose made `../outside` this machine's path.
      mkdirSync(join(dir, '..', 'outside-device'), { recursive: true });
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    volumes: [data:/srv]\nvolumes:\n  data:\n    driver: local\n    driver_opts: { type: none, o: bind, device: ../outside-device }\n',
      );
      const outside = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
      expect(outside.message).toBe(
        `docker-compose.yml:8:41 volume data: driver_opts.device is a relative path, which compose made this machine's ${join(dir, '..', 'outside-device')}: the hosts do not have it`,
      );
    });

    it("a build from another service's image (additional_contexts service:) is refused at plan; a built image's pull_policy is dropped", async () => {
      const dir = copyCase('06-bind-mount-directory');
      mkdirSync(join(dir, 'app'));
      writeFileSync(join(dir, 'app', 'Dockerfile'), 'FROM busybox:1.36\n');
      const compose = join(dir, 'docker-compose.yml');
      writeFileSync(
        compose,
        'services:\n  web:\n    pull_policy: always\n    build:\n      context: ./app\n      additional_contexts: { base: "service:base" }\n  base:\n    build: ./app\n',
      );
      const error = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
      expect(error.message).toBe(
        'service web: build.additional_contexts.base is service:base, the image of another service, which Stagecraft does not build first',
      );
      writeFileSync(
        compose,
        'services:\n  web:\n    pull_policy: always\n    build: ./app\n    develop:\n      watch: [{ action: sync, path: ./app, target: /app }]\n',
      );
      const { plan } = await planProject(dir, 'production');
      expect(uploadedCompose(plan, 'web-1').services['web']).not.toHaveProperty('pull_policy');
      // `develop.watch` is the laptop's (`docker compose watch`), with the laptop's paths.
      expect(uploadedCompose(plan, 'web-1').services['web']).not.toHaveProperty('develop');
    });

    it("a mounted folder that holds the environment's env file is named in a warning (its secrets go to the hosts)", async () => {
      const dir = copyCase('06-bind-mount-directory');
      writeFileSync(join(dir, 'conf.d', 'production.env'), 'API_TOKEN=t0ken-Value\n');
      const config = join(dir, 'stagecraft.yml');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace(
          '    driver: ssh\n',
          '    driver: ssh\n    env_file: conf.d/production.env\n',
        ),
      );
      // A compose secret's own file (uploaded 0600) is not inside a mounted folder: no warning.
      writeFileSync(join(dir, 'db_password.txt'), 'hunter2-secret');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    volumes: ["./conf.d:/etc/nginx/conf.d:ro"]\n    secrets: [db_password]\nsecrets:\n  db_password:\n    file: ./db_password.txt\n',
      );
      const { output } = await planProject(dir, 'production');
      expect(output.warnings.filter((warning) => warning.includes('(a compose secret'))).toEqual([]);
      expect(output.warnings.filter((warning) => warning.includes('production.env'))).toEqual([
        'conf.d/production.env (an env file stagecraft.yml names) is inside ./conf.d, which a service mounts: it is uploaded to the hosts with the folder (mode 0644) and the container can read it; move it out of the folder unless the app reads it there',
      ]);
    });

    it('a routed service that rolls out stop-first (a fixed host port) is warned of: its requests fail meanwhile', async () => {
      const dir = copyCase('06-bind-mount-directory');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    ports: ["8080:80"]\n',
      );
      const { output } = await planProject(dir, 'production');
      expect(output.warnings).toEqual([
        'service web is routed (bakery.example.test) but rolls out stop-first (it publishes host port 8080): its requests fail while the new container starts; publish no fixed host port (the gateway reaches it without one) to deploy it without dropping requests',
      ]);
    });

    it("a build FROM another service's built image runs after it, and that image gets its compose name too", async () => {
      const dir = copyCase('06-bind-mount-directory');
      for (const folder of ['app', 'base']) mkdirSync(join(dir, folder));
      writeFileSync(join(dir, 'base', 'Dockerfile'), 'FROM busybox:1.36\n');
      writeFileSync(
        join(dir, 'app', 'Dockerfile'),
        'FROM --platform=linux/amd64 acme/base:local AS runtime\nFROM runtime\n',
      );
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    build: ./app\n  base:\n    build: ./base\n    image: acme/base:local\n    scale: 0\n',
      );
      const { plan } = await planProject(dir, 'production');
      const builds = allSteps(plan).filter((step) => step.action.kind === 'build');
      expect(builds.map((step) => [step.id, step.dependsOn])).toEqual([
        ['build:base', []],
        ['build:web', ['build:base']],
      ]);
      const baseFile = parse((builds[0]!.action as { stdin: string }).stdin) as ComposeProject;
      expect((baseFile.services['base'] as ComposeService).build).toMatchObject({
        tags: ['acme/base:local'],
      });
    });

    it('a stagecraft.yml service that a disabled compose profile leaves out is named with its place and the fix', async () => {
      const dir = copyCase('18-removed-service-left-running');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n  worker:\n    image: busybox:1.36\n    profiles: [jobs]\n',
      );
      const config = join(dir, 'stagecraft.yml');
      writeFileSync(
        config,
        readFileSync(config, 'utf8').replace('services:\n', 'services:\n  worker: { role: web }\n'),
      );
      const error = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
      expect(error.details).toEqual([
        'services.worker is in the compose file (docker-compose.yml:4:3) but compose leaves it out: its profile is not enabled: list the profile under compose.profiles in stagecraft.yml, or remove services.worker',
      ]);
    });

    it('06: a mounted folder whose name has a $ is uploaded (compose writes it $$); a config file of the whole project is refused', async () => {
      const dir = copyCase('06-bind-mount-directory');
      mkdirSync(join(dir, 'conf$x'));
      writeFileSync(join(dir, 'conf$x', 'a.conf'), 'hi\n');
      const compose = join(dir, 'docker-compose.yml');
      writeFileSync(
        compose,
        'services:\n  web:\n    image: nginx:1.25\n    volumes: ["./conf$$x:/etc/c:ro"]\n',
      );
      const { plan } = await planProject(dir, 'production');
      expect(uploads(plan, 'web-1')).toEqual([
        ['compose.yml', '644'],
        ['conf$x/a.conf', '644'],
      ]);
      // Escaped as compose escapes it: the host's compose reads ./conf$x.
      expect(uploadedCompose(plan, 'web-1').services['web']?.['volumes']).toMatchObject([
        { source: './conf$$x' },
      ]);
      writeFileSync(
        compose,
        'services:\n  web:\n    image: nginx:1.25\n    configs: [all]\nconfigs:\n  all:\n    file: .\n',
      );
      const error = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
      expect(error.message).toBe(
        'docker-compose.yml:7:5 compose config all: its file is the whole project folder, which is not uploaded to the hosts',
      );
    });

    it('a named volume mounted on two hosts gets a warning: each host has its own, compose meant one', async () => {
      const dir = copyCase('18-removed-service-left-running');
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        readFileSync(join(dir, 'stagecraft.yml'), 'utf8').replace(
          '        - { name: web-1, address: 192.0.2.10 }\n',
          '        - { name: web-1, address: 192.0.2.10 }\n        - { name: web-2, address: 192.0.2.12 }\n',
        ),
      );
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    volumes: [uploads:/srv/uploads, nfs:/srv/nfs]\nvolumes:\n  uploads: {}\n  nfs: { driver_opts: { type: nfs, o: addr=10.0.0.9, device: ":/x" } }\n',
      );
      const { output } = await planProject(dir, 'production');
      expect(output.warnings.filter((warning) => warning.startsWith('volume '))).toEqual([
        "volume uploads is mounted on 2 hosts by web (web-1, web-2): each host has its own uploads, so they do not share its files as compose's one volume would: run them on one host, or use a volume driver that shares (e.g. NFS)",
      ]);
    });

    it('06: an empty folder in a mounted folder is created on the hosts (git keeps none; the container sees it)', async () => {
      const dir = copyCase('06-bind-mount-directory');
      mkdirSync(join(dir, 'conf.d', 'snippets', 'extra'), { recursive: true });
      const { plan } = await planProject(dir, 'production');
      expect(uploads(plan, 'web-1')).toEqual([
        ['compose.yml', '644'],
        ['conf.d/default.conf', '644'],
      ]);
      const folder = allSteps(plan).find((step) => step.id === 'folder:web-1:conf.d/snippets/extra');
      expect(folder?.action).toEqual({
        kind: 'exec',
        argv: [
          'mkdir',
          '-p',
          '-m',
          '0755',
          '--',
          expect.stringMatching(/\/releases\/[^/]+\/conf\.d\/snippets\/extra$/),
        ],
      });
      expect(folder?.dependsOn).toEqual(['prepare:web-1']);
    });

    it('06: a folder mounted read-write is uploaded too, with a warning that what the container writes stays behind', async () => {
      const readOnly = await planProject(join(cases, '06-bind-mount-directory'), 'production');
      expect(readOnly.output.warnings.filter((warning) => warning.includes('read-write'))).toEqual([]);
      const dir = copyCase('06-bind-mount-directory');
      const compose = join(dir, 'docker-compose.yml');
      writeFileSync(
        compose,
        readFileSync(compose, 'utf8').replace(':/etc/nginx/conf.d:ro', ':/etc/nginx/conf.d'),
      );
      const { output } = await planProject(dir, 'production');
      expect(output.warnings).toContain(
        'service web mounts ./conf.d read-write at /etc/nginx/conf.d: every release gets its own copy from this machine, so what the container writes there stays behind with that release: keep data in a named volume, or mount it :ro',
      );
      // A single file too (a SQLite database): its writes stay behind the same way.
      writeFileSync(join(dir, 'db.sqlite3'), '');
      writeFileSync(
        compose,
        readFileSync(compose, 'utf8').replace(
          ':/etc/nginx/conf.d\n',
          ':/etc/nginx/conf.d:ro\n      - ./db.sqlite3:/app/db.sqlite3\n',
        ),
      );
      expect(
        (await planProject(dir, 'production')).output.warnings.filter((warning) =>
          warning.includes('read-write'),
        ),
      ).toEqual([
        'service web mounts ./db.sqlite3 read-write at /app/db.sqlite3: every release gets its own copy from this machine, so what the container writes there stays behind with that release: keep data in a named volume, or mount it :ro',
      ]);
    });

    it('06: a source that does not exist is a user error naming the service, the mount and what to do', async () => {
      const error = (await planProject(
        join(cases, '06-bind-mount-directory/missing-source'),
        'production',
      ).catch((caught: unknown) => caught)) as UserError;
      expect(error).toBeInstanceOf(UserError);
      expect(error.exitCode).toBe(1);
      expect(error.message).toBe(
        'docker-compose.yml:6:9 service web: the bind mount ./htpasswd:/etc/nginx/htpasswd: ./htpasswd does not exist in the project folder',
      );
      expect(error.hint).toBe(
        'create ./htpasswd (Stagecraft uploads it to the hosts), or mount an absolute path that exists on every host, or use a named volume',
      );
    });

    it('07: a relative source outside the project is refused, never shipped as this machine’s path', async () => {
      const error = (await planProject(join(cases, '07-bind-mount-outside-project/app'), 'production').catch(
        (caught: unknown) => caught,
      )) as UserError;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toBe(
        'docker-compose.yml:6:9 service web: the bind mount ../shared/ovens.conf:/etc/bakery/ovens.conf is outside the project folder, so it cannot be uploaded to the hosts',
      );
    });

    it('07: a source built from $PWD or $HOME is this machine’s folder too, and so is one of an active profile', async () => {
      const refusal = async (compose: string, profiles?: string) => {
        const dir = copyCase('07-bind-mount-outside-project');
        writeFileSync(join(dir, 'app/docker-compose.yml'), compose);
        if (profiles !== undefined) {
          const config = readFileSync(join(dir, 'app/stagecraft.yml'), 'utf8');
          writeFileSync(join(dir, 'app/stagecraft.yml'), `compose: { profiles: [${profiles}] }\n${config}`);
        }
        return (
          (await planProject(join(dir, 'app'), 'production').catch((caught: unknown) => caught)) as Error
        ).message;
      };
      expect(
        await refusal(
          'services:\n  web:\n    image: nginx:1.25\n    volumes: ["${PWD}/../shared:/etc/bakery:ro"]\n',
        ),
      ).toMatch(
        /^docker-compose\.yml:4:15 service web: the bind mount \S+:\/etc\/bakery is outside the project folder/,
      );
      expect(
        await refusal(
          'services:\n  web:\n    image: nginx:1.25\n    volumes: ["$HOME/.aws:/root/.aws:ro"]\n',
        ),
      ).toBe(
        `docker-compose.yml:4:15 service web: the bind mount ~/.aws:/root/.aws is in this machine's home folder (${homedir()}), which the hosts do not have`,
      );
      const withProfile =
        'services:\n  web:\n    image: nginx:1.25\n  backup:\n    image: busybox\n    profiles: [ops]\n    volumes: ["../shared/ovens.conf:/etc/ovens.conf:ro"]\n';
      expect(await refusal(withProfile, 'ops')).toBe(
        'docker-compose.yml:7:15 service backup: the bind mount ../shared/ovens.conf:/etc/ovens.conf is outside the project folder, so it cannot be uploaded to the hosts',
      );
    });

    it('an absolute host path stays a host path', async () => {
      const { plan } = await planCase07With(
        'services:\n  web:\n    image: nginx:1.25\n    volumes:\n      - /srv/bakery/ovens.conf:/etc/bakery/ovens.conf:ro\n',
      );
      expect(uploadedCompose(plan, 'web-1').services['web']?.['volumes']).toMatchObject([
        { type: 'bind', source: '/srv/bakery/ovens.conf', target: '/etc/bakery/ovens.conf' },
      ]);
    });

    it('07: the project folder itself, or a secret file outside it, is refused too', async () => {
      const dir = copyCase('07-bind-mount-outside-project');
      const refusal = async (compose: string) => {
        writeFileSync(join(dir, 'app/docker-compose.yml'), compose);
        return (
          (await planProject(join(dir, 'app'), 'production').catch((caught: unknown) => caught)) as Error
        ).message;
      };
      expect(
        await refusal('services:\n  web:\n    image: nginx:1.25\n    volumes: [".:/srv/app:ro"]\n'),
      ).toBe(
        'docker-compose.yml:4:15 service web: the bind mount at /srv/app mounts the whole project folder, which is not uploaded to the hosts',
      );
      expect(
        await refusal(
          'services:\n  web: { image: nginx:1.25, secrets: [ovens] }\nsecrets:\n  ovens: { file: ../shared/ovens.conf }\n',
        ),
      ).toBe(
        'docker-compose.yml:4:12 compose secret ovens: ../shared/ovens.conf is outside the project folder, so it cannot be uploaded to the hosts',
      );
    });

    it('a volume or network name the file pins is kept; a derived one follows the host project', async () => {
      const { plan } = await planCase07With(
        [
          'name: bakery',
          'services:',
          '  web: { image: nginx:1.25, volumes: [pgdata:/data, cache:/cache], networks: [backend] }',
          'volumes:',
          '  pgdata: { name: bakery_pgdata }',
          '  cache: {}',
          'networks:',
          '  backend: { name: bakery_backend }',
          '',
        ].join('\n'),
      );
      const document = uploadedCompose(plan, 'web-1');
      expect(document['volumes']).toEqual({ pgdata: { name: 'bakery_pgdata' }, cache: {} });
      expect(document['networks']).toEqual({ backend: { name: 'bakery_backend', ipam: {} } });
    });

    it("stagecraft.yml's environment (project block, then the environment's) and stop_timeout reach the containers", async () => {
      const dir = copyCase('07-bind-mount-outside-project');
      const app = join(dir, 'app');
      writeFileSync(
        join(app, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    environment: { FROM_COMPOSE: "yes", SHOP_MODE: test }\n',
      );
      writeFileSync(
        join(app, 'stagecraft.yml'),
        [
          'project: { name: bakery }',
          'services:',
          '  web:',
          '    role: web',
          '    port: 80',
          '    domains: [bakery.example.test]',
          '    stop_timeout: 45s',
          '    environment: { SHOP_MODE: live, REGION: us, SESSION_SECRET: Rye-Sourdough-2026 }',
          'environments:',
          '  production:',
          '    driver: ssh',
          '    hosts: { web: [{ name: web-1, address: 192.0.2.10 }] }',
          '    services: { web: { environment: { REGION: eu } } }',
          '',
        ].join('\n'),
      );
      const { plan } = await planProject(app, 'production');
      const web = uploadedCompose(plan, 'web-1').services['web']!;
      expect(web.environment).toEqual({ FROM_COMPOSE: 'yes', REGION: 'eu', SHOP_MODE: 'live' });
      expect(web['stop_grace_period']).toBe('45s');
      expect(web['env_file']).toEqual(['secrets/web.env']);
      expect(uploadedText(plan, 'web-1', 'secrets/web.env')).toBe('SESSION_SECRET="Rye-Sourdough-2026"\n');
    });

    it('keys that look like dates or numbers, and values with NEL, U+2028 or DEL, reach the host as compose reads them', async () => {
      const compose = [
        'services:',
        '  web:',
        '    image: nginx:1.25',
        '    labels: { "2001-12-14": a, "1_000": b, "0b11": c, "-0x1F": d, "yes": e, "plain.key": f }',
        '    environment: { BANNER: "caf\\u0085e", WIDE: "hello \\u2028world", DEL: "x\\u007fy" }',
        '',
      ].join('\n');
      const { plan } = await planCase07With(compose);
      const printed = (text: string) => {
        const model = composeConfigOfText<{
          services: { web: { labels: Record<string, string>; environment: Record<string, string> } };
        }>(text);
        const { 'stagecraft.spec-hash': _hash, ...labels } = model.services.web.labels;
        return { labels, environment: model.services.web.environment };
      };
      const host = printed(uploadedText(plan, 'web-1', 'compose.yml'));
      expect(host).toEqual(printed(compose));
      expect(host.environment).toEqual({ BANNER: 'caf\u0085e', WIDE: 'hello \u2028world', DEL: 'x\u007fy' });
    });

    it('a literal $ in a label key reaches the host as compose reads it (keys are not interpolated)', async () => {
      const compose =
        'services:\n  web:\n    image: nginx:1.25\n    labels:\n      key$$dollar: "v$$al"\n      price$: "5"\n';
      const { plan } = await planCase07With(compose);
      const host = uploadedText(plan, 'web-1', 'compose.yml');
      const labels = (text: string) => {
        const printed = composeConfigOfText<{ services: { web: { labels: Record<string, string> } } }>(text);
        const { 'stagecraft.spec-hash': _hash, ...rest } = printed.services.web.labels;
        return rest;
      };
      expect(labels(host)).toEqual({ key$$$$dollar: 'v$$al', price$$: '5' });
      expect(labels(host)).toEqual(labels(compose));
    });

    it('a volume or network name pinned in an included file, or through a merge key, is kept too', async () => {
      const dir = copyCase('07-bind-mount-outside-project');
      writeFileSync(
        join(dir, 'app/db.yml'),
        'services:\n  db: { image: postgres:16, volumes: [pgdata:/data], networks: [back] }\nvolumes:\n  pgdata: { name: bakery_pgdata }\nnetworks:\n  back: { name: bakery_back }\n',
      );
      writeFileSync(
        join(dir, 'app/docker-compose.yml'),
        [
          'name: bakery',
          'include: [db.yml]',
          'x-pinned: &pinned { name: bakery_cache }',
          'services:',
          '  web: { image: nginx:1.25, volumes: [cache:/cache, scratch:/scratch] }',
          'volumes:',
          '  cache: { <<: *pinned }',
          '  scratch: {}',
          '',
        ].join('\n'),
      );
      const { plan } = await planProject(join(dir, 'app'), 'production');
      const document = uploadedCompose(plan, 'web-1');
      expect(document['volumes']).toEqual({
        cache: { name: 'bakery_cache' },
        pgdata: { name: 'bakery_pgdata' },
        scratch: {},
      });
      expect(document['networks']).toMatchObject({ back: { name: 'bakery_back' } });
    });

    it('a compose file in a subfolder takes its relative paths from its own folder, as docker compose does', async () => {
      const dir = copyCase('07-bind-mount-outside-project');
      const app = join(dir, 'app');
      mkdirSync(join(app, 'deploy', 'conf'), { recursive: true });
      writeFileSync(join(app, 'deploy', 'conf', 'ovens.conf'), 'deploy folder\n');
      writeFileSync(join(app, 'deploy', 'app.env'), 'SETTING=from-deploy-folder\n');
      writeFileSync(join(app, 'app.env'), 'SETTING=from-project-folder\n');
      writeFileSync(
        join(app, 'deploy', 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    env_file: app.env\n    volumes: ["./conf/ovens.conf:/etc/ovens.conf:ro"]\n',
      );
      const config = readFileSync(join(app, 'stagecraft.yml'), 'utf8');
      writeFileSync(
        join(app, 'stagecraft.yml'),
        config.replace('services:', 'compose: { file: deploy/docker-compose.yml }\nservices:'),
      );
      const { plan } = await planProject(app, 'production');
      const web = uploadedCompose(plan, 'web-1').services['web'];
      expect(web?.['environment']).toMatchObject({ SETTING: 'from-deploy-folder' });
      expect(web?.['volumes']).toMatchObject([{ type: 'bind', source: './deploy/conf/ovens.conf' }]);
      expect(uploadedText(plan, 'web-1', 'deploy/conf/ovens.conf')).toBe('deploy folder\n');
    });

    it('10: a compose secret from environment: becomes a 0600 file on the host', async () => {
      const { plan } = await planProject(join(cases, '10-compose-secret-from-environment'), 'production');
      expect(uploads(plan, 'web-1')).toEqual([
        ['compose.yml', '644'],
        ['secrets/payment_key.secret', '600'],
      ]);
      expect(uploadedText(plan, 'web-1', 'secrets/payment_key.secret')).toBe('pk-sourdough-0123456789');
      const document = uploadedCompose(plan, 'web-1');
      expect(document['secrets']).toEqual({ payment_key: { file: './secrets/payment_key.secret' } });
      expect(JSON.stringify(document)).not.toContain('pk-sourdough');
    });
  },
);

describe.skipIf(!composeAvailable)(
  'compose fidelity: plan validates what it renders (kind 4)',
  { timeout: 60_000 },
  () => {
    const refusal = async (dir: string) =>
      (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;

    it('09: replicas with a fixed container_name is refused at plan', async () => {
      const error = await refusal(join(cases, '09-container-name-with-replicas'));
      expect(error).toBeInstanceOf(UserError);
      expect(error.details).toEqual([
        'service web: replicas 2 with container_name bakery-web cannot run (container names are unique): remove container_name or run 1 replica',
      ]);
    });

    it('09: replicas with a single fixed host port is refused at plan; a range of ports is not', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    ports: ["9000:9000/udp", "127.0.0.1:9100-9101:9100"]\n',
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        readFileSync(join(dir, 'stagecraft.yml'), 'utf8').replace(
          'replicas: 2',
          'replicas: 2, rollout: stop-first',
        ),
      );
      const error = await refusal(dir);
      expect(error).toBeInstanceOf(UserError);
      expect(error.details).toEqual([
        'service web: replicas 2 with host port 9000 cannot run (one container binds a host port): publish a range of 2 ports (e.g. 9000-9001), no host port, or run 1 replica',
      ]);
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    ports: ["9000-9001:9000/udp"]\n',
      );
      // Three containers, two ports.
      const config = readFileSync(join(dir, 'stagecraft.yml'), 'utf8');
      writeFileSync(join(dir, 'stagecraft.yml'), config.replace('replicas: 2', 'replicas: 3'));
      expect((await refusal(dir)).details).toEqual([
        'service web: replicas 3 with host port 9000-9001 cannot run (one container binds a host port): publish a range of 3 ports (e.g. 9000-9002), no host port, or run 1 replica',
      ]);
      writeFileSync(join(dir, 'stagecraft.yml'), config);
      const { plan } = await planProject(dir, 'production');
      expect(allSteps(plan).map((step) => step.title)).toContain(
        'stop-first web (2 replicas) → bakery.example.test; running 3s within 2m',
      );
    });

    it('scale: 0 stops a service and starts nothing; a routed service scaled to 0 is refused', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    scale: 0\n  worker:\n    image: busybox:1.36\n    deploy: { replicas: 0 }\n',
      );
      const config = readFileSync(join(dir, 'stagecraft.yml'), 'utf8').replace(', replicas: 2', '');
      writeFileSync(join(dir, 'stagecraft.yml'), config);
      expect((await refusal(dir)).details).toEqual([
        'service web: 0 replicas (compose scale or deploy.replicas), but it is routed (bakery.example.test): every request to it would fail: give it a replica, or remove services.web.domains to take it offline',
      ]);
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n  worker:\n    image: busybox:1.36\n    scale: 0\n',
      );
      const { plan } = await planProject(dir, 'production');
      const step = allSteps(plan).find((candidate) => candidate.id === 'rollout:web-1:worker');
      expect(step?.title).toBe(
        'scale worker to 0 replicas (compose scale or deploy.replicas): nothing starts',
      );
      expect(step?.action).toMatchObject({ kind: 'rollout', service: 'worker', replicas: 0 });
    });

    it('volumes_from a service on another host is refused before anything is rendered, naming both hosts', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    volumes_from: [files]\n  files:\n    image: busybox:1.36\n',
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        [
          'project: { name: bakery }',
          'services:',
          '  web: { role: web, port: 80, domains: [bakery.example.test] }',
          '  files: { role: files }',
          'environments:',
          '  production:',
          '    driver: ssh',
          '    hosts:',
          '      web: [{ name: web-1, address: 192.0.2.10 }]',
          '      files: [{ name: files-1, address: 192.0.2.11 }]',
          '',
        ].join('\n'),
      );
      const error = await refusal(dir);
      expect(error).toBeInstanceOf(UserError);
      expect(error.details).toEqual([
        'service web (on web-1) has volumes_from: files, but files runs on files-1, not on web-1: volumes_from joins containers on one Docker engine, so give both one role, or reach files by a published port',
      ]);
    });

    it('cross-service rules: image references, one domain per service, fixed ports start-first', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        [
          'services:',
          '  web:',
          '    image: Nginx:1.25',
          '  shop:',
          '    image: nginx:1.25',
          '    ports: ["8080:80"]',
          '    environment: { DB_URL: "postgres://db:5432/shop" }',
          '  db:',
          '    image: postgres:16',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        [
          'project: { name: bakery }',
          'services:',
          '  web: { role: web, port: 80, domains: [bakery.example.test] }',
          '  shop: { role: web, port: 80, domains: [bakery.example.test], rollout: start-first }',
          '  db: { role: db }',
          'environments:',
          '  production:',
          '    driver: ssh',
          '    hosts:',
          '      web: [{ name: web-1, address: 192.0.2.10 }]',
          '      db: [{ name: db-1, address: 192.0.2.11 }]',
          '',
        ].join('\n'),
      );
      const error = await refusal(dir);
      expect(error).toBeInstanceOf(UserError);
      expect(error.details).toEqual([
        'service shop publishes host port 8080, so a new container cannot start beside the old one: set services.shop.rollout: stop-first, or publish no fixed host port',
        'service web: image "Nginx:1.25" is not a valid image reference (lowercase name, optional registry, :tag or @digest)',
        'domain bakery.example.test is claimed by services shop and web: give each domain (and path prefix) to one service',
      ]);
    });

    it('09: an explicit start-first with a fixed container_name or IP address is refused', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        [
          'services:',
          '  web: { image: nginx:1.25, container_name: bakery-web }',
          '  shop:',
          '    image: nginx:1.25',
          '    networks: { back: { ipv4_address: 172.28.0.5 } }',
          'networks:',
          '  back: { ipam: { config: [{ subnet: 172.28.0.0/16 }] } }',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        [
          'project: { name: bakery }',
          'services:',
          '  web: { role: web, rollout: start-first }',
          '  shop: { role: web, rollout: start-first }',
          'environments:',
          '  production:',
          '    driver: ssh',
          '    hosts: { web: [{ name: web-1, address: 192.0.2.10 }] }',
          '',
        ].join('\n'),
      );
      const error = await refusal(dir);
      expect(error.details).toEqual([
        'service shop has ipv4_address 172.28.0.5, which two containers cannot share, so a new container cannot start beside the old one: set services.shop.rollout: stop-first, or remove it',
        'service web has container_name bakery-web, which two containers cannot share, so a new container cannot start beside the old one: set services.web.rollout: stop-first, or remove it',
      ]);
    });

    it('an override file beside the compose file, COMPOSE_FILE and COMPOSE_PROJECT_NAME are named: plain docker compose would use them', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  web:\n    image: nginx:1.25\n');
      const { output } = await planProject(dir, 'production');
      expect(output.warnings).toEqual([]);
      writeFileSync(
        join(dir, 'docker-compose.override.yml'),
        'services:\n  web:\n    ports: ["9229:9229"]\n',
      );
      const { output: warned, plan } = await planProject(dir, 'production', {
        env: { COMPOSE_FILE: 'docker-compose.yml:extra.yml', COMPOSE_PROJECT_NAME: 'other' },
      });
      expect(warned.warnings).toEqual([
        'docker-compose.override.yml is here: plain `docker compose` merges it into docker-compose.yml, Stagecraft deploys docker-compose.yml alone (as `docker compose -f docker-compose.yml`); keep only laptop settings in docker-compose.override.yml, and what the servers need in docker-compose.yml',
        'COMPOSE_FILE is set, but Stagecraft reads only docker-compose.yml (compose.file in stagecraft.yml): the files it lists are not merged',
        'COMPOSE_PROJECT_NAME is set, but Stagecraft runs the file as compose project bakery-production (<project.name>-<environment>)',
      ]);
      expect(uploadedCompose(plan, 'web-1').services['web']).not.toHaveProperty('ports');
    });

    it('links, volumes_from and ipc/pid/network_mode service: to a service on another host are refused, naming the hosts', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  app:\n    image: nginx:1.25\n    links: ["worker:w"]\n    volumes_from: ["worker:ro", "container:other"]\n    ipc: "service:worker"\n  worker:\n    image: busybox:1.36\n  side:\n    image: busybox:1.36\n    pid: "service:app"\n',
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        'project: { name: bakery }\nservices:\n  app: { role: web }\n  worker: { role: jobs }\n  side: { role: web }\nenvironments:\n  production:\n    driver: ssh\n    hosts:\n      web: [{ name: web-1, address: 192.0.2.10 }]\n      jobs: [{ name: jobs-1, address: 192.0.2.11 }]\n',
      );
      const error = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
      const why =
        'joins containers on one Docker engine, so give both one role, or reach worker by a published port';
      expect(error.details).toEqual([
        `service app (on web-1) has links: worker:w, but worker runs on jobs-1, not on web-1: links ${why}`,
        `service app (on web-1) has volumes_from: worker:ro, but worker runs on jobs-1, not on web-1: volumes_from ${why}`,
        `service app (on web-1) has ipc: service:worker, but worker runs on jobs-1, not on web-1: ipc ${why}`,
      ]);
    });

    it("a secret from a command (unresolved in a plan) and a host's address looked up at deploy do not read as a leak", async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  shop:\n    image: nginx:1.25\n    environment: { DB_HOST: db }\n    depends_on: [db]\n  db:\n    image: postgres:16\n    ports: ["5432:5432"]\n',
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        [
          'project: { name: bakery }',
          'services:',
          '  shop: { role: web, secrets: [SESSION_SECRET] }',
          '  db: { role: db }',
          'secrets:',
          '  provider: envfile',
          '  keys: [{ name: SESSION_SECRET, command: [op, read, "op://bakery/session"] }]',
          'environments:',
          '  production:',
          '    driver: ssh',
          '    hosts:',
          '      web: [{ name: web-1, address: web-1.bakery.internal }]',
          '      db: [{ name: db-1, address: db-1.bakery.internal }]',
          '',
        ].join('\n'),
      );
      const { plan } = await planProject(dir, 'production');
      expect(uploadedCompose(plan, 'web-1').services['shop']).toMatchObject({
        extra_hosts: ['db:(resolved at deploy)'],
      });
    });

    it('a remote service reached on a port it does not publish is a warning naming both hosts', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  shop:\n    image: nginx:1.25\n    environment: { DB_URL: "postgres://db:5432/shop" }\n    depends_on: [db]\n  db:\n    image: postgres:16\n',
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        'project: { name: bakery }\nservices:\n  shop: { role: web }\n  db: { role: db }\nenvironments:\n  production:\n    driver: ssh\n    hosts:\n      web: [{ name: web-1, address: 192.0.2.10 }]\n      db: [{ name: db-1, address: 192.0.2.11 }]\n',
      );
      const { output } = await planProject(dir, 'production');
      expect(output.warnings).toEqual([
        'service shop on web-1 reaches db:5432 on db-1, but db does not publish that port: add ports: ["5432:5432"] to db, or run both on one host',
      ]);
      // Published on the loopback address only: no other host reaches it either.
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  shop:\n    image: nginx:1.25\n    environment: { DB_URL: "postgres://db:5432/shop" }\n    depends_on: [db]\n  db:\n    image: postgres:16\n    ports: ["127.0.0.1:5432:5432"]\n',
      );
      expect((await planProject(dir, 'production')).output.warnings).toEqual([
        "service shop on web-1 reaches db:5432 on db-1, but db publishes that port only on a loopback address (host_ip), which other hosts cannot reach: publish on the host's private address, or run both on one host",
      ]);
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  shop:\n    image: nginx:1.25\n    environment: { DB_URL: "postgres://db:5432/shop" }\n    depends_on: [db]\n  db:\n    image: postgres:16\n    ports: ["10.0.0.5:5432:5432"]\n',
      );
      expect((await planProject(dir, 'production')).output.warnings).toEqual([]);
    });

    it('compose `scale` is the replica count, as docker compose runs it; stagecraft.yml replicas still wins', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        'services:\n  web:\n    image: nginx:1.25\n    scale: 5\n  worker:\n    image: busybox:1.36\n    scale: 3\n',
      );
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        'project: { name: bakery }\nservices:\n  web: { role: web, replicas: 2 }\n  worker: { role: web }\nenvironments:\n  production:\n    driver: ssh\n    hosts:\n      web: [{ name: web-1, address: 192.0.2.10 }]\n',
      );
      const { plan } = await planProject(dir, 'production');
      const titles = allSteps(plan).map((step) => step.title);
      expect(titles).toContain('start-first worker (3 replicas); running 3s within 2m');
      expect(titles).toContain('start-first web (2 replicas); running 3s within 2m');
      const services = uploadedCompose(plan, 'web-1').services;
      expect(services['worker']!['scale']).toBeUndefined();
      expect(services['worker']!['deploy']).toEqual({ replicas: 3 });
      expect(services['web']!['scale']).toBeUndefined();
      expect(services['web']!['deploy']).toEqual({ replicas: 2 });
    });

    it('a port without domains is a warning: the gateway never routes to it', async () => {
      const dir = copyCase('09-container-name-with-replicas');
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        readFileSync(join(dir, 'stagecraft.yml'), 'utf8').replace(
          ', domains: [bakery.example.test], replicas: 2',
          '',
        ),
      );
      writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  web:\n    image: nginx:1.25\n');
      const { output } = await planProject(dir, 'production');
      expect(output.warnings).toEqual([
        'service web has port 80 but no domains, so the gateway routes no request to it: add services.web.domains, or remove port',
      ]);
    });
  },
);

describe.skipIf(!composeAvailable)(
  'compose fidelity: jobs and removed services (kind 8)',
  { timeout: 60_000 },
  () => {
    it('16: a one-shot service runs as a job to completion before the services that wait for it', async () => {
      const { plan } = await planProject(join(cases, '16-one-shot-migration-service'), 'production');
      const rollout = plan.phases.find((phase) => phase.name === 'rollout')!.steps;
      expect(rollout.map((step) => step.id)).toEqual([
        'prepare:web-1',
        'pull:web-1',
        'ingress:web-1',
        'job:web-1:migrate',
        'rollout:web-1:web',
        'prune:web-1',
      ]);
      const job = rollout.find((step) => step.id === 'job:web-1:migrate')!;
      expect(job.action).toMatchObject({
        kind: 'job',
        service: 'migrate',
        argv: [
          'docker',
          'compose',
          '-p',
          'bakery-production',
          '-f',
          `.stagecraft/bakery-production/releases/${plan.releaseId}/compose.yml`,
          'run',
          '--rm',
          '--no-deps',
          '-T',
          'migrate',
        ],
      });
      expect(rollout.find((step) => step.id === 'rollout:web-1:web')!.dependsOn).toEqual([
        'ingress:web-1',
        'job:web-1:migrate',
      ]);
    });

    it('16: restart "no" alone (compose\'s default) makes no server a job; a job nothing waits on is named in a warning', async () => {
      const dir = copyCase('16-one-shot-migration-service');
      writeFileSync(
        join(dir, 'docker-compose.yml'),
        `services:
  migrate:
    image: busybox:1.36
    command: ["sh", "-c", "echo seeded"]
    restart: "no"
  web:
    image: nginx:1.25
    restart: "no"
    ports: ["8080:80"]
    depends_on: { db: { condition: service_healthy } }
  db:
    image: postgres:16-alpine
    restart: "no"
    expose: ["5432"]
  cache:
    image: redis:7
    restart: "no"
    healthcheck: { test: ["CMD", "redis-cli", "ping"] }
`,
      );
      const { plan, output } = await planProject(dir, 'production');
      const ids = allSteps(plan).map((step) => step.id);
      expect(ids).toContain('job:web-1:migrate');
      expect(ids).toContain('rollout:web-1:web');
      expect(ids).not.toContain('job:web-1:web');
      // A server: it exposes a port, has a health check, or is waited on until healthy.
      expect(ids.filter((id) => id.startsWith('job:'))).toEqual(['job:web-1:migrate']);
      expect(output.warnings).toContain(
        'service migrate runs as a one-shot job (restart: "no", no port, no health check): each deploy runs it to completion and waits for it to exit; if it is a long-running service, remove restart: "no" (compose\'s default is the same)',
      );
      expect(output.warnings.filter((warning) => warning.includes('one-shot job'))).toHaveLength(1);
    });

    it('16: deploy.restart_policy condition none is a job too; a job scaled to 0 does not run', async () => {
      const dir = copyCase('16-one-shot-migration-service');
      const compose = join(dir, 'docker-compose.yml');
      const text = readFileSync(compose, 'utf8');
      writeFileSync(
        compose,
        text.replace('    restart: "no"\n', '    deploy: { restart_policy: { condition: none } }\n'),
      );
      let ids = allSteps((await planProject(dir, 'production')).plan).map((step) => step.id);
      expect(ids).toContain('job:web-1:migrate');
      expect(ids).not.toContain('rollout:web-1:migrate');
      writeFileSync(compose, text.replace('    restart: "no"\n', '    restart: "no"\n    scale: 0\n'));
      ids = allSteps((await planProject(dir, 'production')).plan).map((step) => step.id);
      expect(ids.filter((id) => id.includes('migrate'))).toEqual([]);
    });

    it('18: a service removed from the compose file is stopped and removed as a planned step', async () => {
      const { plan } = await planProject(join(cases, '18-removed-service-left-running'), 'production');
      const prune = allSteps(plan).find((step) => step.id === 'prune:web-1')!;
      expect(prune.title).toBe('stop and remove containers of services not in this release (web-1 runs web)');
      expect(prune.action).toEqual({ kind: 'prune', keep: ['web'] });
      expect(prune.dependsOn).toEqual(['rollout:web-1:web']);
    });

    it('18: a host left with no service is pruned too, after the others have rolled out', async () => {
      const dir = copyCase('18-removed-service-left-running');
      writeFileSync(
        join(dir, 'stagecraft.yml'),
        readFileSync(join(dir, 'stagecraft.yml'), 'utf8').replace(
          '        - { name: web-1, address: 192.0.2.10 }\n',
          '        - { name: web-1, address: 192.0.2.10 }\n      worker:\n        - { name: worker-1, address: 192.0.2.11 }\n',
        ),
      );
      const { plan } = await planProject(dir, 'production');
      const prunes = allSteps(plan).filter((step) => step.action.kind === 'prune');
      expect(prunes.map((step) => [step.id, step.action, step.dependsOn])).toEqual([
        ['prune:web-1', { kind: 'prune', keep: ['web'] }, ['rollout:web-1:web']],
        ['prune:worker-1', { kind: 'prune', keep: [] }, ['prune:web-1']],
      ]);
      expect(prunes[1]!.title).toBe(
        'stop and remove containers of services not in this release (worker-1 runs none of them)',
      );
    });
  },
);
