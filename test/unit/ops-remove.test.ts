// The course every driver's `remove` shares (runRemoval): the plan, --dry-run, the confirmation that
// names the volumes. The lock host is a closed local port: its history cannot be read (a warning).
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import type { LoadedEnvironment } from '../../src/operations/environment.js';
import { maintenancePlan } from '../../src/operations/prune.js';
import { type Removal, runRemoval } from '../../src/operations/remove.js';
import { CancelledError } from '../../src/util/errors.js';
import { load } from '../support/config.js';
import { projectContext } from '../support/prepare.js';

const shop = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const loaded = load(
  `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, port: 3000, domains: [api.shop.example] }
  web: { role: web, port: 8080, domains: [shop.example] }
  db: { role: web }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 127.0.0.1, port: 1 }]
`,
  { envName: 'production' },
);
const env = { loaded, model: buildEnvironmentModel(loaded, structuredClone(shop)) } as LoadedEnvironment;

afterAll(() => rmSync(loaded.root, { recursive: true, force: true }));

function removal(plans: { releaseId: string; message: string }[]): Removal {
  return {
    where: 'h1',
    objects: 'containers, networks, gateway, files',
    volumes: ['h1: shop-production_db-data'],
    plan: ({ releaseId, message }) => {
      plans.push({ releaseId, message });
      return maintenancePlan(env, 'remove', {}, releaseId);
    },
  };
}

describe('runRemoval', () => {
  it('--dry-run: prints the plan and the volumes it keeps, asks nothing, runs nothing', async () => {
    const session = projectContext(loaded.root, 'production');
    session.globals.dryRun = true;
    const confirm = vi.fn(async () => {});
    const plans: { releaseId: string; message: string }[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await runRemoval(session, env, { volumes: false, confirm }, removal(plans))).toBeUndefined();
    } finally {
      write.mockRestore();
    }
    expect(confirm).not.toHaveBeenCalled();
    expect(plans).toEqual([{ releaseId: expect.stringMatching(/^rel-/), message: 'remove shop-production' }]);
    expect(session.output.infos).toEqual([
      'Volumes kept (pass --volumes to delete them): h1: shop-production_db-data',
    ]);
  }, 30_000);

  it('asks before anything runs, naming every volume it deletes; a no stops it', async () => {
    const session = projectContext(loaded.root, 'production');
    const questions: string[] = [];
    const confirm = async (question: string) => {
      questions.push(question);
      throw new CancelledError('not confirmed');
    };
    const plans: { releaseId: string; message: string }[] = [];
    await expect(runRemoval(session, env, { volumes: true, confirm }, removal(plans))).rejects.toThrow(
      'not confirmed',
    );
    expect(plans.map((plan) => plan.message)).toEqual(['remove shop-production with its volumes']);
    expect(questions).toEqual([
      'Remove shop production from h1, and DELETE the volumes h1: shop-production_db-data with their data?',
    ]);
    expect(session.output.infos).toEqual([]);
  }, 30_000);
});
