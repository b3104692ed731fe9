// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are interpolation templates under test
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interpolate } from '../../src/config/interpolate.js';

const VARIABLES: Record<string, string> = { FOO: 'foo', BAR: 'bar', EMPTY: '', FOO_BAR: 'fb' };

/** Template → what compose's interpolation makes of it with VARIABLES (checked below against compose). */
const TABLE: Record<string, string> = {
  $FOO: 'foo',
  'x${FOO}y': 'xfooy',
  $FOO$BAR: 'foobar',
  '$FOO_BAR.baz': 'fb.baz',
  '$FOO-$BAR': 'foo-bar',
  '${UNSET:-${FOO}}': 'foo',
  '${UNSET:-${UNSET2:-deep}}': 'deep',
  '${FOO:+set-${BAR}}': 'set-bar',
  '${EMPTY:-d}|${EMPTY-d}|${EMPTY:+r}|${EMPTY+r}': 'd|||r',
  '${UNSET:-d}|${UNSET-d}|${UNSET:+r}|${UNSET+r}': 'd|d||',
  '$$FOO and $${FOO}': '$FOO and ${FOO}',
  '${FOO:-a}}': 'foo}',
  '${UNSET:-}x': 'x',
  '${UNSET:-a:b-c}': 'a:b-c',
  '${FOO:?needed}': 'foo',
  'pa$5word $- a$': 'pa$5word $- a$',
  '${UNSET:-{braces}}': '{braces}',
};

describe('interpolate (compose grammar)', () => {
  const one = (template: string, variables: Record<string, string | undefined> = VARIABLES) =>
    interpolate(
      { key: template },
      () => variables,
      () => false,
    );

  for (const [template, expected] of Object.entries(TABLE)) {
    it(`${template} → ${expected}`, () => {
      const result = one(template);
      expect(result.problems).toEqual([]);
      expect(result.value).toEqual({ key: expected });
    });
  }

  it('names an unset plain reference, a required one and a broken one at the key', () => {
    expect(
      one('$NOPE ${NOPE2} ${NOPE3:?set it to the API host} ${EMPTY?x} ${EMPTY:?} ${1X} ${FOO').problems,
    ).toEqual([
      {
        path: ['key'],
        message:
          "variable $NOPE is not set: set it in the environment's env_file or the shell, write ${NOPE:-default}, or $$NOPE for a literal $",
      },
      {
        path: ['key'],
        message:
          "variable ${NOPE2} is not set: set it in the environment's env_file or the shell, or write ${NOPE2:-default}",
      },
      { path: ['key'], message: 'required variable ${NOPE3} is not set: set it to the API host' },
      { path: ['key'], message: 'required variable ${EMPTY} is empty' },
      {
        path: ['key'],
        message:
          'invalid variable reference "${1X}": expected ${NAME}, ${NAME:-default}, ${NAME:?message} or ${NAME:+value} (write $$ for a literal $)',
      },
      {
        path: ['key'],
        message: 'unterminated variable reference "${FOO": close it with } (write $$ for a literal $)',
      },
    ]);
  });

  it('marks a path secret only when a secret variable’s value is used', () => {
    const secret = (template: string) =>
      interpolate(
        { key: template },
        () => ({ TOKEN: 'Hunter2Secret', FOO: 'foo' }),
        (name) => name === 'TOKEN',
      ).secretPaths;
    expect(secret('$TOKEN')).toEqual([['key']]);
    expect(secret('${UNSET:-${TOKEN}}')).toEqual([['key']]);
    expect(secret('${TOKEN:+set}')).toEqual([]);
    expect(secret('${FOO:-$TOKEN}')).toEqual([]);
  });
});

// The same table, read by the real docker compose v2 (absent in CI is a failure there).
const composeAvailable = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
if (!composeAvailable && process.env['CI'] === 'true') {
  describe('interpolation against docker compose', () => {
    it('is installed', () => expect.fail('CI must install the compose v2 plugin'));
  });
}
describe.skipIf(!composeAvailable)('interpolation against docker compose', { timeout: 30_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'stagecraft-interpolate-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('compose makes the same of every template in the table', () => {
    const templates = Object.keys(TABLE);
    const labels = templates.map((template, index) => `      l${index}: ${JSON.stringify(template)}`);
    writeFileSync(
      join(scratch, 'compose.yml'),
      ['services:', '  s:', '    image: x', '    labels:', ...labels, ''].join('\n'),
    );
    const printed = execFileSync('docker', ['compose', '-f', 'compose.yml', 'config', '--format', 'json'], {
      cwd: scratch,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...VARIABLES },
      encoding: 'utf8',
    });
    const read = (JSON.parse(printed) as { services: { s: { labels: Record<string, string> } } }).services.s
      .labels;
    // compose prints a literal $ as $$ (its own escape) in what it writes back.
    const values = templates.map((_, index) => read[`l${index}`]?.replaceAll('$$', '$'));
    expect(values).toEqual(Object.values(TABLE));
  });
});
