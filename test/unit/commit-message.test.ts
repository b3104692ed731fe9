import { describe, expect, it } from 'vitest';
import { checkMessage, cleanMessage } from '../../src/commit/check.js';
import { destructiveChanges } from '../../src/commit/destructive.js';
import { parseDiffLines, parseNameStatus } from '../../src/commit/git.js';
import { classify, suggestMessage } from '../../src/commit/suggest.js';
import type { ProjectLayout, StagedFile } from '../../src/commit/types.js';

const LAYOUT: ProjectLayout = {
  projectDir: '',
  configFiles: ['stagecraft.yml', '.stagecraft/stagecraft.schema.json'],
  composeFile: 'docker-compose.yml',
  migrationDirs: ['migrations'],
  services: { api: 'api', web: 'web', worker: 'api' },
};

function file(
  path: string,
  status: StagedFile['status'] = 'M',
  added: string[] = [],
  removed: string[] = [],
): StagedFile {
  return { status, path, added, removed };
}

describe('git output parsing', () => {
  it('reads --name-status -z with renames', () => {
    expect(parseNameStatus('M\0api/server.js\0R087\0old.sql\0migrations/002_new.sql\0A\0a b.txt\0')).toEqual([
      { status: 'M', path: 'api/server.js' },
      { status: 'R', path: 'migrations/002_new.sql', from: 'old.sql' },
      { status: 'A', path: 'a b.txt' },
    ]);
  });

  it('reads added and removed lines of a -U0 diff, headers dropped', () => {
    const diff = [
      'diff --git a/x.sql b/x.sql',
      'index 1..2 100644',
      '--- a/x.sql',
      '+++ b/x.sql',
      '@@ -1 +1,2 @@',
      '-old line',
      '+new line',
      '+-- a comment',
    ].join('\n');
    expect(parseDiffLines(diff)).toEqual({ added: ['new line', '-- a comment'], removed: ['old line'] });
  });
});

describe('classify', () => {
  it.each([
    ['migrations/003_add.sql', 'migration', 'migrations'],
    ['docker-compose.yml', 'compose', 'compose'],
    ['docker-compose.override.yml', 'compose', 'compose'],
    ['stagecraft.yml', 'config', 'config'],
    ['.stagecraft/hooks/pre-deploy', 'config', 'config'],
    ['.env.example', 'config', 'config'],
    ['.github/workflows/deploy.yml', 'ci', undefined],
    ['api/src/cart.ts', 'service', 'api'],
    ['api/src/cart.test.ts', 'test', 'api'],
    ['api/Dockerfile', 'build', 'api'],
    ['web/package.json', 'build', 'web'],
    ['README.md', 'docs', undefined],
    ['scripts/seed.sh', 'other', undefined],
  ])('%s → %s (%s)', (path, kind, scope) => {
    expect(classify(path, LAYOUT)).toEqual({ kind, scope });
  });
});

describe('destructive migrations', () => {
  it('finds drops and renames in added lines, not in comments', () => {
    const changes = destructiveChanges([
      file('migrations/003.sql', 'A', [
        'ALTER TABLE orders DROP COLUMN legacy_note;',
        '-- DROP TABLE users;',
        'ALTER TABLE customers RENAME TO clients;',
        'ALTER TABLE orders RENAME COLUMN total TO amount;',
        'CREATE INDEX orders_status ON orders (status);',
        'DROP TABLE IF EXISTS audit_old;',
      ]),
      file('migrations/004.js', 'A', [
        "  await knex.schema.table('users', (t) => t.dropColumn('nickname'));",
      ]),
    ]);
    expect(changes).toEqual([
      { file: 'migrations/003.sql', statement: 'DROP COLUMN legacy_note' },
      { file: 'migrations/003.sql', statement: 'RENAME TO clients' },
      { file: 'migrations/003.sql', statement: 'RENAME COLUMN total TO amount' },
      { file: 'migrations/003.sql', statement: 'DROP TABLE IF EXISTS audit_old' },
      { file: 'migrations/004.js', statement: "dropColumn('nickname'" },
    ]);
  });

  it('finds nothing in an additive migration', () => {
    expect(
      destructiveChanges([
        file('m.sql', 'A', ['ALTER TABLE orders ADD COLUMN note text;', 'CREATE TABLE t (id int);']),
      ]),
    ).toEqual([]);
  });
});

describe('suggestMessage', () => {
  it('a migration that drops a column: feat(migrations)! with a BREAKING CHANGE footer', () => {
    const suggestion = suggestMessage(
      [file('migrations/003_drop_legacy_note.sql', 'A', ['ALTER TABLE orders DROP COLUMN legacy_note;'])],
      LAYOUT,
    );
    expect(suggestion.message).toBe(
      [
        'feat(migrations)!: add migration 003_drop_legacy_note',
        '',
        '- migration: migrations/003_drop_legacy_note.sql',
        '',
        'BREAKING CHANGE: migrations/003_drop_legacy_note.sql runs DROP COLUMN legacy_note; the release still serving during the rollout loses what it reads',
        '',
      ].join('\n'),
    );
    expect(suggestion.breaking).toBe(true);
  });

  it('an image bump in the compose file: chore(compose)', () => {
    const suggestion = suggestMessage(
      [
        file(
          'docker-compose.yml',
          'M',
          ['    image: postgres:16.4-alpine'],
          ['    image: postgres:16-alpine'],
        ),
      ],
      LAYOUT,
    );
    expect(suggestion.message).toBe(
      'chore(compose): bump postgres to 16.4-alpine\n\n- compose: docker-compose.yml\n',
    );
  });

  it('changed code of one service: fix(api); new code: feat', () => {
    expect(suggestMessage([file('api/server.mjs')], LAYOUT).message.split('\n')[0]).toBe(
      'fix(api): update server.mjs',
    );
    const added = suggestMessage(
      [
        file('api/src/refunds.ts', 'A'),
        file('api/src/cart.ts'),
        file('migrations/004_refunds.sql', 'A', ['CREATE TABLE refunds (id int);']),
      ],
      LAYOUT,
    );
    expect(added.message).toBe(
      [
        'feat(api,migrations): add migration 004_refunds, update api (2 files)',
        '',
        '- api: src/cart.ts, src/refunds.ts',
        '- migration: migrations/004_refunds.sql',
        '',
      ].join('\n'),
    );
  });

  it('docs alone: docs; three services: no scope', () => {
    expect(suggestMessage([file('README.md')], LAYOUT).message.split('\n')[0]).toBe('docs: update README.md');
    const three = suggestMessage([file('api/a.ts'), file('web/b.ts'), file('stagecraft.yml')], LAYOUT);
    expect(three.message.split('\n')[0]).toBe('fix: update files (3 files)');
  });

  it('config only: chore(config); CI only: ci', () => {
    expect(suggestMessage([file('stagecraft.yml')], LAYOUT).message.split('\n')[0]).toBe(
      'chore(config): update stagecraft.yml',
    );
    expect(suggestMessage([file('.github/workflows/ci.yml', 'A')], LAYOUT).message.split('\n')[0]).toBe(
      'ci: add ci.yml',
    );
  });
});

describe('checkMessage', () => {
  it('accepts Conventional Commits headers, with body and footers, and what git writes itself', () => {
    for (const message of [
      'feat(api): add refunds\n',
      'fix!: drop the legacy cart\n\nBREAKING CHANGE: carts older than a day are gone\n',
      'chore(api,migrations): tidy\n\n- body line\n# Please enter the commit message\n',
      'Merge branch "main" into feature\n',
      'fixup! feat(api): add refunds\n',
      'Revert "feat(api): add refunds"\n',
    ])
      expect(checkMessage(message), message).toEqual([]);
  });

  it('names every problem with its line and column', () => {
    expect(checkMessage('Feature(api):add refunds.\nmore text\nbreaking change: yes\n')).toEqual([
      {
        line: 1,
        column: 1,
        message:
          'unknown type "Feature" (did you mean "feat"?); expected one of feat, fix, docs, style, refactor, perf, test, build, ci, chore, revert',
      },
      { line: 1, column: 14, message: 'write one space after the colon' },
      { line: 1, column: 25, message: 'the subject ends with a period' },
      { line: 2, column: 1, message: 'leave the second line blank: it separates the subject from the body' },
      {
        line: 3,
        column: 1,
        message: 'write the footer as "BREAKING CHANGE: <what breaks>" (upper case, colon, space)',
      },
    ]);
    expect(checkMessage('update stuff\n')).toEqual([
      {
        line: 1,
        column: 1,
        message:
          'the first line must read "type(scope): subject", e.g. "fix(api): keep the cart when the session expires"',
      },
    ]);
    expect(checkMessage('# only a comment\n\n')).toEqual([
      { line: 1, column: 1, message: 'the message is empty' },
    ]);
    expect(checkMessage(`feat: ${'x'.repeat(100)}\n`)[0]).toEqual({
      line: 1,
      column: 101,
      message: 'the first line is 106 characters; keep it to 100',
    });
  });

  it('requires a breaking marker when the staged migrations drop or rename', () => {
    const destructive = [{ file: 'migrations/003.sql', statement: 'DROP COLUMN note' }];
    expect(checkMessage('feat(migrations): drop note\n', destructive)).toEqual([
      {
        line: 1,
        column: 1,
        message:
          'the staged migrations/003.sql runs DROP COLUMN note: mark the commit breaking ("feat(migrations)!: …") or add a "BREAKING CHANGE: …" footer',
      },
    ]);
    expect(checkMessage('feat(migrations)!: drop note\n', destructive)).toEqual([]);
    expect(checkMessage('feat: drop note\n\nBREAKING CHANGE: note is gone\n', destructive)).toEqual([]);
  });

  it('drops comments and everything below the scissors line', () => {
    expect(
      cleanMessage(
        'feat: x\n\nbody\n# comment\n# ------------------------ >8 ------------------------\ndiff --git a b\n',
      ),
    ).toEqual(['feat: x', '', 'body']);
  });
});
