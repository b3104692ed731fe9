import { describe, expect, it } from 'vitest';
import { inspectProjectContainersArgs, stopThenRemoveArgs } from '../../src/docker/container.js';
import { DRAIN_POLL_MS } from '../../src/ingress/caddy.js';
import { Coalescer } from '../../src/rollout/coalesce.js';
import { DRAIN_WINDOW_MS, hostBatch } from '../../src/rollout/host-batch.js';
import type { IngressTarget } from '../../src/rollout/ingress.js';
import { type RecordedCall, RecordingRunner } from '../../src/runners/recording.js';
import type { Runner } from '../../src/runners/types.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Coalescer', () => {
  it('answers the calls made within the window with one run, each with its own entry', async () => {
    const runs: string[][] = [];
    const batch = new Coalescer<string, string>(
      async (items) => {
        runs.push(items);
        return items.map((item) => item.toUpperCase());
      },
      { windowMs: 5, oneInFlight: true },
    );
    const answers = await Promise.all([batch.call('a'), batch.call('b'), batch.call('c')]);
    expect(answers).toEqual(['A', 'B', 'C']);
    expect(runs).toEqual([['a', 'b', 'c']]);
  });

  it('with oneInFlight, gathers the calls made during a run into the next run', async () => {
    const runs: string[][] = [];
    const batch = new Coalescer<string, string>(
      async (items) => {
        runs.push(items);
        await tick(30);
        return items;
      },
      { windowMs: 0, oneInFlight: true },
    );
    const first = batch.call('a');
    await tick(10);
    const later = [batch.call('b'), batch.call('c')];
    expect(await Promise.all([first, ...later])).toEqual(['a', 'b', 'c']);
    expect(runs).toEqual([['a'], ['b', 'c']]);
  });

  it('without oneInFlight, a later batch does not wait for the one running', async () => {
    const log: string[] = [];
    const batch = new Coalescer<string, string>(
      async (items) => {
        log.push(`start ${items.join(',')}`);
        await tick(items.includes('a') ? 40 : 5);
        log.push(`end ${items.join(',')}`);
        return items;
      },
      { windowMs: 0, oneInFlight: false },
    );
    const first = batch.call('a');
    await tick(10);
    await Promise.all([first, batch.call('b')]);
    expect(log).toEqual(['start a', 'start b', 'end b', 'end a']);
  });

  it("rejects every call of a batch with the run's error, and runs the next batch", async () => {
    let fail = true;
    const batch = new Coalescer<string, string>(
      async (items) => {
        if (fail) throw new Error('compose up failed');
        return items;
      },
      { windowMs: 0, oneInFlight: true },
    );
    const failing = [batch.call('a'), batch.call('b')];
    await expect(failing[0]).rejects.toThrow('compose up failed');
    await expect(failing[1]).rejects.toThrow('compose up failed');
    fail = false;
    await expect(batch.call('c')).resolves.toBe('c');
  });

  it('rejects with a RangeError when a run answers a different number of calls', async () => {
    const batch = new Coalescer<string, string>(async () => ['x'], { windowMs: 0, oneInFlight: true });
    const calls = [batch.call('a'), batch.call('b')];
    await expect(calls[0]).rejects.toThrow('a batch of 2 calls got 1 answers');
    await expect(calls[1]).rejects.toThrow(RangeError);
  });
});

const inspected = (id: string, service: string) =>
  JSON.stringify({
    Id: id,
    Name: `/shop-${service}-1`,
    State: { Status: 'running', Running: true, StartedAt: '2026-11-30T19:00:00Z' },
    Config: { Image: 'img', Labels: { 'com.docker.compose.service': service } },
  });

describe('hostBatch', () => {
  it("reads the containers of services asking together with one command (the project's ps and inspect)", async () => {
    const log: RecordedCall[] = [];
    const runner = new RecordingRunner({
      name: 'h1',
      log,
      script: (argv) =>
        argv.join(' ') === inspectProjectContainersArgs('shop').join(' ')
          ? { stdout: `${inspected('c1', 'api')}\n${inspected('c2', 'web')}\n${inspected('c3', 'api')}\n` }
          : undefined,
    });
    const batch = hostBatch(runner, 'shop');
    const [api, web, worker] = await Promise.all([
      batch.containersOf('api'),
      batch.containersOf('web'),
      batch.containersOf('worker'),
    ]);
    expect(api.map((one) => one.id)).toEqual(['c1', 'c3']);
    expect(web.map((one) => one.id)).toEqual(['c2']);
    expect(worker).toEqual([]);
    expect(log.map((call) => (call.kind === 'exec' ? call.argv.join(' ') : call.kind))).toEqual([
      inspectProjectContainersArgs('shop').join(' '),
    ]);
  });

  it('inspects the containers of several health waits at once; a missing one fails only its own wait', async () => {
    const log: RecordedCall[] = [];
    const runner = new RecordingRunner({
      name: 'h1',
      log,
      script: () => ({
        exitCode: 1,
        stdout: `${inspected('c1', 'api')}\n${inspected('c2', 'web')}\n`,
        stderr: 'Error: No such container: gone',
      }),
    });
    const batch = hostBatch(runner, 'shop');
    const [api, web, broken] = await Promise.allSettled([
      batch.inspect(['c1']),
      batch.inspect(['c2', 'c1']),
      batch.inspect(['gone']),
    ]);
    expect(api.status === 'fulfilled' && api.value.map((one) => one.id)).toEqual(['c1']);
    expect(web.status === 'fulfilled' && web.value.map((one) => one.id)).toEqual(['c2', 'c1']);
    expect(broken.status === 'rejected' && String(broken.reason)).toBe(
      'ExternalError: docker container inspect … exited with code 1 on h1: Error: No such container: gone',
    );
    expect(log.map((call) => (call.kind === 'exec' ? call.argv.join(' ') : call.kind))).toEqual([
      'docker container inspect --format {{json .}} c1 c2 gone',
    ]);
  });

  it('starts the new containers of services asking together with one compose up', async () => {
    const log: RecordedCall[] = [];
    const runner = new RecordingRunner({ name: 'h1', log });
    const batch = hostBatch(runner, 'shop');
    await Promise.all([
      batch.scaleUp('rel/compose.yml', 'web', 2),
      batch.scaleUp('rel/compose.yml', 'api', 4),
    ]);
    expect(log.map((call) => (call.kind === 'exec' ? call.argv.join(' ') : call.kind))).toEqual([
      'docker compose -p shop -f rel/compose.yml up -d --no-deps --no-recreate --scale api=4 --scale web=2 api web',
    ]);
  });
});

describe('hostBatch.stopAndRemove', () => {
  const commands = (log: RecordedCall[]) =>
    log.map((call) => (call.kind === 'exec' ? call.argv.join(' ') : call.kind));

  it('stops and removes the old containers of services retiring together with one stop and one rm', async () => {
    const log: RecordedCall[] = [];
    const batch = hostBatch(new RecordingRunner({ name: 'h1', log }), 'shop');
    await Promise.all([batch.stopAndRemove(['a1'], ['a1', 'a0']), batch.stopAndRemove(['b1'], ['b1'])]);
    expect(commands(log)).toEqual([stopThenRemoveArgs(['a1', 'b1'], ['a1', 'a0', 'b1']).join(' ')]);
  });

  it('when the shared command fails, runs each caller alone: only the failing one gets an error', async () => {
    const log: RecordedCall[] = [];
    const runner = new RecordingRunner({
      name: 'h1',
      log,
      script: (argv) =>
        argv.includes('gone')
          ? { exitCode: 1, stderr: 'Error response from daemon: No such container: gone' }
          : undefined,
    });
    const batch = hostBatch(runner, 'shop');
    const [ok, failed] = await Promise.allSettled([
      batch.stopAndRemove(['a1'], ['a1']),
      batch.stopAndRemove(['gone'], ['gone']),
    ]);
    expect(ok.status).toBe('fulfilled');
    expect(failed.status === 'rejected' && String(failed.reason)).toBe(
      'ExternalError: docker stop gone exited with code 1 on h1: Error response from daemon: No such container: gone',
    );
    expect(commands(log)).toEqual([
      stopThenRemoveArgs(['a1', 'gone'], ['a1', 'gone']).join(' '),
      'docker stop a1',
      'docker stop gone',
      'docker rm -f a1',
    ]);
  });
});

describe('hostBatch.drain', () => {
  const gateway = (runner: Runner): IngressTarget => ({
    runner,
    project: 'shop',
    container: 'stagecraft-gateway-80-443',
    network: 'stagecraft-gateway-80-443',
  });
  const timing = (untilUptimeCs: number) => ({ settle: { untilUptimeCs }, graceMs: 1000 });

  it('drains the services asking together with one exec; each call ends when its line comes', async () => {
    const execs: string[][] = [];
    let finish: () => void = () => {};
    // The gateway's drain prints s1's line, then s0's only once the test lets it.
    const runner: Runner = {
      name: 'h1',
      async exec(argv, options) {
        execs.push([...argv]);
        options?.onLine?.('drained s1', 'stdout');
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
        options?.onLine?.('busy s0', 'stdout');
        return { exitCode: 0, stdout: 'drained s1\nbusy s0\n', stderr: '', durationMs: 1 };
      },
      upload: async () => {},
      read: async () => undefined,
      close: async () => {},
    };
    const batch = hostBatch(runner, 'shop');
    const web = batch.drain(gateway(runner), ['172.20.0.3:8080'], timing(500));
    const api = batch.drain(gateway(runner), ['172.20.0.4:3000'], timing(520));
    expect(await api).toBe('drained');
    expect(execs).toHaveLength(1);
    // One reader for both, settling until the later switch's moment.
    expect(execs[0]!.slice(-5)).toEqual([
      '@520',
      '100',
      String(DRAIN_POLL_MS / 1000),
      's0=172.20.0.3:8080',
      's1=172.20.0.4:3000',
    ]);
    finish();
    expect(await web).toBe('busy');
  });

  it("is 'unreachable' when the gateway cannot be reached; a later call gets an exec of its own", async () => {
    const log: RecordedCall[] = [];
    const runner = new RecordingRunner({
      name: 'h1',
      log,
      script: () => ({ exitCode: 1, stderr: 'Error response from daemon: No such container' }),
    });
    const batch = hostBatch(runner, 'shop');
    expect(await batch.drain(gateway(runner), ['172.20.0.3:8080'], timing(1))).toBe('unreachable');
    expect(
      await batch.drain(gateway(runner), ['172.20.0.4:3000'], { settle: { ms: 0 }, graceMs: 1000 }),
    ).toBe('unreachable');
    expect(log).toHaveLength(2);
  });

  it('rejects with the reason of an aborted signal, and starts no drain for it', async () => {
    const log: RecordedCall[] = [];
    const runner = new RecordingRunner({ name: 'h1', log, script: () => ({ stdout: 'drained s0\n' }) });
    const batch = hostBatch(runner, 'shop');
    const controller = new AbortController();
    controller.abort(new Error('interrupted'));
    await expect(
      batch.drain(gateway(runner), ['172.20.0.3:8080'], timing(1), controller.signal),
    ).rejects.toThrow('interrupted');
    await new Promise((resolve) => setTimeout(resolve, 2 * DRAIN_WINDOW_MS));
    expect(log).toEqual([]);
  });
});
