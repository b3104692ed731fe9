import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readProjectPath } from '../../src/operations/project-files.js';
import { UserFileError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'stagecraft-project-files-'));
const outside = mkdtempSync(join(tmpdir(), 'stagecraft-outside-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('readProjectPath', () => {
  it('reads a folder in name order, follows a link within the project with its target’s mode', () => {
    mkdirSync(join(root, 'conf'));
    writeFileSync(join(root, 'conf', 'app.ini'), 'a=1\n');
    writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(root, 'run.sh'), 0o755);
    symlinkSync('../run.sh', join(root, 'conf', 'start'));
    expect(readProjectPath(root, 'conf')).toEqual([
      { path: 'conf/app.ini', content: Buffer.from('a=1\n'), mode: 0o644 },
      { path: 'conf/start', content: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
    ]);
    expect(readProjectPath(root, 'nothing')).toBeUndefined();
  });

  it('lists each empty folder, the mounted folder itself when it is empty, with its mode', () => {
    mkdirSync(join(root, 'data', 'uploads', 'thumbs'), { recursive: true });
    mkdirSync(join(root, 'data', 'private'), { mode: 0o700 });
    chmodSync(join(root, 'data', 'private'), 0o700);
    writeFileSync(join(root, 'data', 'README'), 'x\n');
    expect(readProjectPath(root, 'data')).toEqual([
      { path: 'data/README', content: Buffer.from('x\n'), mode: 0o644 },
      { path: 'data/private', content: Buffer.alloc(0), mode: 0o700, folder: true },
      { path: 'data/uploads/thumbs', content: Buffer.alloc(0), mode: 0o755, folder: true },
    ]);
    mkdirSync(join(root, 'empty'));
    expect(readProjectPath(root, 'empty')).toEqual([
      { path: 'empty', content: Buffer.alloc(0), mode: 0o755, folder: true },
    ]);
  });

  it('refuses a link to a file outside the project without reading it (it could be ~/.ssh/id_ed25519)', () => {
    writeFileSync(join(outside, 'id_ed25519'), 'PRIVATE KEY\n');
    mkdirSync(join(root, 'leaky'));
    symlinkSync(join(outside, 'id_ed25519'), join(root, 'leaky', 'key'));
    let caught: unknown;
    try {
      readProjectPath(root, 'leaky');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserFileError);
    expect((caught as Error).message).toBe(
      `./leaky/key is a symbolic link to ${join(outside, 'id_ed25519')}, outside the project`,
    );
  });
});
