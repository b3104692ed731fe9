import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

// A build whose Docker daemon does not answer names the daemon, what failed and what to do (exit 2).
// It needs the docker CLI (compose reads the file), not a daemon: DOCKER_HOST points at nothing.
const root = projectWith({
  Dockerfile: 'FROM scratch\n',
  'docker-compose.yml': 'services:\n  api:\n    build: .\n',
  'stagecraft.yml': `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 192.0.2.1 }]
`,
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('build with an unreachable Docker daemon', () => {
  it('says which daemon, what failed and what to do, exit 2', () => {
    const result = stagecraft(['build', '-e', 'production', '--version', 'v1'], {
      cwd: root,
      env: { DOCKER_HOST: 'unix:///nonexistent.sock' },
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(
      /^error: build:api could not reach the Docker daemon at unix:\/\/\/nonexistent\.sock \(docker compose .* exited with code 1\)$/m,
    );
    expect(result.stderr).toContain(
      'hint: start the Docker daemon at unix:///nonexistent.sock, or set DOCKER_HOST to one that runs (unset it for the local default); `docker info` shows whether the daemon answers\n',
    );
  });
});
