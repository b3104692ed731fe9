import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { planDeploy } from '../../src/plan/deploy.js';
import { hostsNeverRun, refuseChangedFiles, releaseServicesOf } from '../../src/plan/rollback-fidelity.js';
import type { ReleaseRecord } from '../../src/state/types.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;
compose.services['web']!.volumes = [
  { type: 'bind', source: '/path/to/shop/www', target: '/srv/www', read_only: true },
] as never;

const CONFIG = `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web, port: 8080, domains: [shop.example] }
  db: { role: db }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }, { name: h2, address: 10.0.0.2 }]
      db: [{ name: h3, address: 10.0.0.3 }]
`;
const model = buildEnvironmentModel(load(CONFIG, { envName: 'production' }), compose);

function target(hosts: ReleaseRecord['hosts']): ReleaseRecord {
  return {
    id: 'rel-20261120-100000000',
    environment: 'production',
    version: 'v7',
    commit_sha: '0123456789abcdef0123456789abcdef01234567',
    timestamp: '2026-11-20T10:00:00.000Z',
    phases: {
      build: 'skipped',
      push: 'skipped',
      migrate_pre: 'completed',
      rollout: 'completed',
      migrate_post: 'completed',
      finalize: 'completed',
    },
    kind: 'deploy',
    images: {},
    hosts,
    deployer: { user: 'u', machine: 'm', ci: false },
  };
}

/** A rollback plan as planRelease makes it, with today's files hashed under `key`'s content. */
function rollbackPlan(files: string, releaseServices: Record<string, string[]>) {
  return planDeploy({
    model,
    compose,
    version: 'v7',
    immutableVersion: true,
    releaseId: 'rel-20261121-120000000',
    kind: 'rollback',
    skipBuild: 'rollback',
    hostAddresses: { h1: '10.0.0.1', h2: '10.0.0.2', h3: '10.0.0.3' },
    secretValues: [],
    secretNames: [],
    specHashKey: 'k'.repeat(64),
    projectDir: '/path/to/shop',
    readProjectPath: (path) => [{ path: `${path}/index.html`, content: Buffer.from(files), mode: 0o644 }],
    migrations: [],
    message: 'rollback',
    reuse: {},
    releaseServices,
  });
}

function filesHashOf(files: string): string {
  const action = rollbackPlan(files, { h1: ['web'] })
    .phases.flatMap((phase) => phase.steps)
    .find((step) => step.id === 'prepare:h1')!.action as { filesHashes: Record<string, string> };
  return action.filesHashes['web']!;
}

describe('releaseServicesOf', () => {
  it("gives each host in scope the services the release ran there: its reused file's, else its record's", () => {
    const record = target({
      h1: { compose_sha256: 'a', services: ['web'] },
      h2: { compose_sha256: 'b', services: ['api', 'web'] },
      gone: { compose_sha256: 'c', services: ['api'] },
    });
    const reuse = {
      h2: { releaseId: record.id, text: '', sha256: 'b', specHashes: { api: 'x' }, services: ['api'] },
    };
    expect(releaseServicesOf(model, record, reuse, undefined)).toEqual({ h1: ['web'], h2: ['api'] });
    expect(releaseServicesOf(model, record, reuse, ['h1'])).toEqual({ h1: ['web'] });
  });

  it('refuses a release that ran a service no longer declared, naming it, its host and the way back', () => {
    const record = target({
      h1: { compose_sha256: 'a', services: ['extra', 'web'] },
      h2: { compose_sha256: 'b', services: ['web'] },
    });
    expect(() => releaseServicesOf(model, record, {}, undefined)).toThrow(
      expect.objectContaining({
        message:
          "rel-20261120-100000000 (version v7) ran extra on h1, which this folder's compose file and stagecraft.yml no longer declare: a rollback cannot bring it back",
        hint: "switch this folder to the release's commit (`git switch --detach 0123456789ab`; untracked env files stay) and run the rollback again from there",
      }),
    );
    // Out of scope (--hosts h2): nothing to bring back there.
    expect(releaseServicesOf(model, record, {}, ['h2'])).toEqual({ h2: ['web'] });
  });
});

describe('hostsNeverRun', () => {
  it('names the hosts in scope that run services today and are not in the release', () => {
    const record = target({ h1: { compose_sha256: 'a', services: ['web'] } });
    expect(hostsNeverRun(model, record, undefined)).toEqual(['h2', 'h3']);
    expect(hostsNeverRun(model, record, ['h1', 'h3'])).toEqual(['h3']);
  });
});

describe('refuseChangedFiles', () => {
  const both = (hash: string) => ({
    h1: { compose_sha256: 'a', services: ['web'], files_hashes: { web: hash } },
    h2: { compose_sha256: 'b', services: ['web'], files_hashes: { web: hash } },
  });

  it('passes when the re-rendered files are the ones the release ran', () => {
    const record = target(both(filesHashOf('v1')));
    expect(() =>
      refuseChangedFiles(rollbackPlan('v1', { h1: ['web'], h2: ['web'] }), record, {}),
    ).not.toThrow();
  });

  it('refuses a re-rendered host whose service mounts other files than the release ran', () => {
    const record = target(both(filesHashOf('v1')));
    expect(() => refuseChangedFiles(rollbackPlan('v2', { h1: ['web'], h2: ['web'] }), record, {})).toThrow(
      "the project files that web on h1, web on h2 mount differ from the ones rel-20261120-100000000 (version v7) ran, and its compose file is not on those hosts: a rollback would run today's files under the old version",
    );
  });

  it('checks a host the release never ran on against the files it ran elsewhere', () => {
    const record = target({
      h1: { compose_sha256: 'a', services: ['web'], files_hashes: { web: filesHashOf('v1') } },
    });
    const reuse = { h1: { releaseId: record.id, text: '', sha256: 'a', specHashes: { web: 'x' } } };
    expect(() => refuseChangedFiles(rollbackPlan('v2', { h1: ['web'] }), record, reuse)).toThrow(
      'the project files that web on h2 mount differ',
    );
    expect(() => refuseChangedFiles(rollbackPlan('v1', { h1: ['web'] }), record, reuse)).not.toThrow();
  });

  it('refuses a service that mounts project files where the release mounted none', () => {
    const record = target({
      h1: { compose_sha256: 'a', services: ['web'], files_hashes: {} },
      h2: { compose_sha256: 'b', services: ['web'], files_hashes: {} },
    });
    expect(() => refuseChangedFiles(rollbackPlan('v1', { h1: ['web'], h2: ['web'] }), record, {})).toThrow(
      'the project files that web on h1, web on h2 mount differ',
    );
  });

  it('does not check a host whose compose file is reused, nor a release recorded without files hashes', () => {
    const hashed = target(both(filesHashOf('v1')));
    const reused = (sha256: string) => ({ releaseId: hashed.id, text: '', sha256, specHashes: { web: 'x' } });
    const plan = rollbackPlan('v2', { h1: ['web'], h2: ['web'] });
    expect(() => refuseChangedFiles(plan, hashed, { h1: reused('a'), h2: reused('b') })).not.toThrow();
    const old = target({
      h1: { compose_sha256: 'a', services: ['web'] },
      h2: { compose_sha256: 'b', services: ['web'] },
    });
    expect(() => refuseChangedFiles(plan, old, {})).not.toThrow();
  });
});
