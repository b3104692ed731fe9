// biome-ignore-all lint/suspicious/noTemplateCurlyInString: literal ${…} in env files and compose files is what is under test
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DotenvSyntaxError, parseDotenv, readDotenvFiles } from '../../src/config/dotenv.js';
import { substitute } from '../../src/config/substitute.js';
import { UserError } from '../../src/util/errors.js';

/**
 * Env-file texts and the values docker compose v2 reads from them (checked against the real
 * `docker compose config` below: each text is a service's env_file, with an empty environment).
 */
const TABLE: Record<string, { text: string; values: Record<string, string> }> = {
  'a byte order mark and CRLF line ends (a Windows editor)': {
    text: '\ufeffFIRST=bom-first\r\nSECOND=two\r\n',
    values: { FIRST: 'bom-first', SECOND: 'two' },
  },
  'a # without a space before it is part of the value (case 01)': {
    text: 'SHOP_TAGLINE=bread#1\nSMTP_PASSWORD=rye#Flour42\n',
    values: { SHOP_TAGLINE: 'bread#1', SMTP_PASSWORD: 'rye#Flour42' },
  },
  'only " #" starts an inline comment': {
    text: 'A=value # comment\nB=value\t# tab\nC= #start\n',
    values: { A: 'value', B: 'value\t# tab', C: '#start' },
  },
  'a double-quoted value spans lines (case 02)': {
    text: 'CERT="-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----"\nNEXT=3\n',
    values: { CERT: '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----', NEXT: '3' },
  },
  'a single-quoted value spans lines and is literal': {
    text: "S='line1\nline2 $HOME \\n'\nT=1\n",
    values: { S: 'line1\nline2 $HOME \\n', T: '1' },
  },
  'variables expand from earlier lines; \\$ is a literal $ (case 03)': {
    text: 'SITE_HOST=bakery.example.test\nPUBLIC_URL="https://${SITE_HOST}/shop"\nPRICE_NOTE="loaf \\$4"\nBARE=$SITE_HOST/x\nSINGLE=\'${SITE_HOST}\'\n',
    values: {
      SITE_HOST: 'bakery.example.test',
      PUBLIC_URL: 'https://bakery.example.test/shop',
      PRICE_NOTE: 'loaf $4',
      BARE: 'bakery.example.test/x',
      SINGLE: '${SITE_HOST}',
    },
  },
  'defaults and alternatives': {
    text: 'A=\nB=${A:-dflt}\nC=${A-dflt}\nD=${UNSET_X:-u}\nE=${A:+alt}\nF=${B:+alt}\nG=${B+x}${UNSET_X+y}\nH=${UNSET_X:-${B}}\n',
    values: { A: '', B: 'dflt', C: '', D: 'u', E: '', F: 'alt', G: 'x', H: 'dflt' },
  },
  'escapes in double quotes': {
    text: 'A="tab\\there"\nB="quote \\" in"\nC="back\\\\slash"\nD="dollar $$ and \\$x"\nE="keep \\q"\nF=unquoted\\n\nG="\\0101"\n',
    values: {
      A: 'tab\there',
      B: 'quote " in',
      C: 'back\\slash',
      D: 'dollar $ and $x',
      E: 'keep \\q',
      F: 'unquoted\\n',
      G: 'A',
    },
  },
  'export, yaml-style colons, spaces around =': {
    text: 'export A=1\nB: two\n  export   C = spaced value  \nD.E-F=dots\n',
    values: { A: '1', B: 'two', C: 'spaced value', 'D.E-F': 'dots' },
  },
  'a comment after a closing quote': {
    text: 'A="x" # trailing\nB=\'y\'   # trailing\n',
    values: { A: 'x', B: 'y' },
  },
  'a $ before anything but a name stays': {
    text: 'A=$\nB=a$1b\nC=pre$$post\nD="$"\n',
    values: { A: '$', B: 'a$1b', C: 'pre$post', D: '$' },
  },
  'later keys win and are seen by later lines': {
    text: 'A=1\nA=2\nB=${A}\n',
    values: { A: '2', B: '2' },
  },
  'empty values': { text: 'A=\nB=""\nC=\'\'\n', values: { A: '', B: '', C: '' } },
  'CRLF line ends': { text: 'A=1\r\nB="two"\r\nC=three # c\r\n', values: { A: '1', B: 'two', C: 'three' } },
};

describe('parseDotenv (compose v2 rules)', () => {
  for (const [name, { text, values }] of Object.entries(TABLE)) {
    it(name, () => {
      expect(parseDotenv(text)).toEqual(values);
    });
  }

  it('looks variables up in the shell first, then in earlier keys', () => {
    const unset: string[] = [];
    const values = parseDotenv('HOST=file\nA=${HOST}\nB=${NOWHERE}\nC\nD\n', {
      lookup: (name) => ({ HOST: 'shell', C: 'from-shell' })[name],
      onUnset: (name, line) => unset.push(`${name}@${line}`),
    });
    expect(values).toEqual({ HOST: 'file', A: 'shell', B: '', C: 'from-shell' });
    expect(unset).toEqual(['NOWHERE@3']);
  });

  it('refuses what compose refuses, with the line', () => {
    expect(() => parseDotenv('A=1\nB="open\n')).toThrow(
      new DotenvSyntaxError(
        2,
        'unterminated quoted value: the " that opens it is never closed (close it, or escape a " inside it)',
      ),
    );
    expect(() => parseDotenv('A=1\n\nB C=2\n')).toThrow('line 3: key cannot contain a space');
    expect(() => parseDotenv('A=1\n=novalue\n')).toThrow(
      'line 2: no variable name before the =: write NAME=value',
    );
    expect(() => parseDotenv('A=1\nB$=2\n')).toThrow(
      'line 2: unexpected character "$" in variable name "B$"',
    );
    // No part of a value is shown: it may be a secret nothing has registered yet.
    expect(() => parseDotenv("TOKEN=x\ns$HOME'Hunter2Secret\n")).toThrow(
      'line 2: unexpected character "$" in variable name "s$"',
    );
    expect(() => parseDotenv('TOKEN=${Hunter2Secret\n')).toThrow(
      'line 1: invalid ${…} reference in the value (unclosed, or not a variable name): write $$ for a literal $',
    );
    expect(() => parseDotenv('A=${B:?B is required}\n')).toThrow(
      'line 1: required variable B is missing a value: B is required',
    );
  });
});

describe('substitute (compose template)', () => {
  const lookup = (name: string) => ({ A: 'a', E: '' })[name];
  it.each([
    ['${A}/$A/$$A', 'a/a/$A'],
    ['${E:-d}|${E-d}|${U-d}|${U:-${A}x}', 'd||d|ax'],
    ['${A:+p}|${E:+p}|${E+p}|${U+p}', 'p||p|'],
    ['x$1 $ ${A}}', 'x$1 $ a}'],
  ])('%s → %s', (template, expected) => {
    expect(substitute(template, lookup)).toBe(expected);
  });
  it('reports invalid templates and required variables', () => {
    expect(() => substitute('${A B}', lookup)).toThrow('Invalid template: "${A B}"');
    expect(() => substitute('${E:?must be set}', lookup)).toThrow(
      'required variable E is missing a value: must be set',
    );
    expect(substitute('${E?x}', lookup)).toBe('');
  });
});

const scratch = mkdtempSync(join(tmpdir(), 'stagecraft-dotenv-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('readDotenvFiles', () => {
  it('shares keys across files like repeated --env-file, and refuses a missing file', () => {
    writeFileSync(join(scratch, 'a.env'), 'HOST=h\n');
    writeFileSync(join(scratch, 'b.env'), 'URL="http://${HOST}"\n');
    const files = ['a.env', 'b.env'].map((name) => ({ path: join(scratch, name), display: name }));
    expect(readDotenvFiles(files, {}, () => undefined)).toEqual({ HOST: 'h', URL: 'http://h' });
    const refusal = new UserError('missing');
    expect(() =>
      readDotenvFiles([{ path: join(scratch, 'nope.env'), display: 'nope.env' }], {}, () => refusal),
    ).toThrow(refusal);
    writeFileSync(join(scratch, 'bad.env'), 'OK=1\nX="never closed\n');
    expect(() =>
      readDotenvFiles([{ path: join(scratch, 'bad.env'), display: 'bad.env' }], {}, () => undefined),
    ).toThrow('bad.env:2: unterminated quoted value: the " that opens it is never closed');
    writeFileSync(join(scratch, 'nul.env'), 'OK=1\nX=a\0b\n');
    expect(() =>
      readDotenvFiles([{ path: join(scratch, 'nul.env'), display: 'nul.env' }], {}, () => undefined),
    ).toThrow('nul.env:2: a NUL byte: no process environment can hold it');
  });
});

describe.skipIf(spawnSync('docker', ['compose', 'version']).status !== 0)(
  'readDotenvFiles against docker compose',
  () => {
    it('a later file looks a name up in the files before it first, then in its own lines (as compose v2)', () => {
      const dir = join(scratch, 'two-files');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'a.env'), 'SAME=from-a\nONLY_A=a\n');
      writeFileSync(join(dir, 'b.env'), 'SAME=from-b\nONLY_B=b\nREF_B=${SAME}+${ONLY_A}\nOWN=${ONLY_B}\n');
      const files = ['a.env', 'b.env'].map((name) => ({ path: join(dir, name), display: name }));
      const ours = readDotenvFiles(files, {}, () => undefined);
      expect(ours).toEqual({ SAME: 'from-b', ONLY_A: 'a', ONLY_B: 'b', REF_B: 'from-a+a', OWN: 'b' });
      writeFileSync(
        join(dir, 'compose.yml'),
        [
          'services:',
          '  s:',
          '    image: x',
          '    environment:',
          '      SAME: "$SAME"',
          '      REF_B: "$REF_B"',
          '      OWN: "$OWN"',
          '',
        ].join('\n'),
      );
      const printed = execFileSync(
        'docker',
        [
          'compose',
          '--env-file',
          'a.env',
          '--env-file',
          'b.env',
          '-f',
          'compose.yml',
          'config',
          '--format',
          'json',
        ],
        { cwd: dir, env: { PATH: process.env['PATH'], HOME: process.env['HOME'] }, encoding: 'utf8' },
      );
      const environment = (
        JSON.parse(printed) as { services: { s: { environment: Record<string, string> } } }
      ).services.s.environment;
      expect(environment).toEqual({ SAME: ours['SAME'], REF_B: ours['REF_B'], OWN: ours['OWN'] });
      // The process environment still comes first.
      expect(readDotenvFiles(files, { SAME: 'shell' }, () => undefined)['REF_B']).toBe('shell+a');
    });
  },
);

// The table above, read by the real docker compose v2 (absent in CI is a failure there).
const composeAvailable = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
if (!composeAvailable && process.env['CI'] === 'true') {
  describe('env files against docker compose', () => {
    it('is installed', () => expect.fail('CI must install the compose v2 plugin'));
  });
}
describe.skipIf(!composeAvailable)('env files against docker compose', { timeout: 30_000 }, () => {
  for (const [name, { text, values }] of Object.entries(TABLE)) {
    it(`compose reads the same: ${name}`, () => {
      const dir = join(scratch, name.replace(/[^a-z0-9]+/gi, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'e.env'), text);
      writeFileSync(join(dir, 'compose.yml'), 'services:\n  s:\n    image: x\n    env_file: e.env\n');
      const printed = execFileSync('docker', ['compose', '-f', 'compose.yml', 'config', '--format', 'json'], {
        cwd: dir,
        env: { PATH: process.env['PATH'], HOME: process.env['HOME'] },
        encoding: 'utf8',
      });
      const environment = (
        JSON.parse(printed) as { services: { s: { environment: Record<string, string> } } }
      ).services.s.environment;
      const literal = Object.fromEntries(
        Object.entries(environment).map(([key, value]) => [key, value.replaceAll('$$', '$')]),
      );
      expect(literal).toEqual(values);
    });
  }

  it('stops a value that expands past 1 MiB at its line (each line ten times the one before)', () => {
    const lines = ['L0=xxxxxxxxxx'];
    for (let i = 1; i <= 9; i++) lines.push(`L${i}=${`\${L${i - 1}}`.repeat(10)}`);
    const started = Date.now();
    expect(() => parseDotenv(`${lines.join('\n')}\n`)).toThrow(
      new DotenvSyntaxError(
        7,
        'the value expands to more than 1 MiB (through ${L5}): an env value holds a setting, not data',
      ),
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(parseDotenv(`${lines.slice(0, 6).join('\n')}\n`)['L5']).toHaveLength(1_000_000);
    // Many lines of 1 MB each stop once the file's values pass 16 MiB together.
    const many = [...lines.slice(0, 6), ...Array.from({ length: 20 }, (_, i) => `M${i + 1}=\${L5}`)];
    expect(() => parseDotenv(`${many.join('\n')}\n`)).toThrow(
      new DotenvSyntaxError(
        22,
        "the file's values expand to more than 16 MiB together: env values hold settings, not data",
      ),
    );
  });
});
