import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

// What driver swarm does not do yet is refused, exit 1, with something to do instead; nothing is
// contacted (the hosts below do not exist).
const root = projectWith({
  'docker-compose.yml': 'services:\n  web:\n    image: nginx:1.27\n',
  'stagecraft.yml': `project:
  name: shop
  registry: registry.example/shop
services:
  web: { role: web, port: 80, domains: [shop.example] }
environments:
  production:
    driver: swarm
    manager: m1
    hosts:
      web: [{ name: m1, address: 192.0.2.1 }]
`,
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('driver swarm: maintenance', () => {
  it('`maintenance on` is refused with a way to stop serving a service instead', () => {
    const result = stagecraft(['maintenance', 'on', '-e', 'production'], { cwd: root });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toBe(
      'error: not yet supported on driver swarm: `stagecraft maintenance on` (environment production)\n' +
        "hint: a swarm's gateway has no maintenance switch yet: to stop serving a service, scale it to 0 on the manager (`docker service scale shop-production_<service>=0`), and back to its replicas after\n",
    );
  });

  it('`maintenance off` says a swarm is never in maintenance', () => {
    const result = stagecraft(['maintenance', 'off', '-e', 'production'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('hint: a swarm is never in maintenance: nothing to switch off\n');
  });
});
