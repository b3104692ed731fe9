// `stagecraft lock` on a `driver: local` environment (the lock lives under this machine's HOME): what
// `lock status` prints of a lease someone left, and the takeover `lock acquire` announces. The
// harness tests (test/e2e/secret-leak.test.ts) do the same against a real host.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';

let root: string;
let home: string;
const env = () => ({ HOME: home });
const lockFolder = () => join(home, '.stagecraft', 'locky-prod', 'lock');

/** A lease left by someone else, with terminal escapes in its fields, that expired a minute ago. */
function leaveExpiredLease(): void {
  const expired = Math.floor(Date.now() / 1000) - 60;
  mkdirSync(lockFolder(), { recursive: true });
  writeFileSync(
    join(lockFolder(), 'info.json'),
    `${JSON.stringify(
      {
        holder: 'mallory\u001b]0;owned\u0007',
        machine: 'box\u001b[2J',
        acquired_at: new Date((expired - 1800) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        expires_at: new Date(expired * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        version: 'v9',
        message: 'hot\u001b[31mfix',
        lease_id: 'f'.repeat(24),
        expires_epoch: expired,
      },
      null,
      2,
    )}\n`,
  );
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-lock-cli-'));
  home = join(root, 'home');
  mkdirSync(home);
  writeFileSync(join(root, 'docker-compose.yml'), 'services:\n  api:\n    image: locky-api:v1\n');
  writeFileSync(
    join(root, 'stagecraft.yml'),
    'project:\n  name: locky\nservices:\n  api:\n    role: web\nenvironments:\n  prod:\n    driver: local\n',
  );
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('stagecraft lock on this machine', () => {
  it('status neutralises terminal escapes and marks a lease expired by the lock host’s clock', () => {
    leaveExpiredLease();
    const info = JSON.parse(readFileSync(join(lockFolder(), 'info.json'), 'utf8')) as Record<string, string>;
    const status = stagecraft(['lock', 'status', '-e', 'prod'], { cwd: root, env: env() });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toBe(
      [
        'locky-prod: locked on local',
        '  holder:   mallory\\x1b]0;owned\\x07@box\\x1b[2J',
        `  since:    ${info['acquired_at']}`,
        `  expires:  ${info['expires_at']} (expired by local's clock: the next acquire takes it over)`,
        '  version:  v9',
        '  message:  hot\\x1b[31mfix',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(
      stagecraft(['lock', 'status', '-e', 'prod', '--json'], { cwd: root, env: env() }).stdout,
    );
    expect(json.lock).toMatchObject({ holder: 'mallory\u001b]0;owned\u0007', expired: true });
  });

  it('acquire takes over an expired lease loudly, naming whose it was', () => {
    leaveExpiredLease();
    const taken = stagecraft(['lock', 'acquire', '-e', 'prod', '-m', 'mine now'], { cwd: root, env: env() });
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stderr).toMatch(
      /^warning: TOOK OVER the deploy lock of mallory\\x1b\]0;owned\\x07@box\\x1b\[2J since \S+ \(version v9, "hot\\\\x1b\[31mfix"\); expires \S+: its lease expired by the lock host’s clock$/m,
    );
    expect(taken.stdout).toBe('Lock acquired on local for locky-prod\n');
    const now = JSON.parse(readFileSync(join(lockFolder(), 'info.json'), 'utf8'));
    expect(now).toMatchObject({ version: 'manual', message: 'mine now' });
    expect(stagecraft(['lock', 'release', '-e', 'prod'], { cwd: root, env: env() }).code).toBe(0);
  });

  it('acquire and release with --dry-run say what they would do and change nothing', () => {
    rmSync(lockFolder(), { recursive: true, force: true });
    const acquire = stagecraft(['lock', 'acquire', '-e', 'prod', '--dry-run', '-m', 'try'], {
      cwd: root,
      env: env(),
    });
    expect(acquire.code, acquire.stderr).toBe(0);
    expect(acquire.stdout).toBe(
      'would acquire the lock on local for locky-prod (not locked now); nothing changed (--dry-run)\n',
    );
    expect(stagecraft(['lock', 'status', '-e', 'prod'], { cwd: root, env: env() }).stdout).toBe(
      'locky-prod: not locked (lock host local)\n',
    );
    leaveExpiredLease();
    const before = readFileSync(join(lockFolder(), 'info.json'), 'utf8');
    const release = stagecraft(['lock', 'release', '-e', 'prod', '--dry-run'], { cwd: root, env: env() });
    expect(release.code, release.stderr).toBe(0);
    expect(release.stdout).toMatch(
      /^would release the lock on local for locky-prod, held by .*; nothing changed \(--dry-run\)\n$/,
    );
    expect(readFileSync(join(lockFolder(), 'info.json'), 'utf8')).toBe(before);
  });
});
