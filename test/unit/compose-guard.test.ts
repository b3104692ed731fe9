import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

  it('refuses a service env_file that is not a regular file, in each of its forms, at its line and column', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-guard-env-'));
    mkdirSync(join(dir, 'folder.env'));
    execFileSync('mkfifo', [join(dir, 'pipe.env')]);
    writeFileSync(join(dir, 'ok.env'), 'A=1\n');
    const cases: [string, string][] = [
      [
        '    env_file: /dev/zero\n',
        'docker-compose.yml:4:15 services.web.env_file: /dev/zero is not a regular file (a device, socket or pipe)',
      ],
      [
        '    env_file: [ok.env, ./pipe.env]\n',
        'docker-compose.yml:4:24 services.web.env_file: ./pipe.env is not a regular file (a device, socket or pipe)',
      ],
      [
        '    env_file:\n      - path: folder.env\n        required: false\n',
        'docker-compose.yml:5:15 services.web.env_file: folder.env is a directory, not a file',
      ],
    ];
    for (const [envFile, message] of cases) {
      const path = join(dir, 'docker-compose.yml');
      writeFileSync(path, `services:\n  web:\n    image: nginx\n${envFile}`);
      const started = Date.now();
      expect(() => guardComposeFile(path)).toThrow(message);
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });

  it('leaves a regular, missing or interpolated service env_file to compose, from the project folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-guard-env-'));
    mkdirSync(join(dir, 'deploy'));
    writeFileSync(join(dir, 'app.env'), 'A=1\n');
    const path = join(dir, 'deploy', 'compose.yml');
    writeFileSync(
      path,
      'services:\n  web:\n    image: nginx\n    env_file: [app.env, missing.env, "${ENV_FILE}"]\n',
    );
    expect(() => guardComposeFile(path, 'deploy/compose.yml', dir)).not.toThrow();
    // From the compose file's own folder, app.env is not there either: still compose's to report.
    expect(() => guardComposeFile(path)).not.toThrow();
    mkdirSync(join(dir, 'missing.env'));
    expect(() => guardComposeFile(path, 'deploy/compose.yml', dir)).toThrow(
      'deploy/compose.yml:4:25 services.web.env_file: missing.env is a directory, not a file',
    );
  });

  it('refuses a compose file that is itself a device or a folder, without reading it', () => {
    expect(() => guardComposeFile('/dev/zero', 'compose.yml')).toThrow(
      'compose.yml is not a regular file (a device, socket or pipe)',
    );
    expect(() => guardComposeFile(tmpdir(), 'compose.yml')).toThrow('compose.yml is a directory, not a file');
  });

  it('refuses nesting that docker compose takes minutes on, at its place, and passes ordinary depth', () => {
    const deep = `services:\n  web:\n    image: nginx\nx-deep: ${'['.repeat(9900)}${']'.repeat(9900)}\n`;
    const started = Date.now();
    expect(() => guardComposeFile(composeFile(deep))).toThrow(
      'docker-compose.yml is refused: docker-compose.yml:4:73 nests more than 64 flow collections ([ or {)',
    );
    expect(Date.now() - started).toBeLessThan(1000);
    const indented = `services:\n  web:\n    image: nginx\nx-deep:\n${Array.from({ length: 300 }, (_, level) => `${' '.repeat(level + 1)}k:`).join('\n')} 1\n`;
    expect(() => guardComposeFile(composeFile(indented))).toThrow(
      'docker-compose.yml is refused: docker-compose.yml:261:257 is indented more than 256 columns',
    );
    const ordinary = `services:\n  web:\n    image: nginx\n    command: ["sh", "-c", "echo '[[[' # not a comment"] # [[[[\n    labels: { a: "{{{{" }\nx-ok: ${'['.repeat(64)}${']'.repeat(64)}\n`;
    expect(() => guardComposeFile(composeFile(ordinary))).not.toThrow();
  });

  it('refuses an include, extends.file or label_file that is not a regular file, and a service env_file over the limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-guard-files-'));
    execFileSync('mkfifo', [join(dir, 'pipe.yml')]);
    writeFileSync(join(dir, 'big.env'), Buffer.alloc(16 * 1024 * 1024 + 1, 'a'));
    const cases: [string, string][] = [
      [
        'include: [pipe.yml]\nservices:\n  web: { image: nginx }\n',
        'docker-compose.yml:1:11 include: pipe.yml is not a regular file (a device, socket or pipe)',
      ],
      [
        'include:\n  - path: [./pipe.yml]\nservices:\n  web: { image: nginx }\n',
        'docker-compose.yml:2:12 include: ./pipe.yml is not a regular file (a device, socket or pipe)',
      ],
      [
        'include:\n  - path: a.yml\n    env_file: /dev/zero\nservices:\n  web: { image: nginx }\n',
        'docker-compose.yml:3:15 include.env_file: /dev/zero is not a regular file (a device, socket or pipe)',
      ],
      [
        'services:\n  web:\n    extends: { file: pipe.yml, service: base }\n',
        'docker-compose.yml:3:22 services.web.extends.file: pipe.yml is not a regular file (a device, socket or pipe)',
      ],
      [
        'services:\n  web:\n    image: nginx\n    label_file: /dev/zero\n',
        'docker-compose.yml:4:17 services.web.label_file: /dev/zero is not a regular file (a device, socket or pipe)',
      ],
      [
        'services:\n  web:\n    image: nginx\n    env_file: big.env\n',
        'docker-compose.yml:4:15 services.web.env_file: big.env is 16777217 bytes: larger than the 16777216-byte limit',
      ],
    ];
    for (const [text, message] of cases) {
      const path = join(dir, 'docker-compose.yml');
      writeFileSync(path, text);
      expect(() => guardComposeFile(path)).toThrow(message);
    }
  });
});
