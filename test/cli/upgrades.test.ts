import { describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

const ENVIRONMENTS = 'environments:\n  dev:\n    driver: local\n';

function configWith(yaml: string) {
  return stagecraft(['config'], { cwd: projectWith({ 'stagecraft.yml': yaml }) });
}

describe('minimum_version', () => {
  it('refuses a config that needs a newer Stagecraft with exit 1 and the upgrade command, before anything else', () => {
    // A newer config may use keys this CLI does not know: the version is all it reports.
    const result = configWith(
      `minimum_version: "0.4.2"\nproject:\n  name: shop\n  added_in_0_4: true\n${ENVIRONMENTS}`,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        'error: stagecraft.yml:1:18 minimum_version: this project needs Stagecraft 0.4.2 or newer; this is 0.1.0 (npm build)',
        'hint: upgrade with: npm install -g stagecraft@latest (or run it as `npx stagecraft@latest`)',
        '',
      ].join('\n'),
    );
    expect(result.stdout).toBe('');
  });

  it('compares versions as numbers and loads a config this version satisfies', () => {
    expect(configWith(`minimum_version: "0.1.0"\nproject:\n  name: shop\n${ENVIRONMENTS}`).code).toBe(0);
    expect(configWith(`minimum_version: "0.1"\nproject:\n  name: shop\n${ENVIRONMENTS}`).code).toBe(0);
    expect(configWith(`minimum_version: "0.10.0"\nproject:\n  name: shop\n${ENVIRONMENTS}`).code).toBe(1);
  });

  it('asks for quotes when YAML read the version as a number', () => {
    const result = configWith(`project:\n  name: shop\nminimum_version: 0.1\n${ENVIRONMENTS}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        'error: stagecraft.yml:3:18 minimum_version: write the version as a string, e.g. minimum_version: "0.1.0"',
        'hint: YAML reads an unquoted 0.10 as the number 0.1; quote the version',
        '',
      ].join('\n'),
    );
  });

  it('reports a value that is not a version with its position', () => {
    const result = configWith(`minimum_version: latest\nproject:\n  name: shop\n${ENVIRONMENTS}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'stagecraft.yml:1:18 minimum_version: expected a version such as "0.3.0", found "latest"',
    );
  });
});

describe('a config written for an older Stagecraft', () => {
  it('names the migration for each key that moved, at its position', () => {
    const result = configWith(
      [
        'project:',
        '  name: shop',
        'backend:',
        '  provider: generic',
        '  dev:',
        '    command: [npm, run, dev]',
        'network:',
        '  tailscale:',
        '    auth_key_env: TS_AUTHKEY',
        'infra:',
        '  bootstrap:',
        '    docker:',
        '      installMethod: apt',
        ENVIRONMENTS,
      ].join('\n'),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'stagecraft.yml:5:3 backend.dev: unknown key "dev": written for an older Stagecraft; move it under backend.providers.generic.dev (with backend.provider: generic)',
    );
    expect(result.stderr).toContain(
      'stagecraft.yml:8:3 network.tailscale: unknown key "tailscale": written for an older Stagecraft; move it under network.providers.tailscale and set network.provider: tailscale',
    );
    expect(result.stderr).toContain(
      'stagecraft.yml:13:7 infra.bootstrap.docker.installMethod: unknown key "installMethod": written for an older Stagecraft; renamed to install_method (apt, script or skip)',
    );
  });
});
