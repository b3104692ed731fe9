import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { swarmProject } from '../support/config.js';

// `stagecraft migrate` connects from this machine on every driver; on a swarm that differs from the
// migrations a deploy runs (replicated jobs on the swarm's network), and the output says so. The
// database URL points at a closed local port: nothing is reached.
const root = swarmProject({
  compose: 'services:\n  web:\n    image: nginx:1.27\n  db:\n    image: postgres:16\n',
  services: '  web: { role: web, port: 80, domains: [shop.example] }\n  db: { role: web }\n',
  more: `databases:
  main:
    connection_env: DATABASE_URL
    migrations: { engine: raw, path: ./migrations }
`,
  environments: `  staging:
    driver: ssh
    hosts:
      web: [{ name: s1, address: 192.0.2.2 }]
`,
});
mkdirSync(join(root, 'migrations'));
writeFileSync(join(root, 'migrations', '001_init.sql'), 'create table t (id int);\n');
const env = { DATABASE_URL: 'postgres://app:secret@127.0.0.1:1/app' };

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('driver swarm: migrate', () => {
  it.each([['plan'], ['run']])(
    '`migrate %s` says it connects from here, and that a deploy migrates on the swarm',
    (action) => {
      const result = stagecraft(['migrate', action, '-e', 'production', '--yes'], { cwd: root, env });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(
        'production is a swarm: `stagecraft migrate` connects to the database from this machine with DATABASE_URL, not from the swarm',
      );
      expect(result.stderr).toContain(
        '`stagecraft deploy` runs pre_deploy and post_deploy migrations on the swarm',
      );
      expect(result.stderr).toContain('error: cannot reach PostgreSQL at 127.0.0.1:1');
    },
  );

  it('says nothing of it on driver ssh', () => {
    const result = stagecraft(['migrate', 'plan', '-e', 'staging'], { cwd: root, env });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('swarm');
  });

  it('`migrate --help` says where it connects from on a swarm', () => {
    const result = stagecraft(['migrate', '--help'], { cwd: root });
    expect(result.stdout).toContain('driver swarm:');
  });
});
