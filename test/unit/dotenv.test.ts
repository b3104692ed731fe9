import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../../src/config/dotenv.js';

describe('parseDotenv', () => {
  it('follows the original rules', () => {
    const text = [
      '# comment',
      '',
      'export A=1',
      'B = two words # trailing comment',
      'C="quoted # not a comment\\n"',
      "D='single $x \\n'",
      'E=',
      'no_equals_sign',
      '=empty_key',
      'A=override',
    ].join('\n');
    expect(parseDotenv(text)).toEqual({
      A: 'override',
      B: 'two words',
      C: 'quoted # not a comment\n',
      D: 'single $x \\n',
      E: '',
    });
  });
});
