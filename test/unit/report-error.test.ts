import { describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/report-error.js';
import { UserError } from '../../src/util/errors.js';
import { diagnosticText, Output } from '../../src/util/output.js';

/** reportError's exit code and what it printed on stderr. */
function report(error: unknown): { code: number; printed: string } {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
  try {
    const code = reportError(
      error,
      new Output({ color: false, quiet: false, verbose: false, json: false }),
      false,
    );
    return { code, printed: written.join('') };
  } finally {
    process.stderr.write = write;
  }
}

const errno = (code: string, syscall: string, path: string) =>
  Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });

describe('reportError', () => {
  it('reports a file-system error on a path as the user’s (exit 1) or the disk’s (exit 2), not as a bug', () => {
    const notDir = report(errno('ENOTDIR', 'mkdir', '/p/.github/workflows'));
    expect(notDir.code).toBe(1);
    expect(notDir.printed).toContain(
      'error: cannot create the folder /p/.github/workflows: a part of the path is not a directory (ENOTDIR)',
    );
    expect(report(errno('ENOSPC', 'write', '/p/x')).code).toBe(2);
  });

  it('keeps a missing file and an error without a path for what they are: a bug (exit 3)', () => {
    expect(report(errno('ENOENT', 'open', '/p/gone')).code).toBe(3);
    const plain = report(new TypeError('x is undefined'));
    expect(plain.code).toBe(3);
    expect(plain.printed).toContain('error: internal error: x is undefined');
  });

  it('shows control, bidirectional and zero-width characters escaped in every line of an error', () => {
    const printed = report(
      new UserError('unknown key "na\u202Eme"', { details: ['a\u200Bb\u0007'], hint: 'see \u2066x\u2069' }),
    ).printed;
    expect(printed).toBe(
      'error: unknown key "na\\u{202E}me"\n  a\\u{200B}b\\u{0007}\nhint: see \\u{2066}x\\u{2069}\n',
    );
    expect(diagnosticText('tab\tand\nnewline stay; ü and ✓ too')).toBe('tab\tand\nnewline stay; ü and ✓ too');
  });
});

describe('reportError with --json', () => {
  /** What reportError wrote on stdout for `error`, after `before` ran on the same Output. */
  function stdoutOf(error: unknown, before: (output: Output) => void): string {
    const written: string[] = [];
    const [out, err] = [process.stdout.write, process.stderr.write];
    process.stdout.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const output = new Output({ color: false, quiet: false, verbose: false, json: true });
      before(output);
      written.length = 0;
      reportError(error, output, false, true);
      return written.join('');
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
    }
  }

  it('adds one error line after event lines, none after a JSON document that says how it failed', () => {
    const error = new UserError('it broke', { hint: 'fix it', details: ['at a:1'] });
    expect(JSON.parse(stdoutOf(error, (output) => output.result('{"event":"step"}')))).toEqual({
      event: 'error',
      message: 'it broke',
      details: ['at a:1'],
      hint: 'fix it',
      exit_code: 1,
    });
    expect(stdoutOf(error, (output) => output.json({ ok: false }))).toBe('');
  });
});
