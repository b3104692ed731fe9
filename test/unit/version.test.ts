import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildContextsOutside, folderHash, resolveVersion } from '../../src/operations/version.js';
import { allSteps } from '../../src/plan/types.js';
import { planProject } from '../support/prepare.js';

// Kind 6 of issue 11 on case 13: the image tag identifies the code.

const caseDir = resolve(import.meta.dirname, '../fixtures/compose-fidelity/13-dirty-tree-reuses-tag');
const scratch = mkdtempSync(join(tmpdir(), 'stagecraft-version-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function copy(name: string): string {
  const dir = join(scratch, name);
  cpSync(caseDir, dir, { recursive: true });
  return dir;
}

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.test', ...args], {
    cwd: dir,
    encoding: 'utf8',
  }).trim();

describe('resolveVersion', { timeout: 60_000 }, () => {
  it('a clean commit is its SHA (immutable); each different uncommitted change gets its own tag', async () => {
    const dir = copy('git');
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'v1');
    const sha = git(dir, 'rev-parse', '--short=12', 'HEAD');
    expect(await resolveVersion(dir)).toEqual({ version: sha, commit: sha, immutable: true });
    // Env files hold secrets and the version is published: they are no part of it.
    writeFileSync(join(dir, '.env.production'), 'DB_PASSWORD=rye-Flour-42\n');
    writeFileSync(join(dir, 'api/.env'), 'TOKEN=abc\n');
    expect(await resolveVersion(dir)).toEqual({ version: sha, commit: sha, immutable: true });

    writeFileSync(join(dir, 'api/index.html'), 'v2 sourdough\n');
    const first = await resolveVersion(dir);
    expect(first.version).toMatch(new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`));
    expect(first.immutable).toBe(false);
    expect((await resolveVersion(dir)).version).toBe(first.version);

    writeFileSync(join(dir, 'api/index.html'), 'v3 pumpernickel\n');
    const second = await resolveVersion(dir);
    expect(second.version).toMatch(new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`));
    expect(second.version).not.toBe(first.version);

    writeFileSync(join(dir, 'api/index.html'), 'v2 sourdough\n');
    writeFileSync(join(dir, 'api/new.txt'), 'untracked\n');
    expect((await resolveVersion(dir)).version).not.toBe(first.version);
  });

  it('a build context outside the project folder (a monorepo sibling) belongs to the version', async () => {
    const repo = join(scratch, 'mono');
    cpSync(caseDir, join(repo, 'app'), { recursive: true });
    cpSync(join(caseDir, 'api'), join(repo, 'api'), { recursive: true });
    writeFileSync(join(repo, 'app', 'docker-compose.yml'), 'services:\n  api:\n    build: ../api\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'v1');
    const sha = git(repo, 'rev-parse', '--short=12', 'HEAD');
    const app = join(repo, 'app');
    const contexts = [join(repo, 'api')];
    expect(buildContextsOutside({ api: { build: { context: join(repo, 'api') } }, web: {} }, app)).toEqual(
      contexts,
    );
    expect(await resolveVersion(app, undefined, contexts)).toEqual({
      version: sha,
      commit: sha,
      immutable: true,
    });
    writeFileSync(join(repo, 'api', 'index.html'), 'changed next door\n');
    expect(await resolveVersion(app)).toEqual({ version: sha, commit: sha, immutable: true });
    const widened = await resolveVersion(app, undefined, contexts);
    expect(widened.version).toMatch(new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`));
    expect(widened.immutable).toBe(false);
    // …and plan builds that version; compose read the file again, but its warnings show once.
    writeFileSync(join(app, '.env'), 'LOCAL=1\n');
    const { plan, output } = await planProject(app, 'production', { version: undefined });
    expect(plan.version).toBe(widened.version);
    expect(output.warnings.filter((warning) => warning.startsWith('.env is here'))).toHaveLength(1);
  });

  it('outside git: local-<hash of the files>, different for different code', async () => {
    const dir = copy('nogit');
    const first = await resolveVersion(dir);
    expect(first).toEqual({ version: `local-${folderHash(dir)}`, commit: '', immutable: false });
    writeFileSync(join(dir, 'api/index.html'), 'v2 sourdough\n');
    const second = await resolveVersion(dir);
    expect(second.version).toMatch(/^local-[0-9a-f]{12}$/);
    expect(second.version).not.toBe(first.version);
    // Env files hold secrets and the version is published: a secret's value does not change it.
    writeFileSync(join(dir, '.env.staging'), 'DB_PASSWORD=one-value\n');
    const withSecret = await resolveVersion(dir);
    writeFileSync(join(dir, '.env.staging'), 'DB_PASSWORD=another-value\n');
    expect((await resolveVersion(dir)).version).toBe(withSecret.version);
    expect(withSecret.version).toBe(second.version);
  });

  it('--version is kept but never treated as immutable', async () => {
    expect(await resolveVersion(copy('explicit'), 'v7')).toEqual({
      version: 'v7',
      commit: '',
      immutable: false,
    });
  });

  it('13: a build of a tag that is not immutable is never skipped because the tag exists', async () => {
    const dir = copy('plan');
    const { plan } = await planProject(dir, 'production', { version: undefined });
    const build = allSteps(plan).find((step) => step.id === 'build:api');
    expect(plan.version).toBe(`local-${folderHash(dir)}`);
    expect(build?.action).toMatchObject({
      kind: 'build',
      image: `registry.example.test/bakery/bakery-api:local-${folderHash(dir)}`,
    });
    expect(build?.action).not.toHaveProperty('existsArgv');
  });
});
