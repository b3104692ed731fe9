import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { infraStatePath, readInfraState } from '../../src/state/infra.js';
import { UserError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'stagecraft-infra-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes the staging state with these hosts and reads it back (or what it threw). */
function readWith(hosts: unknown[]): unknown {
  const path = infraStatePath(root, 'staging');
  mkdirSync(join(root, '.stagecraft', 'infra'), { recursive: true });
  writeFileSync(
    path,
    JSON.stringify({
      schema: 'stagecraft.infra/v1',
      provider: 'digitalocean',
      environment: 'staging',
      hosts,
      updated_at: '2026-12-02T00:00:00Z',
    }),
  );
  try {
    return readInfraState(root, 'staging');
  } catch (error) {
    return error;
  }
}

describe('readInfraState', () => {
  it('reads the hosts infra up recorded', () => {
    const host = { name: 'web-1', role: 'web', address: '203.0.113.10', id: '42' };
    expect(readWith([host])).toMatchObject({ hosts: [host] });
  });

  it('refuses a name, address or role that would reach ssh or plan text as an option or a forged line', () => {
    const path = infraStatePath(root, 'staging');
    for (const [host, problem] of [
      [
        { name: 'web1', role: 'web', address: '-oProxyCommand=touch /tmp/x', id: '1' },
        'hosts[0].address: expected an IP address or DNS name',
      ],
      [
        { name: 'db1\nINJECT', role: 'db', address: '10.0.0.3', id: '2' },
        'hosts[0].name: expected a host name (letters, digits, _ . -)',
      ],
      [
        { name: 'db1', role: 'db', address: '10.0.0.3 -v', id: '3' },
        'hosts[0].address: expected an IP address or DNS name',
      ],
      [{ name: 'db1', role: 'db\nx', address: '10.0.0.3', id: '4' }, 'hosts[0].role: expected a role name'],
    ] as const) {
      const error = readWith([host]) as UserError;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toBe(`${path} is not a valid infra state file (${problem})`);
    }
  });
});
