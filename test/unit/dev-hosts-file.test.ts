import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addManagedEntry,
  HOSTS_MARKER,
  HostsFile,
  managedLine,
  removeManagedEntries,
} from '../../src/dev/hosts-file.js';
import { ExternalError } from '../../src/util/errors.js';
import { needsHostsEntry } from '../../src/util/localhost.js';

const ORIGINALS: Record<string, string> = {
  'typical with final newline':
    '127.0.0.1\tlocalhost\n::1     localhost ip6-localhost\n\n# comment  with   spaces\n',
  'no final newline': '127.0.0.1 localhost\n# last line without newline',
  'CRLF line endings': '127.0.0.1 localhost\r\n\r\n# windows\r\n',
  'CRLF without final newline': '127.0.0.1 localhost\r\n# windows',
  empty: '',
  'only blank lines': '\n\n\n',
  'trailing whitespace and odd spacing': '  10.0.0.1    db   \t\n\t# indented\n127.0.0.1 api.shop.test\n',
  'unicode and invalid lines': '127.0.0.1 café.test\nnot a valid line at all\n',
};

describe('hosts file editing', () => {
  it('formats the managed line as address, sorted unique domains and the marker', () => {
    expect(managedLine(['b.test', 'A.test', 'b.test'])).toBe(`127.0.0.1    a.test b.test    ${HOSTS_MARKER}`);
  });

  for (const [name, original] of Object.entries(ORIGINALS)) {
    it(`add then remove restores the exact bytes (${name})`, () => {
      const added = addManagedEntry(original, ['api.shop.test', 'app.shop.test']);
      expect(added).toContain(managedLine(['api.shop.test', 'app.shop.test']));
      expect(added.startsWith(original.replace(/\r?\n$/, ''))).toBe(true);
      expect(removeManagedEntries(added, ['api.shop.test'])).toBe(original);
      expect(removeManagedEntries(added)).toBe(original);
    });

    it(`add is idempotent (${name})`, () => {
      const once = addManagedEntry(original, ['api.shop.test']);
      expect(addManagedEntry(once, ['api.shop.test'])).toBe(once);
      expect(addManagedEntry(addManagedEntry(once, ['api.shop.test']), ['api.shop.test'])).toBe(once);
    });

    it(`remove is idempotent and a no-op without managed lines (${name})`, () => {
      expect(removeManagedEntries(original)).toBe(original);
      const removed = removeManagedEntries(addManagedEntry(original, ['x.test']), ['x.test']);
      expect(removeManagedEntries(removed, ['x.test'])).toBe(removed);
    });
  }

  it('uses the file’s own line ending for the line it adds', () => {
    expect(addManagedEntry('127.0.0.1 localhost\r\n', ['a.test'])).toBe(
      `127.0.0.1 localhost\r\n${managedLine(['a.test'])}\r\n`,
    );
    expect(addManagedEntry('127.0.0.1 localhost\n', ['a.test'])).toBe(
      `127.0.0.1 localhost\n${managedLine(['a.test'])}\n`,
    );
  });

  it('keeps unmanaged lines that name the same domains, and still adds its own', () => {
    const original = '127.0.0.1 api.shop.test\n';
    const added = addManagedEntry(original, ['api.shop.test']);
    expect(added).toBe(`${original}${managedLine(['api.shop.test'])}\n`);
    expect(removeManagedEntries(added, ['api.shop.test'])).toBe(original);
  });

  it('removes only the managed lines naming the given domains (another project keeps its line)', () => {
    const other = managedLine(['other.test']);
    const original = `127.0.0.1 localhost\n${other}\n`;
    const added = addManagedEntry(original, ['api.shop.test']);
    expect(added).toBe(`${original}${managedLine(['api.shop.test'])}\n`);
    expect(removeManagedEntries(added, ['api.shop.test'])).toBe(original);
    expect(removeManagedEntries(added)).toBe('127.0.0.1 localhost\n');
  });

  it('replaces a stale managed line for the same domains instead of adding a second one', () => {
    const stale = `127.0.0.1 localhost\n${managedLine(['api.shop.test', 'old.test'])}\n`;
    const added = addManagedEntry(stale, ['api.shop.test']);
    expect(added).toBe(`127.0.0.1 localhost\n${managedLine(['api.shop.test'])}\n`);
    expect(added.match(new RegExp(HOSTS_MARKER, 'g'))).toHaveLength(1);
  });

  it('needs an entry only outside .localhost', () => {
    expect(needsHostsEntry('app.localhost')).toBe(false);
    expect(needsHostsEntry('a.b.localhost')).toBe(false);
    expect(needsHostsEntry('localhost')).toBe(false);
    expect(needsHostsEntry('APP.LOCALHOST.')).toBe(false);
    expect(needsHostsEntry('shop.test')).toBe(true);
    expect(needsHostsEntry('localhost.example.com')).toBe(true);
    expect(needsHostsEntry('mylocalhost')).toBe(true);
  });
});

describe('HostsFile on disk', () => {
  const dirs: string[] = [];
  const dir = () => {
    const created = mkdtempSync(join(tmpdir(), 'stagecraft-hosts-'));
    dirs.push(created);
    return created;
  };
  afterAll(() => {
    for (const created of dirs) rmSync(created, { recursive: true, force: true });
  });

  it('adds and removes in place, keeping bytes and file mode', async () => {
    const path = join(dir(), 'hosts');
    const original = '127.0.0.1 localhost\n# keep me\t \n::1 localhost';
    writeFileSync(path, original);
    chmodSync(path, 0o640);
    const hosts = new HostsFile(path);
    expect(await hosts.add(['api.shop.test'])).toBe(true);
    expect(readFileSync(path, 'utf8')).toContain(`${managedLine(['api.shop.test'])}`);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(await hosts.add(['api.shop.test'])).toBe(false);
    expect(await hosts.remove(['api.shop.test'])).toBe(true);
    expect(readFileSync(path)).toEqual(Buffer.from(original));
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(await hosts.remove(['api.shop.test'])).toBe(false);
  });

  it('treats a missing file as empty and creates it', async () => {
    const path = join(dir(), 'hosts');
    const hosts = new HostsFile(path);
    expect(await hosts.add(['a.test'])).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${managedLine(['a.test'])}\n`);
    await hosts.remove(['a.test']);
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('does nothing for an empty domain list', async () => {
    const path = join(dir(), 'hosts');
    writeFileSync(path, 'x\n');
    expect(await new HostsFile(path).add([])).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('x\n');
  });

  it('reports a hosts file it cannot write with a hint', async () => {
    const hosts = new HostsFile(join(dir(), 'no-such-folder', 'hosts'));
    const error = await hosts.add(['a.test']).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toMatch(/cannot write the hosts file .*no-such-folder/);
    expect((error as ExternalError).hint).toContain('--no-hosts');
  });
});
