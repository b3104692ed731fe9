import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SshRunner } from '../../src/runners/ssh.js';

// A fake `ssh` first on PATH: each remote command marks itself running in a folder, notes how many
// run at that moment, and sleeps; the master connection's `true` returns at once.
const dir = mkdtempSync(join(tmpdir(), 'sc-ssh-'));
mkdirSync(join(dir, 'running'));
writeFileSync(
  join(dir, 'ssh'),
  `#!/bin/sh
for last; do :; done
[ "$last" = "true" ] && exit 0
touch "${dir}/running/$$"
ls "${dir}/running" | wc -l | tr -d ' ' >> "${dir}/seen"
sleep 0.3
rm -f "${dir}/running/$$"
echo done
`,
);
chmodSync(join(dir, 'ssh'), 0o755);
const path = process.env['PATH'];
afterAll(() => {
  process.env['PATH'] = path;
  rmSync(dir, { recursive: true, force: true });
});

describe('SshRunner sessions', () => {
  it('runs at most maxSessions commands at once over its connection; the others wait their turn', async () => {
    process.env['PATH'] = `${dir}:${path}`;
    const runner = new SshRunner({
      name: 'h1',
      host: '10.0.0.1',
      maxSessions: 2,
      controlDir: join(dir, 'c'),
    });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => runner.exec(['echo', String(i)])));
    expect(results.map((result) => result.stdout)).toEqual(Array(6).fill('done\n'));
    const seen = readFileSync(join(dir, 'seen'), 'utf8').trim().split('\n').map(Number);
    expect(seen).toHaveLength(6);
    expect(Math.max(...seen)).toBe(2);
    // Three rounds of 0.3 s; the rest is process starts, slow on a loaded machine.
  }, 30_000);
});
