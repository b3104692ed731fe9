import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError, UserFileError } from '../../src/util/errors.js';
import { pathEntry, readUserFile, readUserFileBytes, readUserYamlText } from '../../src/util/user-file.js';

const dir = mkdtempSync(join(tmpdir(), 'stagecraft-user-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(path: string, options: Parameters<typeof readUserFile>[1] = {}): UserFileError {
  try {
    readUserFile(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(UserFileError);
    expect(error).toBeInstanceOf(UserError);
    return error as UserFileError;
  }
  throw new Error(`${path} was read`);
}

describe('readUserFile', () => {
  it('reads a regular file, and says undefined where nothing is', () => {
    writeFileSync(join(dir, 'a.env'), 'A=1\nB=é\n');
    expect(readUserFile(join(dir, 'a.env'))).toBe('A=1\nB=é\n');
    expect(readUserFileBytes(join(dir, 'a.env'))).toEqual(Buffer.from('A=1\nB=é\n'));
    expect(readUserFile(join(dir, 'none.env'))).toBeUndefined();
    expect(readUserFile(join(dir, 'a.env', 'below'))).toBeUndefined();
  });

  it('follows a symlink to a file', () => {
    symlinkSync('a.env', join(dir, 'link.env'));
    expect(readUserFile(join(dir, 'link.env'))).toBe('A=1\nB=é\n');
  });

  it('refuses a device without reading it (/dev/zero never ends)', () => {
    const error = refusal('/dev/zero', { display: 'env file /dev/zero', hint: 'use a file' });
    expect(error.message).toBe('env file /dev/zero is not a regular file (a device, socket or pipe)');
    expect(error.hint).toBe('use a file');
    expect(error.path).toBe('/dev/zero');
  });

  it('refuses a kernel file (/proc: stat says size 0, a read may never end), also through a symlink', () => {
    expect(refusal('/proc/self/pagemap').message).toBe(
      '/proc/self/pagemap is a kernel file (/proc, /sys): it has no fixed size and may never end',
    );
    symlinkSync('/proc/self/mem', join(dir, 'mem.env'));
    expect(pathEntry(join(dir, 'mem.env'))).toEqual({
      kind: 'other',
      why: 'is a kernel file (/proc, /sys): it has no fixed size and may never end',
    });
  });

  it('refuses a FIFO without opening it (opening one blocks until a writer comes)', () => {
    const fifo = join(dir, 'pipe.env');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(refusal(fifo).message).toBe(`${fifo} is not a regular file (a device, socket or pipe)`);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a directory, a symlink loop and a dangling symlink, each by name', () => {
    mkdirSync(join(dir, 'folder.env'));
    symlinkSync('loop.env', join(dir, 'loop.env'));
    symlinkSync('gone.env', join(dir, 'dangling.env'));
    expect(refusal(join(dir, 'folder.env'), { display: 'F' }).message).toBe('F is a directory, not a file');
    expect(refusal(join(dir, 'loop.env'), { display: 'L' }).message).toBe(
      'L is a symbolic link loop (symlink that points back at itself)',
    );
    expect(refusal(join(dir, 'dangling.env'), { display: 'D' }).message).toBe(
      'D is a symbolic link to a file that does not exist (a dangling symlink)',
    );
  });

  it('refuses a file over the limit before reading it, with its size', () => {
    writeFileSync(join(dir, 'big.env'), 'x'.repeat(101));
    expect(readUserFile(join(dir, 'big.env'), { maxBytes: 101 })).toBe('x'.repeat(101));
    const error = refusal(join(dir, 'big.env'), { display: 'big.env', maxBytes: 100 });
    expect(error.message).toBe('big.env is 101 bytes: larger than the 100-byte limit');
    expect(error.hint).toBe('point it at a regular file of at most 100 bytes');
  });

  it('refuses a /proc file whose stat says size 0 before reading it', () => {
    expect(refusal('/proc/self/status', { display: 'status', maxBytes: 10 }).message).toBe(
      'status is a kernel file (/proc, /sys): it has no fixed size and may never end',
    );
  });
});

describe('pathEntry', () => {
  it('tells a file (with its size), nothing and what cannot be one', () => {
    expect(pathEntry(join(dir, 'a.env'))).toEqual({ kind: 'file', size: 9 });
    expect(pathEntry(join(dir, 'nothing'))).toEqual({ kind: 'missing' });
    expect(pathEntry('/dev/null')).toEqual({
      kind: 'other',
      why: 'is not a regular file (a device, socket or pipe)',
    });
  });
});

describe('readUserYamlText', () => {
  it('reads UTF-16 with its byte order mark (either order) and UTF-8 alike', () => {
    const text = 'project:\n  name: shop # ü\n';
    writeFileSync(
      join(dir, 'le.yml'),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
    );
    writeFileSync(
      join(dir, 'be.yml'),
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]),
    );
    writeFileSync(join(dir, 'u8.yml'), text);
    for (const name of ['le.yml', 'be.yml', 'u8.yml']) expect(readUserYamlText(join(dir, name))).toBe(text);
    expect(readUserYamlText(join(dir, 'missing.yml'))).toBeUndefined();
  });
});
