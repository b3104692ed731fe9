import { describe, expect, it } from 'vitest';
import { LineCounter, parseDocument } from 'yaml';
import { guardYamlDocument } from '../../src/config/yaml-guard.js';

/** The guard's problems of `text` as `line:col message`. */
function problems(text: string): string[] {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, merge: true });
  return guardYamlDocument(document).map((problem) => {
    const { line, col } = lines.linePos(problem.offset);
    return `${line}:${col} ${problem.message}`;
  });
}

describe('guardYamlDocument', () => {
  it('refuses an alias inside the node it refers to (a list, a mapping, a merge key), at the alias', () => {
    expect(problems('x-r: &r [*r]\n')).toEqual([
      '1:10 YAML alias *r is inside the node it refers to (a recursive alias): refused',
    ]);
    expect(problems('a: &e\n  b: 1\n  c: { d: *e }\n')).toEqual([
      '3:11 YAML alias *e is inside the node it refers to (a recursive alias): refused',
    ]);
    expect(problems('project: &p\n  name: x\n  <<: *p\n')).toEqual([
      '3:7 YAML alias *p is inside the node it refers to (a recursive alias): refused',
    ]);
  });

  it('accepts an alias used beside its anchor, however often', () => {
    expect(problems('base: &b { a: 1 }\none: *b\ntwo: { <<: *b, c: 2 }\nlist: [*b, *b]\n')).toEqual([]);
  });
});
