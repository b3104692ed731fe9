// Positions of keys in a compose file as written, for errors about what compose resolved from it.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { composeLocator, located } from '../../src/compose/locate.js';
import { projectWith } from '../support/config.js';

const root = projectWith({
  'compose.yml': `services:
  web:
    image: nginx:1.27
    container_name: shop-web
    volumes:
      - data:/data
      - ./conf:/etc/nginx/conf.d:ro
      - type: bind
        source: ./static
        target: /srv
`,
  'broken.yml': 'services: [\n',
  'refs.yml': `x-shared: &shared "\${API_TOKEN}"
x-common: &common
  command: ["curl", "-H", "X-Token: \${API_TOKEN}"]
services:
  worker:
    <<: *common
    image: app
    entrypoint: [*shared]
  api:
    image: app:\${TAG}
    command: ["serve", "--token", "\${API_TOKEN}", "--mode=$$API_TOKEN"]
    environment:
      API_TOKEN: \${API_TOKEN}
      DSN: postgres://u:\${DB_PASSWORD:-x}@db/app
    healthcheck:
      test: ["CMD-SHELL", "curl -H 'X: $DB_PASSWORD' localhost || exit 1"]
    labels: { token: "\${API_TOKEN_OLD:-}", other: "\${DB_PASSWORD_FILE}" }
    build:
      context: .
      args: { TOKEN: "\${API_TOKEN}" }
`,
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('composeLocator', () => {
  const locate = composeLocator(join(root, 'compose.yml'), 'compose.yml');

  it('places a key at the key itself, and a mount at its entry (short or long form) by target', () => {
    expect(locate.key(['services', 'web', 'container_name'])).toBe('compose.yml:4:5');
    expect(locate.mount('web', '/etc/nginx/conf.d')).toBe('compose.yml:7:9');
    expect(locate.mount('web', '/srv')).toBe('compose.yml:8:9');
  });

  it('places nothing the file does not have (an included or extended file had it)', () => {
    expect(locate.key(['services', 'api', 'container_name'])).toBeUndefined();
    expect(locate.mount('web', '/nowhere')).toBeUndefined();
    expect(composeLocator(join(root, 'broken.yml'), 'broken.yml').key(['services'])).toBeUndefined();
    expect(composeLocator(join(root, 'missing.yml'), 'missing.yml').mount('web', '/srv')).toBeUndefined();
  });

  it('finds a key spelled with an escape or brought in by a merge key, and not one the text lacks', () => {
    const path = join(root, 'spelled.yml');
    writeFileSync(
      path,
      'x-net: &net { name: shop_edge }\nservices:\n  web: { image: app }\nnetworks:\n  edge: *net\n  back:\n    "n\\x61me": shop_back\n  front: {}\n',
    );
    const spelled = composeLocator(path, 'spelled.yml');
    expect(spelled.key(['networks', 'back', 'name'])).toBe('spelled.yml:7:5');
    expect(spelled.key(['networks', 'front', 'name'])).toBeUndefined();
    expect(spelled.key(['volumes', 'data', 'name'])).toBeUndefined();
  });

  it('puts the place before the message, as config errors do', () => {
    expect(located('compose.yml:4:5', 'service web: …')).toBe('compose.yml:4:5 service web: …');
    expect(located(undefined, 'service web: …')).toBe('service web: …');
  });

  it('reads the file on the first question only', () => {
    const path = join(root, 'late.yml');
    const late = composeLocator(path, 'late.yml');
    writeFileSync(path, 'services:\n  web:\n    privileged: true\n');
    expect(late.key(['services', 'web', 'privileged'])).toBe('late.yml:3:5');
  });

  it('finds each secret interpolated outside an environment, by name, whatever its value', () => {
    const refs = composeLocator(join(root, 'refs.yml'), 'refs.yml');
    expect(refs.secretReferences(['API_TOKEN', 'DB_PASSWORD'])).toEqual([
      // Merged from an `x-` anchor: placed at the service that merges it.
      {
        at: 'refs.yml:6:5',
        path: 'services.worker.command[2]',
        keyPath: ['services', 'worker', 'command', 2],
        name: 'API_TOKEN',
      },
      // Through an alias: placed at the alias.
      {
        at: 'refs.yml:8:18',
        path: 'services.worker.entrypoint[0]',
        keyPath: ['services', 'worker', 'entrypoint', 0],
        name: 'API_TOKEN',
      },
      {
        at: 'refs.yml:11:35',
        path: 'services.api.command[2]',
        keyPath: ['services', 'api', 'command', 2],
        name: 'API_TOKEN',
      },
      {
        at: 'refs.yml:16:27',
        path: 'services.api.healthcheck.test[1]',
        keyPath: ['services', 'api', 'healthcheck', 'test', 1],
        name: 'DB_PASSWORD',
      },
    ]);
    // A longer name that starts with a secret's is another variable; `$$` is a literal dollar.
    expect(refs.secretReferences(['API_TOKEN_OLD'])).toEqual([
      {
        at: 'refs.yml:17:22',
        path: 'services.api.labels.token',
        keyPath: ['services', 'api', 'labels', 'token'],
        name: 'API_TOKEN_OLD',
      },
    ]);
    expect(refs.secretReferences([])).toEqual([]);
    expect(composeLocator(join(root, 'broken.yml'), 'broken.yml').secretReferences(['API_TOKEN'])).toEqual(
      [],
    );
  });
});
