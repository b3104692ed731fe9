import { describe, expect, it } from 'vitest';
import { type RecordedCall, RecordingRunner } from '../../src/runners/recording.js';
import { ExternalError } from '../../src/util/errors.js';
import { Secret } from '../../src/util/secret.js';

describe('RecordingRunner', () => {
  it('records execs, uploads, reads and close in order, never secret contents', async () => {
    const runner = new RecordingRunner({ name: 'h1' });
    await runner.exec(['docker', 'login', '--password-stdin', 'reg'], { stdin: new Secret('pa55word-xyz') });
    await runner.exec(['cat'], { stdin: 'plain text', env: { A: 'b' } });
    await runner.upload('.stagecraft/shop-prod/app.env', new Secret('TOKEN=topsecret'), 0o600);
    await runner.upload('.stagecraft/shop-prod/compose.yml', 'services: {}\n', 0o644);
    expect(await runner.read('~/.stagecraft/shop-prod/compose.yml')).toBe('services: {}\n');
    expect(await runner.read('.stagecraft/shop-prod/app.env')).toBe('TOKEN=topsecret');
    expect(await runner.read('missing')).toBeUndefined();
    await runner.close();
    expect(runner.calls).toEqual<RecordedCall[]>([
      { kind: 'exec', host: 'h1', argv: ['docker', 'login', '--password-stdin', 'reg'], stdin: '[secret]' },
      { kind: 'exec', host: 'h1', argv: ['cat'], stdin: 'plain text', env: { A: 'b' } },
      { kind: 'upload', host: 'h1', path: '.stagecraft/shop-prod/app.env', mode: 0o600, content: '[secret]' },
      {
        kind: 'upload',
        host: 'h1',
        path: '.stagecraft/shop-prod/compose.yml',
        mode: 0o644,
        content: 'services: {}\n',
      },
      { kind: 'read', host: 'h1', path: '~/.stagecraft/shop-prod/compose.yml' },
      { kind: 'read', host: 'h1', path: '.stagecraft/shop-prod/app.env' },
      { kind: 'read', host: 'h1', path: 'missing' },
      { kind: 'close', host: 'h1' },
    ]);
    expect(JSON.stringify(runner.calls)).not.toMatch(/pa55word|topsecret/);
    expect(runner.commands).toEqual([['docker', 'login', '--password-stdin', 'reg'], ['cat']]);
  });

  it('answers from a prefix map (longest prefix wins) and throws on a scripted failure', async () => {
    const runner = new RecordingRunner({
      name: 'h2',
      script: {
        'docker inspect': { stdout: 'generic\n' },
        'docker inspect web': { stdout: 'web-1\nweb-2\n' },
        'docker rm': { exitCode: 1, stderr: 'Error: No such container: x\n' },
      },
    });
    expect((await runner.exec(['docker', 'inspect', 'web', '--format', 'x'])).stdout).toBe('web-1\nweb-2\n');
    expect((await runner.exec(['docker', 'inspect', 'db'])).stdout).toBe('generic\n');
    expect(await runner.exec(['true'])).toEqual({ exitCode: 0, stdout: '', stderr: '', durationMs: 0 });
    const error = await runner.exec(['docker', 'rm', 'x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toBe(
      'docker rm x exited with code 1 on h2: Error: No such container: x',
    );
    expect((await runner.exec(['docker', 'rm', 'x'], { allowFailure: true })).exitCode).toBe(1);
  });

  it('answers from a function and replays output lines to onLine', async () => {
    const lines: string[] = [];
    const runner = new RecordingRunner({
      script: (argv) => (argv[0] === 'echo' ? { stdout: `${argv.slice(1).join(' ')}\nsecond\n` } : undefined),
    });
    await runner.exec(['echo', 'hello'], { onLine: (line, stream) => lines.push(`${stream}:${line}`) });
    expect(lines).toEqual(['stdout:hello', 'stdout:second']);
  });

  it('shares one log between hosts', async () => {
    const log: RecordedCall[] = [];
    const a = new RecordingRunner({ name: 'h1', log });
    const b = new RecordingRunner({ name: 'h2', log });
    await a.exec(['a']);
    await b.exec(['b']);
    await a.exec(['c']);
    expect(log.map((call) => call.kind === 'exec' && `${call.host}:${call.argv[0]}`)).toEqual([
      'h1:a',
      'h2:b',
      'h1:c',
    ]);
    expect(a.commands).toEqual([['a'], ['c']]);
  });
});
