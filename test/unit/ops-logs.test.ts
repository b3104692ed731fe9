// The pure parts of `stagecraft logs`: docker's timestamped lines, merging several containers by time,
// the `host container |` prefix, --grep/--since/--lines, and the follow wrapper that stops a remote
// `docker logs -f` once nobody reads it.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FOLLOW_SCRIPT,
  followLineHandler,
  formatLogLine,
  grepPattern,
  KEEPALIVE,
  linesArgument,
  logPrefix,
  mergeLogLines,
  parseLogLine,
  type SourcedLine,
  sinceArgument,
} from '../../src/operations/logs.js';
import { runLocal } from '../../src/runners/local.js';
import { UserError } from '../../src/util/errors.js';

function line(host: string, container: string, timestamp: string, text: string): SourcedLine {
  return { host, container, timestamp, text };
}

describe('parseLogLine', () => {
  it('splits the timestamp docker logs -t puts first; a line without one is not a log line', () => {
    expect(parseLogLine('2025-06-01T12:00:00.123456789Z GET /health 200')).toEqual({
      timestamp: '2025-06-01T12:00:00.123456789Z',
      text: 'GET /health 200',
    });
    expect(parseLogLine('2025-06-01T12:00:00.000000000Z ')).toEqual({
      timestamp: '2025-06-01T12:00:00.000000000Z',
      text: '',
    });
    expect(parseLogLine('Connection to 10.0.0.2 closed by remote host.')).toBeUndefined();
  });
});

describe('mergeLogLines', () => {
  it('orders lines of several hosts by time and keeps each container order stable', () => {
    const h1 = [
      line('h1', 'api-1', '2025-06-01T12:00:01.000000000Z', 'a1'),
      line('h1', 'api-1', '2025-06-01T12:00:03.000000000Z', 'a3'),
      line('h1', 'api-1', '2025-06-01T12:00:03.000000000Z', 'a3-bis'),
    ];
    const h2 = [
      line('h2', 'api-1', '2025-06-01T12:00:00.500000000Z', 'b0'),
      line('h2', 'api-1', '2025-06-01T12:00:03.000000000Z', 'b3'),
      line('h2', 'api-1', '2025-06-01T12:00:04.000000000Z', 'b4'),
    ];
    expect(mergeLogLines([h1, h2]).map((entry) => entry.text)).toEqual([
      'b0',
      'a1',
      'a3',
      'a3-bis',
      'b3',
      'b4',
    ]);
    expect(mergeLogLines([])).toEqual([]);
  });
});

describe('formatLogLine', () => {
  const sample = line('h1', 'api-1', '2025-06-01T12:00:00.000000000Z', 'GET /health 200');

  it('prefixes host and container, aligned to the widest prefix', () => {
    expect(logPrefix('h1', 'api-1', 12)).toBe('h1 api-1     |');
    expect(formatLogLine(sample, 8, { timestamps: false, grep: undefined })).toBe(
      'h1 api-1 | GET /health 200',
    );
    expect(formatLogLine(sample, 8, { timestamps: true, grep: undefined })).toBe(
      'h1 api-1 | 2025-06-01T12:00:00.000000000Z GET /health 200',
    );
  });

  it('--grep filters on the text, not on the prefix', () => {
    expect(formatLogLine(sample, 8, { timestamps: false, grep: /health/ })).toBeDefined();
    expect(formatLogLine(sample, 8, { timestamps: false, grep: /h1/ })).toBeUndefined();
    expect(formatLogLine(sample, 8, { timestamps: false, grep: grepPattern('2\\d\\d$') })).toBeDefined();
  });
});

describe('flags', () => {
  it('--since takes durations (days become hours) and times; anything else is a user error', () => {
    expect(sinceArgument('10m')).toBe('10m');
    expect(sinceArgument('1h30m')).toBe('1h30m');
    expect(sinceArgument('2d')).toBe('48h');
    expect(sinceArgument('2025-06-01T10:00:00Z')).toBe('2025-06-01T10:00:00Z');
    expect(sinceArgument('1717236000')).toBe('1717236000');
    expect(() => sinceArgument('yesterday')).toThrow(UserError);
  });

  it('--lines is a whole number; --grep a valid regular expression', () => {
    expect(linesArgument('200')).toBe(200);
    expect(linesArgument(undefined)).toBeUndefined();
    expect(() => linesArgument('-3')).toThrow(/invalid --lines/);
    expect(() => grepPattern('(')).toThrow(/invalid --grep regular expression/);
  });
});

describe('followLineHandler', () => {
  it('hands on the lines it reads, drops keep-alives, keeps unreadable stderr as diagnostics', () => {
    const used: string[] = [];
    const diagnostics: string[] = [];
    const onLine = followLineHandler(parseLogLine, (line) => used.push(line.text), diagnostics);
    onLine('2025-06-01T12:00:00.000000000Z ready', 'stdout');
    onLine(KEEPALIVE, 'stdout');
    onLine('no timestamp on stdout', 'stdout');
    onLine('  Error response from daemon: No such container  ', 'stderr');
    onLine('   ', 'stderr');
    expect(used).toEqual(['ready']);
    expect(diagnostics).toEqual(['Error response from daemon: No such container']);
  });
});

describe('FOLLOW_SCRIPT', () => {
  it('passes the output and the exit status of the command through, with keepalive lines', async () => {
    const result = await runLocal(
      ['sh', '-c', FOLLOW_SCRIPT, 'sh', 'sh', '-c', 'echo one; sleep 1.5; echo two; exit 3'],
      {
        allowFailure: true,
        timeoutMs: 10_000,
      },
    );
    expect(result.exitCode).toBe(3);
    const lines = result.stdout.trim().split('\n');
    expect(lines.filter((text) => text !== KEEPALIVE)).toEqual(['one', 'two']);
    expect(lines).toContain(KEEPALIVE);
  });

  it('stops the command when its output is gone (the ssh channel closed)', async () => {
    // `head -n 1` reads the first line and exits: the next keepalive write fails and the wrapper stops
    // the command, which therefore never gets to create its marker file.
    const marker = join(tmpdir(), `stagecraft-follow-${process.pid}-${Date.now()}`);
    const started = Date.now();
    const wrapper = `sh -c '${FOLLOW_SCRIPT.replaceAll("'", `'\\''`)}'`;
    const result = await runLocal(
      [
        'sh',
        '-c',
        `${wrapper} sh sh -c 'exec 2>/dev/null; sleep 4 && touch "$0"' "$1" | head -n 1; echo done`,
        'sh',
        marker,
      ],
      { timeoutMs: 15_000 },
    );
    expect(result.stdout.trim().split('\n')).toEqual([KEEPALIVE, 'done']);
    expect(Date.now() - started).toBeLessThan(4_000);
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(existsSync(marker)).toBe(false);
  }, 15_000);
});
