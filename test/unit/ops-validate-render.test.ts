import { describe, expect, it, vi } from 'vitest';
import type { Plan, Step } from '../../src/plan/types.js';

// The compose CLI is replaced at the module boundary: these tests count and answer its calls.
const calls: string[][] = [];
vi.mock('../../src/runners/local.js', () => ({
  runLocal: vi.fn(async (argv: string[], options: { cwd: string }) => {
    calls.push(argv);
    const { readFileSync } = await import('node:fs');
    const bad = readFileSync(`${options.cwd}/compose.yml`, 'utf8').includes('bad');
    return bad
      ? { exitCode: 1, stdout: '', stderr: 'validating compose.yml: services.api additional property bad' }
      : { exitCode: 0, stdout: '', stderr: '' };
  }),
}));

const { validateRenderedCompose } = await import('../../src/operations/validate-render.js');

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
    expect(calls[0]?.slice(0, 4)).toEqual(['docker', 'compose', '--env-file', '/dev/null']);
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
});
