import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { swarmProject } from '../support/config.js';

// What driver swarm does not do yet is refused, exit 1, with something to do instead; nothing is
// contacted (the hosts below do not exist).
const WEB = '  web: { role: web, port: 80, domains: [shop.example] }\n';
const root = swarmProject({ compose: 'services:\n  web:\n    image: nginx:1.27\n', services: WEB });

// A bind mount of project files and a key Swarm ignores: refused at the key, `file:line:column`.
const MOUNT = `services:
  web:
    image: nginx:1.27
    volumes:
      - ./conf:/etc/nginx/conf.d:ro
`;
const mounts = swarmProject({
  compose: `${MOUNT}  worker:\n    image: busybox:1.36\n    privileged: true\n`,
  services: `${WEB}  worker: { role: web }\n`,
});
mkdirSync(join(mounts, 'conf'));

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(mounts, { recursive: true, force: true });
});

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

describe('driver swarm: compose refusals at their place in the compose file', () => {
  it('names file:line:column of a key Swarm ignores', () => {
    const result = stagecraft(['plan', '-e', 'production', '--version', 'v1'], { cwd: mounts });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(
      '  docker-compose.yml:8:5 service worker: privileged is not supported by Docker Swarm',
    );
  });

  it('names file:line:column of a bind mount of project files', () => {
    const fixed = swarmProject({ compose: MOUNT, services: WEB });
    try {
      mkdirSync(join(fixed, 'conf'));
      const result = stagecraft(['plan', '-e', 'production', '--version', 'v1'], { cwd: fixed });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(
        "error: docker-compose.yml:5:9 service web: the bind mount ./conf:/etc/nginx/conf.d needs the project's files on every node of the swarm",
      );
    } finally {
      rmSync(fixed, { recursive: true, force: true });
    }
  });
});

describe('driver swarm: --help of what is refused or limited there says so', () => {
  it.each([
    [['maintenance'], 'On driver swarm: refused'],
    [['secrets', 'sync'], 'On driver swarm: refused'],
    [['deploy'], 'On driver swarm: --hosts, --roles and --services'],
    [['plan'], 'On driver swarm: --hosts, --roles and --services'],
    [['rollback'], 'On driver swarm: --hosts, --roles and --services'],
    [['exec'], 'On driver swarm: --new is refused'],
    [['setup'], 'On driver swarm: --hosts and --roles are refused'],
    [['migrate'], 'On driver swarm: migrate connects from this machine'],
  ])('%j', (command, line) => {
    const result = stagecraft([...command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(line);
  });
});
