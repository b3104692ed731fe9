import { describe, expect, it, vi } from 'vitest';
import type { Plan, Step } from '../../src/plan/types.js';

// The compose CLI is replaced at the module boundary: these tests count and answer its calls (which
// binary runs them, docker or compose's plugin binary, is cli-plugin.test.ts's concern).
const calls: string[][] = [];
// Compose processes running at once, and the most seen; a file with "slow" in it answers after 100 ms.
const running = { now: 0, most: 0 };
vi.mock('../../src/runners/cli-plugin.js', () => ({
  runLocalViaCliPlugin: vi.fn(async (argv: string[], _plugin: string, options: { cwd: string }) => {
    calls.push(argv);
    running.now += 1;
    running.most = Math.max(running.most, running.now);
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(`${options.cwd}/compose.yml`, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, text.includes('slow') ? 100 : 10));
    running.now -= 1;
    const bad = text.includes('bad');
    return bad
      ? { exitCode: 1, stdout: '', stderr: 'validating compose.yml: services.api additional property bad' }
      : { exitCode: 0, stdout: '', stderr: '' };
  }),
}));

const { validateRenderedCompose } = await import('../../src/operations/validate-render.js');
const { availableParallelism } = await import('node:os');

function upload(host: string, relative: string, content: string): Step {
  return {
    id: `prepare:${host}:${relative}`,
    phase: 'rollout',
    host: { name: host, target: host } as Step['host'],
    title: `upload ${relative}`,
    action: {
      kind: 'upload',
      path: `.stagecraft/shop-production/releases/r1/${relative}`,
      content,
      mode: 0o644,
      file: relative === 'compose.yml' ? 'compose' : 'secrets',
    } as Step['action'],
    dependsOn: [],
  };
}

function plan(steps: Step[]): Plan {
  return {
    kind: 'deploy',
    project: 'shop',
    environment: 'production',
    version: 'v1',
    releaseId: 'r1',
    hosts: [],
    phases: [{ name: 'rollout', steps } as Plan['phases'][number]],
  };
}

describe('validateRenderedCompose', () => {
  it('checks a file rendered alike for several hosts once', async () => {
    calls.length = 0;
    const web = 'services:\n  web: { image: nginx }\n';
    const db = 'services:\n  db: { image: postgres }\n';
    await validateRenderedCompose(
      plan([
        upload('h1', 'compose.yml', web),
        upload('h2', 'compose.yml', web),
        upload('h3', 'compose.yml', db),
        upload('h3', 'secrets/db.env', 'X=1'),
        upload('h4', 'compose.yml', db),
      ]),
      'shop-production',
    );
    // h1 and h2 alike; h3 and h4 differ in the files beside the compose file.
    expect(calls).toHaveLength(3);
    expect(calls[0]?.slice(0, 6)).toEqual([
      'docker',
      '-H',
      'unix:///dev/null/stagecraft-compose-config',
      'compose',
      '--env-file',
      '/dev/null',
    ]);
  });

  it('names the first host whose file fails', async () => {
    calls.length = 0;
    const good = 'services:\n  web: { image: nginx }\n';
    const bad = 'services:\n  api: { image: nginx, bad: 1 }\n';
    await expect(
      validateRenderedCompose(
        plan([
          upload('h1', 'compose.yml', good),
          upload('h2', 'compose.yml', bad),
          upload('h3', 'compose.yml', bad),
        ]),
        'shop-production',
      ),
    ).rejects.toThrow(
      'the compose file rendered for h2 does not pass docker compose config: validating compose.yml: services.api additional property bad',
    );
    expect(calls).toHaveLength(2);
  });

  it('checks distinct files side by side, one compose process per core at a time', async () => {
    calls.length = 0;
    running.most = 0;
    const files = ['a', 'b', 'c', 'd'].map((name) => `services:\n  ${name}: { image: nginx }\n`);
    await validateRenderedCompose(
      plan(files.map((text, i) => upload(`h${i + 1}`, 'compose.yml', text))),
      'shop-production',
    );
    expect(calls).toHaveLength(4);
    expect(running.most).toBe(Math.min(4, availableParallelism()));
  });

  it('names the first failing host in host order, whichever check ends first', async () => {
    calls.length = 0;
    const slowBad = 'services:\n  api: { image: nginx, bad: slow }\n';
    const fastBad = 'services:\n  web: { image: nginx, bad: 1 }\n';
    await expect(
      validateRenderedCompose(
        plan([upload('h1', 'compose.yml', slowBad), upload('h2', 'compose.yml', fastBad)]),
        'shop-production',
      ),
    ).rejects.toThrow('the compose file rendered for h1 does not pass docker compose config');
    expect(calls).toHaveLength(2);
  });
});
