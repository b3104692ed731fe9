// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose interpolation (${VAR}) is what these strings test
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guardComposeFile, interpolatePath, mayNeedGuard } from '../../src/compose/guard.js';

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

  it('interpolates a path as compose does before it judges it, and names what it resolved to', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-guard-vars-'));
    const path = join(dir, 'docker-compose.yml');
    const cases: [string, Record<string, string>, string][] = [
      [
        'env_file: ${BASE}/../dev/zero',
        { BASE: '/tmp' },
        '4:15 services.web.env_file: ${BASE}/../dev/zero (/tmp/../dev/zero)',
      ],
      ['env_file: ${SOURCE:-/dev/zero}', {}, '4:15 services.web.env_file: ${SOURCE:-/dev/zero} (/dev/zero)'],
      ['env_file: [$DEVICE]', { DEVICE: '/dev/zero' }, '4:16 services.web.env_file: $DEVICE (/dev/zero)'],
      ['label_file: "${EMPTY:+/dev/zero}${SET:+/dev/zero}"', { SET: 'x' }, '4:17 services.web.label_file'],
    ];
    for (const [line, variables, message] of cases) {
      writeFileSync(path, `services:\n  web:\n    image: nginx\n    ${line}\n`);
      expect(() => guardComposeFile(path, 'docker-compose.yml', dir, variables)).toThrow(
        `docker-compose.yml:${message}`,
      );
    }
    writeFileSync(
      path,
      'services:\n  web:\n    image: nginx\n    env_file: ["${SOURCE-/dev/zero}", "${NEED:?set NEED}", "$$HOME"]\n',
    );
    expect(() => guardComposeFile(path, 'docker-compose.yml', dir, { SOURCE: '' })).not.toThrow();
  });

  it('guards the files a compose file includes or extends, each once, with their own folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-guard-nested-'));
    mkdirSync(join(dir, 'parts'));
    mkdirSync(join(dir, 'parts', 'zero.env'));
    writeFileSync(join(dir, 'zero.env'), 'A=1\n');
    const path = join(dir, 'docker-compose.yml');
    writeFileSync(path, 'include: [parts/db.yml]\nservices:\n  web: { image: nginx }\n');
    // parts/db.yml includes the main file back: the loop ends; its zero.env is parts/zero.env, a folder.
    writeFileSync(
      join(dir, 'parts', 'db.yml'),
      'include: [../docker-compose.yml]\nservices:\n  db:\n    image: postgres\n    env_file: zero.env\n',
    );
    expect(() => guardComposeFile(path, 'docker-compose.yml', dir)).toThrow(
      'parts/db.yml:5:15 services.db.env_file: zero.env is a directory, not a file',
    );
    writeFileSync(
      join(dir, 'parts', 'db.yml'),
      'services:\n  db:\n    image: postgres\n    env_file: ../zero.env\n',
    );
    expect(() => guardComposeFile(path, 'docker-compose.yml', dir)).not.toThrow();
    writeFileSync(join(dir, 'base.yml'), BOMB);
    writeFileSync(path, 'services:\n  web:\n    extends: { file: base.yml, service: web }\n');
    expect(() => guardComposeFile(path, 'docker-compose.yml', dir)).toThrow(
      /^base\.yml is refused: base\.yml:7:33 YAML alias \*e/,
    );
  });
});

describe('guardComposeFile reads the file as compose does', () => {
  const pipeDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'stagecraft-guard-as-compose-'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    return dir;
  };
  const guarded = (dir: string, text: string, variables: Record<string, string> = {}) => {
    writeFileSync(join(dir, 'docker-compose.yml'), text);
    return () => guardComposeFile(join(dir, 'docker-compose.yml'), 'docker-compose.yml', dir, variables);
  };
  const PIPE = 'is not a regular file (a device, socket or pipe)';

  it('through an alias, a merge key, an escaped key and a second document', () => {
    const dir = pipeDir();
    expect(
      guarded(dir, 'x-zero: &zero ./pipe\nservices:\n  api: {image: alpine:3, env_file: *zero}\n'),
    ).toThrow(`docker-compose.yml:3:36 services.api.env_file: ./pipe ${PIPE}`);
    expect(
      guarded(dir, 'x-base: &base {image: alpine:3, env_file: ./pipe}\nservices:\n  api:\n    <<: *base\n'),
    ).toThrow(`docker-compose.yml:3:3 services.api.env_file: ./pipe ${PIPE}`);
    expect(guarded(dir, 'services:\n  api:\n    image: alpine:3\n    "env\\x5ffile": ./pipe\n')).toThrow(
      `docker-compose.yml:4:20 services.api.env_file: ./pipe ${PIPE}`,
    );
    expect(
      guarded(dir, 'services: {api: {image: alpine:3}}\n---\nservices: {api: {env_file: ./pipe}}\n'),
    ).toThrow(`docker-compose.yml:3:28 services.api.env_file: ./pipe ${PIPE}`);
  });

  it('with ~/ as the home folder, and an include’s .env, project_directory and env_file variables', () => {
    const dir = pipeDir();
    expect(guarded(dir, 'services:\n  api: {image: alpine:3, env_file: ~/pipe}\n', { HOME: dir })).toThrow(
      `docker-compose.yml:2:36 services.api.env_file: ~/pipe ${PIPE}`,
    );
    mkdirSync(join(dir, 'parts'));
    mkdirSync(join(dir, 'other'));
    writeFileSync(
      join(dir, 'parts', 'worker.yml'),
      'services:\n  worker: {image: alpine:3, env_file: settings.env}\n',
    );
    execFileSync('mkfifo', [join(dir, 'parts', '.env')]);
    expect(guarded(dir, 'include: [parts/worker.yml]\nservices:\n  api: {image: alpine:3}\n')).toThrow(
      `docker-compose.yml:1:11 include (its .env): ${join(dir, 'parts', '.env')} ${PIPE}`,
    );
    execFileSync('mkfifo', [join(dir, 'other', 'settings.env')]);
    writeFileSync(join(dir, 'parts', 'worker.env'), 'WORKER_ENV=../pipe\n');
    expect(
      guarded(
        dir,
        'include:\n  - path: parts/worker.yml\n    project_directory: other\n    env_file: parts/worker.env\n',
      ),
    ).toThrow(`parts/worker.yml:2:39 services.worker.env_file: settings.env ${PIPE}`);
    writeFileSync(
      join(dir, 'parts', 'worker.yml'),
      'services:\n  worker: {image: alpine:3, env_file: "${WORKER_ENV}"}\n',
    );
    expect(guarded(dir, 'include:\n  - path: parts/worker.yml\n    env_file: parts/worker.env\n')).toThrow(
      `parts/worker.yml:2:39 services.worker.env_file: \${WORKER_ENV} (../pipe) ${PIPE}`,
    );
  });

  it('past what the yaml library finds wrong, per include context, and through escapes', () => {
    const dir = pipeDir();
    // go-yaml reads a flow list continued less indented; the yaml library reports it but reads on.
    expect(
      guarded(
        dir,
        'services:\n  api:\n    image: alpine:3\n    env_file: ./pipe\n    command: [sleep,\n    "1"]\n',
      ),
    ).toThrow(`docker-compose.yml:4:15 services.api.env_file: ./pipe ${PIPE}`);
    // Included with a variable that makes it safe, extended without it: the second read is checked too.
    mkdirSync(join(dir, 'part'));
    writeFileSync(
      join(dir, 'part', 'part.yml'),
      'services:\n  base:\n    image: alpine:3\n    env_file: ${P:-../pipe}\n',
    );
    writeFileSync(join(dir, 'part', 'ok.env'), 'A=1\n');
    writeFileSync(join(dir, 'inc.env'), 'P=ok.env\n');
    expect(
      guarded(
        dir,
        'include: [{path: part/part.yml, env_file: inc.env}]\nservices:\n  api: {extends: {file: part/part.yml, service: base}}\n',
      ),
    ).toThrow(`part/part.yml:4:15 services.base.env_file: \${P:-../pipe} (../pipe) ${PIPE}`);
    const escaped = `${'\\x24{A:-'.repeat(40)}x${'}'.repeat(40)}`;
    expect(
      guarded(dir, `services:\n  api:\n    image: alpine:3\n    environment:\n      X: "${escaped}"\n`),
    ).toThrow('docker-compose.yml is refused: docker-compose.yml:5:10 nests more than 32 ${…} references');
  });

  it('refuses references nested thousands deep (compose takes minutes) at their place', () => {
    const dir = pipeDir();
    const value = `${'${A:-'.repeat(6000)}x${'}'.repeat(6000)}`;
    expect(guarded(dir, `services:\n  api:\n    image: alpine:3\n    env_file: "${value}"\n`)).toThrow(
      'docker-compose.yml is refused: docker-compose.yml:4:176 nests more than 32 ${…} references',
    );
  });
});

describe('interpolatePath', () => {
  it('reads compose interpolation, and gives up on what only compose can judge', () => {
    const variables = { A: 'a', EMPTY: '' };
    const cases: [string, string | undefined][] = [
      ['$A/${A}', 'a/a'],
      ['${MISSING}x', 'x'],
      ['${EMPTY:-d} ${EMPTY-d} ${MISSING-d}', 'd  d'],
      ['${A:+alt} ${EMPTY+alt} ${EMPTY:+alt}', 'alt alt '],
      ['$$A', '$A'],
      ['${A:?needed}', 'a'],
      ['${MISSING:?needed}', undefined],
      ['${EMPTY:?needed}', undefined],
      ['${EMPTY?needed}', ''],
      ['${MISSING:-${A}/x}', 'a/x'],
      ['${MISSING:-${ALSO_MISSING:-/dev/zero}}', '/dev/zero'],
      ['${A:+${MISSING-d}}', 'd'],
      ['${}', undefined],
      ['$/x', undefined],
      ['${unclosed', undefined],
    ];
    for (const [text, expected] of cases)
      expect([text, interpolatePath(text, variables)]).toEqual([text, expected]);
  });
});
