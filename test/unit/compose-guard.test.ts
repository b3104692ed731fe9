import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guardComposeFile, mayNeedGuard } from '../../src/compose/guard.js';

function composeFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'stagecraft-guard-')), 'docker-compose.yml');
  writeFileSync(path, text);
  return path;
}

const BOMB = [
  'x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  'x-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'x-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'x-d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
  'x-e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
  'services:',
  '  web: { image: nginx, command: *e }',
  '',
].join('\n');

describe('guardComposeFile', () => {
  it('passes a plain compose file without parsing it (nothing the guard refuses can be in it)', () => {
    const text = 'services:\n  web:\n    image: nginx:1.27\n    environment: { A: "1" }\n';
    expect(mayNeedGuard(text)).toBe(false);
    expect(() => guardComposeFile(composeFile(text))).not.toThrow();
  });

  it('parses a file with an alias, a merge key or an escape', () => {
    expect(mayNeedGuard('x: &a { a: 1 }\ny: *a\n')).toBe(true);
    expect(mayNeedGuard('y:\n  <<: { a: 1 }\n')).toBe(true);
    expect(mayNeedGuard('y:\n  "\\x3c\\x3c": 1\n')).toBe(true);
  });

  it('still refuses an alias bomb with its line and column', () => {
    expect(() => guardComposeFile(composeFile(BOMB))).toThrow(
      'docker-compose.yml is refused: docker-compose.yml:7:33 YAML alias *e expands to more than 10000 nodes',
    );
  });

  it('still refuses a merge key whose value is not a mapping, also when the key is written as escapes', () => {
    expect(() => guardComposeFile(composeFile('services:\n  web:\n    <<: 1\n    image: nginx\n'))).toThrow(
      'docker-compose.yml is refused: docker-compose.yml:3:9 merge key "<<" needs a mapping',
    );
    expect(() =>
      guardComposeFile(composeFile('services:\n  web:\n    "\\x3c\\x3c": 1\n    image: nginx\n')),
    ).toThrow('docker-compose.yml is refused: docker-compose.yml:3:17 merge key "<<" needs a mapping');
  });
});
