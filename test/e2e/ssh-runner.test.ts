// The ssh runner, the deploy lock and the remote ledger against the harness's real sshd hosts.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunner } from '../../src/runners/factory.js';
import { runLocal } from '../../src/runners/local.js';
import { SshRunner, type SshRunnerOptions } from '../../src/runners/ssh.js';
import {
  appendRemoteLedger,
  parseLedgerJsonl,
  pendingPhases,
  readRemoteLedger,
} from '../../src/state/ledger.js';
import { acquireLock, lockStatus, releaseLock } from '../../src/state/lock.js';
import type { ReleaseRecord } from '../../src/state/types.js';
import { ExternalError } from '../../src/util/errors.js';
import { Secret } from '../../src/util/secret.js';
import { type HarnessEnv, requireHarness, sshRun } from './support/harness.js';

let env: HarnessEnv;
let work: string;
const runners: SshRunner[] = [];
/** Unique per run, so that parallel runs on one harness do not meet. */
const tag = `e2e-ssh-${process.pid}`;
const remoteDir = `.stagecraft-test/${tag}`;

function runner(host: string, extra: Partial<SshRunnerOptions> = {}): SshRunner {
  const created = new SshRunner({ name: host, host, configFile: env.ssh_config, ...extra });
  runners.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<ExternalError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ExternalError);
  return error as ExternalError;
}

beforeAll(async () => {
  env = await requireHarness();
  work = await mkdtemp(join(tmpdir(), 'stagecraft-ssh-e2e-'));
});

afterAll(async () => {
  await Promise.all(runners.map((r) => r.close()));
  if (env !== undefined) {
    await Promise.all(
      env.hosts.map((h) =>
        sshRun(
          env,
          h.name,
          `rm -rf .stagecraft-test/${tag} .stagecraft/${tag}-production; rmdir .stagecraft-test 2>/dev/null; true`,
        ),
      ),
    );
  }
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('SshRunner on the harness hosts', () => {
  it('runs a command on every host, in the remote home folder', async () => {
    const answers = await Promise.all(
      env.hosts.map(async (host) => (await runner(host.name).exec(['sh', '-c', 'hostname; pwd'])).stdout),
    );
    expect(answers).toEqual(env.hosts.map((host) => `${host.name}\n/root\n`));
  });

  it('reuses one ControlMaster connection: 20 sequential commands take well under a second', async () => {
    const h1 = runner('h1');
    let started = performance.now();
    await h1.exec(['true']);
    const firstMs = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < 20; i++) await h1.exec(['true']);
    const twentyMs = performance.now() - started;
    console.log(
      `ssh timings: first command (connect + exec) ${firstMs.toFixed(0)} ms; 20 muxed commands ${twentyMs.toFixed(0)} ms (${(twentyMs / 20).toFixed(1)} ms each)`,
    );
    // 20 new connections would cost about 20 first commands; muxed they cost far less (3 s on a quiet
    // machine, or a few first commands on a loaded one).
    expect(twentyMs).toBeLessThan(Math.max(3000, 8 * firstMs));
    // The master is up on the control socket until close(), and gone after it.
    const checkArgv = ['ssh', ...h1.commandArgv(['true']).slice(1, -3), '-O', 'check', 'h1'];
    expect((await runLocal(checkArgv, { allowFailure: true })).stderr).toMatch(/Master running/);
    await h1.close();
    expect((await runLocal(checkArgv, { allowFailure: true })).exitCode).not.toBe(0);
  });

  it('stops a remote command at its timeout and keeps the connection usable', async () => {
    const h1 = runner('h1');
    await h1.connect();
    const started = Date.now();
    const error = await failure(h1.exec(['sleep', '5'], { timeoutMs: 500 }));
    expect(error.message).toBe('sleep 5 timed out after 0.5s on h1');
    // Not held until the remote command ends (the master keeps the client's output pipes).
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await h1.exec(['echo', 'still here'])).stdout).toBe('still here\n');
  });

  it('shares the first connection between commands started at once', async () => {
    const h2 = runner('h2');
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => h2.exec(['echo', String(i)])));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('passes argv with spaces, quotes, $, globs, newlines and empty words byte for byte', async () => {
    const words = [
      'a b',
      "it's",
      '"dq"',
      '$HOME',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion, to be quoted
      '${PATH}',
      '`id`',
      '$(id)',
      '*',
      '?',
      '~',
      'x=1',
      '',
      'l1\nl2',
      '\\',
      '-n',
      '; rm -rf /',
      'ünï ✓',
    ];
    const result = await runner('h1').exec(['printf', '<%s>', ...words]);
    expect(result.stdout).toBe(words.map((w) => `<${w}>`).join(''));
  });

  it('uploads atomically with mode 0600 and reads the file back', async () => {
    const h1 = runner('h1');
    const path = `${remoteDir}/nested/app.env`;
    await h1.upload(path, new Secret('TOKEN=abc\nNO_FINAL_NEWLINE=1'), 0o600);
    expect((await h1.exec(['stat', '-c', '%a', path])).stdout).toBe('600\n');
    expect(await h1.read(path)).toBe('TOKEN=abc\nNO_FINAL_NEWLINE=1');
    await h1.upload(`~/${path}`, 'second\n', 0o644);
    expect((await h1.exec(['stat', '-c', '%a', path])).stdout).toBe('644\n');
    expect(await h1.read(path)).toBe('second\n');
    // No temp file is left beside it.
    expect((await h1.exec(['ls', '-A', `${remoteDir}/nested`])).stdout).toBe('app.env\n');
    await h1.upload(`${remoteDir}/bin.dat`, Buffer.from('bytes\u0000here'), 0o640);
    expect((await h1.exec(['wc', '-c', `${remoteDir}/bin.dat`])).stdout).toBe(`10 ${remoteDir}/bin.dat\n`);
    expect(await h1.read(`${remoteDir}/missing.txt`)).toBeUndefined();
    expect(await h1.read(`${remoteDir}/no-dir/missing.txt`)).toBeUndefined();
  });

  it('reports a failing remote command with its exit code and stderr, or resolves with allowFailure', async () => {
    const h1 = runner('h1');
    const error = await failure(h1.exec(['sh', '-c', 'echo nope >&2; exit 4']));
    expect(error.message).toBe(`sh -c 'echo nope >&2; exit 4' exited with code 4 on h1: nope`);
    expect(error.command).toMatch(/^ssh -F .* h1 -- 'sh -c '\\''echo nope >&2; exit 4'\\'''$/);
    // A remote exit code of 255 is the command's, not an ssh failure.
    expect((await h1.exec(['sh', '-c', 'exit 255'], { allowFailure: true })).exitCode).toBe(255);
    const lines: string[] = [];
    await h1.exec(['sh', '-c', 'echo out; echo err >&2'], {
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    expect(lines.sort()).toEqual(['stderr:err', 'stdout:out']);
  });

  it('never shows a Secret sent on stdin in the process list, here or on the host', async () => {
    const h1 = runner('h1');
    const value = `s3cret-${tag}-${Date.now()}`;
    const secret = new Secret(value);
    const path = `${remoteDir}/stdin-secret`;
    const running = h1.exec(['sh', '-c', `cat > ${path}; ps -eo args; sleep 1`], { stdin: secret });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const remotePs = (await runner('h1').exec(['ps', '-eo', 'args'])).stdout;
    const localPs = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    const own = await running;
    expect(remotePs).not.toContain(value);
    expect(localPs).not.toContain(value);
    expect(own.stdout).not.toContain(value);
    expect(own.stdout).toMatch(/ps -eo args/);
    expect(await h1.read(path)).toBe(value);
  });
});

describe('ssh failures', () => {
  it('refuses a host whose key is not the one in known_hosts (MITM) with a clear message', async () => {
    const keyFile = join(work, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const otherKey = (await readFile(`${keyFile}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
    const knownHosts = join(work, 'wrong_known_hosts');
    await writeFile(knownHosts, `h1,10.231.0.11 ${otherKey}\n`);
    const error = await failure(runner('h1', { knownHostsFile: knownHosts }).exec(['true']));
    expect(error.message).toBe(
      'host key verification failed for h1 (h1:22): Host key for 10.231.0.11 has changed and you have requested strict checking.',
    );
    expect(error.hint).toMatch(/known_hosts/);
    expect(error.hint).toMatch(/MITM/);
    expect(error.details.join('\n')).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);

    const empty = join(work, 'empty_known_hosts');
    await writeFile(empty, '');
    const unknown = await failure(runner('h2', { knownHostsFile: empty }).exec(['true']));
    expect(unknown.message).toMatch(
      /^host key verification failed for h2 \(h2:22\): No ED25519 host key is known for 10\.231\.0\.12 /,
    );
  });

  it('says which host it could not reach, with ssh’s reason', async () => {
    const ghost = runner('ghost', {
      host: '10.231.0.99',
      configFile: undefined,
      user: 'root',
      identityFile: env.identity_file,
      knownHostsFile: env.known_hosts,
      connectTimeoutSeconds: 2,
    });
    const started = Date.now();
    const error = await failure(ghost.exec(['true']));
    expect(error.message).toMatch(
      /^could not reach ghost \(10\.231\.0\.99:22\): ssh: connect to host 10\.231\.0\.99 port 22: (Connection timed out|No route to host)$/,
    );
    expect(error.hint).toMatch(/host is up/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('says permission denied and what to check when the key is not accepted', async () => {
    const keyFile = join(work, 'stranger_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    // Not through the harness ssh_config: IdentityFile adds up, so its key would still be offered.
    const h3 = env.hosts.find((host) => host.name === 'h3')!;
    const stranger = runner('h3', {
      host: h3.address,
      configFile: undefined,
      user: 'root',
      identityFile: keyFile,
      knownHostsFile: env.known_hosts,
    });
    const error = await failure(stranger.exec(['true']));
    expect(error.message).toBe(
      `permission denied logging in to h3 (${h3.address}:22) as root: root@${h3.address}: Permission denied (publickey).`,
    );
    expect(error.hint).toMatch(/identity_file/);
    expect(error.hint).toMatch(/ssh-agent/);
  });
});

describe('state over ssh', () => {
  it('holds the deploy lock on h1: a second acquire is refused, release frees it', async () => {
    const target = { project: tag, env: 'production' };
    const first = runner('h1');
    const second = runner('h1'); // another operator: its own connection
    const held = await acquireLock(first, {
      ...target,
      holder: 'alice',
      machine: 'laptop',
      version: 'v1',
      message: 'first',
      expiryMs: 60_000,
    });
    const error = await failure(
      acquireLock(second, { ...target, holder: 'bob', machine: 'ci', version: 'v2', expiryMs: 60_000 }),
    );
    expect(error.message).toMatch(
      new RegExp(
        `^deploy lock for ${tag}-production is held by alice@laptop since .* \\(version v1, "first"\\); expires `,
      ),
    );
    expect(await lockStatus(second, target)).toEqual({ ...held, expired: false });
    expect(await sshRun(env, 'h1', `cat .stagecraft/${tag}-production/lock/info.json`)).toContain(
      '"holder": "alice"',
    );
    expect(await releaseLock(first, { ...target, held })).toBe(true);
    expect(await lockStatus(second, target)).toBeUndefined();
    const again = await acquireLock(second, {
      ...target,
      holder: 'bob',
      machine: 'ci',
      version: 'v2',
      expiryMs: 60_000,
    });
    expect(await releaseLock(second, { ...target, held: again })).toBe(true);
  });

  it('appends the release history as JSONL on the lock host', async () => {
    const h1 = createRunner(
      { name: 'h1' },
      { driver: 'ssh', rootDir: work, ssh: { config_file: env.ssh_config } },
    );
    try {
      const record = (id: string): ReleaseRecord => ({
        id,
        environment: 'production',
        version: 'v1',
        commit_sha: 'abc',
        timestamp: '2025-01-01T00:00:00.000Z',
        phases: pendingPhases(),
        kind: 'deploy',
        images: {},
        hosts: {},
        deployer: { user: 'alice', machine: 'laptop', ci: false },
        message: 'quotes \' " and $dollars',
      });
      await appendRemoteLedger(h1, tag, 'production', record('rel-20250101-000000000'));
      await appendRemoteLedger(h1, tag, 'production', record('rel-20250101-000000001'));
      const parsed = parseLedgerJsonl(await readRemoteLedger(h1, tag, 'production'));
      expect(parsed.invalidLines).toEqual([]);
      expect(parsed.records.map((r) => r.id)).toEqual(['rel-20250101-000000000', 'rel-20250101-000000001']);
      expect(parsed.records[0]?.message).toBe('quotes \' " and $dollars');
    } finally {
      await h1.close();
    }
  });

  it('removes its private control folder on close', async () => {
    const h3 = runner('h3');
    await h3.exec(['true']);
    const controlDir = h3
      .commandArgv(['true'])
      .find((arg) => arg.startsWith('ControlPath='))!
      .slice('ControlPath='.length, -3);
    expect(existsSync(controlDir)).toBe(true);
    await h3.close();
    expect(existsSync(controlDir)).toBe(false);
  });
});
