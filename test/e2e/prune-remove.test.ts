// Retention and removal on the harness, with the CLI as a subprocess: the shop deployed three times
// with `releases.retain: 2` keeps exactly two release folders and the images of those releases only,
// serves the current release, rolls back to a kept one; `prune` removes what a person left behind and
// reports the bytes it freed per host; `remove` takes the app off its host and keeps its volume.
//
// The harness is shared with other suites that deploy the shop: this one deploys it as `shopprune`
// on h2 alone (ingress :28080, db :25432), so nothing it removes belongs to another suite.

import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { dockerOn, type HarnessEnv, requireHarness, run, sshRun } from './support/harness.js';
import { type CliRun, removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

const PROJECT = 'shopprune';
const COMPOSE_PROJECT = `${PROJECT}-production`;
const FOLDER = `.stagecraft/${COMPOSE_PROJECT}`;
const PORT = 28080;

let harness: HarnessEnv;
let project: ShopProject;
const started = Date.now();

const cli = (args: string[]): Promise<CliRun> => stagecraftIn(project, ['-e', 'production', ...args]);

function get(path: string): Promise<{ status: number; body: string }> {
  const host = harness.hosts.find((candidate) => candidate.name === 'h2')!.address;
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: PORT, path, headers: { host: 'shop.localhost' }, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Release {
  id: string;
  version: string;
  kind: string;
  images: Record<string, string>;
}

const releases = (): Release[] =>
  (
    JSON.parse(readFileSync(join(project.root, '.stagecraft', 'releases.json'), 'utf8')) as {
      releases: Release[];
    }
  ).releases;

const folders = async (): Promise<string[]> =>
  (await sshRun(harness, 'h2', `ls -1 ${FOLDER}/releases 2>/dev/null; true`))
    .split('\n')
    .filter(Boolean)
    .sort();

/** Whether an image reference resolves on h2 (`docker image inspect`). */
async function onH2(ref: string): Promise<boolean> {
  return dockerOn(harness, 'h2', ['image', 'inspect', '--format', '{{.Id}}', ref]).then(
    () => true,
    () => false,
  );
}

async function cleanup(): Promise<void> {
  const docker = (args: string[]) => dockerOn(harness, 'h2', args).catch(() => '');
  const ids = [
    ...(await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${COMPOSE_PROJECT}`])).split(
      '\n',
    ),
    ...(await docker(['ps', '-aq', '--filter', `label=stagecraft.ingress=${gatewayName(PORT, 443)}`])).split(
      '\n',
    ),
  ].filter((id) => id.trim() !== '');
  if (ids.length > 0) await docker(['rm', '-f', ...ids]);
  await docker(['network', 'rm', `${COMPOSE_PROJECT}_default`, gatewayName(PORT, 443)]);
  await docker(['volume', 'rm', `${COMPOSE_PROJECT}_db-data`]);
  await sshRun(harness, 'h2', `rm -rf ${FOLDER}`).catch(() => undefined);
}

beforeAll(async () => {
  harness = await requireHarness();
  await cleanup();
  project = shopProject(harness, { hosts: { web: ['h2'], db: ['h2'] } });
  const path = join(project.root, 'stagecraft.yml');
  let config = readFileSync(path, 'utf8');
  config = config.replace('project:\n  name: shop\n', `project:\n  name: ${PROJECT}\n`);
  config = config.replace('http_port: 8080', `http_port: ${PORT}`);
  config = config.replace('    rollout:\n', '    releases:\n      retain: 2\n    rollout:\n');
  writeFileSync(path, config);
  project.env['DB_PUBLISH_PORT'] = '25432';
});

afterAll(async () => {
  if (harness !== undefined) await cleanup();
  if (project !== undefined) removeProject(project);
  console.log(`prune-remove e2e: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

describe('retention (releases.retain: 2)', () => {
  it('keeps exactly two releases after three deploys: their folders and images, not the first one’s', async () => {
    for (const version of ['v1', 'v2', 'v3']) {
      // The shop's images do not change with the version (it is an environment variable): a file
      // copied into each image makes every release's images distinct, as real code changes do.
      writeFileSync(join(project.root, 'web', 'src', 'release.txt'), `${version}\n`);
      const deployed = await cli(['deploy', '--version', version]);
      expect(deployed.code, deployed.stderr).toBe(0);
    }
    const [v1, v2, v3] = releases();
    expect([v1!.version, v2!.version, v3!.version]).toEqual(['v1', 'v2', 'v3']);
    expect(await folders()).toEqual([v2!.id, v3!.id]);
    expect(await get('/version')).toEqual({ status: 200, body: 'v3' });
    // Images are pulled by digest: the first release's web image is gone from the host, the kept
    // ones stay. The api image did not change (the same digest in every release): a kept release
    // uses it, so it stays.
    expect(await onH2(v1!.images['web']!)).toBe(false);
    expect(await onH2(v2!.images['web']!)).toBe(true);
    expect(await onH2(v3!.images['web']!)).toBe(true);
    expect(v1!.images['api']).toBe(v3!.images['api']);
    expect(await onH2(v1!.images['api']!)).toBe(true);
    // The build machine keeps the kept releases' images too, and drops v1's.
    const buildImages = async (tag: string) =>
      (
        await run(
          'docker',
          ['image', 'ls', '--format', '{{.Tag}}', `${harness.registry}/shop-e2e/${PROJECT}-web`],
          {
            env: { ...process.env, DOCKER_HOST: harness.build_docker_host },
          },
        )
      ).stdout
        .split('\n')
        .includes(tag);
    expect([await buildImages('v1'), await buildImages('v2'), await buildImages('v3')]).toEqual([
      false,
      true,
      true,
    ]);
  }, 330_000);

  it('rolls back to the older kept release, which serves again; two folders remain', async () => {
    const [, v2] = releases();
    const back = await cli(['rollback', '--to-release', v2!.id]);
    expect(back.code, back.stderr).toBe(0);
    expect(await get('/version')).toEqual({ status: 200, body: 'v2' });
    const all = releases();
    const rollback = all.at(-1)!;
    expect(rollback.kind).toBe('rollback');
    // The rollback release (a copy of v2's files) and v3 are the two newest: v2's own folder went.
    expect(await folders()).toEqual([all.at(-2)!.id, rollback.id].sort());
  });

  it('prune removes a stopped container and a stale release folder, and reports the bytes freed per host', async () => {
    await sshRun(
      harness,
      'h2',
      `mkdir -p ${FOLDER}/releases/rel-20200101-000000000 && head -c 3000000 /dev/urandom > ${FOLDER}/releases/rel-20200101-000000000/blob`,
    );
    await dockerOn(harness, 'h2', [
      'create',
      '--label',
      `com.docker.compose.project=${COMPOSE_PROJECT}`,
      '--name',
      `${COMPOSE_PROJECT}-leftover`,
      '127.0.0.1:5000/stagecraft-test/caddy:2',
      'true',
    ]);
    const dry = await cli(['prune', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('retain:h2');
    expect(dry.stdout).toContain('retain:build');
    expect(await folders()).toContain('rel-20200101-000000000');

    const pruned = await cli(['prune', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    const report = JSON.parse(pruned.stdout.trim().split('\n').at(-1)!) as {
      event: string;
      kept_releases: string[];
      hosts: {
        host: string;
        removed: { release_folders: string[]; containers: string[] };
        freed_bytes: number;
      }[];
    };
    expect(report.event).toBe('prune');
    expect(report.hosts.map((host) => host.host)).toEqual(['h2', 'build']);
    const h2 = report.hosts[0]!;
    expect(h2.removed.release_folders).toEqual([`${FOLDER}/releases/rel-20200101-000000000`]);
    expect(h2.removed.containers).toEqual([`${COMPOSE_PROJECT}-leftover`]);
    expect(h2.freed_bytes).toBeGreaterThanOrEqual(3_000_000);
    expect(await folders()).toEqual([...report.kept_releases].sort());
    expect(await get('/version')).toEqual({ status: 200, body: 'v2' });
  });
});

describe('rollback to a release whose folder retention removed', () => {
  const composePath = () => join(project.root, 'docker-compose.yml');
  const configPath = () => join(project.root, 'stagecraft.yml');
  const running = async (service: string) =>
    (
      await dockerOn(harness, 'h2', [
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${COMPOSE_PROJECT}`,
        '--filter',
        `label=com.docker.compose.service=${service}`,
      ])
    )
      .split('\n')
      .filter(Boolean);

  it("runs the release's services, not today's, with the declared secrets; refuses one whose service is gone", async () => {
    const compose = readFileSync(composePath(), 'utf8');
    const config = readFileSync(configPath(), 'utf8');
    // v4 adds a service `extra`; v3's folder goes (retain 2).
    writeFileSync(
      composePath(),
      compose.replace(
        '\nvolumes:\n',
        '\n  extra:\n    image: 127.0.0.1:5000/stagecraft-test/caddy:2\n\nvolumes:\n',
      ),
    );
    writeFileSync(
      configPath(),
      config.replace('  db:\n    role: db\n', '  db:\n    role: db\n  extra:\n    role: web\n'),
    );
    const v4 = await cli(['deploy', '--version', 'v4']);
    expect(v4.code, v4.stderr).toBe(0);
    expect(await running('extra')).toHaveLength(1);
    const v3 = releases().find((release) => release.version === 'v3')!;
    expect(await folders()).not.toContain(v3.id);

    const back = await cli(['rollback', '--to-release', v3.id]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain(
      `h2: the compose.yml of ${v3.id} is gone; rendering one from today's compose file and secret values with its images and services`,
    );
    expect(await get('/version')).toEqual({ status: 200, body: 'v3' });
    // v3 did not run extra: the rollback stopped it. api got its declared secret.
    expect(await running('extra')).toEqual([]);
    const [api] = await running('api');
    const env = await dockerOn(harness, 'h2', [
      'inspect',
      '--format',
      '{{range .Config.Env}}{{println .}}{{end}}',
      api!,
    ]);
    expect(env.split('\n')).toContain('POSTGRES_PASSWORD=shop-demo-password');

    // Today's config no longer declares extra, which v4 ran: a rollback to v4 is refused, nothing changes.
    writeFileSync(composePath(), compose);
    writeFileSync(configPath(), config);
    const refused = await cli([
      'rollback',
      '--to-release',
      releases().find((release) => release.version === 'v4')!.id,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /\(version v4\) ran extra on h2, which this folder's compose file and stagecraft\.yml no longer declare: a rollback cannot bring it back/,
    );
    // The project is no git checkout: the way back is to restore what the release ran.
    expect(refused.stderr).toContain(
      'hint: restore the compose file and project files the release ran, then run the rollback again',
    );
    expect(await get('/version')).toEqual({ status: 200, body: 'v3' });
  }, 300_000);
});

describe('remove', () => {
  it('plans first, refuses without --yes, then leaves no container, network or file, and keeps the volume', async () => {
    const dry = await cli(['remove', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('containers:h2');
    expect(dry.stderr).toContain(
      // The gateway's data volume (its certificates) is kept with the app's own.
      `Volumes kept (pass --volumes to delete them): h2: ${COMPOSE_PROJECT}_db-data, ${gatewayName(PORT, 443)}-data`,
    );
    const refused = await cli(['remove']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --yes');
    expect(await get('/version')).toEqual({ status: 200, body: 'v3' });

    const removed = await cli(['remove', '--yes']);
    expect(removed.code, removed.stderr).toBe(0);
    const ps = await dockerOn(harness, 'h2', ['ps', '-a', '--format', '{{.Names}}']);
    expect(ps.split('\n').filter((name) => name.startsWith(COMPOSE_PROJECT))).toEqual([]);
    const networks = await dockerOn(harness, 'h2', ['network', 'ls', '--format', '{{.Name}}']);
    expect(networks.split('\n').filter((name) => name.startsWith(COMPOSE_PROJECT))).toEqual([]);
    // h2 is the lock host: only the release history, where the removal is recorded, stays.
    expect(await sshRun(harness, 'h2', `ls -A ${FOLDER}`)).toBe('releases.jsonl\n');
    expect(await sshRun(harness, 'h2', `tail -n 1 ${FOLDER}/releases.jsonl`)).toContain('"kind":"remove"');
    expect(releases().at(-1)!.kind).toBe('remove');
    const volumes = await dockerOn(harness, 'h2', ['volume', 'ls', '--format', '{{.Name}}']);
    expect(volumes.split('\n')).toContain(`${COMPOSE_PROJECT}_db-data`);
    expect(volumes.split('\n')).toContain(`${gatewayName(PORT, 443)}-data`);

    // Removed again with --volumes: the volumes the first removal kept go, the gateway's included
    // (its container is already gone, and no other app uses the gateway).
    const dryVolumes = await cli(['remove', '--volumes', '--dry-run']);
    expect(dryVolumes.code, dryVolumes.stderr).toBe(0);
    expect(dryVolumes.stdout).toContain('`stagecraft remove -e production --volumes`');
    const purged = await cli(['remove', '--volumes', '--yes']);
    expect(purged.code, purged.stderr).toBe(0);
    const left = await dockerOn(harness, 'h2', ['volume', 'ls', '--format', '{{.Name}}']);
    expect(
      left
        .split('\n')
        .filter((name) => name.startsWith(COMPOSE_PROJECT) || name.startsWith(gatewayName(PORT, 443))),
    ).toEqual([]);
  });
});
