import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalRunner } from '../../src/runners/local.js';
import { readExistingSpecKey, readSpecKey, specKeyPath } from '../../src/state/spec-key.js';

let home: string;
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe('the spec-hash key on the lock host', () => {
  it('is read only where it exists: plan --refresh creates nothing', async () => {
    home = mkdtempSync(join(tmpdir(), 'spec-key-'));
    const runner = new LocalRunner({ cwd: home });
    expect(await readExistingSpecKey(runner, 'shop', 'production')).toBeUndefined();
    expect(existsSync(join(home, '.stagecraft'))).toBe(false);

    const created = await readSpecKey(runner, 'shop', 'production');
    expect(created).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(home, specKeyPath('shop', 'production')), 'utf8')).toBe(created);
    expect(await readExistingSpecKey(runner, 'shop', 'production')).toBe(created);
    expect(await readSpecKey(runner, 'shop', 'production')).toBe(created);
  });

  it('refuses a damaged key file, naming it', async () => {
    home = mkdtempSync(join(tmpdir(), 'spec-key-'));
    const path = join(home, specKeyPath('shop', 'production'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, 'not a key\n');
    await expect(readExistingSpecKey(new LocalRunner({ cwd: home }), 'shop', 'production')).rejects.toThrow(
      'could not read the spec-hash key ~/.stagecraft/shop-production/spec-hash.key on local: it is not 64 hex characters',
    );
  });
});
