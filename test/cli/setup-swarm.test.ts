// `setup` on driver swarm refuses what it cannot do before it connects anywhere (exit 1, a hint).
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

const root = projectWith({
  'docker-compose.yml': 'services:\n  web:\n    image: busybox:1.36\n',
  'stagecraft.yml': `project:
  name: swarmsetup
services:
  web: { role: web }
environments:
  production:
    driver: swarm
    manager: m1
    ssh: { user: root }
    hosts:
      web: [{ name: m1, address: 192.0.2.1 }, { name: w2, address: 192.0.2.2 }]
`,
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('setup on driver swarm', () => {
  it('sets up every node: --hosts and --roles are refused (exit 1, nothing contacted)', () => {
    for (const flags of [
      ['--hosts', 'w2'],
      ['--roles', 'web', '--hosts', 'm1'],
    ]) {
      const result = stagecraft(['setup', '-e', 'production', '--dry-run', ...flags], {
        cwd: root,
        env: { HOME: root },
      });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(
        'error: setup on driver swarm sets up every node of the swarm: --hosts and --roles do not apply',
      );
      expect(result.stderr).toContain('hint: run `stagecraft setup -e production` without them');
    }
  });

  it('--help says how the swarm is formed and that the join token stays off command lines', () => {
    const help = stagecraft(['setup', '--help'], { cwd: root });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('On a driver swarm environment, setup then forms the swarm');
    expect(help.stdout).toContain("sent only on\nthe worker's stdin, never in a command line, log or plan");
  });
});
