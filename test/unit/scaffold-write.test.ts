// writeFiles of `new` and `attach`: a write that fails midway leaves the folder as it was — files it
// wrote removed, files it replaced put back, folders it created removed — and the failure is a
// UserError naming the path (exit 1), not the raw errno (exit 3).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFiles } from '../../src/operations/scaffold.js';
import { UserError } from '../../src/util/errors.js';

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-scaffold-write-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('writeFiles', () => {
  it('writes every file, creating its folders', async () => {
    const dir = join(root, 'ok');
    await writeFiles(dir, [
      { path: 'a/b/c.txt', content: 'c\n' },
      { path: 'run.sh', content: '#!/bin/sh\n', mode: 0o755 },
    ]);
    expect(readFileSync(join(dir, 'a/b/c.txt'), 'utf8')).toBe('c\n');
    expect(statSync(join(dir, 'run.sh')).mode & 0o777).toBe(0o755);
  });

  it('a failure midway undoes everything it did and names the path', async () => {
    const dir = join(root, 'undo');
    mkdirSync(join(dir, 'taken'), { recursive: true });
    writeFileSync(join(dir, 'README.md'), 'mine\n', { mode: 0o600 });
    const error = await writeFiles(dir, [
      { path: 'new/deep/file.txt', content: 'x\n' },
      { path: 'README.md', content: 'theirs\n' },
      { path: 'taken', content: 'a file where a folder is\n' },
      { path: 'never/written.txt', content: 'y\n' },
    ]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      `cannot write ${join(dir, 'taken')}: it is a directory (EISDIR)`,
    );
    expect((error as UserError).exitCode).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'taken']);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('mine\n');
    expect(statSync(join(dir, 'README.md')).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'taken'))).toEqual([]);
  });
});
