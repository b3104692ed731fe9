// unifiedDiff: the exact `diff -u` form for a known case, and, for many random pairs of texts, a
// diff that `patch` semantics apply back to the new text (checked by a small applier below).
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../src/util/line-diff.js';

const NO_EOL = '\\ No newline at end of file';

/** Lines as unifiedDiff sees them: a last line without newline carries the marker line. */
function linesOf(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] = `${lines[lines.length - 1]}\n${NO_EOL}`;
  return lines;
}

/** Applies a unified diff to `before` (hunks in order, context checked); throws when it does not fit. */
function apply(before: string, diff: string): string {
  const lines = linesOf(before);
  const body = diff.replace(/\n$/, '').split('\n').slice(2);
  // Merge each marker line into the line it follows, as linesOf does.
  const merged: string[] = [];
  for (const line of body) {
    if (line === NO_EOL) merged[merged.length - 1] = `${merged[merged.length - 1]}\n${NO_EOL}`;
    else merged.push(line);
  }
  const out: string[] = [];
  let cursor = 0;
  for (const line of merged) {
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(line);
    if (header !== null) {
      const from = header[2] === '0' ? Number(header[1]) : Number(header[1]) - 1;
      while (cursor < from) out.push(lines[cursor++]!);
      continue;
    }
    if (line[0] === ' ' || line[0] === '-') {
      if (lines[cursor] !== line.slice(1)) throw new Error(`context mismatch at ${cursor}: ${line}`);
      cursor++;
    }
    if (line[0] === ' ' || line[0] === '+') out.push(line.slice(1));
  }
  while (cursor < lines.length) out.push(lines[cursor++]!);
  if (out.length === 0) return '';
  const text = `${out.join('\n')}\n`;
  return text.endsWith(`\n${NO_EOL}\n`) ? text.slice(0, -(NO_EOL.length + 2)) : text;
}

describe('unifiedDiff', () => {
  it('prints a changed line with three lines of context, as diff -u does', () => {
    const before = 'a\nb\nc\nd\ne\nf\ng\nh\n';
    const after = 'a\nb\nc\nd\nE\nf\ng\nh\ni\n';
    expect(unifiedDiff(before, after, 'x.yml')).toBe(
      '--- a/x.yml\n+++ b/x.yml\n@@ -2,7 +2,8 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n+i\n',
    );
  });

  it('equal texts: no diff', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', 'x')).toBe('');
  });

  it('splits distant changes into hunks and marks a missing final newline', () => {
    const before = `${Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n')}`;
    const after = `${before.replace('l1\n', 'L1\n').replace('l18', 'L18')}\n`;
    expect(unifiedDiff(before, after, 'f')).toBe(
      [
        '--- a/f',
        '+++ b/f',
        '@@ -1,5 +1,5 @@',
        ' l0',
        '-l1',
        '+L1',
        ' l2',
        ' l3',
        ' l4',
        '@@ -16,5 +16,5 @@',
        ' l15',
        ' l16',
        ' l17',
        '-l18',
        '-l19',
        '\\ No newline at end of file',
        '+L18',
        '+l19',
        '',
      ].join('\n'),
    );
  });

  it('from and to an empty text', () => {
    expect(unifiedDiff('', 'a\nb\n', 'f')).toBe('--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+a\n+b\n');
    expect(unifiedDiff('a\n', '', 'f')).toBe('--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-a\n');
  });

  it('random texts: the diff applies back to the new text', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const text = () => {
        const count = random(25);
        const body = Array.from({ length: count }, () => 'abcde'[random(5)]).join('\n');
        return count === 0 ? '' : random(4) === 0 ? body : `${body}\n`;
      };
      const before = text();
      const after = text();
      const diff = unifiedDiff(before, after, 'f');
      if (before === after) expect(diff).toBe('');
      else expect(apply(before, diff), JSON.stringify({ before, after, diff })).toBe(after);
    }
  });
});
