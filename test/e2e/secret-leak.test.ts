// Issue 12 on the harness: the shop deployed with a planted value in every secret channel Stagecraft
// has (SPEC §7), then searched for everywhere it must never be: the output of every command, both
// ledgers, every file on the hosts but the 0600 secret files, container labels, image history, and the
// command lines of every process here and on the hosts while the deploy ran. The same deploy holds a
// lease shorter than itself (renewed by its heartbeat); the lock tests that follow run the built CLI
// against h1: racing acquirers, a client clock 31 minutes ahead or behind, a lost lease.
//
// The suite deploys as `shopleak` (ingress :38080, db :35432): other suites deploy `shop` and `shopops`.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { dockerOn, type HarnessEnv, requireHarness, run as runProcess, sshRun } from './support/harness.js';
import { type CliRun, removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

const PROJECT = 'shopleak';
const COMPOSE_PROJECT = `${PROJECT}-production`;
const RUN = randomBytes(5).toString('hex');
/** Every secret channel of SPEC §7 / README "Secrets", with where the suite plants its value. */
const CHANNELS = {
  /** SESSION_SECRET in .env.production (the environment's env_file), used by the api's compose environment. */
  envfile: `LEAK-${RUN}-envfile`,
  /** API_TOKEN in the CLI's process environment, used by the api's compose environment. */
  processenv: `LEAK-${RUN}-processenv`,
  /** SIGNING_KEY from `secrets.keys[].command` (./signing-key.sh), given by services.api.secrets. */
  command: `LEAK-${RUN}-command`,
  /**
   * GREETING: a name that does not look secret, secret because `secrets.keys` declares it; also a
   * compose secret with `environment: GREETING` (mounted at /run/secrets/greeting).
   */
  keys: `LEAK-${RUN}-keys`,
  /** NPM_TOKEN: a BuildKit build secret of the api (compose `build.secrets`, `environment:` source). */
  buildsecret: `LEAK-${RUN}-buildsecret`,
  /** ./api-key.txt: a compose `secrets:` `file:` source mounted into the api. */
  secretfile: `LEAK-${RUN}-secretfile`,
  /** The database password, in the migration URL (DATABASE_URL, the connection_env) and POSTGRES_PASSWORD. */
  dburl: `LEAK-${RUN}-dburl`,
} as const;
const LEASE_SECONDS = 5;

let harness: HarnessEnv;
let project: ShopProject;
let holdDir: string;
/** Where each planted value must not be: place name → text. Filled by the tests, searched by the last. */
const places = new Map<string, string>();
/** Command lines seen here and on the hosts (one PID namespace) while the deploy ran. */
const seenArgs = new Set<string>();

// --- helpers ------------------------------------------------------------------------------------------

function cli(args: string[], options: Parameters<typeof stagecraftIn>[2] = {}): Promise<CliRun> {
  return stagecraftIn(project, ['-e', 'production', ...args], options);
}

/** Keeps a command's output as two places to search, and returns the run. */
async function recorded(name: string, run: Promise<CliRun>): Promise<CliRun> {
  const result = await run;
  places.set(`stdout of ${name}`, result.stdout);
  places.set(`stderr of ${name}`, result.stderr);
  return result;
}

/** The forms a value could be printed or stored in: as is, base64, and its bare sha256 (an unsalted hash). */
function forms(value: string): Record<string, string> {
  return {
    raw: value,
    base64: Buffer.from(value).toString('base64'),
    sha256: createHash('sha256').update(value).digest('hex'),
  };
}

/** Every (place, channel, form) where a planted value occurs, with its count: [] when nothing leaked. */
function leaks(): string[] {
  const found: string[] = [];
  for (const [place, text] of places) {
    for (const [channel, value] of Object.entries(CHANNELS)) {
      for (const [form, needle] of Object.entries(forms(value))) {
        const count = text.split(needle).length - 1;
        if (count > 0) found.push(`${place}: ${channel} (${form}) ×${count}`);
      }
    }
  }
  return found;
}

/** The root of a harness host's own file system (its mount namespace), seen from here. */
function hostRoot(host: string): string {
  const socket = harness.hosts.find((candidate) => candidate.name === host)!.docker_host;
  const pid = readFileSync(join(dirname(socket.replace(/^unix:\/\//, '')), 'docker.pid'), 'utf8').trim();
  return `/proc/${pid}/root`;
}

/** Every regular file under `dir` with its permission bits (symbolic links are not followed). */
function walk(dir: string): { path: string; mode: number }[] {
  if (!existsSync(dir)) return [];
  const files: { path: string; mode: number }[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stat = lstatSync(path);
    if (stat.isDirectory()) files.push(...walk(path));
    else if (stat.isFile()) files.push({ path, mode: stat.mode & 0o777 });
    else if (stat.isSymbolicLink()) places.set(`symlink ${path}`, readlinkSync(path));
  }
  return files;
}

/** Every command line of this machine's process table (the harness hosts share its PID namespace). */
function commandLines(): string[] {
  const lines: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
      if (args !== '') lines.push(args);
    } catch {
      // gone
    }
  }
  return lines;
}

/** Samples every command line into seenArgs while `work` runs (every few milliseconds). */
async function sampleCommandLines<T>(work: Promise<T>): Promise<T> {
  let done = false;
  const result = work.finally(() => {
    done = true;
  });
  while (!done) {
    for (const args of commandLines()) seenArgs.add(args);
    await sleep(5);
  }
  return result;
}

async function until(what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the shop project changed: "${from}" not found`);
  return text.replace(from, to);
}

async function cleanup(): Promise<void> {
  await Promise.all(
    harness.hosts.map(async (host) => {
      const docker = (args: string[]) => dockerOn(harness, host.name, args).catch(() => '');
      const ids = [
        ...(
          await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${COMPOSE_PROJECT}`])
        ).split('\n'),
        ...(
          await docker(['ps', '-aq', '--filter', `label=stagecraft.ingress=${gatewayName(38080, 443)}`])
        ).split('\n'),
      ].filter((id) => id.trim() !== '');
      if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
      await docker(['network', 'rm', `${COMPOSE_PROJECT}_default`, gatewayName(38080, 443)]);
      await docker(['volume', 'rm', `${COMPOSE_PROJECT}_db-data`]);
      await sshRun(harness, host.name, `rm -rf .stagecraft/${COMPOSE_PROJECT}`).catch(() => undefined);
    }),
  );
}

/** A preload that shifts this Node process's clock (Date) by STAGECRAFT_TEST_SKEW_MS and says it ran. */
const SKEW_PRELOAD = `import { appendFileSync } from 'node:fs';
const shift = Number(process.env.STAGECRAFT_TEST_SKEW_MS);
const Real = Date;
class Skewed extends Real {
  constructor(...args) { if (args.length === 0) super(Real.now() + shift); else super(...args); }
  static now() { return Real.now() + shift; }
}
globalThis.Date = Skewed;
appendFileSync(process.env.STAGECRAFT_TEST_SKEW_MARK, shift + '\\n');
`;

/** The env of a CLI run whose clock is `minutes` off (negative: behind). */
function skewed(minutes: number): Record<string, string> {
  return {
    NODE_OPTIONS: `--import=${join(project.root, 'skew.mjs')}`,
    STAGECRAFT_TEST_SKEW_MS: String(minutes * 60_000),
    STAGECRAFT_TEST_SKEW_MARK: join(project.root, 'skew.log'),
  };
}

interface LockJson {
  locked: boolean;
  host: string;
  lock: {
    holder: string;
    machine: string;
    acquired_at: string;
    expires_at: string;
    expires_epoch?: number;
    version: string;
    message: string;
    expired?: boolean;
  } | null;
}

async function lockJson(config: string[] = [], env: Record<string, string> = {}): Promise<LockJson> {
  const run = await cli([...config, 'lock', 'status', '--json'], { env });
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as LockJson;
}

// --- the project --------------------------------------------------------------------------------------

beforeAll(async () => {
  harness = await requireHarness();
  await cleanup();
  project = shopProject(harness);
  const root = project.root;
  holdDir = join(root, 'hold');
  await mkdir(holdDir);

  let config = await readFile(join(root, 'stagecraft.yml'), 'utf8');
  config = replaceOnce(config, 'project:\n  name: shop\n', `project:\n  name: ${PROJECT}\n`);
  config = replaceOnce(
    config,
    'secrets: [POSTGRES_PASSWORD]',
    'secrets: [POSTGRES_PASSWORD, SIGNING_KEY, GREETING]',
  );
  config = replaceOnce(
    config,
    '  keys: [POSTGRES_PASSWORD]',
    '  keys:\n    - POSTGRES_PASSWORD\n    - GREETING\n    - { name: SIGNING_KEY, command: [./signing-key.sh] }',
  );
  config = replaceOnce(config, 'http_port: 8080', 'http_port: 38080');
  // web carries no secret: without it the deploy is one build and one rollout per host shorter.
  config = replaceOnce(
    config,
    '  web:\n    role: web\n    port: 8080\n    domains: [shop.localhost, "*"]\n',
    '',
  );
  config = replaceOnce(
    config,
    '    env_file: .env.production\n',
    `    env_file: .env.production\n    lock_expiry: ${LEASE_SECONDS}s\n`,
  );
  await writeFile(join(root, 'stagecraft.yml'), config);
  // The same project with the default 30-minute lease, for the lock tests that need a live lock.
  await writeFile(
    join(root, 'stagecraft.long.yml'),
    replaceOnce(config, `    lock_expiry: ${LEASE_SECONDS}s\n`, '    lock_expiry: 30m\n'),
  );

  let compose = await readFile(join(root, 'docker-compose.yml'), 'utf8');
  compose = replaceOnce(compose, compose.slice(compose.indexOf('  web:\n'), compose.indexOf('  db:\n')), '');
  compose = replaceOnce(
    compose,
    '      context: ./api\n',
    '      context: ./api\n      secrets: [npm_token]\n',
  );
  compose = replaceOnce(
    compose,
    `      FAIL_HEALTH: \${FAIL_HEALTH:-}\n`,
    `      FAIL_HEALTH: \${FAIL_HEALTH:-}\n      SESSION_SECRET: \${SESSION_SECRET}\n      API_TOKEN: \${API_TOKEN}\n      GREETING: \${GREETING}\n    secrets: [api_key, greeting]\n`,
  );
  compose = replaceOnce(
    compose,
    'volumes:\n  db-data:\n',
    'volumes:\n  db-data:\n\nsecrets:\n  npm_token:\n    environment: NPM_TOKEN\n  api_key:\n    file: ./api-key.txt\n  greeting:\n    environment: GREETING\n',
  );
  await writeFile(join(root, 'docker-compose.yml'), compose);
  const dockerfile = await readFile(join(root, 'api', 'Dockerfile'), 'utf8');
  await writeFile(
    join(root, 'api', 'Dockerfile'),
    replaceOnce(
      dockerfile,
      'COPY package.json server.mjs ./\n',
      // The build uses its secret (only its hash stays in the image, for the test to check it arrived).
      // BuildKit's cache ignores a secret's value: the run id in the command makes the layer this run's.
      `COPY package.json server.mjs ./\nRUN --mount=type=secret,id=npm_token echo ${RUN} >/dev/null && sha256sum /run/secrets/npm_token | cut -d" " -f1 > /build-secret.sha256\n`,
    ),
  );
  await writeFile(
    join(root, '.env.production'),
    [
      `POSTGRES_PASSWORD=${CHANNELS.dburl}`,
      // db is on h3: the migration container on h1 reaches it through its published port.
      `DATABASE_URL=postgres://shop:${CHANNELS.dburl}@db:35432/shop`,
      `SESSION_SECRET=${CHANNELS.envfile}`,
      `GREETING=${CHANNELS.keys}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(root, 'signing-key.txt'), `${CHANNELS.command}\n`);
  // The command source, as `op read` would be: prints the value (never in its argv), leaves a mark.
  await writeFile(
    join(root, 'signing-key.sh'),
    `#!/bin/sh\n: > ${holdDir}/command-ran\ncat ${root}/signing-key.txt\n`,
    { mode: 0o755 },
  );
  await writeFile(join(root, 'api-key.txt'), CHANNELS.secretfile);
  project.env['API_TOKEN'] = CHANNELS.processenv;
  project.env['NPM_TOKEN'] = CHANNELS.buildsecret;
  project.env['DB_PUBLISH_PORT'] = '35432';
  await writeFile(join(root, 'skew.mjs'), SKEW_PRELOAD);

  // A pre-deploy hook (it runs once the lock is taken) that holds the deploy until the test lets it go.
  await mkdir(join(root, '.stagecraft', 'hooks'), { recursive: true });
  await writeFile(
    join(root, '.stagecraft', 'hooks', 'pre-deploy'),
    `#!/bin/sh\n: > ${holdDir}/locked\ni=0\nwhile [ ! -e ${holdDir}/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n`,
    { mode: 0o755 },
  );
});

afterAll(async () => {
  if (harness === undefined) return;
  await cleanup();
  if (project !== undefined) removeProject(project);
});

// --- the tests ----------------------------------------------------------------------------------------

describe('secrets never leak', () => {
  it('config and plan (text and JSON) run no secret command and show no value', async () => {
    const config = await recorded('config', cli(['config']));
    expect(config.code, config.stderr).toBe(0);
    const plan = await recorded('plan', cli(['plan', '--version', 'L1']));
    expect(plan.code, plan.stderr).toBe(0);
    const json = await recorded('plan --format json', cli(['plan', '--version', 'L1', '--format', 'json']));
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).version).toBe('L1');
    // `plan` ran no secret command, no hook, and took no lock.
    expect(existsSync(join(holdDir, 'command-ran'))).toBe(false);
    expect(existsSync(join(holdDir, 'locked'))).toBe(false);
  });

  // A whole 3-host deploy plus the held lease: more than the 180 s default on a busy machine.
  it(`deploys with a value in every channel; the lease outlives its ${LEASE_SECONDS}s expiry by its heartbeat`, {
    timeout: 360_000,
  }, async () => {
    const started = Date.now();
    const deploy = recorded('deploy -v', cli(['deploy', '--version', 'L1', '-v'], { timeoutMs: 330_000 }));
    const watched = sampleCommandLines(deploy);
    // The deploy holds the lock in its pre-deploy hook; once it has held it longer than a lease …
    await until('the pre-deploy hook', () => existsSync(join(holdDir, 'locked')));
    const locked = Date.now();
    try {
      await sleep((LEASE_SECONDS + 2) * 1000);
      // … the lease is still live by h1's clock (renewed, not expired), and nobody else may take it.
      const status = await lockJson();
      expect(status.locked).toBe(true);
      expect(status.lock).toMatchObject({ version: 'L1', message: 'deploy L1', expired: false });
      const acquiredAt = Date.parse(status.lock!.acquired_at) / 1000;
      expect(status.lock!.expires_epoch! - acquiredAt).toBeGreaterThanOrEqual(LEASE_SECONDS + 2);
      const intruder = await recorded('lock acquire (during the deploy)', cli(['lock', 'acquire']));
      expect(intruder.code).toBe(2);
      expect(intruder.stderr).toMatch(
        new RegExp(
          `^error: deploy lock for ${COMPOSE_PROJECT} is held by \\S+@\\S+ since \\S+ \\(version L1, "deploy L1"\\); expires \\S+$`,
          'm',
        ),
      );
    } finally {
      await writeFile(join(holdDir, 'go'), '');
    }
    const run = await watched;
    expect(existsSync(join(holdDir, 'command-ran'))).toBe(true);
    expect(run.stderr).toContain(`✓ Deployed ${PROJECT} L1 to production`);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/lost the deploy lock|TOOK OVER/);
    expect(Date.now() - locked).toBeGreaterThan((LEASE_SECONDS + 2) * 1000);
    console.log(`deploy: ${Math.round((Date.now() - started) / 1000)} s`);
    expect((await cli(['lock', 'status'])).stdout).toContain(`${COMPOSE_PROJECT}: not locked`);

    // Every channel reached its destination, so the searches below look for values that travelled.
    const api = (
      await dockerOn(harness, 'h1', [
        'ps',
        '--filter',
        `label=com.docker.compose.project=${COMPOSE_PROJECT}`,
        '--filter',
        'label=com.docker.compose.service=api',
        '--format',
        '{{.Names}}',
      ])
    ).trim();
    const inApi = (command: string) => dockerOn(harness, 'h1', ['exec', api, 'sh', '-c', command]);
    const env = Object.fromEntries(
      (await inApi('env'))
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect({
      SESSION_SECRET: env['SESSION_SECRET'],
      API_TOKEN: env['API_TOKEN'],
      SIGNING_KEY: env['SIGNING_KEY'],
      GREETING: env['GREETING'],
      POSTGRES_PASSWORD: env['POSTGRES_PASSWORD'],
    }).toEqual({
      SESSION_SECRET: CHANNELS.envfile,
      API_TOKEN: CHANNELS.processenv,
      SIGNING_KEY: CHANNELS.command,
      GREETING: CHANNELS.keys,
      POSTGRES_PASSWORD: CHANNELS.dburl,
    });
    expect(await inApi('cat /run/secrets/api_key')).toBe(CHANNELS.secretfile);
    expect(await inApi('cat /run/secrets/greeting')).toBe(CHANNELS.keys);
    expect((await inApi('cat /build-secret.sha256')).trim()).toBe(forms(CHANNELS.buildsecret).sha256);
    const ledger = JSON.parse(readFileSync(project.env['STAGECRAFT_STATE_FILE']!, 'utf8')) as {
      releases: { id: string; migrations?: Record<string, string[]> }[];
    };
    expect(ledger.releases.at(-1)!.migrations).toEqual({
      main: ['001_create_products', '002_create_orders'],
    });

    // The sampling saw the deploy's own commands here and on the hosts, psql's included.
    const seen = [...seenArgs];
    expect(
      seen.filter((args) => args.includes(`docker compose`) && args.includes(COMPOSE_PROJECT)),
    ).not.toEqual([]);
    expect(seen.filter((args) => /(^|\/)psql /.test(args))).not.toEqual([]);
  });

  it('no planted value in any output, ledger, uploaded file, label, image history or command line', async () => {
    const status = await recorded('status', cli(['status']));
    expect(status.code, status.stderr).toBe(0);
    const list = await recorded('releases list', cli(['releases', 'list']));
    expect(list.code, list.stderr).toBe(0);
    const id = /rel-\d{8}-\d{9}/.exec(list.stdout)?.[0];
    expect(id).toBeDefined();
    const show = await recorded('releases show', cli(['releases', 'show', id!]));
    expect(show.code, show.stderr).toBe(0);

    // Both ledgers, and everything else under the local .stagecraft folder.
    const local = walk(join(project.root, '.stagecraft'));
    expect(local.map((file) => file.path)).toContain(project.env['STAGECRAFT_STATE_FILE']);
    for (const file of local) places.set(`local file ${file.path}`, readFileSync(file.path, 'latin1'));

    // Every file on the hosts (their private /root, /tmp, /opt, /srv): the ledger on h1, the release
    // folders, the lock, the migration scripts. Only the 0600 secret files may hold a value.
    const secretFiles: string[] = [];
    for (const host of ['h1', 'h2', 'h3']) {
      const root = hostRoot(host);
      const files = ['/root', '/tmp', '/opt', '/srv'].flatMap((dir) => walk(`${root}${dir}`));
      expect(files.map((file) => file.path)).toContain(
        `${root}/root/.stagecraft/${COMPOSE_PROJECT}/releases/${id}/compose.yml`,
      );
      for (const file of files) {
        const text = readFileSync(file.path, 'latin1');
        const name = `${host}:${file.path.slice(root.length)}`;
        if (file.mode === 0o600 && Object.values(CHANNELS).some((value) => text.includes(value))) {
          // runc's spec of a `docker exec` (the health checks), with the container's env, lives a moment.
          if (!file.path.startsWith(`${root}/tmp/runc-process`)) secretFiles.push(name.replace(id!, '<id>'));
          continue;
        }
        places.set(`${name} (mode ${file.mode.toString(8)})`, text);
      }
    }
    expect(
      await sshRun(harness, 'h1', `head -c 200 .stagecraft/${COMPOSE_PROJECT}/releases.jsonl`),
    ).toContain(`"id":"${id}"`);
    // The values are where they belong: 0600 files only (env files of api and db, the compose secrets,
    // the migration's connection).
    expect(secretFiles.sort()).toEqual([
      `h1:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/api-key.txt`,
      `h1:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/migrations/main/connection.env`,
      `h1:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/secrets/api.env`,
      `h1:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/secrets/greeting.secret`,
      `h2:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/api-key.txt`,
      `h2:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/secrets/api.env`,
      `h2:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/secrets/greeting.secret`,
      `h3:/root/.stagecraft/${COMPOSE_PROJECT}/releases/<id>/secrets/db.env`,
    ]);

    // Labels of every container, network and volume on each host; the api image's config and history.
    for (const host of ['h1', 'h2', 'h3']) {
      const ids = (await dockerOn(harness, host, ['ps', '-aq'])).trim().split('\n').filter(Boolean);
      expect(ids.length).toBeGreaterThan(0);
      places.set(
        `${host} container labels`,
        await dockerOn(harness, host, ['inspect', '--format', '{{.Name}} {{json .Config.Labels}}', ...ids]),
      );
      const networks = (await dockerOn(harness, host, ['network', 'ls', '-q'])).trim().split('\n');
      places.set(
        `${host} network labels`,
        await dockerOn(harness, host, ['network', 'inspect', '--format', '{{json .Labels}}', ...networks]),
      );
      const volumes = (await dockerOn(harness, host, ['volume', 'ls', '-q']))
        .trim()
        .split('\n')
        .filter(Boolean);
      if (volumes.length > 0) {
        places.set(
          `${host} volume labels`,
          await dockerOn(harness, host, ['volume', 'inspect', '--format', '{{json .Labels}}', ...volumes]),
        );
      }
    }
    const image = (
      await dockerOn(harness, 'h1', [
        'ps',
        '--filter',
        `label=com.docker.compose.project=${COMPOSE_PROJECT}`,
        '--filter',
        'label=com.docker.compose.service=api',
        '--format',
        '{{.Image}}',
      ])
    ).trim();
    places.set('api image config (h1)', await dockerOn(harness, 'h1', ['image', 'inspect', image]));
    places.set(
      'api image history (h1)',
      await dockerOn(harness, 'h1', ['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]),
    );
    places.set('command lines during the deploy', [...seenArgs].join('\n'));

    const searched = [...places.keys()];
    expect(searched.length).toBeGreaterThan(30);
    expect(leaks()).toEqual([]);
  });
});

describe('the deploy lock on h1, from the built CLI', () => {
  const long = ['-c', 'stagecraft.long.yml'];

  it('racing acquirers: exactly one wins, the others exit 2 naming the winner', async () => {
    const racers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => cli([...long, 'lock', 'acquire', '-m', `racer-${i}`])),
    );
    const winners = racers.map((run, i) => ({ i, run })).filter(({ run }) => run.code === 0);
    expect(winners.map(({ run }) => run.stdout)).toEqual([`Lock acquired on h1 for ${COMPOSE_PROJECT}\n`]);
    const winner = winners[0]!.i;
    for (const [i, run] of racers.entries()) {
      if (i === winner) continue;
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(
        new RegExp(
          `^error: deploy lock for ${COMPOSE_PROJECT} is held by \\S+@\\S+ since \\S+ \\(version manual, "racer-${winner}"\\); expires \\S+$`,
          'm',
        ),
      );
    }
    expect((await lockJson(long)).lock?.message).toBe(`racer-${winner}`);
  });

  it("a client clock 31 minutes ahead sees the live lease as live: the lock's times are h1's", async () => {
    const skewLog = join(project.root, 'skew.log');
    const ahead = skewed(31);
    const status = await lockJson(long, ahead);
    expect(status.lock).toMatchObject({ expired: false, version: 'manual' });
    const taker = await cli([...long, 'lock', 'acquire', '-m', 'from the future'], { env: ahead });
    expect(taker.code).toBe(2);
    expect(taker.stderr).toMatch(/is held by \S+ since \S+ \(version manual, "racer-\d"\)/);
    expect(taker.stderr).not.toContain('TOOK OVER');
    // The preload ran in both CLIs: their clocks were 31 minutes ahead.
    expect(readFileSync(skewLog, 'utf8')).toBe(`${31 * 60_000}\n${31 * 60_000}\n`);
    expect((await cli([...long, 'lock', 'release'])).code).toBe(0);
  });

  it("a lease that expired by h1's clock is taken over loudly, also by a client 31 minutes behind, in h1's time", async () => {
    const short = await cli(['lock', 'acquire', '-m', 'short lease']);
    expect(short.code, short.stderr).toBe(0);
    const { lock } = await lockJson();
    expect(lock!.expires_epoch! - Date.parse(lock!.acquired_at) / 1000).toBe(LEASE_SECONDS);
    // Still live for a client 31 minutes behind, until it has expired by h1's clock.
    await sleep(LEASE_SECONDS * 1000 + 1200);
    expect((await cli(['lock', 'status'])).stdout).toContain(
      `expires:  ${lock!.expires_at} (expired by h1's clock: the next acquire takes it over)`,
    );
    const before = Math.floor(Date.now() / 1000);
    const taker = await cli([...long, 'lock', 'acquire', '-m', 'from the past'], { env: skewed(-31) });
    const after = Math.ceil(Date.now() / 1000);
    expect(taker.code, taker.stderr).toBe(0);
    expect(taker.stderr).toMatch(
      /^warning: TOOK OVER the deploy lock of \S+ since \S+ \(version manual, "short lease"\); expires \S+: its lease expired by the lock host’s clock$/m,
    );
    const now = await lockJson(long);
    expect(now.lock).toMatchObject({ message: 'from the past', expired: false });
    // Written with h1's time (this machine's real clock, as h1 shares it), not the client's.
    const acquired = Date.parse(now.lock!.acquired_at) / 1000;
    expect(acquired).toBeGreaterThanOrEqual(before - 1);
    expect(acquired).toBeLessThanOrEqual(after);
    expect(now.lock!.expires_epoch).toBe(acquired + 30 * 60);
    expect((await cli([...long, 'lock', 'release'])).code).toBe(0);
  });

  it('a deploy whose lease is taken away stops before its next step, exit 2, and records the failure', async () => {
    rmSync(join(holdDir, 'locked'), { force: true });
    rmSync(join(holdDir, 'go'), { force: true });
    // --skip-build deploys images that exist: L1's, pushed again as L2 (a deploy refuses a version
    // never built before it takes the lock).
    const docker = (args: string[]) =>
      runProcess('docker', args, { env: { ...process.env, DOCKER_HOST: harness.build_docker_host } });
    const built = JSON.parse(readFileSync(project.env['STAGECRAFT_STATE_FILE']!, 'utf8')) as {
      releases: { version: string; images: Record<string, string> }[];
    };
    for (const image of Object.values(built.releases.find((release) => release.version === 'L1')!.images)) {
      // Recorded as repo@sha256:… (pinned); the build machine's engine holds it under that digest.
      const l2 = `${image.split('@')[0]!.replace(/:[^/:]+$/, '')}:L2`;
      await docker(['tag', image, l2]);
      await docker(['push', '--quiet', l2]);
    }
    const deploy = cli(['deploy', '--version', 'L2', '--skip-build']);
    await until('the pre-deploy hook', () => existsSync(join(holdDir, 'locked')));
    try {
      // Someone releases the lock by force and takes it (the deploy's heartbeat renews every ~1.7 s).
      expect((await cli(['lock', 'release'])).code).toBe(0);
      expect((await cli([...long, 'lock', 'acquire', '-m', 'usurper'])).code).toBe(0);
      await sleep(2500);
    } finally {
      await writeFile(join(holdDir, 'go'), '');
    }
    const run = await deploy;
    expect(run.code, run.stderr).toBe(2);
    // Gone (released) or taken (by the usurper): whichever the heartbeat saw first.
    expect(run.stderr).toMatch(
      new RegExp(
        `lost the deploy lock for ${COMPOSE_PROJECT} on h1: (the lock is gone|it is now held by \\S+ since \\S+ \\(version manual, "usurper"\\))`,
      ),
    );
    expect(run.stderr).not.toMatch(/[✓…] (migrate|rollout):/);
    const ledger = JSON.parse(readFileSync(project.env['STAGECRAFT_STATE_FILE']!, 'utf8')) as {
      releases: { version: string; phases: Record<string, string> }[];
    };
    expect(ledger.releases.at(-1)).toMatchObject({
      version: 'L2',
      phases: { rollout: 'skipped', finalize: 'skipped' },
    });
    // The usurper's lock is untouched, and L1 still serves.
    expect((await lockJson(long)).lock?.message).toBe('usurper');
    expect((await cli([...long, 'lock', 'release'])).code).toBe(0);
    const status = await cli(['status']);
    expect(status.stdout).toContain('L1');
    expect(status.stdout).not.toContain('L2');
  });
});
