import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildContextsOutside, folderHash, resolveVersion } from '../../src/operations/version.js';
import { allSteps, type Plan } from '../../src/plan/types.js';
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

/** `git init` in `dir`, everything committed; returns the 12-character SHA. */
function commitAll(dir: string): string {
  git(dir, 'init', '-q');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'v1');
  return git(dir, 'rev-parse', '--short=12', 'HEAD');
}

describe('resolveVersion', { timeout: 60_000 }, () => {
  it('a clean commit is its SHA (immutable); each different uncommitted change gets its own tag', async () => {
    const dir = copy('git');
    const sha = commitAll(dir);
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
    const sha = commitAll(repo);
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

  it('13: files git ignores that a build context sends (a built dist/) make the version dirty, as .dockerignore filters them', async () => {
    const dir = copy('ignored');
    writeFileSync(join(dir, '.gitignore'), 'dist/\nnode_modules/\n*.log\n');
    const sha = commitAll(dir);
    const api = join(dir, 'api');
    // Ignored files outside every build context, and env files, change nothing.
    writeFileSync(join(dir, 'debug.log'), 'not sent\n');
    writeFileSync(join(api, '.env'), 'TOKEN=abc\n');
    expect(await resolveVersion(dir, undefined, [api])).toEqual({
      version: sha,
      commit: sha,
      immutable: true,
    });

    mkdirSync(join(api, 'dist'));
    writeFileSync(join(api, 'dist', 'app.js'), 'built once\n');
    const first = await resolveVersion(dir, undefined, [api]);
    expect(first.version).toMatch(new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`));
    expect(first.immutable).toBe(false);
    expect(first.ignoredBuildInputs).toEqual([{ context: api, files: 1, example: 'dist/app.js' }]);
    expect((await resolveVersion(dir, undefined, [api])).version).toBe(first.version);
    // Without the contexts (the first read, before compose names them) the version is the commit's.
    expect((await resolveVersion(dir)).version).toBe(sha);

    writeFileSync(join(api, 'dist', 'app.js'), 'built again, longer\n');
    const second = await resolveVersion(dir, undefined, [api]);
    expect(second.version).toMatch(new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`));
    expect(second.version).not.toBe(first.version);

    // What .dockerignore leaves out is not sent: a whole folder, or all but a `!` exception.
    mkdirSync(join(api, 'node_modules', 'left-pad'), { recursive: true });
    writeFileSync(join(api, 'node_modules', 'left-pad', 'index.js'), 'module.exports = 1;\n');
    writeFileSync(join(api, '.dockerignore'), '# not sent\nnode_modules\ndist\n');
    git(dir, 'add', 'api/.dockerignore');
    git(dir, 'commit', '-qm', 'dockerignore');
    const sha2 = git(dir, 'rev-parse', '--short=12', 'HEAD');
    expect(await resolveVersion(dir, undefined, [api])).toEqual({
      version: sha2,
      commit: sha2,
      immutable: true,
    });
    writeFileSync(join(api, '.dockerignore'), 'node_modules\ndist\n!dist/app.js\n');
    git(dir, 'commit', '-qam', 'send app.js');
    const sha3 = git(dir, 'rev-parse', '--short=12', 'HEAD');
    const third = await resolveVersion(dir, undefined, [api]);
    expect(third.version).toMatch(new RegExp(`^${sha3}-dirty-[0-9a-f]{12}$`));
    expect(third.ignoredBuildInputs).toEqual([{ context: api, files: 1, example: 'dist/app.js' }]);
  });

  it('13: plan names the ignored files a build sends, and builds the dirty version', async () => {
    const dir = copy('ignored-plan');
    writeFileSync(join(dir, '.gitignore'), 'dist/\n');
    const sha = commitAll(dir);
    mkdirSync(join(dir, 'api', 'dist'));
    writeFileSync(join(dir, 'api', 'dist', 'app.js'), 'built\n');
    writeFileSync(join(dir, 'api', 'dist', 'app.css'), 'built\n');
    const { plan, output } = await planProject(dir, 'production', { version: undefined });
    expect(plan.version).toMatch(new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`));
    const build = allSteps(plan).find((step) => step.id === 'build:api');
    expect(build?.action).toMatchObject({ image: `registry.example.test/bakery/bakery-api:${plan.version}` });
    expect(build?.action).not.toHaveProperty('existsArgv');
    expect(output.warnings.filter((warning) => warning.startsWith('the build context'))).toEqual([
      'the build context api sends 2 files that git ignores (dist/app.css, …): the commit does not name them, so the version is marked dirty and the image is always rebuilt; list them in api/.dockerignore if the image does not need them',
    ]);
  });

  it('plan warns when a build context sends an env file (its secrets would go into the image with a COPY .)', async () => {
    const dir = copy('env-in-context');
    commitAll(dir);
    writeFileSync(join(dir, 'api', '.env.local'), 'TOKEN=x\n');
    writeFileSync(join(dir, 'api', 'keep.env'), 'TOKEN=y\n');
    const config = join(dir, 'stagecraft.yml');
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        '    driver: ssh\n',
        '    driver: ssh\n    env_file: api/keep.env\n',
      ),
    );
    const warned = async () =>
      (await planProject(dir, 'production', { version: undefined })).output.warnings.filter((warning) =>
        warning.includes('sends the env file'),
      );
    expect(await warned()).toEqual([
      'the build context api sends the env file .env.local to the builder: its values (secrets among them) go into the image with a `COPY .`; add .env.local to api/.dockerignore',
      'the build context api sends the env file keep.env to the builder: its values (secrets among them) go into the image with a `COPY .`; add keep.env to api/.dockerignore',
    ]);
    writeFileSync(join(dir, 'api', '.dockerignore'), '.env*\n*.env\n');
    expect(await warned()).toEqual([]);
  });

  it('the env and secret files the compose file names never move the version, whatever their names', async () => {
    const dir = copy('compose-named-secrets');
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      [
        'services:',
        '  api:',
        '    build: .',
        '    env_file: [config/app.env, { path: config/missing.env, required: false }]',
        '    secrets: [db_password]',
        'secrets:',
        '  db_password:',
        '    file: ./db_password.txt',
        '',
      ].join('\n'),
    );
    const sha = commitAll(dir);
    mkdirSync(join(dir, 'config'));
    const write = (appEnv: string, password: string) => {
      writeFileSync(join(dir, 'config', 'app.env'), appEnv);
      writeFileSync(join(dir, 'db_password.txt'), password);
    };
    write('API_TOKEN=first\n', 'hunter2');
    const first = await planProject(dir, 'production', { version: undefined });
    expect(first.plan.version).toBe(sha);
    expect(first.output.warnings.filter((warning) => warning.includes('to the builder'))).toEqual([
      'the build context . sends the env file config/app.env to the builder: its values (secrets among them) go into the image with a `COPY .`; add config/app.env to .dockerignore',
      'the build context . sends the secret file db_password.txt to the builder: its values (secrets among them) go into the image with a `COPY .`; add db_password.txt to .dockerignore',
    ]);
    write('API_TOKEN=second\n', 'correct horse');
    expect((await planProject(dir, 'production', { version: undefined })).plan.version).toBe(sha);
    // Code beside them still makes the version dirty.
    writeFileSync(join(dir, 'api', 'extra.txt'), 'code\n');
    expect((await planProject(dir, 'production', { version: undefined })).plan.version).toMatch(
      new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`),
    );
  });

  it('13: a build arg from the env file names the build too: each value gets its own tag, literal args none', async () => {
    const dir = copy('args');
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      'services:\n  api:\n    build:\n      context: ./api\n      args: { PUBLIC_API_URL: "${PUBLIC_API_URL}", MODE: production, APP_VERSION: "${STAGECRAFT_VERSION}" }\n',
    );
    writeFileSync(
      join(dir, 'stagecraft.yml'),
      readFileSync(join(dir, 'stagecraft.yml'), 'utf8').replace(
        '    driver: ssh\n',
        '    driver: ssh\n    env_file: .env.production\n',
      ),
    );
    writeFileSync(join(dir, '.env.production'), 'PUBLIC_API_URL=https://api.one.example.test\n');
    const sha = commitAll(dir);
    const first = (await planProject(dir, 'production', { version: undefined })).plan.version;
    expect(first).toMatch(new RegExp(`^${sha}-args-[0-9a-f]{8}$`));
    const build = (plan: Plan) => allSteps(plan).find((step) => step.id === 'build:api')?.action;
    writeFileSync(join(dir, '.env.production'), 'PUBLIC_API_URL=https://api.two.example.test\n');
    const { plan } = await planProject(dir, 'production', { version: undefined });
    expect(plan.version).toMatch(new RegExp(`^${sha}-args-[0-9a-f]{8}$`));
    expect(plan.version).not.toBe(first);
    // Still one state of the build's inputs: a tag that exists is that build.
    expect(build(plan)).toHaveProperty('existsArgv');
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      'services:\n  api:\n    build:\n      context: ./api\n      args: { MODE: production, ESCAPED: "$${NOT_A_VARIABLE}" }\n',
    );
    git(dir, 'commit', '-qam', 'literal args');
    const literal = (await planProject(dir, 'production', { version: undefined })).plan.version;
    expect(literal).toBe(git(dir, 'rev-parse', '--short=12', 'HEAD'));
  });

  it('37: a build variable that holds a short secret (behind an alias) is left out of the -args- hash', async () => {
    const dir = copy('args-short-secret');
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      'services:\n  api:\n    build:\n      context: ./api\n      args: { TOK: "${TOK_ALIAS}" }\n',
    );
    writeFileSync(
      join(dir, 'stagecraft.yml'),
      readFileSync(join(dir, 'stagecraft.yml'), 'utf8').replace(
        '    driver: ssh\n',
        '    driver: ssh\n    env_file: .env.production\n',
      ),
    );
    const sha = commitAll(dir);
    const versionWith = async (token: string) => {
      writeFileSync(join(dir, '.env.production'), `NPM_TOKEN=${token}\nTOK_ALIAS=\${NPM_TOKEN}\n`);
      return (await planProject(dir, 'production', { version: undefined })).plan.version;
    };
    expect(await versionWith('pw123')).toBe(sha);
    expect(await versionWith('pw124')).toBe(sha);
  });

  it('13: an additional build context outside the project folder belongs to the version', async () => {
    const repo = join(scratch, 'additional');
    cpSync(caseDir, join(repo, 'app'), { recursive: true });
    mkdirSync(join(repo, 'shared'));
    writeFileSync(join(repo, 'shared', 'lib.txt'), 'one\n');
    writeFileSync(
      join(repo, 'app', 'docker-compose.yml'),
      'services:\n  api:\n    build:\n      context: ./api\n      additional_contexts: { shared: ../shared }\n',
    );
    const sha = commitAll(repo);
    const app = join(repo, 'app');
    expect((await planProject(app, 'production', { version: undefined })).plan.version).toBe(sha);
    writeFileSync(join(repo, 'shared', 'lib.txt'), 'two\n');
    expect((await planProject(app, 'production', { version: undefined })).plan.version).toMatch(
      new RegExp(`^${sha}-dirty-[0-9a-f]{12}$`),
    );
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

  it('an env file the config names, whatever its name, never moves the version (in git, outside, in a build context)', async () => {
    for (const inGit of [false, true]) {
      const dir = copy(`named-env-${inGit}`);
      const sha = inGit ? commitAll(dir) : '';
      const envFile = join(dir, 'api', 'staging.env');
      const versionWith = async (value: string) => {
        writeFileSync(envFile, `DB_PASSWORD=${value}\n`);
        return (await resolveVersion(dir, undefined, [join(dir, 'api')], [envFile])).version;
      };
      const first = await versionWith('hunter2xyz');
      expect(await versionWith('hunter3xyz')).toBe(first);
      if (inGit) expect(first).toBe(sha);
      // Not named by the config, the same file is code: it moves the version.
      const unnamed = async (value: string) => {
        writeFileSync(envFile, `DB_PASSWORD=${value}\n`);
        return (await resolveVersion(dir, undefined, [join(dir, 'api')])).version;
      };
      expect(await unnamed('hunter2xyz')).not.toBe(await unnamed('hunter3xyz'));
    }
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
