// The restart release of `secrets sync`: its exact steps and their dependencies, and the ledger record a
// run starts from (kind restart, based on the current release, the sha256 of the compose files it uploads).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { checkDependencies } from '../../src/engine/run.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { newRecord } from '../../src/operations/deploy.js';
import type { LoadedEnvironment } from '../../src/operations/environment.js';
import { planRestart, type RestartPlanInput } from '../../src/plan/restart.js';
import { allSteps } from '../../src/plan/types.js';
import { planToJson, planToText } from '../../src/render/plan.js';
import type { Ledger } from '../../src/state/ledger.js';
import type { ReleaseRecord } from '../../src/state/types.js';
import { sha256Hex } from '../../src/util/hash.js';
import { Output } from '../../src/util/output.js';
import { Secret } from '../../src/util/secret.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

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

const loaded = load(CONFIG, { envName: 'production' });
const model = buildEnvironmentModel(loaded, compose);
const CURRENT = 'rel-20261130-100000000';
const NEW = 'rel-20261130-110000000';
const dir = (id: string) => `.stagecraft/shop-production/releases/${id}`;
const TOKEN = 'tok-very-secret-1234';

function input(restart: boolean): RestartPlanInput {
  return {
    model,
    releaseId: NEW,
    basedOn: { id: CURRENT, version: 'v1' },
    message: 'secrets sync --restart: new secrets for api',
    hosts: [
      {
        name: 'h1',
        composeText: 'services: {api: {labels: {stagecraft.spec-hash: new-api}}}\n',
        specHashes: { api: 'new-api', web: 'same-web' },
        secretFiles: [{ service: 'api', write: 'replace', content: new Secret(`API_TOKEN="${TOKEN}"\n`) }],
        restart: restart ? ['api'] : [],
      },
      {
        name: 'h2',
        composeText: 'services: {api: {labels: {stagecraft.spec-hash: new-api-2}}}\n',
        specHashes: { api: 'new-api-2', web: 'same-web' },
        secretFiles: [
          {
            service: 'api',
            write: 'merge',
            content: new Secret(`API_TOKEN="${TOKEN}"\n`),
            argv: ['set-lines', `${dir(NEW)}/secrets/api.env`, 'API_TOKEN'],
          },
        ],
        restart: restart ? ['web', 'api'] : [],
      },
      {
        name: 'h3',
        composeText: 'services: {db: {}}\n',
        specHashes: { db: 'same-db' },
        secretFiles: [],
        restart: restart ? ['db'] : [],
      },
    ],
  };
}

describe('planRestart', () => {
  it('copies the current release, uploads its patched compose file and the changed secret files, then restarts', () => {
    const plan = planRestart(input(true));
    expect(plan).toMatchObject({ kind: 'restart', version: 'v1', releaseId: NEW, environment: 'production' });
    expect(
      plan.phases.map((phase) => [
        phase.name,
        phase.skipped ?? null,
        phase.steps.map((step) => [step.id, step.dependsOn]),
      ]),
    ).toEqual([
      ['build', `a restart runs the images of release ${CURRENT}`, []],
      ['push', `a restart runs the images of release ${CURRENT}`, []],
      ['migrate_pre', null, [['lock:acquire', []]]],
      [
        'rollout',
        null,
        [
          ['copy:h1', ['lock:acquire']],
          ['prepare:h1', ['copy:h1']],
          ['secrets:h1:api', ['prepare:h1']],
          ['rollout:h1:api', ['prepare:h1', 'secrets:h1:api']],
          ['copy:h2', ['lock:acquire']],
          ['prepare:h2', ['copy:h2']],
          ['secrets:h2:api', ['prepare:h2']],
          // Model order (api before web), each after the one before it.
          ['rollout:h2:api', ['prepare:h2', 'secrets:h2:api']],
          ['rollout:h2:web', ['rollout:h2:api']],
          ['copy:h3', ['lock:acquire']],
          ['prepare:h3', ['copy:h3']],
          ['rollout:h3:db', ['prepare:h3']],
        ],
      ],
      ['migrate_post', 'a restart runs no migrations', []],
      [
        'finalize',
        null,
        [
          ['record', []],
          ['lock:release', ['record']],
        ],
      ],
    ]);
    expect(() => checkDependencies(plan)).not.toThrow();

    const steps = Object.fromEntries(allSteps(plan).map((step) => [step.id, step]));
    expect(steps['lock:acquire']!.action).toEqual({
      kind: 'lock-acquire',
      message: 'secrets sync --restart: new secrets for api',
    });
    expect(steps['copy:h1']!.action).toEqual({
      kind: 'exec',
      argv: ['cp', '-a', `${dir(CURRENT)}/.`, `${dir(NEW)}/`],
    });
    const composeText = input(true).hosts[0]!.composeText;
    expect(steps['prepare:h1']!.action).toEqual({
      kind: 'upload',
      path: `${dir(NEW)}/compose.yml`,
      content: composeText,
      mode: 0o644,
      sha256: sha256Hex(composeText),
      file: 'compose',
    });
    expect(steps['secrets:h1:api']!.action).toMatchObject({
      kind: 'upload',
      path: `${dir(NEW)}/secrets/api.env`,
      mode: 0o600,
      file: 'secrets',
    });
    expect(steps['secrets:h2:api']!.action).toMatchObject({
      kind: 'exec',
      argv: ['set-lines', `${dir(NEW)}/secrets/api.env`, 'API_TOKEN'],
    });
    expect(steps['rollout:h1:api']!.action).toEqual({
      kind: 'rollout',
      service: 'api',
      strategy: 'start-first',
      replicas: 1,
      specHash: 'new-api',
      composeFile: `${dir(NEW)}/compose.yml`,
      health: { timeoutMs: model.services[0]!.healthTimeoutMs, stableForMs: model.services[0]!.stableForMs },
      route: { domains: ['api.shop.example'], port: 3000 },
    });
    // The current release's folder is only ever read (the copy's source).
    const written = allSteps(plan).flatMap((step) =>
      step.action.kind === 'upload'
        ? [step.action.path]
        : step.action.kind === 'exec'
          ? [step.action.argv.at(-1)!]
          : [],
    );
    expect(written.filter((path) => path.includes(CURRENT))).toEqual([]);
  });

  it('without --restart, writes the new release and restarts nothing; no value in the plan output', () => {
    const plan = planRestart(input(false));
    expect(allSteps(plan).filter((step) => step.action.kind === 'rollout')).toEqual([]);
    expect(plan.phases[3]!.steps.map((step) => step.id)).toEqual([
      'copy:h1',
      'prepare:h1',
      'secrets:h1:api',
      'copy:h2',
      'prepare:h2',
      'secrets:h2:api',
      'copy:h3',
      'prepare:h3',
    ]);
    const text = planToText(
      plan,
      new Output({ color: false, quiet: false, verbose: false, json: false }).colors,
    );
    expect(text).toContain('write secrets/api.env (0600)');
    expect(text).toContain(`copy the files of release ${CURRENT}`);
    expect(text).not.toContain(TOKEN);
    expect(JSON.stringify(planToJson(plan))).not.toContain(TOKEN);
  });
});

describe('the ledger record of a restart', () => {
  it('is kind restart of the current release, with its images and version and the sha256 of each new compose file', () => {
    const plan = planRestart(input(true));
    const current = {
      id: CURRENT,
      version: 'v1',
      commit_sha: 'c0ffee',
      images: { api: 'registry.example/shop/api@sha256:aaa' },
    } as unknown as ReleaseRecord;
    const record = newRecord(
      {
        env: { model } as unknown as LoadedEnvironment,
        plan,
        commit: current.commit_sha,
        ledger: undefined as unknown as Ledger,
        hostAddresses: {},
        images: current.images,
        basedOn: current,
        message: 'secrets sync --restart: new secrets for api',
      },
      CURRENT,
    );
    expect(record).toMatchObject({
      id: NEW,
      kind: 'restart',
      restart_of: CURRENT,
      previous_id: CURRENT,
      version: 'v1',
      commit_sha: 'c0ffee',
      images: { api: 'registry.example/shop/api@sha256:aaa' },
      message: 'secrets sync --restart: new secrets for api',
      hosts: {
        h1: { compose_sha256: sha256Hex(input(true).hosts[0]!.composeText), services: ['api', 'web'] },
        h2: { compose_sha256: sha256Hex(input(true).hosts[1]!.composeText), services: ['api', 'web'] },
        h3: { compose_sha256: sha256Hex('services: {db: {}}\n'), services: ['db'] },
      },
    });
    expect(record.rollback_of).toBeUndefined();
    expect(Object.values(record.phases)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
  });
});
