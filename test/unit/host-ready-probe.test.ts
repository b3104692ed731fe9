import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { notReadyReason } from '../../src/operations/setup.js';
import { parseHostFacts, READY_PROBE_SCRIPT } from '../../src/plan/host-facts.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs the deploy's probe with `tools` (name → sh script) first on PATH, then only /usr/bin:/bin. */
function probe(tools: Record<string, string>): string {
  const bin = mkdtempSync(join(tmpdir(), 'stagecraft-probe-'));
  dirs.push(bin);
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const result = spawnSync('/bin/sh', ['-c', READY_PROBE_SCRIPT], {
    env: { PATH: `${bin}:/usr/bin:/bin` },
    encoding: 'utf8',
  });
  expect(result.status).toBe(0);
  return result.stdout;
}

describe('READY_PROBE_SCRIPT (what a deploy reads before it touches a host)', () => {
  it('takes the running server’s version and compose’s', () => {
    const out = probe({
      docker: `case "$1 $2" in
  "version --format") echo 27.3.1 ;;
  "compose version") echo 2.29.7 ;;
  *) exit 9 ;;
esac`,
      dockerd: 'echo "Docker version 20.10.0, build x"',
    });
    expect(out).toBe(
      'docker_cli=yes\ncompose_version=2.29.7\ndocker_version=27.3.1\ndocker_running=yes\nprobe=done\n',
    );
    const facts = parseHostFacts(out);
    expect([facts.docker.version, facts.docker.running, facts.compose]).toEqual(['27.3.1', true, '2.29.7']);
    expect(notReadyReason(facts)).toBeUndefined();
  });

  it('with the server down, tells an installed engine from a missing one by dockerd', () => {
    const out = probe({
      docker: `case "$1 $2" in
  "version --format") echo "Cannot connect to the Docker daemon" >&2; exit 1 ;;
  "compose version") echo v2.29.7 ;;
esac`,
      dockerd: 'echo "Docker version 26.1.5+dfsg1, build a72d7cd"',
    });
    expect(out).toBe(
      'docker_cli=yes\ncompose_version=v2.29.7\ndocker_version=Docker version 26.1.5+dfsg1, build a72d7cd\nprobe=done\n',
    );
    expect(notReadyReason(parseHostFacts(out))).toBe('does not run Docker');
    expect(notReadyReason(parseHostFacts('probe=done\n'))).toBe('has no Docker Engine');
    expect(
      notReadyReason(
        parseHostFacts(
          'docker_cli=yes\ncompose_version=\ndocker_version=27.0.1\ndocker_running=yes\nprobe=done\n',
        ),
      ),
    ).toBe('has no docker compose v2');
  });

  it('asks the engine and compose side by side, not one after the other', () => {
    const started = Date.now();
    const out = probe({
      docker: `sleep 1
case "$1 $2" in
  "version --format") echo 27.3.1 ;;
  "compose version") echo 2.29.7 ;;
esac`,
    });
    expect(Date.now() - started).toBeLessThan(1800);
    expect(out).toBe(
      'docker_cli=yes\ncompose_version=2.29.7\ndocker_version=27.3.1\ndocker_running=yes\nprobe=done\n',
    );
  });

  it('without mktemp still asks compose, after the engine', () => {
    const out = probe({
      mktemp: 'exit 1',
      docker: `case "$1 $2" in
  "version --format") echo 27.3.1 ;;
  "compose version") echo 2.29.7 ;;
esac`,
    });
    expect(out).toBe(
      'docker_cli=yes\ncompose_version=2.29.7\ndocker_version=27.3.1\ndocker_running=yes\nprobe=done\n',
    );
  });
});
