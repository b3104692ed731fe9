// `stagecraft new --template` and `stagecraft attach`, the built CLI in temporary folders: the files
// written, the config loading and the plan validating (`docker compose config` included), and the
// refusal to overwrite anything without --force.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDotenv } from '../../src/config/dotenv.js';
import { PLAN_PLACEHOLDER } from '../../src/providers/ci/github-workflows.js';
import { TEMPLATE_NAMES, templateFiles } from '../../src/scaffold/templates.js';
import { CLI, stagecraft } from '../support/cli.js';

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-scaffold-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function files(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? files(join(dir, entry.name), base)
        : [join(dir, entry.name).slice(base.length + 1)],
    )
    .sort();
}

describe('stagecraft new --template', () => {
  it('platform: the whole project, a config that loads for every environment and plans that validate', () => {
    const result = stagecraft(['new', 'my-platform', '--template', 'platform', '--no-install'], {
      cwd: root,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `✓ Created my-platform from template platform in ${join(root, 'my-platform')}`,
    );
    expect(result.stdout).toContain('npm install --prefix web');
    const dir = join(root, 'my-platform');
    expect(files(dir)).toEqual([
      '.env',
      '.env.example',
      '.env.local',
      '.gitignore',
      '.stagecraft/hooks/post-deploy.sample',
      '.stagecraft/hooks/pre-build.sample',
      '.stagecraft/hooks/pre-deploy.sample',
      '.stagecraft/stagecraft.schema.json',
      'README.md',
      'api/.dockerignore',
      'api/Dockerfile',
      'api/package.json',
      'api/src/server.js',
      'api/tsconfig.json',
      'docker-compose.yml',
      'migrations/001_create_items.sql',
      'stagecraft.yml',
      'web/.dockerignore',
      'web/Dockerfile',
      'web/index.html',
      'web/package.json',
      'web/serve.mjs',
      'web/src/main.js',
      'web/vite.config.js',
    ]);
    for (const env of ['dev', 'local', 'production']) {
      const config = stagecraft(['config', '-e', env, '--json'], { cwd: dir });
      expect(config.code, config.stderr).toBe(0);
    }
    const config = JSON.parse(stagecraft(['config', '-e', 'local', '--json'], { cwd: dir }).stdout);
    expect(config.config?.project?.name ?? config.project?.name).toBe('my-platform');
    // As the generated plan workflow runs it on a pull request: declared secrets hold placeholders.
    const plan = stagecraft(['plan', '--env', 'production', '--format', 'json', '--version', 'v1'], {
      cwd: dir,
      env: { POSTGRES_PASSWORD: PLAN_PLACEHOLDER, DATABASE_URL: PLAN_PLACEHOLDER },
    });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).not.toContain(PLAN_PLACEHOLDER);
    const steps = JSON.stringify(JSON.parse(plan.stdout));
    expect(steps).toContain('"web1"');
    // Every service where the others can reach it: nothing on a host the app has no path to.
    expect(plan.stderr).not.toContain('reaches');
    expect(plan.stderr).not.toContain('publish');
    const local = stagecraft(['plan', '-e', 'local', '--version', 'v1'], { cwd: dir });
    expect(local.code, local.stderr).toBe(0);
    // Fresh random passwords, different for dev and local, and only in the (ignored) env files.
    const dev = parseDotenv(readFileSync(join(dir, '.env'), 'utf8'))['POSTGRES_PASSWORD']!;
    const deployLocal = parseDotenv(readFileSync(join(dir, '.env.local'), 'utf8'))['POSTGRES_PASSWORD']!;
    expect(dev).toMatch(/^[0-9a-f]{36}$/);
    expect(deployLocal).toMatch(/^[0-9a-f]{36}$/);
    expect(dev).not.toBe(deployLocal);
    expect(readFileSync(join(dir, 'stagecraft.yml'), 'utf8')).not.toContain(dev);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toContain('.env.*\n!.env.example\n');
    // Hook samples are commented and not executable: nothing runs until one is enabled.
    const sample = join(dir, '.stagecraft/hooks/pre-deploy.sample');
    expect(statSync(sample).mode & 0o111).toBe(0);
    expect(
      readFileSync(sample, 'utf8')
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('#')),
    ).toEqual(['set -eu']);
  });

  it('node-api: a minimal project whose config loads and whose plans validate', () => {
    const result = stagecraft(['new', 'api-only', '--template', 'node-api', '--name', 'svc'], { cwd: root });
    expect(result.code, result.stderr).toBe(0);
    const dir = join(root, 'api-only');
    // No frontend in this template: the next steps name only the API's address.
    expect(result.stdout).toContain('stagecraft dev                 # https://api.localhost\n');
    expect(result.stdout).not.toContain('app.localhost');
    expect(parse(readFileSync(join(dir, 'stagecraft.yml'), 'utf8')).project.name).toBe('svc');
    expect(stagecraft(['plan', '-e', 'production', '--version', 'v1'], { cwd: dir }).code).toBe(0);
    expect(stagecraft(['plan', '-e', 'local', '--version', 'v1'], { cwd: dir }).code).toBe(0);
  });

  it("plan's last line is the deploy command with the -c, -e and flags it was given", () => {
    const dir = join(root, 'api-only');
    const plan = stagecraft(['-c', 'stagecraft.yml', 'plan', '-e', 'production', '--version', 'v1'], {
      cwd: dir,
    });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toMatch(
      /^\d+ steps\. Nothing has been changed; run `stagecraft deploy -c stagecraft\.yml -e production --version v1` to apply\.$/,
    );
    const local = stagecraft(['plan', '--skip-build'], { cwd: dir, env: { STAGECRAFT_ENV: 'local' } });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout.trimEnd().split('\n').at(-1)).toMatch(
      /; run `stagecraft deploy -e local --skip-build` to apply\.$/,
    );
  });

  it('refuses to overwrite an existing project without --force, and changes nothing', () => {
    const dir = join(root, 'my-platform');
    const before = readFileSync(join(dir, '.env'), 'utf8');
    writeFileSync(join(dir, 'stagecraft.yml'), '# mine\n');
    const refused = stagecraft(['new', 'my-platform', '--template', 'platform', '--no-install'], {
      cwd: root,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'stagecraft new would overwrite .env, .env.example, .env.local, .gitignore',
    );
    expect(refused.stderr).toContain('pass --force');
    expect(readFileSync(join(dir, 'stagecraft.yml'), 'utf8')).toBe('# mine\n');
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe(before);
    const forced = stagecraft(['new', 'my-platform', '--template', 'platform', '--no-install', '--force'], {
      cwd: root,
    });
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(dir, 'stagecraft.yml'), 'utf8')).toContain('name: my-platform');
  });

  it('an unknown template: exit 1 with the names, nothing written', () => {
    const result = stagecraft(['new', 'x', '--template', 'platfrom'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown template "platfrom" (did you mean "platform"?)');
    expect(result.stderr).toContain('templates: platform, node-api');
    expect(readdirSync(root)).not.toContain('x');
  });

  it('an empty directory name: exit 1, "a directory name is required", nothing written here', () => {
    const dir = join(root, 'empty-name');
    mkdirSync(dir);
    const result = stagecraft(['new', '', '--template', 'node-api'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: a directory name is required: stagecraft new <dir> --template <name>\n' +
        'hint: e.g. `stagecraft new my-app --template node-api`, or `stagecraft new . --template node-api` for this folder\n',
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a path under a regular file: exit 1 naming the file, nothing written', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'mine\n');
    const result = stagecraft(['new', 'a-file/sub', '--template', 'node-api'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `error: cannot write the project in ${file}/sub: ${file} is not a directory\n` +
        `hint: ${file} is a file: choose another path, or move it away\n`,
    );
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
  });

  it('a file where the template needs a folder (api/), even with --force: exit 1, nothing written', () => {
    const dir = join(root, 'api-is-a-file');
    mkdirSync(dir);
    writeFileSync(join(dir, 'api'), 'mine\n');
    const result = stagecraft(['new', 'api-is-a-file', '--template', 'node-api', '--force'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `error: cannot write the project in ${dir}: ${join(dir, 'api')} is not a directory\n`,
    );
    expect(readdirSync(dir)).toEqual(['api']);
  });

  it('/sys, /proc and /dev: exit 1 at once (no endless mkdir under /proc), nothing written', () => {
    for (const [path, fs] of [
      ['/sys/stagecraft-x', '/sys'],
      ['/proc/stagecraft-x', '/proc'],
      ['/dev/stagecraft-x/app', '/dev'],
    ] as const) {
      const started = Date.now();
      const result = stagecraft(['new', path, '--template', 'node-api'], { cwd: root });
      expect(result.code, path).toBe(1);
      expect(result.stderr).toBe(
        `error: cannot write the project in ${path}: ${fs} is a kernel pseudo-filesystem, not a folder for files\n` +
          'hint: choose a folder you can write to, e.g. under your home directory\n',
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  });

  it('the root of the file system: exit 1, even for root (--dry-run checks it too)', () => {
    const result = stagecraft(['new', '/', '--template', 'node-api', '--dry-run'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: cannot write the project in /: it is the root of the file system\n' +
        'hint: choose a folder you can write to, e.g. under your home directory\n',
    );
  });

  // Root writes anywhere, so the refusal is shown as another user (nobody), when setpriv is there.
  it.runIf(process.getuid?.() === 0 && existsSync('/usr/bin/setpriv'))(
    'a folder the user cannot write to: exit 1, permission denied, nothing written',
    () => {
      chmodSync(root, 0o755);
      const dir = join(root, 'read-only');
      mkdirSync(dir, { mode: 0o755 });
      const result = spawnSync(
        '/usr/bin/setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          CLI,
          'new',
          'app',
          '-t',
          'node-api',
        ],
        { cwd: dir, env: { PATH: process.env['PATH'] ?? '', HOME: dir, NO_COLOR: '1' }, encoding: 'utf8' },
      );
      expect(result.status, result.stderr).toBe(1);
      expect(result.stderr).toBe(
        `error: cannot write the project in ${join(dir, 'app')}: permission denied to write in ${dir}\n` +
          `hint: choose a folder you can write to, e.g. under your home directory, or change the permissions of ${dir}\n`,
      );
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it.runIf(process.platform === 'linux')(
    'procfs reached through a symlink: recognised by its file system, exit 1',
    () => {
      symlinkSync('/proc/self', join(root, 'to-proc'));
      const result = stagecraft(['new', 'to-proc/app', '--template', 'node-api'], { cwd: root });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `error: cannot write the project in ${join(root, 'to-proc/app')}: ${join(root, 'to-proc')} is on proc, a kernel pseudo-filesystem\n`,
      );
    },
  );

  it('every template’s stagecraft.yml is the same bytes for the same name (passwords live in env files)', () => {
    for (const name of TEMPLATE_NAMES) {
      const a = templateFiles(name, { projectName: 'p', password: () => 'a' });
      const b = templateFiles(name, { projectName: 'p', password: () => 'b' });
      const config = (list: typeof a) => list.find((file) => file.path === 'stagecraft.yml')!.content;
      expect(config(a)).toBe(config(b));
    }
  });
});

describe('stagecraft attach', () => {
  function fixture(name: string): string {
    const dir = join(root, name);
    mkdirSync(join(dir, 'api'), { recursive: true });
    mkdirSync(join(dir, 'worker'), { recursive: true });
    writeFileSync(
      join(dir, 'api/Dockerfile'),
      'FROM node:22-alpine\nCOPY . .\nEXPOSE 3000/tcp\nCMD ["node", "server.js"]\n',
    );
    writeFileSync(
      join(dir, 'worker/Dockerfile'),
      'FROM node:22-alpine\nCOPY . .\nCMD ["node", "worker.js"]\n',
    );
    writeFileSync(join(dir, '.gitignore'), 'node_modules\ndist');
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
    return dir;
  }

  it('proposes a compose file from the Dockerfiles; the config loads and the plan validates', () => {
    const dir = fixture('legacy-app');
    const result = stagecraft(['attach'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`✓ Stagecraft attached to legacy-app in ${dir}`);
    expect(result.stderr).toContain('docker-compose.yml is proposed from your Dockerfiles, review it');
    expect(result.stdout).toContain('stagecraft plan -e production');
    const compose = parse(readFileSync(join(dir, 'docker-compose.yml'), 'utf8'));
    expect(compose).toEqual({
      name: 'legacy-app',
      services: {
        api: {
          build: { context: './api' },
          expose: ['3000'],
          init: true,
          restart: 'unless-stopped',
          stop_grace_period: '10s',
        },
        worker: {
          build: { context: './worker' },
          init: true,
          restart: 'unless-stopped',
          stop_grace_period: '10s',
        },
      },
    });
    expect(readFileSync(join(dir, 'docker-compose.yml'), 'utf8')).toContain('(api listens on 3000)');
    const config = parse(readFileSync(join(dir, 'stagecraft.yml'), 'utf8'));
    // The EXPOSEd port is the one the gateway routes to; without a HEALTHCHECK, `/` is probed (a
    // guess the next steps name); the worker exposes nothing, so it is not routed.
    expect(config.services).toEqual({
      api: { role: 'app', port: 3000, health: { path: '/' } },
      worker: { role: 'app' },
    });
    expect(result.stdout).toContain(
      'check services.api.health.path in stagecraft.yml: a path api answers 2xx on (/ is a guess)',
    );
    expect(config.environments.production).toEqual({
      driver: 'local',
      env_file: '.env.production',
      require_confirmation: true,
    });
    // What `ci init`'s pull-request workflow runs first: the deploy policy passes as attached.
    const gov = stagecraft(['gov'], { cwd: dir });
    expect(gov.stdout + gov.stderr).toContain('no findings');
    expect(gov.code).toBe(0);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe(
      'node_modules\ndist\n# Stagecraft\n.stagecraft/*\n!.stagecraft/hooks/\n!.stagecraft/stagecraft.schema.json\n.env\n.env.*\n!.env.example\n',
    );
    expect(readdirSync(join(dir, '.stagecraft/hooks')).sort()).toEqual([
      'post-deploy.sample',
      'pre-build.sample',
      'pre-deploy.sample',
    ]);
    expect(stagecraft(['config', '-e', 'production'], { cwd: dir }).code).toBe(0);
    const plan = stagecraft(['plan', '-e', 'production', '--version', 'v1', '--format', 'json'], {
      cwd: dir,
    });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('legacy-app-api');
    expect(plan.stdout).toContain('legacy-app-worker');
  });

  it('refuses to run twice without --force; --force rewrites and keeps .gitignore whole', () => {
    const dir = join(root, 'legacy-app');
    const config = readFileSync(join(dir, 'stagecraft.yml'), 'utf8');
    const again = stagecraft(['attach'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('stagecraft attach would overwrite stagecraft.yml');
    const forced = stagecraft(['attach', '--force'], { cwd: dir });
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(dir, 'stagecraft.yml'), 'utf8')).toBe(config);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8').match(/# Stagecraft/g)).toHaveLength(1);
  });

  it('keeps an existing compose file and writes none', () => {
    const dir = fixture('with-compose');
    const composeText =
      'services:\n  api:\n    build: ./api\n    ports: ["127.0.0.1:8080:3000"]\n  db:\n    image: postgres:16-alpine\n    expose: [5432]\n';
    writeFileSync(join(dir, 'compose.yaml'), composeText);
    const result = stagecraft(['attach'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(dir, 'compose.yaml'), 'utf8')).toBe(composeText);
    expect(readdirSync(dir)).not.toContain('docker-compose.yml');
    // The container port of `ports` (the target), `/` probed as its Dockerfile has no HEALTHCHECK; a
    // database gets neither (it is not routed).
    expect(parse(readFileSync(join(dir, 'stagecraft.yml'), 'utf8')).services).toEqual({
      api: { role: 'app', port: 3000, health: { path: '/' } },
      db: { role: 'db' },
    });
    expect(stagecraft(['plan', '-e', 'production', '--version', 'v1'], { cwd: dir }).code).toBe(0);
  });

  it('a file where .stagecraft/ must be a folder: exit 1 naming it, nothing written', () => {
    const dir = fixture('stagecraft-is-a-file');
    writeFileSync(join(dir, '.stagecraft'), 'mine\n');
    const before = readdirSync(dir).sort();
    const result = stagecraft(['attach'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `error: cannot write the project in ${dir}: ${join(dir, '.stagecraft')} is not a directory\n`,
    );
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules\ndist');
  });

  it('an image whose health check it cannot read is not routed: gov passes, the next steps say how', () => {
    const dir = join(root, 'image-only');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      'services:\n  api:\n    image: ghcr.io/acme/api:1.2.3\n    ports: ["8080:3000"]\n    restart: unless-stopped\n',
    );
    const dry = stagecraft(['attach', '--dry-run'], { cwd: dir });
    expect(dry.stdout).toContain(`✓ Would attach Stagecraft to image-only in ${dir}`);
    expect(existsSync(join(dir, 'stagecraft.yml'))).toBe(false);
    const result = stagecraft(['attach'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(parse(readFileSync(join(dir, 'stagecraft.yml'), 'utf8')).services).toEqual({
      api: { role: 'app' },
    });
    expect(result.stdout).toContain(
      'api listens on 3000: to route it, set services.api.port and health.path in stagecraft.yml',
    );
    const gov = stagecraft(['gov'], { cwd: dir });
    expect(gov.stdout + gov.stderr).not.toContain('web-healthcheck');
    expect(gov.stdout + gov.stderr).not.toMatch(/\d+ errors?/);
  });

  it('a folder with nothing to run: exit 1, nothing written', () => {
    const dir = join(root, 'empty-repo');
    mkdirSync(dir);
    const result = stagecraft(['attach'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('has neither a compose file nor a Dockerfile');
    expect(readdirSync(dir)).toEqual([]);
  });
});
