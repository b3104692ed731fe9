// `stagecraft doctor`: version rules, hosts read from the config alone, and the report a person reads.
import { describe, expect, it } from 'vitest';
import { projectModel } from '../../src/model/project.js';
import { composeMajor, environmentHosts, nodeSupported, renderDoctor } from '../../src/operations/doctor.js';
import { load } from '../support/config.js';

describe('versions', () => {
  it('node must be >= 20.19', () => {
    expect(nodeSupported('20.19.0')).toBe(true);
    expect(nodeSupported('v22.1.0')).toBe(true);
    expect(nodeSupported('20.18.3')).toBe(false);
    expect(nodeSupported('18.20.0')).toBe(false);
  });

  it('compose v2 is the plugin (major 2 or later), not docker-compose 1.x', () => {
    expect(composeMajor('2.29.7')).toBe(2);
    expect(composeMajor('v2.26.1-desktop.1')).toBe(2);
    expect(composeMajor('1.29.2')).toBe(1);
    expect(composeMajor('garbage')).toBeUndefined();
  });
});

describe('environmentHosts', () => {
  it('lists each host of an ssh environment once, with its address, user and port', () => {
    const loaded = load(`project: { name: shop }
environments:
  dev: { driver: local }
  production:
    driver: ssh
    hosts:
      web: [h1, { name: h2, address: 10.0.0.2, user: deploy, port: 2222 }]
      db: [h1]
`);
    expect(environmentHosts('dev', loaded.config.environments['dev']!)).toEqual([]);
    expect(environmentHosts('production', loaded.config.environments['production']!)).toEqual([
      { environment: 'production', name: 'h1', address: undefined, user: undefined, port: undefined },
      { environment: 'production', name: 'h2', address: '10.0.0.2', user: 'deploy', port: 2222 },
    ]);
  });
});

describe('environmentHosts on a swarm', () => {
  it('lists every node and marks the manager (manager:, else the first host)', () => {
    const loaded = load(`project: { name: shop }
environments:
  production:
    driver: swarm
    manager: m2
    hosts:
      web: [{ name: m1, address: 10.0.0.1 }, { name: m2, address: 10.0.0.2 }]
  staging:
    driver: swarm
    hosts:
      web: [{ name: s1, address: 10.0.1.1 }, { name: s2, address: 10.0.1.2 }]
`);
    const flags = (env: string) =>
      environmentHosts(env, projectModel(loaded).environments[env]!).map((host) => [host.name, host.swarm]);
    expect(flags('production')).toEqual([
      ['m1', { manager: false }],
      ['m2', { manager: true }],
    ]);
    expect(flags('staging')).toEqual([
      ['s1', { manager: true }],
      ['s2', { manager: false }],
    ]);
  });
});

describe('renderDoctor', () => {
  it('prints one line per check and a fix under each problem', () => {
    const text = renderDoctor({
      config: '/app/stagecraft.yml',
      checks: [
        { name: 'node', status: 'ok', required: true, detail: 'v20.19.1 (needs >= 20.19)' },
        {
          name: 'production/h2',
          status: 'fail',
          required: true,
          detail: 'could not reach h2 (10.0.0.2:22): Connection refused',
          fix: 'check that the host is up',
        },
        { name: 'gh', status: 'warn', required: false, detail: 'not found', fix: 'install the GitHub CLI' },
      ],
    });
    expect(text).toBe(
      [
        'config: /app/stagecraft.yml',
        '',
        'ok    node           v20.19.1 (needs >= 20.19)',
        'FAIL  production/h2  could not reach h2 (10.0.0.2:22): Connection refused',
        '                     fix: check that the host is up',
        'warn  gh             not found',
        '                     fix: install the GitHub CLI',
        '',
        '1 problem, 1 warning',
      ].join('\n'),
    );
  });
});
