import { describe, expect, it } from 'vitest';
import { composeOnce } from '../../src/rollout/first-up.js';
import type { Runner } from '../../src/runners/types.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('composeOnce', () => {
  it("runs a project's first compose command on a host alone, then the waiting ones side by side", async () => {
    const runner = {} as Runner;
    const log: string[] = [];
    const command = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await tick(ms);
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      composeOnce(runner, 'shop', command('api', 30)),
      composeOnce(runner, 'shop', command('web', 10)),
      composeOnce(runner, 'shop', command('worker', 10)),
      composeOnce(runner, 'other', command('other', 5)),
    ]);
    expect(results).toEqual(['api', 'web', 'worker', 'other']);
    expect(log).toEqual([
      'start api',
      'start other',
      'end other',
      'end api',
      'start web',
      'start worker',
      'end web',
      'end worker',
    ]);
  });

  it('lets the others run when the first one fails, and throws its error to its caller only', async () => {
    const runner = {} as Runner;
    const first = composeOnce(runner, 'shop', async () => {
      await tick(5);
      throw new Error('network create failed');
    });
    const second = composeOnce(runner, 'shop', async () => 'ok');
    await expect(first).rejects.toThrow('network create failed');
    await expect(second).resolves.toBe('ok');
  });
});
