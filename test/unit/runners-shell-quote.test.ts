import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quoteArg, quoteArgv } from '../../src/util/shell-quote.js';

describe('quoteArg', () => {
  it.each([
    ['docker', 'docker'],
    ['--format={{json .}}', `'--format={{json .}}'`],
    ['-p', '-p'],
    ['127.0.0.1:5000/shop-web:abc123', '127.0.0.1:5000/shop-web:abc123'],
    ['a,b@c%d+e_f', 'a,b@c%d+e_f'],
    ['', `''`],
    ['two words', `'two words'`],
    ["it's", `'it'\\''s'`],
    ["'", `''\\'''`],
    ['"double"', `'"double"'`],
    ['$HOME', `'$HOME'`],
    ['`id`', `'\`id\`'`],
    ['$(rm -rf /)', `'$(rm -rf /)'`],
    ['line1\nline2', `'line1\nline2'`],
    ['*.yml', `'*.yml'`],
    ['file?', `'file?'`],
    ['[ab]', `'[ab]'`],
    ['~/x', `'~/x'`],
    ['a=b', `'a=b'`],
    ['#comment', `'#comment'`],
    ['a;b|c&d', `'a;b|c&d'`],
    ['back\\slash', `'back\\slash'`],
    ['tab\there', `'tab\there'`],
    ['héllo', `'héllo'`],
  ])('%j → %s', (input, expected) => {
    expect(quoteArg(input)).toBe(expected);
  });
});

describe('quoteArgv', () => {
  it('joins quoted words with single spaces', () => {
    expect(quoteArgv(['docker', 'compose', '-f', 'my file.yml', 'up', '-d'])).toBe(
      `docker compose -f 'my file.yml' up -d`,
    );
    expect(quoteArgv(['sh', '-c', 'echo "$1"', 'sh', "it's"])).toBe(`sh -c 'echo "$1"' sh 'it'\\''s'`);
    expect(quoteArgv([])).toBe('');
  });

  it('is split back into exactly the same words by a POSIX shell', () => {
    const words = [
      'plain',
      '',
      'two words',
      "it's",
      "''",
      '"',
      '$HOME',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion, to be quoted
      '${x:-y}',
      '`id`',
      '$(id)',
      'a\nb\n',
      '*',
      '?',
      '[a]',
      '~',
      '~root',
      'x=1',
      '\\',
      '!',
      '#',
      '&&',
      ';',
      '|',
      '<>',
      '{a,b}',
      ' leading and trailing ',
      'ünïcødé ✓',
      '\t',
    ];
    // `sh -c '<line>'` re-parses the quoted line; printf shows each word between markers.
    const line = quoteArgv(['printf', '<%s>', ...words]);
    for (const shell of ['sh', 'bash']) {
      const output = execFileSync(shell, ['-c', line], { encoding: 'utf8', cwd: '/' });
      expect(output).toBe(words.map((word) => `<${word}>`).join(''));
    }
  });
});
