// A deploy killed before it could record how it ended (SIGKILL during the build, before it held the
// deploy lock) leaves its release "running" in the ledger. `releases` shows it as interrupted when its
// process is gone on this machine, and writes nothing; the next deploy records it as failed (unit
// tests of Ledger.markLeftUnfinished).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

const deadPid = spawnSync('true').pid!;

function record(id: string, pid: number, machine = hostname()) {
  return {
    id,
    environment: 'production',
    version: `v-${id.slice(-3)}`,
    commit_sha: 'abc123',
    timestamp: '2026-12-01T10:00:00.000Z',
    phases: {
      build: 'completed',
      push: 'running',
      migrate_pre: 'pending',
      rollout: 'pending',
      migrate_post: 'pending',
      finalize: 'pending',
    },
    kind: 'deploy',
    images: { api: 'reg/shop-api:v1' },
    hosts: {},
    deployer: { user: 'alice', machine, ci: false, pid, pid_namespace: readlinkSync('/proc/self/ns/pid') },
  };
}

describe('releases of a deploy that was killed', () => {
  it('are shown as interrupted when their process is gone here, running otherwise; nothing is written', () => {
    const root = projectWith({
      'docker-compose.yml': 'services:\n  api:\n    image: busybox:1.36\n',
      'stagecraft.yml': 'project:\n  name: shop\nenvironments:\n  production:\n    driver: local\n',
    });
    mkdirSync(join(root, '.stagecraft'));
    const ledger = join(root, '.stagecraft', 'releases.json');
    const text = `${JSON.stringify(
      {
        releases: [
          record('rel-20261201-100000000', deadPid),
          record('rel-20261201-110000000', deadPid, `${hostname()}-elsewhere`),
          record('rel-20261201-120000000', process.pid),
        ],
      },
      null,
      2,
    )}\n`;
    writeFileSync(ledger, text);
    const env = { HOME: root };

    const json = stagecraft(['releases', '--json'], { cwd: root, env });
    expect(json.code, json.stderr).toBe(0);
    const statuses = (JSON.parse(json.stdout) as { releases: { id: string; status: string }[] }).releases.map(
      (release) => [release.id, release.status],
    );
    expect(statuses).toEqual([
      ['rel-20261201-120000000', 'running'],
      ['rel-20261201-110000000', 'running'],
      ['rel-20261201-100000000', 'interrupted'],
    ]);
    const show = stagecraft(['releases', 'show', 'rel-20261201-100000000'], { cwd: root, env });
    expect(show.stdout).toMatch(/^Status: +interrupted$/m);
    expect(readFileSync(ledger, 'utf8')).toBe(text);
  });
});
