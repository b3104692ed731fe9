import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, stagecraft } from '../support/cli.js';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

function write(root: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), content);
  }
}

function git(root: string, args: string[]) {
  const result = spawnSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A git repository with one commit of a small project: api (built), db, migrations in db/migrations. */
function repository(): string {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-commit-'));
  write(root, {
    'stagecraft.yml':
      'project:\n  name: shop\nservices:\n  api: { role: web, port: 3000 }\ndatabases:\n  main:\n    connection_env: DATABASE_URL\n    migrations: { engine: raw, path: ./db/migrations, strategy: pre_deploy }\nenvironments:\n  production:\n    driver: ssh\n    hosts: { web: [web-1] }\n',
    'docker-compose.yml': 'services:\n  api:\n    build: ./api\n  db:\n    image: postgres:16-alpine\n',
    'api/server.js': 'console.log("v1");\n',
    'db/migrations/001_orders.sql': 'CREATE TABLE orders (id int, note text);\n',
    'README.md': '# shop\n',
  });
  expect(git(root, ['init', '-q', '-b', 'main']).code).toBe(0);
  git(root, ['add', '-A']);
  expect(git(root, ['commit', '-q', '-m', 'chore: start']).code).toBe(0);
  return root;
}

describe('stagecraft commit suggest', () => {
  it('prints a message for the staged change: scope from paths, breaking when a migration drops', () => {
    const root = repository();
    write(root, {
      'api/server.js': 'console.log("v2");\n',
      'db/migrations/002_drop_note.sql':
        '-- the note moved to order_notes\nALTER TABLE orders DROP COLUMN note;\n',
      'README.md': '# shop\n\nchanged but not staged\n',
    });
    git(root, ['add', 'api/server.js', 'db/migrations/002_drop_note.sql']);
    const result = stagecraft(['commit', 'suggest'], { cwd: root });
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({
      code: 0,
      stdout: [
        'fix(api,migrations)!: add migration 002_drop_note, update server.js',
        '',
        '- api: server.js',
        '- migration: db/migrations/002_drop_note.sql',
        '',
        'BREAKING CHANGE: db/migrations/002_drop_note.sql runs DROP COLUMN note; the release still serving during the rollout loses what it reads',
        '',
      ].join('\n'),
    });
    const json = JSON.parse(stagecraft(['commit', 'suggest', '--json'], { cwd: root }).stdout);
    expect(json).toMatchObject({ type: 'fix', scope: 'api,migrations', breaking: true });
    expect(json.files).toEqual([
      { status: 'M', path: 'api/server.js' },
      { status: 'A', path: 'db/migrations/002_drop_note.sql' },
    ]);
  });

  it('reads image bumps from the staged compose file, from a sub-folder too', () => {
    const root = repository();
    write(root, {
      'docker-compose.yml': 'services:\n  api:\n    build: ./api\n  db:\n    image: postgres:16.4-alpine\n',
    });
    git(root, ['add', 'docker-compose.yml']);
    const result = stagecraft(['commit', 'suggest'], { cwd: join(root, 'api') });
    expect(result).toMatchObject({
      code: 0,
      stdout: 'chore(compose): bump postgres to 16.4-alpine\n\n- compose: docker-compose.yml\n',
    });
  });

  it('exits 1 when nothing is staged or outside a repository', () => {
    const root = repository();
    const nothing = stagecraft(['commit', 'suggest'], { cwd: root });
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('error: nothing is staged');
    const outside = stagecraft(['commit', 'suggest'], {
      cwd: mkdtempSync(join(tmpdir(), 'stagecraft-nogit-')),
    });
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/is not in a git repository/);
  });

  it('--check validates a message file and names each problem', () => {
    const root = repository();
    write(root, { 'msg-ok': 'feat(api): add refunds\n', 'msg-bad': 'Added refunds.\n' });
    expect(stagecraft(['commit', 'suggest', '--check', 'msg-ok'], { cwd: root }).code).toBe(0);
    const bad = stagecraft(['commit', 'suggest', '--check', 'msg-bad'], { cwd: root });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      [
        'error: msg-bad is not a Conventional Commits message',
        '  msg-bad:1:1 the first line must read "type(scope): subject", e.g. "fix(api): keep the cart when the session expires"',
        'hint: `stagecraft commit suggest` prints a message for the staged change; https://www.conventionalcommits.org/en/v1.0.0/',
        '',
      ].join('\n'),
    );
    const missing = stagecraft(['commit', 'suggest', '--check', 'nope'], { cwd: root });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('commit message file not found: nope');
  });

  it('works as a commit-msg hook: git commit refuses a bad message and an unmarked drop', () => {
    const root = repository();
    const hook = join(root, '.git', 'hooks', 'commit-msg');
    writeFileSync(hook, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" commit suggest --check "$1"\n`);
    chmodSync(hook, 0o755);
    write(root, { 'db/migrations/002_drop_note.sql': 'ALTER TABLE orders DROP COLUMN note;\n' });
    git(root, ['add', '-A']);
    const bad = git(root, ['commit', '-q', '-m', 'drop the note']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('.git/COMMIT_EDITMSG:1:1 the first line must read');
    const unmarked = git(root, ['commit', '-q', '-m', 'feat(migrations): drop the note']);
    expect(unmarked.code).toBe(1);
    expect(unmarked.stderr).toContain(
      'the staged db/migrations/002_drop_note.sql runs DROP COLUMN note: mark the commit breaking',
    );
    expect(git(root, ['commit', '-q', '-m', 'feat(migrations)!: drop the note']).code).toBe(0);
    expect(git(root, ['log', '-1', '--format=%s']).stdout).toBe('feat(migrations)!: drop the note\n');
  });
});
