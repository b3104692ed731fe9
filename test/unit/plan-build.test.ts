import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { checkDependencies } from '../../src/engine/run.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { planBuild } from '../../src/plan/build.js';
import { UserError } from '../../src/util/errors.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;
const config = (registry: string) => `project:
  name: shop
${registry}services:
  api: { role: web }
  web: { role: web }
  db: { role: web }
environments:
  production:
    driver: local
`;
const model = (registry = '  registry: registry.example/shop\n') =>
  buildEnvironmentModel(load(config(registry), { envName: 'production' }), compose);

describe('planBuild', () => {
  it('plans the pre-build hook and a build per built service, nothing else', () => {
    const plan = planBuild({
      model: model(),
      compose,
      version: 'v7',
      push: false,
      hooks: { 'pre-build': '/p/hook' },
    });
    expect(plan.kind).toBe('build');
    expect(plan.releaseId).toBe('');
    expect(
      plan.phases.map((phase) => [phase.name, phase.skipped ?? null, phase.steps.map((s) => s.id)]),
    ).toEqual([
      ['build', null, ['hook:pre-build', 'build:api', 'build:web']],
      ['push', 'pass --push to push', []],
      ['migrate_pre', 'not part of build', []],
      ['rollout', 'not part of build', []],
      ['migrate_post', 'not part of build', []],
      ['finalize', 'not part of build', []],
    ]);
    const hook = plan.phases[0]!.steps[0]!;
    expect(hook.allowFailure).toBe(true);
    expect(hook.action).toMatchObject({ env: { STAGECRAFT_KIND: 'build', STAGECRAFT_VERSION: 'v7' } });
    expect(hook.action.kind === 'exec' && 'STAGECRAFT_RELEASE' in (hook.action.env ?? {})).toBe(false);
    expect(() => checkDependencies(plan)).not.toThrow();
  });

  it('with push, pushes each image after its build, whatever the driver', () => {
    const plan = planBuild({ model: model(), compose, version: 'v7', push: true });
    expect(plan.phases[1]!.steps.map((s) => [s.id, s.dependsOn])).toEqual([
      ['push:api', ['build:api']],
      ['push:web', ['build:web']],
    ]);
    expect(plan.phases[1]!.steps[0]!.action).toMatchObject({
      kind: 'push',
      argv: ['docker', 'push', 'registry.example/shop/shop-api:v7'],
    });
  });

  it('limits to --services and refuses a scope with nothing to build, or a push with no registry', () => {
    expect(
      planBuild({
        model: model(),
        compose,
        version: 'v7',
        push: false,
        onlyServices: ['web'],
      }).phases[0]!.steps.map((s) => s.id),
    ).toEqual(['build:web']);
    expect(() =>
      planBuild({ model: model(), compose, version: 'v7', push: false, onlyServices: ['db'] }),
    ).toThrow(UserError);
    expect(() =>
      planBuild({ model: model(), compose, version: 'v7', push: false, onlyServices: ['db'] }),
    ).toThrow('no buildable service among db');
    expect(() => planBuild({ model: model(''), compose, version: 'v7', push: true })).toThrow(
      'nothing to push to: project.registry is not set',
    );
  });
});
