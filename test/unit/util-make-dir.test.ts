// makeDirectory (mkdir -p that always ends), writeFileAtomic through it, and the mapping of
// file-system failures to errors with exit codes (scaffold/target.ts).
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/util/atomic-file.js';
import { ExternalError, UserError } from '../../src/util/errors.js';
import { fileSystemError } from '../../src/util/fs-errors.js';
import { makeDirectory } from '../../src/util/make-dir.js';

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-make-dir-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('makeDirectory', () => {
  it('creates the missing levels and returns them, outermost first', async () => {
    const created = await makeDirectory(join(root, 'a/b/c'));
    expect(created).toEqual([join(root, 'a'), join(root, 'a/b'), join(root, 'a/b/c')]);
    expect(statSync(join(root, 'a/b/c')).isDirectory()).toBe(true);
  });

  it('an existing directory: nothing created', async () => {
    expect(await makeDirectory(join(root, 'a/b'))).toEqual([]);
  });

  it('a regular file on the way: ENOTDIR naming it, nothing created', async () => {
    writeFileSync(join(root, 'file'), 'x');
    await expect(makeDirectory(join(root, 'file/sub/dir'))).rejects.toMatchObject({
      code: 'ENOTDIR',
      path: join(root, 'file'),
    });
    expect(readdirSync(root).sort()).toEqual(['a', 'file']);
  });

  it.runIf(process.platform === 'linux')(
    'under /proc (ENOENT although the parent exists): fails once instead of looping',
    async () => {
      await expect(makeDirectory('/proc/stagecraft-x/y')).rejects.toMatchObject({
        code: 'ENOENT',
        path: '/proc/stagecraft-x',
      });
      await expect(writeFileAtomic('/proc/stagecraft-x/file', 'x')).rejects.toMatchObject({
        code: 'ENOENT',
      });
    },
    5_000,
  );
});

describe('writeFileAtomic', () => {
  it('a directory in the way is refused before anything is written (no temporary file left)', async () => {
    const dir = join(root, 'atomic');
    await makeDirectory(join(dir, 'taken'));
    await expect(writeFileAtomic(join(dir, 'taken'), 'x')).rejects.toMatchObject({
      message: `${join(dir, 'taken')} is a directory, not a file: nothing was written`,
      exitCode: 1,
    });
    expect(readdirSync(dir)).toEqual(['taken']);
  });
});

describe('fileSystemError', () => {
  const errno = (code: string, path?: string) => Object.assign(new Error(code), { code, path });

  it('a path that cannot be written is a UserError (exit 1) naming the path and why', () => {
    const error = fileSystemError(errno('EACCES', '/srv/app/x'), '/srv/app', 'write');
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe('cannot write /srv/app/x: permission denied (EACCES)');
    expect((error as UserError).exitCode).toBe(1);
    expect((fileSystemError(errno('EROFS'), '/mnt/ro', 'write') as UserError).message).toBe(
      'cannot write /mnt/ro: read-only file system (EROFS)',
    );
  });

  it('a full disk is an ExternalError (exit 2)', () => {
    const error = fileSystemError(errno('ENOSPC', '/srv/app/x'), '/srv/app', 'write');
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).exitCode).toBe(2);
  });

  it('anything else is returned as it is', () => {
    const error = new TypeError('a bug');
    expect(fileSystemError(error, '/srv', 'write')).toBe(error);
  });
});
