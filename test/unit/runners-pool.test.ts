import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareDeploy } from '../../src/operations/deploy.js';
import { RunnerPool } from '../../src/runners/pool.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { InternalError } from '../../src/util/errors.js';
import { composeCliAvailable } from '../support/compose-fixtures.js';
import { projectContext } from '../support/prepare.js';

// A fake `ssh` first on PATH, at the process boundary: every invocation is logged as
// "<open|run|exit> <host> <control folder>" (`true` opens the master connection, `-O exit` stops it),
// and a remote command runs here, with `sh -c`, in a fake home folder.
const dir = mkdtempSync(join(tmpdir(), 'sc-pool-'));
const home = join(dir, 'home');
const log = join(dir, 'log');
mkdirSync(home);
writeFileSync(
  join(dir, 'ssh'),
  `#!/bin/sh
cp=""; op=""; host=""; prev=""
for a; do
  case "$prev" in
    -o) case "$a" in ControlPath=*) cp="$(dirname "\${a#ControlPath=}")";; esac;;
    -O) op="$a";;
  esac
  [ "$a" = "--" ] && host="$prev"
  prev="$a"
done
if [ "$op" = "exit" ]; then echo "exit $a $cp" >> "${log}"; exit 0; fi
if [ "$a" = "true" ]; then echo "open $host $cp" >> "${log}"; exit 0; fi
echo "run $host $cp" >> "${log}"
cd "${home}" && exec sh -c "$a"
`,
);
chmodSync(join(dir, 'ssh'), 0o755);
const path = process.env['PATH'];
beforeEach(() => {
  process.env['PATH'] = `${dir}:${path}`;
  rmSync(log, { force: true });
});
afterEach(() => {
  process.env['PATH'] = path;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fake ssh's log: one [kind, host, control folder] per invocation. */
function sshLog(): [string, string, string][] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(' ') as [string, string, string]);
}

const kinds = (kind: string) =>
  sshLog()
    .filter(([k]) => k === kind)
    .map(([, host]) => host)
    .sort();

const ENV = {
  hosts: [
    { name: 'h1', target: '10.0.0.1', user: 'deploy', port: undefined },
    { name: 'h2', target: '10.0.0.2', user: 'deploy', port: undefined },
  ],
  connection: { driver: 'ssh' as const, rootDir: dir },
};

describe('RunnerPool', () => {
  it('opens one ssh connection per host for every command of a session and closes each once at the end', async () => {
    const pool = new RunnerPool();
    const h1 = pool.get(ENV, 'h1');
    expect(pool.get(ENV, 'h1')).toBe(h1);
    // What a deploy does before and after its lock: a ready check, reads, side by side, then steps.
    await Promise.all([
      h1.exec(['echo', 'ready']),
      pool.get(ENV, 'h1').read('.stagecraft/missing'),
      pool.get(ENV, 'h2').exec(['echo', 'ready']),
    ]);
    // A borrower's close() leaves the shared connection open: the next command reuses it.
    await h1.close();
    expect((await pool.get(ENV, 'h1').exec(['echo', 'step'])).stdout).toBe('step\n');
    expect(pool.size).toBe(2);
    expect(kinds('open')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(kinds('run')).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2']);
    expect(kinds('exit')).toEqual([]);

    await pool.close();
    await pool.close();
    expect(kinds('exit')).toEqual(['10.0.0.1', '10.0.0.2']);
    // Each connection's private control folder is gone.
    const folders = [...new Set(sshLog().map(([, , folder]) => folder))];
    expect(folders).toHaveLength(2);
    for (const folder of folders) expect(existsSync(folder)).toBe(false);
    expect(() => pool.get(ENV, 'h1')).toThrow(InternalError);
  });

  it('closes every runner even when one fails to close', async () => {
    const closed: string[] = [];
    const pool = new RunnerPool((_env, host) => {
      const runner = new RecordingRunner({ name: host });
      runner.close = async () => {
        closed.push(host);
        if (host === 'h1') throw new Error('gone');
      };
      return runner;
    });
    pool.get(ENV, 'h1');
    pool.get(ENV, 'h2');
    await pool.close();
    expect(closed.sort()).toEqual(['h1', 'h2']);
  });

  it('on SIGINT closes the runners and exits 130, unless a release run handles the signal', async () => {
    const closed: string[] = [];
    const exits: number[] = [];
    const pool = new RunnerPool((_env, host) => {
      const runner = new RecordingRunner({ name: host });
      runner.close = async () => {
        closed.push(host);
      };
      return runner;
    });
    const before = new Set(process.listeners('SIGINT'));
    pool.closeOnInterrupt((code) => exits.push(code));
    const added = process.listeners('SIGINT').filter((listener) => !before.has(listener));
    expect(added).toHaveLength(1);
    const onSigint = added[0] as () => void;
    pool.get(ENV, 'h1');

    await pool.handlingInterrupts(async () => {
      onSigint();
      await new Promise((resolve) => setTimeout(resolve, 10));
    });
    expect([closed, exits]).toEqual([[], []]);

    onSigint();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect([closed, exits]).toEqual([['h1'], [130]]);
    expect(process.listeners('SIGINT').filter((listener) => !before.has(listener))).toEqual([]);
  });
});

const composeAvailable = composeCliAvailable();

describe.skipIf(!composeAvailable)('deploy reads before the plan', { timeout: 60_000 }, () => {
  const project = () => {
    const root = mkdtempSync(join(dir, 'project-'));
    writeFileSync(
      join(root, 'stagecraft.yml'),
      'project: { name: bakery }\nservices:\n  web: { port: 8080, domains: [bakery.example.test] }\nenvironments:\n  production:\n    driver: ssh\n    hosts: { web: [{ name: web-1, address: 192.0.2.10 }, { name: web-2, address: 192.0.2.11 }] }\n',
    );
    writeFileSync(join(root, 'compose.yaml'), 'services:\n  web:\n    image: nginx:1.27\n');
    return root;
  };

  it('share one connection per host with a pool (one per read without one)', async () => {
    const root = project();
    const pool = new RunnerPool();
    const prepared = await prepareDeploy(projectContext(root, 'production'), {
      version: 'v1',
      runners: pool,
    });
    expect(prepared.env.model.lockHost).toBe('web-1');
    // The spec-hash key, the release history (retention), the maintenance switch and its gateway: one
    // connection to the lock host; the other host's gateway: one more.
    expect(kinds('open').sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    expect(kinds('run').sort()).toEqual([
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.11',
    ]);
    expect(kinds('exit')).toEqual([]);
    await pool.close();
    expect(kinds('exit').sort()).toEqual(['192.0.2.10', '192.0.2.11']);

    rmSync(log, { force: true });
    await prepareDeploy(projectContext(root, 'production'), { version: 'v1' });
    expect(kinds('open').sort()).toEqual([
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.11',
    ]);
    expect(kinds('exit').sort()).toEqual([
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.10',
      '192.0.2.11',
    ]);
  });
});
