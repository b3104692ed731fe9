// require_confirmation gates every command that changes the environment, not only deploy: without a
// TTY and without --yes each one refuses (exit 1) before it changes anything.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';

let root: string;
let home: string;
const env = () => ({
  HOME: home,
  STAGECRAFT_STATE_FILE: join(root, 'releases.json'),
  API_TOKEN: 'tok-value-1',
});
const lockInfo = () => join(home, '.stagecraft', 'confirm-prod', 'lock', 'info.json');

const release = (id: string, version: string) => ({
  id,
  environment: 'prod',
  version,
  commit_sha: '',
  timestamp: '2026-01-01T12:00:00.000Z',
  phases: {
    build: 'completed',
    push: 'completed',
    migrate_pre: 'skipped',
    rollout: 'completed',
    migrate_post: 'skipped',
    finalize: 'completed',
  },
  kind: 'deploy',
  images: { api: `confirm-api:${version}` },
  hosts: { local: { compose_sha256: 'a'.repeat(64), services: ['api'] } },
  deployer: { user: 'alice', machine: 'laptop', ci: false },
});

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-confirm-'));
  home = join(root, 'home');
  mkdirSync(join(root, 'migrations'), { recursive: true });
  mkdirSync(home);
  writeFileSync(join(root, 'migrations', '001_init.sql'), 'SELECT 1;\n');
  writeFileSync(
    join(root, 'docker-compose.yml'),
    'services:\n  api:\n    image: confirm-api:v1\n    environment:\n      API_TOKEN: ${API_TOKEN}\n',
  );
  writeFileSync(
    join(root, 'stagecraft.yml'),
    [
      'project:',
      '  name: confirm',
      'services:',
      '  api:',
      '    role: web',
      'databases:',
      '  main:',
      '    connection_env: DATABASE_URL',
      '    migrations: { engine: raw, path: ./migrations, strategy: manual }',
      'secrets:',
      '  provider: envfile',
      '  keys: [API_TOKEN]',
      'environments:',
      '  prod:',
      '    driver: local',
      '    require_confirmation: true',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'releases.json'),
    `${JSON.stringify({ releases: [release('rel-20260101-110000000', 'v1'), release('rel-20260101-120000000', 'v2')] }, null, 2)}\n`,
  );
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('require_confirmation without a TTY and without --yes', () => {
  it.each([
    [['rollback', '--to-previous'], 'Roll back confirm prod to release rel-20260101-110000000 (version v1)?'],
    [['migrate'], 'Apply the pending migrations of prod?'],
    [['secrets', 'sync', '--restart'], 'Sync the secrets of prod and restart the services that use them?'],
  ])('%j refuses with exit 1, changing nothing', (args, question) => {
    const before = readFileSync(join(root, 'releases.json'), 'utf8');
    const result = stagecraft([...args, '-e', 'prod'], { cwd: root, env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${question} This environment requires confirmation`);
    expect(result.stderr).toContain('pass --yes');
    expect(readFileSync(join(root, 'releases.json'), 'utf8')).toBe(before);
  });

  it("lock release asks before removing another's lock, not one's own", () => {
    expect(stagecraft(['lock', 'acquire', '-e', 'prod'], { cwd: root, env: env() }).code).toBe(0);
    expect(stagecraft(['lock', 'release', '-e', 'prod'], { cwd: root, env: env() }).code).toBe(0);
    expect(stagecraft(['lock', 'acquire', '-e', 'prod'], { cwd: root, env: env() }).code).toBe(0);
    const info = JSON.parse(readFileSync(lockInfo(), 'utf8')) as Record<string, unknown>;
    writeFileSync(lockInfo(), JSON.stringify({ ...info, holder: 'alice', machine: 'laptop' }));
    const refused = stagecraft(['lock', 'release', '-e', 'prod'], { cwd: root, env: env() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /Release the deploy lock of alice@laptop since \S+ \(version manual, "held by [^"]+"\); expires \S+\? This environment requires confirmation/,
    );
    expect(JSON.parse(readFileSync(lockInfo(), 'utf8')).holder).toBe('alice');
    const released = stagecraft(['lock', 'release', '-e', 'prod', '--yes'], { cwd: root, env: env() });
    expect(released.code).toBe(0);
    expect(stagecraft(['lock', 'status', '-e', 'prod'], { cwd: root, env: env() }).stdout).toContain(
      'not locked',
    );
  });
});
