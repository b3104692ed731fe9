import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load } from '../../bench/lib/load.mjs';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { dockerOn, type HarnessEnv, requireHarness, sshRun } from './support/harness.js';
import { gatewayGet, resetHosts } from './support/preamble.js';
import { removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

let harness: HarnessEnv;
let project: ShopProject;

const GATEWAY = gatewayName(8080, 443);
const address = (host: string) => harness.hosts.find((candidate) => candidate.name === host)!.address;

async function names(host: string): Promise<string[]> {
  const out = await dockerOn(harness, host, ['ps', '--format', '{{.Names}}']);
  return out.trim().split('\n').filter(Boolean).sort();
}

/** GET through a host's ingress with a Host header; the body trimmed. */
async function get(
  host: string,
  hostHeader: string,
  path: string,
): Promise<{ status: number; body: string }> {
  const response = await gatewayGet(address(host), hostHeader, path);
  return { status: response.status, body: response.body.trim() };
}

function ledger(): {
  releases: {
    id: string;
    version: string;
    kind: string;
    phases: Record<string, string>;
    images: Record<string, string>;
    hosts: Record<string, { compose_sha256: string }>;
    migrations?: Record<string, string[]>;
    steps?: { id: string }[];
    error?: string;
    scope?: { hosts?: string[]; services?: string[] };
  }[];
} {
  return JSON.parse(readFileSync(join(project.root, '.stagecraft', 'releases.json'), 'utf8'));
}

function events(stdout: string): { event: string; step?: string; status?: string; host?: string | null }[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

/** Load on both web hosts while `during` runs; returns the load results. */
async function underLoad<T>(
  during: () => Promise<T>,
): Promise<{ result: T; load: Awaited<ReturnType<typeof load>>[] }> {
  const controller = { stop: false };
  const loads = ['h1', 'h2'].map((host) =>
    load({
      host: address(host),
      port: 8080,
      path: '/version',
      hostHeader: 'shop.localhost',
      connections: 4,
      // Stopped by stopWhen once the deploy is done; a 3-host rollout takes over a minute here.
      durationMs: 170_000,
      maxRequests: 400_000,
      stopWhen: () => controller.stop,
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const result = await during();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  controller.stop = true;
  return { result, load: await Promise.all(loads) };
}

beforeAll(async () => {
  harness = await requireHarness();
  await resetHosts(harness, ['h1', 'h2', 'h3'], { volumes: true });
  project = shopProject(harness);
});

afterAll(() => {
  if (project) removeProject(project);
});

describe('deploy to three hosts', () => {
  it('deploys every service where its role says and serves it through the ingress of each web host', async () => {
    const run = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v1']);
    expect(run.stderr).toContain('✓ Deployed shop v1 to production');
    expect(run.code, run.stderr).toBe(0);

    // The gateway is the host's, shared by every app on its ports: named by them, not by the app.
    // The gateway and its ports container (which publishes 8080).
    const routed = ['shop-production-api-1', 'shop-production-web-1', GATEWAY, `${GATEWAY}-ports`];
    expect(await names('h1')).toEqual(routed);
    expect(await names('h2')).toEqual(routed);
    expect(await names('h3')).toEqual(['shop-production-db-1']);
    for (const host of ['h1', 'h2']) {
      const api = await get(host, 'api.shop.localhost', '/api/status');
      expect(api.status).toBe(200);
      expect(JSON.parse(api.body)).toMatchObject({ service: 'api', version: 'v1', database: true });
      expect(await get(host, 'shop.localhost', '/version')).toEqual({ status: 200, body: 'v1' });
      // The page's own call: web passes /api/… on to the api service.
      expect(JSON.parse((await get(host, 'shop.localhost', '/api/status')).body)).toMatchObject({
        service: 'api',
        version: 'v1',
      });
    }

    const [release] = ledger().releases;
    expect(release).toMatchObject({
      version: 'v1',
      kind: 'deploy',
      migrations: { main: ['001_create_products', '002_create_orders'] },
    });
    expect(Object.values(release!.phases)).toEqual(
      ['completed', 'skipped', 'completed', 'completed', 'skipped', 'completed'].map((s, i) =>
        i === 1 ? 'completed' : s,
      ),
    );
    expect(release!.images['api']).toMatch(
      /^127\.0\.0\.1:5000\/shop-e2e\/shop-api@sha256:[0-9a-f]{64}$|^127\.0\.0\.1:5000\/shop-e2e\/shop-api:v1@sha256:[0-9a-f]{64}$/,
    );
    expect(Object.keys(release!.hosts).sort()).toEqual(['h1', 'h2', 'h3']);
    const remote = await sshRun(harness, 'h1', 'cat ~/.stagecraft/shop-production/releases.jsonl');
    expect(remote).toContain(`"id":"${release!.id}"`);
    expect(
      await sshRun(harness, 'h1', 'stat -c %a ~/.stagecraft/shop-production/releases/*/secrets/api.env'),
    ).toBe('600\n');
    expect(
      await sshRun(harness, 'h1', 'cat ~/.stagecraft/shop-production/releases/*/compose.yml'),
    ).not.toContain('shop-e2e-password');
  });

  it('rolls out v2 under load with zero failed requests, and plan lists exactly the steps it ran', async () => {
    const plan = await stagecraftIn(project, [
      'plan',
      '-e',
      'production',
      '--version',
      'v2',
      '--format',
      'json',
    ]);
    expect(plan.code).toBe(0);
    const planned: { id: string; host: string | null; depends_on: string[] }[] = JSON.parse(
      plan.stdout,
    ).phases.flatMap((phase: { steps: unknown[] }) => phase.steps);

    const { result, load: loads } = await underLoad(() =>
      stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v2', '--json']),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const ran = events(result.stdout).filter((event) => event.event === 'step-done');
    expect(ran.map((event) => event.step).sort()).toEqual(planned.map((step) => step.id).sort());
    // Each step finished after every step it depends on.
    const doneAt = (id: string) => ran.findIndex((event) => event.step === id);
    for (const step of planned) {
      for (const dependency of step.depends_on) expect(doneAt(dependency)).toBeLessThan(doneAt(step.id));
    }
    // api and web (independent on h1: api's db is on h3) rolled out at the same time.
    const seen = events(result.stdout).map((event) => `${event.event} ${event.step}`);
    for (const service of ['api', 'web']) {
      for (const other of ['api', 'web']) {
        expect(seen.indexOf(`step-start rollout:h1:${service}`)).toBeLessThan(
          seen.indexOf(`step-done rollout:h1:${other}`),
        );
      }
    }
    for (const outcome of loads) {
      expect(outcome.failureSamples).toEqual([]);
      expect(outcome.failures).toBe(0);
      expect(outcome.requests).toBeGreaterThan(500);
      expect(Object.keys(outcome.bodies).sort()).toEqual(['v1', 'v2']);
    }
    expect(await get('h1', 'shop.localhost', '/version')).toEqual({ status: 200, body: 'v2' });
  });

  it('keeps the old version serving when the new one fails its health check, exit 2, release failed', async () => {
    const { result, load: loads } = await underLoad(() =>
      stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v3-broken'], {
        env: { FAIL_HEALTH: '1' },
      }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('new containers failed their health check');
    expect(result.stderr).toContain('hint: the previous containers are still serving');
    // api's old containers keep serving; web does not depend on api, so it rolled out beside it.
    for (const outcome of loads) {
      expect(outcome.failures).toBe(0);
      expect(Object.keys(outcome.bodies).filter((body) => body !== 'v3-broken')).toEqual(['v2']);
    }
    expect(JSON.parse((await get('h1', 'api.shop.localhost', '/api/status')).body).version).toBe('v2');
    const failed = ledger().releases.at(-1)!;
    expect(failed.version).toBe('v3-broken');
    expect(failed.phases['rollout']).toBe('failed');
    expect(failed.phases['finalize']).toBe('skipped');
    // The team's history on the lock host shows how it ended, not only the local ledger.
    const remote = (await sshRun(harness, 'h1', 'cat ~/.stagecraft/shop-production/releases.jsonl'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; phases: Record<string, string> });
    expect(remote.filter((line) => line.id === failed.id).at(-1)?.phases).toEqual(failed.phases);
    const afterFailure = await names('h1');
    expect(afterFailure.filter((name) => name.includes('-api-'))).toHaveLength(1);
    expect(afterFailure.filter((name) => name.includes('-web-'))).toHaveLength(1);
    // And the gateway with its ports container.
    expect(afterFailure).toHaveLength(4);
    const list = await stagecraftIn(project, ['releases', 'list', '-e', 'production']);
    expect(list.stdout).toMatch(/v3-broken\s+deploy\s+failed/);
  });

  it('rolls back to the previous good release without building', async () => {
    const run = await stagecraftIn(project, ['rollback', '-e', 'production', '--to-previous']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('Rolling back environment "production" to release');
    expect(run.stderr).toContain('build skipped: rollback to');
    expect(run.stderr).not.toContain('✓ build:');
    expect(run.stderr).toMatch(/✓ copy:h1 {2}copy the secrets and files of release rel-\d{8}-\d{9}/);
    expect(run.stderr).not.toContain('rendering one from the current config');
    expect(await get('h2', 'shop.localhost', '/version')).toEqual({ status: 200, body: 'v1' });
    const last = ledger().releases.at(-1)!;
    expect(last).toMatchObject({ kind: 'rollback', version: 'v1' });
  });

  it('refuses a second deploy while the lock is held, and waits for it with --lock-wait', async () => {
    expect(
      (await stagecraftIn(project, ['lock', 'acquire', '-e', 'production', '-m', 'maintenance'])).code,
    ).toBe(0);
    const status = await stagecraftIn(project, ['lock', 'status', '-e', 'production']);
    expect(status.stdout).toContain('shop-production: locked on h1');
    expect(status.stdout).toContain('message:  maintenance');
    const refused = await stagecraftIn(project, [
      'deploy',
      '-e',
      'production',
      '--version',
      'v2',
      '--skip-build',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/deploy lock for shop-production is held by \S+/);
    expect(refused.stderr).toContain('--lock-wait');

    const waiting = stagecraftIn(project, [
      'deploy',
      '-e',
      'production',
      '--version',
      'v2',
      '--skip-build',
      '--lock-wait',
      '60s',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await stagecraftIn(project, ['lock', 'release', '-e', 'production'])).code).toBe(0);
    const done = await waiting;
    expect(done.code, done.stderr).toBe(0);
    expect(await get('h1', 'shop.localhost', '/version')).toEqual({ status: 200, body: 'v2' });
  });

  it('rolls hosts that already switched back when another host fails', async () => {
    // h2's gateway is replaced by a container that never answers (labelled with the gateway's ports
    // and image, so it is taken for the gateway rather than recreated or replaced), so only h2 fails.
    await dockerOn(harness, 'h2', ['rm', '-f', GATEWAY]);
    await dockerOn(harness, 'h2', [
      'run',
      '-d',
      '--name',
      GATEWAY,
      '--label',
      'stagecraft.ingress-ports=8080:80',
      '--label',
      'stagecraft.ingress-image=127.0.0.1:5000/stagecraft-test/caddy:2',
      '127.0.0.1:5000/stagecraft-test/busybox:latest',
      'sleep',
      '600',
    ]);
    try {
      const run = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v5-partial']);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(
        `error: deploy failed on h2: the ingress container ${GATEWAY} on h2 did not start its admin API`,
      );
      expect(run.stderr).toMatch(
        / {2}h1 switched first and were rolled back to rel-\d{8}-\d{9} \(version v2\)/,
      );
      expect(await get('h1', 'shop.localhost', '/version')).toEqual({ status: 200, body: 'v2' });
      const [failed, rollback] = ledger().releases.slice(-2);
      expect(failed).toMatchObject({ version: 'v5-partial' });
      expect(failed!.phases['rollout']).toBe('failed');
      expect(rollback).toMatchObject({ kind: 'rollback', version: 'v2' });
      expect(Object.keys(rollback!.hosts)).toEqual(['h1']);
      // It covered h1 only: `rollback --to-previous` never returns to it as if it were the environment's.
      expect(rollback!.scope).toEqual({ hosts: ['h1'] });
    } finally {
      await dockerOn(harness, 'h2', ['rm', '-f', GATEWAY]);
    }
  });

  it('recovers when the CLI is killed in the middle of a rollout', async () => {
    let killed = false;
    const first = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v4'], {
      onStart: (child) => {
        child.stderr?.on('data', (chunk: Buffer) => {
          if (!killed && chunk.toString().includes('… rollout:h1:api')) {
            killed = true;
            setTimeout(() => child.kill('SIGKILL'), 700);
          }
        });
      },
    });
    expect(killed).toBe(true);
    expect(first.signal).toBe('SIGKILL');
    expect(JSON.parse((await get('h1', 'api.shop.localhost', '/api/status')).body).version).toMatch(
      /^v[24]$/,
    );
    const again = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v4']);
    expect(again.stderr).toContain('✓ Deployed shop v4');
    expect(again.code, again.stderr).toBe(0);
    for (const host of ['h1', 'h2']) {
      expect(JSON.parse((await get(host, 'api.shop.localhost', '/api/status')).body).version).toBe('v4');
      expect((await names(host)).filter((name) => name.includes('-api-'))).toHaveLength(1);
    }
    const releases = ledger().releases;
    expect(releases.at(-1)).toMatchObject({ version: 'v4' });
    expect(releases.at(-1)!.phases['finalize']).toBe('completed');
    // The killed deploy's release does not stay "running": the next one found its process gone (the
    // same machine) before it took the lock over, and failed it.
    const killedRelease = releases.at(-2)!;
    expect(killedRelease.version).toBe('v4');
    expect(killedRelease.phases['rollout']).toBe('failed');
    expect(killedRelease.error).toBe(
      `interrupted: its deploy process ended before it finished (found when ${releases.at(-1)!.id} started)`,
    );
    expect(again.stderr).toContain(
      `warning: release ${killedRelease.id} (version v4) was left unfinished by a deploy that ended before it finished: recorded as failed`,
    );
  });

  it('applies a new pre-deploy migration before the new version serves, and a failing one leaves the old version serving', async () => {
    writeFileSync(
      join(project.root, 'migrations', '003_add_sku.sql'),
      'ALTER TABLE products ADD COLUMN sku text;\n',
    );
    const good = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v6']);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stderr).toMatch(/✓ migrate:main:pre {2}main: applied (\S+, )*003_add_sku \(/);
    expect(good.stderr.indexOf('✓ migrate:main:pre')).toBeLessThan(good.stderr.indexOf('rollout:h1:api'));
    expect(ledger().releases.at(-1)).toMatchObject({ version: 'v6' });
    expect(ledger().releases.at(-1)!.migrations?.['main']).toContain('003_add_sku');
    // Nothing changed since: `plan --refresh` says so for every service, those with secrets included
    // (their spec hashes are keyed with the lock host's key, which the plan reads and never creates).
    const refreshed = await stagecraftIn(project, [
      'plan',
      '-e',
      'production',
      '--version',
      'v6',
      '--refresh',
    ]);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(
      refreshed.stdout.match(/· nothing to do: every container is at this spec and serving/g),
    ).toHaveLength(5);

    writeFileSync(
      join(project.root, 'migrations', '004_broken.sql'),
      'ALTER TABLE products\n  ADD COLUMN price numeric;\nSELEC 1;\n',
    );
    const bad = await stagecraftIn(project, ['deploy', '-e', 'production', '--version', 'v7-bad-migration']);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stderr).toContain(
      'error: migration 004_broken of database main failed at migrations/004_broken.sql:3: syntax error at or near "SELEC"',
    );
    expect(bad.stderr).toContain('hint: fix migrations/004_broken.sql and deploy again');
    expect(bad.stderr).not.toContain('rollout:h1:api');
    expect(JSON.parse((await get('h1', 'api.shop.localhost', '/api/status')).body).version).toBe('v6');
    const failed = ledger().releases.at(-1)!;
    expect(failed.phases['migrate_pre']).toBe('failed');
    expect(failed.phases['rollout']).toBe('skipped');
    const columns = await dockerOn(harness, 'h3', [
      'exec',
      'shop-production-db-1',
      'psql',
      '-U',
      'shop',
      '-d',
      'shop',
      '-tAc',
      "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'products'",
    ]);
    expect(columns.trim()).toBe('id,name,price_cents,sku');

    // --skip-build with a version never built: refused before the lock and the migrations (004_broken
    // would fail first otherwise), and nothing is recorded.
    const releases = ledger().releases.length;
    const unbuilt = await stagecraftIn(project, [
      'deploy',
      '-e',
      'production',
      '--version',
      'v8-never-built',
      '--skip-build',
    ]);
    expect(unbuilt.code, unbuilt.stderr).toBe(1);
    expect(unbuilt.stderr).toContain(
      'error: --skip-build: 127.0.0.1:5000/shop-e2e/shop-api:v8-never-built, 127.0.0.1:5000/shop-e2e/shop-web:v8-never-built do not exist in the registry, so the release could not start; nothing was changed',
    );
    expect(unbuilt.stderr).not.toContain('004_broken');
    expect(ledger().releases.length).toBe(releases);
  });
});

describe('hooks', () => {
  it('runs .stagecraft/hooks with STAGECRAFT_* variables; a failing pre-deploy hook aborts before anything changes', async () => {
    const hooks = join(project.root, '.stagecraft', 'hooks');
    mkdirSync(hooks, { recursive: true });
    const log = join(project.root, 'hooks.log');
    writeFileSync(
      join(hooks, 'post-deploy'),
      `#!/bin/sh\necho "$STAGECRAFT_HOOK $STAGECRAFT_ENV $STAGECRAFT_VERSION $STAGECRAFT_HOSTS" >> ${log}\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(hooks, 'pre-deploy'),
      `#!/bin/sh\n[ ! -e ${log}.block ] || { echo "deploys are frozen" >&2; exit 3; }\necho "$STAGECRAFT_HOOK $STAGECRAFT_RELEASE" >> ${log}\n`,
      { mode: 0o755 },
    );

    const run = await stagecraftIn(project, [
      'deploy',
      '-e',
      'production',
      '--version',
      'v6',
      '--skip-migrations',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^pre-deploy rel-\d{8}-\d{9}$/);
    expect(lines[1]).toBe('post-deploy production v6 h1,h2,h3');

    writeFileSync(`${log}.block`, '');
    const frozen = await stagecraftIn(project, [
      'deploy',
      '-e',
      'production',
      '--version',
      'v8-frozen',
      '--skip-migrations',
    ]);
    expect(frozen.code).toBe(1);
    expect(frozen.stderr).toContain(
      'error: run .stagecraft/hooks/pre-deploy failed with exit code 3: deploys are frozen',
    );
    expect(frozen.stderr).not.toContain('rollout:h1:api');
    expect(JSON.parse((await get('h1', 'api.shop.localhost', '/api/status')).body).version).toBe('v6');
    const status = await stagecraftIn(project, ['lock', 'status', '-e', 'production']);
    expect(status.stdout).toContain('not locked');
  });
});
