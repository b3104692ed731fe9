// Operating a deployed app on the harness, as a user does, with the CLI as a subprocess: status, logs
// (merged, --grep, -f surviving a lost connection), exec (in a container and one-off), ssh, secrets sync
// (envfile on the hosts, encore against a fake CLI) and doctor.
//
// The harness is shared with other suites that deploy the shop as `shop` (ingress :8080, db :5432), so
// this suite deploys it as `shopops` (ingress :18080, db :15432). Its db host h3 is reached through a
// second sshd that this suite starts on h3:2222 inside h3's namespaces (the way node-init.sh starts the
// harness's own sshd): stopping *that* one makes h3 unreachable for this project only, without cutting
// other suites off h3, and without `harness up`, which would rebuild every host from scratch.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName } from '../../src/ingress/gateway-name.js';
import { dockerOn, type HarnessEnv, requireHarness, sshRun } from './support/harness.js';
import { type CliRun, removeProject, type ShopProject, shopProject, stagecraftIn } from './support/shop.js';

const PROJECT = 'shopops';
const COMPOSE_PROJECT = `${PROJECT}-production`;
const SSHD_PORT = 2222;
const PASSWORD = 'shop-demo-password'; // .env.production of the example
const TOKEN = `tok-${process.pid}-${Date.now().toString(36)}-secret`;

let harness: HarnessEnv;
let project: ShopProject;
let h3Address: string;

// --- the suite's own sshd on h3 -----------------------------------------------------------------------

/** The node's /run as seen from here (it is the node's /run inside its mount namespace). */
function nodeRunDir(host: string): string {
  const socket = harness.hosts.find((candidate) => candidate.name === host)!.docker_host;
  return dirname(socket.replace(/^unix:\/\//, ''));
}

const sshdDir = () => join(nodeRunDir('h3'), 'stagecraft-ops-sshd');
const sshdPidFile = () => join(sshdDir(), 'sshd.pid');

function sshdPid(): number | undefined {
  if (!existsSync(sshdPidFile())) return undefined;
  const pid = Number(readFileSync(sshdPidFile(), 'utf8').trim());
  if (!Number.isInteger(pid) || !existsSync(`/proc/${pid}`)) return undefined;
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  return cmdline.includes('stagecraft-ops-sshd') ? pid : undefined;
}

async function startSshd(): Promise<void> {
  if (sshdPid() !== undefined) return;
  await mkdir(sshdDir(), { recursive: true });
  const state = dirname(harness.ssh_config);
  const config = readFileSync(join(state, 'nodes', 'h3', 'sshd_config'), 'utf8')
    .replace(/^ListenAddress .*$/m, `ListenAddress ${h3Address}:${SSHD_PORT}`)
    .replace(/^PidFile .*$/m, 'PidFile /run/stagecraft-ops-sshd/sshd.pid');
  writeFileSync(join(sshdDir(), 'sshd_config'), config);
  const dockerd = readFileSync(join(nodeRunDir('h3'), 'docker.pid'), 'utf8').trim();
  // Inside h3's network, mount (its /run, /root, /tmp) and UTS namespaces, as node-init.sh does.
  execFileSync('nsenter', [
    '--net=/run/netns/sc-h3',
    `--mount=/proc/${dockerd}/ns/mnt`,
    `--uts=/proc/${dockerd}/ns/uts`,
    '/usr/sbin/sshd',
    '-f',
    '/run/stagecraft-ops-sshd/sshd_config',
    '-E',
    '/run/stagecraft-ops-sshd/sshd.log',
  ]);
  for (let attempt = 0; attempt < 50 && sshdPid() === undefined; attempt++) await sleep(100);
  expect(sshdPid()).toBeDefined();
}

async function stopSshd(): Promise<void> {
  const pid = sshdPid();
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  for (let attempt = 0; attempt < 50 && existsSync(`/proc/${pid}`); attempt++) await sleep(100);
}

// --- helpers ------------------------------------------------------------------------------------------

function cli(args: string[], options: Parameters<typeof stagecraftIn>[2] = {}): Promise<CliRun> {
  return stagecraftIn(project, ['-e', 'production', ...args], options);
}

/** The table rows of `status` for one host and service: [container, state, health, version, …]. */
function rows(stdout: string, host: string, service: string): string[][] {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/))
    .filter((cells) => cells[0] === host && cells[1] === service)
    .map((cells) => cells.slice(2));
}

async function containerName(host: string, service: string): Promise<string> {
  const out = await dockerOn(harness, host, [
    'ps',
    '--filter',
    `label=com.docker.compose.project=${COMPOSE_PROJECT}`,
    '--filter',
    `label=com.docker.compose.service=${service}`,
    '--format',
    '{{.Names}}',
  ]);
  const name = out.trim().split('\n')[0];
  if (!name) throw new Error(`no running ${service} container on ${host}`);
  return name;
}

/** Writes a line to a container's log (PID 1's stdout is what docker logs reads). */
async function logLine(host: string, service: string, text: string): Promise<void> {
  await dockerOn(harness, host, [
    'exec',
    await containerName(host, service),
    'sh',
    '-c',
    `echo ${text} > /proc/1/fd/1`,
  ]);
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function processes(): { pid: number; args: string }[] {
  const list: { pid: number; args: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (args !== '') list.push({ pid: Number(entry), args });
    } catch {
      // gone
    }
  }
  return list;
}

/** Every command line seen on this machine (hosts included: they share its PID namespace) while `work` runs. */
async function watchCommandLines<T>(work: Promise<T>): Promise<{ result: T; seen: Set<string> }> {
  const seen = new Set<string>();
  let done = false;
  const result = work.finally(() => {
    done = true;
  });
  while (!done) {
    for (const entry of processes()) seen.add(entry.args);
    await sleep(2);
  }
  return { result: await result, seen };
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
          await docker(['ps', '-aq', '--filter', `label=stagecraft.ingress=${gatewayName(18080, 443)}`])
        ).split('\n'),
      ].filter((id) => id.trim() !== '');
      if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
      await docker(['network', 'rm', `${COMPOSE_PROJECT}_default`, gatewayName(18080, 443)]);
      await docker(['volume', 'rm', `${COMPOSE_PROJECT}_db-data`]);
      await sshRun(harness, host.name, `rm -rf .stagecraft/${COMPOSE_PROJECT}`).catch(() => undefined);
    }),
  );
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`shopProject's stagecraft.yml changed: "${from}" not found`);
  return text.replace(from, to);
}

beforeAll(async () => {
  harness = await requireHarness();
  h3Address = harness.hosts.find((host) => host.name === 'h3')!.address;
  await startSshd();
  await cleanup();

  project = shopProject(harness);
  const knownHosts = join(project.root, 'known_hosts');
  const harnessKeys = readFileSync(harness.known_hosts, 'utf8');
  const h3Key = harnessKeys
    .split('\n')
    .find((line) => line.startsWith('h3,'))!
    .split(' ')
    .slice(1, 3)
    .join(' ');
  await writeFile(knownHosts, `${harnessKeys.trimEnd()}\n[${h3Address}]:${SSHD_PORT} ${h3Key}\n`);
  let config = await readFile(join(project.root, 'stagecraft.yml'), 'utf8');
  config = replaceOnce(config, 'project:\n  name: shop\n', `project:\n  name: ${PROJECT}\n`);
  config = replaceOnce(config, 'secrets: [POSTGRES_PASSWORD]', 'secrets: [POSTGRES_PASSWORD, API_TOKEN]');
  config = replaceOnce(
    config,
    '  keys: [POSTGRES_PASSWORD]',
    '  keys:\n    - POSTGRES_PASSWORD\n    - { name: API_TOKEN, command: [cat, api-token.txt] }',
  );
  config = replaceOnce(config, 'http_port: 8080', 'http_port: 18080');
  config = replaceOnce(config, `known_hosts_file: ${harness.known_hosts}`, `known_hosts_file: ${knownHosts}`);
  config = replaceOnce(
    config,
    `{ name: h3, address: ${h3Address} }`,
    `{ name: h3, address: ${h3Address}, port: ${SSHD_PORT} }`,
  );
  await writeFile(join(project.root, 'stagecraft.yml'), config);
  // Its api reaches its db on h3 through the port db publishes there (plan refuses an unpublished one).
  const composeFile = join(project.root, 'docker-compose.yml');
  await writeFile(
    composeFile,
    replaceOnce(await readFile(composeFile, 'utf8'), '@db:5432/shop', '@db:15432/shop'),
  );
  await writeFile(join(project.root, 'api-token.txt'), 'tok-initial-value\n');
  project.env['DB_PUBLISH_PORT'] = '15432';
  // Its migrations reach its own database across hosts, through that published port (process env wins
  // over .env.production), never another suite's on :5432.
  project.env['DATABASE_URL'] = `postgres://shop:${PASSWORD}@db:15432/shop`;

  const deployed = await cli(['deploy', '--version', 'v1']);
  expect(deployed.stderr).toContain('Deployed shopops v1 to production');
  expect(deployed.code).toBe(0);
});

afterAll(async () => {
  if (harness === undefined) return;
  await startSshd().catch(() => undefined);
  await cleanup();
  await stopSshd();
  await rm(sshdDir(), { recursive: true, force: true });
  if (project !== undefined) removeProject(project);
});

describe('status', () => {
  it('lists every service on the right hosts with the version of the release', async () => {
    const started = Date.now();
    const status = await cli(['status']);
    const elapsed = Date.now() - started;
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^shopops production: release rel-\d{8}-\d{9} \(v1, /);
    for (const [host, service] of [
      ['h1', 'api'],
      ['h1', 'web'],
      ['h2', 'api'],
      ['h2', 'web'],
      ['h3', 'db'],
    ] as const) {
      const found = rows(status.stdout, host, service);
      expect(found, `${host} ${service}`).toHaveLength(1);
      const [container, state, health, version, , restarts, release] = found[0]!;
      expect(container).toBe(`${service}-1`);
      expect(state).toBe('running');
      expect(health).toBe('healthy');
      expect(version).toBe(service === 'db' ? '15' : 'v1');
      expect(restarts).toBe('0');
      expect(release).toBe('current');
    }
    expect(rows(status.stdout, 'h3', 'api')).toEqual([]);
    expect(rows(status.stdout, 'h1', 'db')).toEqual([]);
    expect(rows(status.stdout, 'h1', 'ingress')[0]?.[1]).toBe('running');
    expect(status.stdout).toContain('7/7 containers running');
    console.log(`status on 3 hosts: ${elapsed} ms`);

    const json = await cli(['status', '--json']);
    expect(json.code).toBe(0);
    const document = JSON.parse(json.stdout) as {
      hosts: {
        name: string;
        reachable: boolean;
        services: { name: string; containers: { version: string }[] }[];
      }[];
    };
    expect(
      document.hosts.map((host) => [host.name, host.reachable, host.services.map((service) => service.name)]),
    ).toEqual([
      ['h1', true, ['api', 'web', 'ingress']],
      ['h2', true, ['api', 'web', 'ingress']],
      ['h3', true, ['db']],
    ]);
  });

  it('shows a container stopped by hand as down', async () => {
    const web = await containerName('h2', 'web');
    await dockerOn(harness, 'h2', ['stop', '-t', '2', web]);
    try {
      const status = await cli(['status']);
      expect(status.code).toBe(0);
      expect(rows(status.stdout, 'h2', 'web')[0]?.[0]).toBe('web-1');
      expect(rows(status.stdout, 'h2', 'web')[0]?.[1]).toMatch(/^exited \(\d+\)$/);
      expect(rows(status.stdout, 'h1', 'web')[0]?.[1]).toBe('running');
      expect(status.stdout).toContain('6/7 containers running, 1 down');
    } finally {
      await dockerOn(harness, 'h2', ['start', web]);
    }
  });

  it('shows a host whose sshd is stopped as unreachable and exits 10', async () => {
    await stopSshd();
    try {
      const status = await cli(['status']);
      expect(status.code).toBe(10);
      expect(rows(status.stdout, 'h3', '-')[0]?.[1]).toBe('unreachable');
      expect(rows(status.stdout, 'h1', 'api')[0]?.[1]).toBe('running');
      expect(status.stdout).toMatch(/h3: could not reach h3 \(10\.231\.0\.13:2222\).*Connection refused/);
      expect(status.stderr).toContain('error: could not read 1 of 3 hosts: h3');

      const doctor = await cli(['doctor']);
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(/^FAIL {2}production\/h3 +could not reach h3/m);
      expect(doctor.stdout).toMatch(/fix: check that the host is up/);
      expect(doctor.stdout).toMatch(/^ok {4}production\/h1 +ssh ok/m);
    } finally {
      await startSshd();
    }
    const again = await cli(['status']);
    expect(again.code).toBe(0);
  });
});

describe('doctor', () => {
  it('checks this machine and every host, and passes when everything required is there', async () => {
    const doctor = await cli(['doctor']);
    expect(doctor.code).toBe(0);
    for (const name of [
      'node',
      'docker',
      'compose',
      'ssh',
      'production/h1',
      'production/h2',
      'production/h3',
    ]) {
      expect(doctor.stdout).toMatch(new RegExp(`^ok {4}${name.replace('/', '\\/')} `, 'm'));
    }
    expect(doctor.stdout).toMatch(/^(ok|warn) {2,4}gh /m);
  });
});

describe('logs', () => {
  it('merges the lines of both hosts in time order, prefixed with host and container', async () => {
    const mark = `merge-${Date.now()}`;
    await logLine('h1', 'api', `${mark}-a`);
    await sleep(50);
    await logLine('h2', 'api', `${mark}-b`);
    await sleep(50);
    await logLine('h1', 'api', `${mark}-c`);
    const logs = await cli(['logs', 'api']);
    expect(logs.code).toBe(0);
    const ours = logs.stdout.split('\n').filter((line) => line.includes(mark));
    expect(ours).toEqual([`h1 api-1 | ${mark}-a`, `h2 api-1 | ${mark}-b`, `h1 api-1 | ${mark}-c`]);
    expect(logs.stdout).toContain('h1 api-1 | api v1 listening on :3000');
    expect(logs.stdout).toContain('h2 api-1 | api v1 listening on :3000');

    const grep = await cli(['logs', 'api', '--grep', `${mark}-[bc]`]);
    expect(grep.code).toBe(0);
    expect(grep.stdout.trim().split('\n')).toEqual([`h2 api-1 | ${mark}-b`, `h1 api-1 | ${mark}-c`]);

    const json = await cli(['logs', 'api', '--grep', `${mark}-b`, '--json']);
    expect(json.code).toBe(0);
    const [entry, ...more] = json.stdout.trim().split('\n');
    expect(more).toEqual([]);
    expect(JSON.parse(entry!)).toMatchObject({ host: 'h2', container: 'api-1', text: `${mark}-b` });
    expect(JSON.parse(entry!).timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('-f picks up new lines of every host and keeps following when a connection drops', async () => {
    const mark = `follow-${Date.now()}`;
    let child: ChildProcess | undefined;
    let stdout = '';
    let stderr = '';
    const running = cli(['logs', 'api', '-f', '--lines', '1'], {
      onStart: (started) => {
        child = started;
        started.stdout?.on('data', (chunk) => {
          stdout += chunk;
        });
        started.stderr?.on('data', (chunk) => {
          stderr += chunk;
        });
      },
    });
    const ids = await Promise.all(
      ['h1', 'h2'].map(async (host) =>
        (
          await dockerOn(harness, host, ['inspect', '--format', '{{.Id}}', await containerName(host, 'api')])
        ).trim(),
      ),
    );
    const ours = (args: string) =>
      args.includes('docker logs') && args.includes(' -f ') && ids.some((id) => args.includes(id));
    try {
      const followers = () =>
        processes().filter((entry) => entry.args.startsWith('ssh ') && ours(entry.args));
      await until('a follower on each web host', () => followers().length >= 2);

      await logLine('h1', 'api', `${mark}-1`);
      await logLine('h2', 'api', `${mark}-2`);
      await until(
        'both new lines',
        () => stdout.includes(`h1 api-1 | ${mark}-1`) && stdout.includes(`h2 api-1 | ${mark}-2`),
      );

      // The connection to h2 drops: kill the master of the CLI's multiplexed ssh connection to h2.
      const h2Client = followers().find((entry) => entry.args.includes(' 10.231.0.12 '));
      const controlDir = /ControlPath=(\S+)\/%C/.exec(h2Client?.args ?? '')?.[1];
      expect(controlDir).toBeDefined();
      const master = processes().find((entry) => entry.args.startsWith(`ssh: ${controlDir}/`));
      expect(master).toBeDefined();
      process.kill(master!.pid, 'SIGKILL');
      await until('the lost connection reported', () => /h2: lost the connection/.test(stderr));
      expect(stderr).toContain('still following h1');

      await logLine('h1', 'api', `${mark}-3`);
      await until('h1 still followed', () => stdout.includes(`h1 api-1 | ${mark}-3`));

      // h2 answers again: the CLI picks it up after its last line, without repeating lines.
      await logLine('h2', 'api', `${mark}-4`);
      await until('h2 followed again', () => stdout.includes(`h2 api-1 | ${mark}-4`), 30_000);
      expect(stdout.split(`h2 api-1 | ${mark}-2`).length).toBe(2);
    } finally {
      child?.kill('SIGINT');
    }
    const ended = await running;
    expect(ended.code).toBe(0);
    // Nothing left behind on the hosts: the remote `docker logs -f` stop with the connection.
    await until('remote docker logs gone', () => !processes().some((entry) => ours(entry.args)), 10_000);
  });
});

describe('exec and ssh', () => {
  it('exec runs in a running container of the service; output and exit code pass through', async () => {
    const result = await cli([
      'exec',
      'api',
      '--',
      'sh',
      '-c',
      'echo "in $(hostname)"; echo oops >&2; exit 7',
    ]);
    expect(result.code).toBe(7);
    const id = (
      await dockerOn(harness, 'h1', [
        'inspect',
        '--format',
        '{{.Config.Hostname}}',
        await containerName('h1', 'api'),
      ])
    ).trim();
    expect(result.stdout).toBe(`in ${id}\n`);
    expect(result.stderr).toContain('oops');

    const db = await cli(['exec', 'db', '--', 'psql', '-U', 'shop', '-d', 'shop', '-tAc', 'select 40 + 2']);
    expect(db.code).toBe(0);
    expect(db.stdout.trim()).toBe('42');
  });

  it('exec --new runs a one-off container of the current release image and removes it', async () => {
    const before = await dockerOn(harness, 'h1', [
      'ps',
      '-aq',
      '--filter',
      `label=com.docker.compose.project=${COMPOSE_PROJECT}`,
    ]);
    const result = await cli([
      'exec',
      'api',
      '--new',
      '--',
      'sh',
      '-c',
      'echo "version $APP_VERSION"; exit 3',
    ]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('version v1\n');
    const after = await dockerOn(harness, 'h1', [
      'ps',
      '-aq',
      '--filter',
      `label=com.docker.compose.project=${COMPOSE_PROJECT}`,
    ]);
    expect(after.trim().split('\n').sort()).toEqual(before.trim().split('\n').sort());
  });

  it('ssh with a command runs it on the host (first host of a role) and passes its exit code', async () => {
    const role = await cli(['ssh', 'web', '--', 'hostname']);
    expect(role).toMatchObject({ code: 0, stdout: 'h1\n' });
    const host = await cli(['ssh', 'h3', '--', 'hostname; exit 3']);
    expect(host).toMatchObject({ code: 3, stdout: 'h3\n' });
    const argv = await cli(['ssh', 'h2', '--', 'printf', '[%s]', 'a b', '$HOME']);
    expect(argv).toMatchObject({ code: 0, stdout: '[a b][$HOME]' });
    const unknown = await cli(['ssh', 'h9', '--', 'true']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('"h9" is neither a host nor a role of production');
  });
});

describe('secrets sync', () => {
  const releaseDir = async () => {
    const out = await sshRun(harness, 'h1', `ls -d .stagecraft/${COMPOSE_PROJECT}/releases/rel-*`);
    return out.trim().split('\n').at(-1)!;
  };
  const remoteFile = async (host: string, path: string) => {
    const [mode, ...content] = (await sshRun(harness, host, `stat -c %a ${path}; cat ${path}`)).split('\n');
    return { mode, content: content.join('\n') };
  };

  it('writes 0600 env files whose content matches, never showing a value, and --restart applies them', async () => {
    await writeFile(join(project.root, 'api-token.txt'), `${TOKEN}\n`);
    const { result: sync, seen } = await watchCommandLines(cli(['secrets', 'sync']));
    expect(sync.code).toBe(0);
    const output = sync.stdout + sync.stderr;
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain(PASSWORD);
    expect(sync.stdout).toMatch(
      /^h1 +all +~\/\.stagecraft\/shopops-production\/secrets\.env +added API_TOKEN, POSTGRES_PASSWORD$/m,
    );
    // The deploy wrote services.api.secrets with the token of then (tok-initial-value): now it changes.
    expect(sync.stdout).toMatch(
      /^h2 +api +~\/\.stagecraft\/shopops-production\/releases\/rel-\S+\/secrets\/api\.env +changed API_TOKEN$/m,
    );
    expect(sync.stdout).toMatch(/^h3 +db +\S+\/secrets\/db\.env +unchanged \(1 key\)$/m);
    expect(sync.stdout).toContain('Containers still run the old values: h1/api, h2/api');

    // No value in the arguments of any process here or on the hosts during the sync (they share this
    // machine's process table); the watch did see the sync's own commands.
    expect([...seen].filter((args) => args.includes(TOKEN) || args.includes(PASSWORD))).toEqual([]);
    expect([...seen].some((args) => args.includes('umask 077'))).toBe(true);

    const release = await releaseDir();
    for (const host of ['h1', 'h2', 'h3']) {
      const all = await remoteFile(host, `.stagecraft/${COMPOSE_PROJECT}/secrets.env`);
      expect(all).toEqual({
        mode: '600',
        content: `API_TOKEN="${TOKEN}"\nPOSTGRES_PASSWORD="${PASSWORD}"\n`,
      });
    }
    for (const host of ['h1', 'h2']) {
      const api = await remoteFile(host, `${release}/secrets/api.env`);
      expect(api.mode).toBe('600');
      expect(api.content).toBe(
        `API_TOKEN="${TOKEN}"\nDATABASE_URL="postgres://shop:${PASSWORD}@db:15432/shop"\nPOSTGRES_PASSWORD="${PASSWORD}"\n`,
      );
    }
    expect(await remoteFile('h3', `${release}/secrets/db.env`)).toEqual({
      mode: '600',
      content: `POSTGRES_PASSWORD="${PASSWORD}"\n`,
    });

    // The running api containers do not have the new values yet: status says so.
    const pending = await cli(['status']);
    expect(rows(pending.stdout, 'h1', 'api')[0]?.[6]).toBe('outdated');
    expect(rows(pending.stdout, 'h3', 'db')[0]?.[6]).toBe('current');

    const again = await cli(['secrets', 'sync', '--restart']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('Nothing changed.');
    expect(again.stdout).toMatch(
      /Restarted: h1\/api \(start-first: 1 new, 1 retired\), h2\/api \(start-first: 1 new, 1 retired\)/,
    );
    expect(again.stdout + again.stderr).not.toContain(TOKEN);
    const restarted = await cli(['status']);
    expect(rows(restarted.stdout, 'h1', 'api')[0]?.slice(0, 2)).toEqual(['api-2', 'running']);
    expect(rows(restarted.stdout, 'h2', 'api')[0]?.[6]).toBe('current');
    const hash = await cli(['exec', 'api', '--', 'sh', '-c', 'printf %s "$API_TOKEN" | sha256sum']);
    const { createHash } = await import('node:crypto');
    expect(hash.stdout.split(' ')[0]).toBe(createHash('sha256').update(TOKEN).digest('hex'));

    // Nothing secret in the release history, here or on the lock host.
    const ledger = await readFile(project.env['STAGECRAFT_STATE_FILE']!, 'utf8');
    const remoteLedger = await sshRun(harness, 'h1', `cat .stagecraft/${COMPOSE_PROJECT}/releases.jsonl`);
    for (const text of [ledger, remoteLedger]) {
      expect(text).toContain('"version":');
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(PASSWORD);
    }

    // Each sync that wrote service files is a release of kind restart, based on the one before it; the
    // compose file of each host is the one the ledger records.
    const listed = JSON.parse((await cli(['releases', 'list', '--json'])).stdout) as {
      releases: {
        id: string;
        kind: string;
        version: string;
        status: string;
        restart_of?: string;
        message: string;
        hosts: Record<string, { compose_sha256: string }>;
      }[];
    };
    const [deployed, synced, restartRelease] = [...listed.releases].sort((a, b) => a.id.localeCompare(b.id));
    expect(listed.releases).toHaveLength(3);
    expect(deployed).toMatchObject({ kind: 'deploy', version: 'v1', status: 'completed' });
    expect(synced).toMatchObject({
      kind: 'restart',
      restart_of: deployed!.id,
      status: 'completed',
      message: 'secrets sync: new secrets for api (containers not restarted)',
    });
    expect(restartRelease).toMatchObject({
      kind: 'restart',
      restart_of: synced!.id,
      version: 'v1',
      status: 'completed',
      message: 'secrets sync --restart: secrets unchanged',
    });
    expect(again.stdout).toContain(
      `Recorded release ${restartRelease!.id} (restart of ${synced!.id}, version v1).`,
    );
    for (const host of ['h1', 'h2', 'h3']) {
      const onHost = await sshRun(
        harness,
        host,
        `sha256sum .stagecraft/${COMPOSE_PROJECT}/releases/${restartRelease!.id}/compose.yml`,
      );
      expect(onHost.split(' ')[0]).toBe(restartRelease!.hosts[host]!.compose_sha256);
    }
    // The deploy's folder is as it ran: a rollback to it reuses its compose file and brings back its values.
    expect(
      (await remoteFile('h1', `.stagecraft/${COMPOSE_PROJECT}/releases/${deployed!.id}/secrets/api.env`))
        .content,
    ).toContain('API_TOKEN="tok-initial-value"');
    const back = await cli(['rollback', '--to-release', deployed!.id]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).not.toContain('rendering one from the current config');
    const rolledBack = await cli(['exec', 'api', '--', 'sh', '-c', 'printf %s "$API_TOKEN" | sha256sum']);
    expect(rolledBack.stdout.split(' ')[0]).toBe(
      createHash('sha256').update('tok-initial-value').digest('hex'),
    );
  });

  it('--keys updates only those keys and reports them as changed', async () => {
    const next = `${TOKEN}-rotated`;
    await writeFile(join(project.root, 'api-token.txt'), `${next}\n`);
    const dry = await cli(['secrets', 'sync', '--keys', 'API_TOKEN', '--dry-run']);
    expect(dry.code).toBe(0);
    // A dry run runs no secret command: the command's key is not compared.
    expect(dry.stdout).toMatch(
      /^h1 +all +\S+secrets\.env +not compared API_TOKEN \(from a command, not run in a dry run\)$/m,
    );
    expect(dry.stdout).toContain('Dry run: 5 files would be written; nothing was changed.');
    expect((await remoteFile('h1', `.stagecraft/${COMPOSE_PROJECT}/secrets.env`)).content).toContain(
      TOKEN + '"',
    );
    const sync = await cli(['secrets', 'sync', '--keys', 'API_TOKEN']);
    expect(sync.code).toBe(0);
    expect(sync.stdout + sync.stderr).not.toContain(next);
    expect(sync.stdout).toMatch(/^h3 +all +\S+secrets\.env +changed API_TOKEN$/m);
    expect(sync.stdout).not.toMatch(/db\.env/);
    const all = await remoteFile('h2', `.stagecraft/${COMPOSE_PROJECT}/secrets.env`);
    expect(all.content).toBe(`API_TOKEN="${next}"\nPOSTGRES_PASSWORD="${PASSWORD}"\n`);
    const unknown = await cli(['secrets', 'sync', '--keys', 'API_TOKN']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not a secret of this project: API_TOKN (did you mean "API_TOKEN"?)');
  });

  it('provider encore runs `encore secret set --type …` with each value on stdin only', async () => {
    const bin = join(project.root, 'fake-bin');
    const calls = join(project.root, 'encore-calls');
    await mkdir(bin, { recursive: true });
    await mkdir(calls, { recursive: true });
    // A stand-in for the Encore CLI at its boundary: records argv and stdin, answers like the real one.
    await writeFile(
      join(bin, 'encore'),
      `#!/bin/sh\nn=$(ls ${calls} | wc -l)\nprintf '%s\\n' "$@" > ${calls}/$n.argv\ncat > ${calls}/$n.stdin\npwd > ${calls}/$n.cwd\necho "Successfully updated secret $4."\n`,
      { mode: 0o755 },
    );
    const config = await readFile(join(project.root, 'stagecraft.yml'), 'utf8');
    await writeFile(
      join(project.root, 'stagecraft.encore.yml'),
      replaceOnce(
        config,
        'secrets:\n  provider: envfile\n',
        'secrets:\n  provider: encore\n  providers:\n    encore: { types: [prod, preview] }\n',
      ),
    );
    const sync = await cli(['secrets', 'sync', '-c', 'stagecraft.encore.yml'], {
      env: { PATH: `${bin}:${process.env['PATH']}` },
    });
    expect(sync.code).toBe(0);
    expect(sync.stdout).toBe('Set 2 secrets in Encore (types prod,preview): API_TOKEN, POSTGRES_PASSWORD\n');
    expect(sync.stdout + sync.stderr).not.toContain(PASSWORD);
    const recorded = readdirSync(calls)
      .filter((name) => name.endsWith('.argv'))
      .sort()
      .map((name) => ({
        argv: readFileSync(join(calls, name), 'utf8').trim().split('\n'),
        stdin: readFileSync(join(calls, name.replace('.argv', '.stdin')), 'utf8'),
        cwd: readFileSync(join(calls, name.replace('.argv', '.cwd')), 'utf8').trim(),
      }));
    expect(recorded).toEqual([
      {
        argv: ['secret', 'set', '--type', 'prod,preview', 'API_TOKEN'],
        stdin: `${TOKEN}-rotated`,
        cwd: project.root,
      },
      {
        argv: ['secret', 'set', '--type', 'prod,preview', 'POSTGRES_PASSWORD'],
        stdin: PASSWORD,
        cwd: project.root,
      },
    ]);
  });
});
