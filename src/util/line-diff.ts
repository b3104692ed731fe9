// A unified diff of two texts, line by line (longest common subsequence), as `diff -u` prints it:
// for showing what a rewrite of a small generated file would change. Not for large files: above
// MAX_CELLS the whole text is shown as replaced.

const CONTEXT = 3;
const MAX_CELLS = 4_000_000;
const NO_EOL = '\\ No newline at end of file';

interface Op {
  kind: ' ' | '-' | '+';
  line: string;
}

/** The lines of a text; a last line without a newline carries the `\ No newline` marker line. */
function linesOf(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] = `${lines[lines.length - 1]}\n${NO_EOL}`;
  return lines;
}

function editScript(a: string[], b: string[]): Op[] {
  if (a.length * b.length > MAX_CELLS) {
    return [
      ...a.map((line) => ({ kind: '-' as const, line })),
      ...b.map((line) => ({ kind: '+' as const, line })),
    ];
  }
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j]
          ? lcs[(i + 1) * width + j + 1]! + 1
          : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!) {
      ops.push({ kind: '-', line: a[i]! });
      i++;
    } else {
      ops.push({ kind: '+', line: b[j]! });
      j++;
    }
  }
  for (; i < a.length; i++) ops.push({ kind: '-', line: a[i]! });
  for (; j < b.length; j++) ops.push({ kind: '+', line: b[j]! });
  return ops;
}

function range(start: number, length: number): string {
  if (length === 1) return String(start);
  return `${length === 0 ? start - 1 : start},${length}`;
}

/**
 * The unified diff (3 lines of context) from `before` to `after`, headed `--- a/<path>` and
 * `+++ b/<path>`; the empty string when they are equal.
 */
export function unifiedDiff(before: string, after: string, path: string): string {
  const ops = editScript(linesOf(before), linesOf(after));
  const changed = ops.flatMap((op, index) => (op.kind === ' ' ? [] : [index]));
  if (changed.length === 0) return '';
  // Group the changes whose context overlaps into hunks: [first op, end op) each.
  const hunks: [number, number][] = [];
  for (const index of changed) {
    const start = Math.max(0, index - CONTEXT);
    const end = Math.min(ops.length, index + CONTEXT + 1);
    const last = hunks[hunks.length - 1];
    if (last !== undefined && start <= last[1]) last[1] = end;
    else hunks.push([start, end]);
  }
  const out = [`--- a/${path}`, `+++ b/${path}`];
  let oldLine = 1;
  let newLine = 1;
  let position = 0;
  for (const [start, end] of hunks) {
    for (; position < start; position++) {
      if (ops[position]!.kind !== '+') oldLine++;
      if (ops[position]!.kind !== '-') newLine++;
    }
    const slice = ops.slice(start, end);
    const oldLength = slice.filter((op) => op.kind !== '+').length;
    const newLength = slice.filter((op) => op.kind !== '-').length;
    out.push(`@@ -${range(oldLine, oldLength)} +${range(newLine, newLength)} @@`);
    for (const op of slice) out.push(`${op.kind}${op.line}`);
  }
  return `${out.join('\n')}\n`;
}
