import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { hostTarget, magicDnsName, meshTags } from '../../src/model/mesh.js';
import { load, problems } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const project = `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web }
  web: { role: web }
  db: { role: db }
`;
const hosts = `environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }, h2]
      db: [h2, h3]
`;
const tailscale = `network:
  provider: tailscale
  providers:
    tailscale:
      auth_key_env: TS_AUTHKEY
      tailnet_domain: acme.ts.net
      default_tags: ["tag:stagecraft"]
      role_tags: { web: ["tag:web"], db: ["tag:db", "tag:stagecraft"] }
`;

describe('the mesh model', () => {
  it('names a host <host>.<tailnet_domain> and tags it with default_tags then its roles’ tags, once each', () => {
    expect(magicDnsName('h1', 'acme.ts.net')).toBe('h1.acme.ts.net');
    expect(
      meshTags(
        { defaultTags: ['tag:stagecraft'], roleTags: { web: ['tag:web'], db: ['tag:db', 'tag:stagecraft'] } },
        ['web', 'db'],
      ),
    ).toEqual(['tag:stagecraft', 'tag:web', 'tag:db']);
    expect(meshTags({ defaultTags: [], roleTags: {} }, ['web'])).toEqual([]);
  });

  it('resolves a host address: explicit address first, else the MagicDNS name with the mesh, else the name', () => {
    expect(hostTarget({ name: 'h1', address: '10.0.0.1' }, { tailnetDomain: 'acme.ts.net' })).toBe(
      '10.0.0.1',
    );
    expect(hostTarget({ name: 'h2' }, { tailnetDomain: 'acme.ts.net' })).toBe('h2.acme.ts.net');
    expect(hostTarget({ name: 'h2' }, undefined)).toBe('h2');
  });

  it('gives each host of an environment its target, MagicDNS name and tags with the mesh on', () => {
    const model = buildEnvironmentModel(
      load(`${project}${tailscale}${hosts}`, { envName: 'production' }),
      compose,
    );
    expect(model.mesh).toEqual({
      provider: 'tailscale',
      tailnetDomain: 'acme.ts.net',
      authKeyEnv: 'TS_AUTHKEY',
      loginServer: undefined,
      apiKeyEnv: undefined,
      user: undefined,
      install: { method: 'auto', minVersion: undefined },
      defaultTags: ['tag:stagecraft'],
      roleTags: { web: ['tag:web'], db: ['tag:db', 'tag:stagecraft'] },
    });
    expect(
      model.hosts.map(({ name, target, setupTarget, mesh, roles }) => ({
        name,
        target,
        setupTarget,
        mesh,
        roles,
      })),
    ).toEqual([
      {
        name: 'h1',
        target: '10.0.0.1',
        setupTarget: undefined,
        mesh: { name: 'h1.acme.ts.net', tags: ['tag:stagecraft', 'tag:web'] },
        roles: ['web'],
      },
      {
        name: 'h2',
        target: 'h2.acme.ts.net',
        setupTarget: 'h2',
        mesh: { name: 'h2.acme.ts.net', tags: ['tag:stagecraft', 'tag:web', 'tag:db'] },
        roles: ['web', 'db'],
      },
      {
        name: 'h3',
        target: 'h3.acme.ts.net',
        setupTarget: 'h3',
        mesh: { name: 'h3.acme.ts.net', tags: ['tag:stagecraft', 'tag:db'] },
        roles: ['db'],
      },
    ]);
  });

  it('keeps host names and addresses as they are without the mesh', () => {
    const model = buildEnvironmentModel(load(`${project}${hosts}`, { envName: 'production' }), compose);
    expect(model.mesh).toBeUndefined();
    expect(model.hosts.map(({ name, target, mesh }) => ({ name, target, mesh }))).toEqual([
      { name: 'h1', target: '10.0.0.1', mesh: undefined },
      { name: 'h2', target: 'h2', mesh: undefined },
      { name: 'h3', target: 'h3', mesh: undefined },
    ]);
  });

  it('uses a cloud host’s address for setup and its MagicDNS name for everything else', () => {
    const cloud = `cloud:\n  provider: digitalocean\n  providers:\n    digitalocean:\n      token_env: DO_TOKEN\n      ssh_key_name: ops\n      default_region: fra1\n      default_size: s-1vcpu-1gb\n      hosts:\n        production:\n          h9: { role: web }\n          h8: { role: db }\n`;
    const model = buildEnvironmentModel(
      load(`${project}${tailscale}${cloud}environments:\n  production:\n    driver: ssh\n`, {
        envName: 'production',
      }),
      compose,
      [
        { name: 'h9', role: 'web', address: '203.0.113.9' },
        { name: 'h8', role: 'db', address: '203.0.113.8' },
      ],
    );
    expect(
      model.hosts.map(({ name, target, setupTarget, mesh }) => ({ name, target, setupTarget, mesh })),
    ).toEqual([
      {
        name: 'h9',
        target: 'h9.acme.ts.net',
        setupTarget: '203.0.113.9',
        mesh: { name: 'h9.acme.ts.net', tags: ['tag:stagecraft', 'tag:web'] },
      },
      {
        name: 'h8',
        target: 'h8.acme.ts.net',
        setupTarget: '203.0.113.8',
        mesh: { name: 'h8.acme.ts.net', tags: ['tag:stagecraft', 'tag:db'] },
      },
    ]);
  });

  it('carries headscale’s login_server', () => {
    const model = buildEnvironmentModel(
      load(
        `${project}network:\n  provider: headscale\n  providers:\n    headscale:\n      auth_key_env: HS_KEY\n      tailnet_domain: mesh.example.com\n      login_server: https://hs.example.com\n      install: { method: skip, min_version: 1.60.0 }\n${hosts}`,
        { envName: 'production' },
      ),
      compose,
    );
    expect(model.mesh).toMatchObject({
      provider: 'headscale',
      loginServer: 'https://hs.example.com',
      install: { method: 'skip', minVersion: '1.60.0' },
    });
  });
});

describe('mesh config errors name file:line:column', () => {
  it('rejects a tag without "tag:" and a tag name with other characters', () => {
    expect(
      problems(
        `${project}network:\n  provider: tailscale\n  providers:\n    tailscale:\n      auth_key_env: TS_AUTHKEY\n      tailnet_domain: acme.ts.net\n      default_tags: [web, "tag:a b"]\n${hosts}`,
      ),
    ).toEqual([
      'stagecraft.yml:14:22 network.providers.tailscale.default_tags[0]: a tag must start with "tag:", found "web"',
      'stagecraft.yml:14:27 network.providers.tailscale.default_tags[1]: a tag is "tag:" and a name of letters, digits, "-" or "_" (e.g. tag:web), found "tag:a b"',
    ]);
  });

  it('rejects role_tags for a role no environment has', () => {
    expect(
      problems(
        `${project}network:\n  provider: tailscale\n  providers:\n    tailscale:\n      auth_key_env: TS_AUTHKEY\n      tailnet_domain: acme.ts.net\n      role_tags:\n        wbe: ["tag:web"]\n${hosts}`,
      ),
    ).toEqual([
      'stagecraft.yml:15:14 network.providers.tailscale.role_tags.wbe: "wbe" is not a host role of any environment (roles: db, web)',
    ]);
  });
  it('asks headscale for a key source: auth_key_env, or api_key_env with user', () => {
    expect(
      problems(
        `${project}network:\n  provider: headscale\n  providers:\n    headscale:\n      tailnet_domain: mesh.example.com\n      login_server: https://hs.example.com\n${hosts}`,
      ),
    ).toEqual([
      'stagecraft.yml:12:7 network.providers.headscale: set auth_key_env (a pre-auth key) or api_key_env and user (setup creates keys through the API)',
    ]);
    expect(
      problems(
        `${project}network:\n  provider: headscale\n  providers:\n    headscale:\n      tailnet_domain: mesh.example.com\n      login_server: https://hs.example.com\n      api_key_env: HEADSCALE_API_KEY\n${hosts}`,
      ),
    ).toEqual([
      'stagecraft.yml:12:7 network.providers.headscale.user: api_key_env needs user: the Headscale user the pre-auth keys are created for',
    ]);
  });
});
