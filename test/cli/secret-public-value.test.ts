// A secret whose value is a name stagecraft.yml shows in clear (the project, an environment, a
// service, a host) cannot be hidden: every `[redacted]` where that name belongs would tell it. plan,
// deploy and secrets sync refuse it, exit 1, naming the secret and the kind of name, never the value.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

function project(): string {
  return projectWith({
    'docker-compose.yml':
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolates it
      'services:\n  api:\n    image: busybox:1.36\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n',
    'stagecraft.yml':
      'project:\n  name: shop\nservices:\n  api: { role: web, secrets: [DB_PASSWORD] }\nenvironments:\n  production:\n    driver: ssh\n    hosts:\n      web: [{ name: edge1, address: 10.9.9.1 }]\n',
  });
}

describe('a secret whose value is a name the config shows in clear', () => {
  it('is refused by plan, naming the secret and what it equals; exit 1, nothing written', () => {
    for (const [value, what] of [
      ['shop', 'the project name (project.name)'],
      ['production', 'the name of an environment'],
      ['api', 'the name of a service'],
      ['edge1', 'the name of a host'],
    ] as const) {
      const root = project();
      const result = stagecraft(['plan', '-e', 'production'], { cwd: root, env: { DB_PASSWORD: value } });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(
        `error: the value of secret DB_PASSWORD is ${what}, which stagecraft.yml shows in clear\n`,
      );
      expect(result.stdout).toBe('');
      expect(existsSync(join(root, '.stagecraft'))).toBe(false);
    }
  });

  it('a value of its own plans as before', () => {
    const result = stagecraft(['plan', '-e', 'production'], {
      cwd: project(),
      env: { DB_PASSWORD: 'shop-db-password-7' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('shop-db-password-7');
  });
});
