// Stagecraft as users install it, with no checkout anywhere on the path: the npm tarball (installed
// into an empty prefix, and through npx), and the one-file executable (no Node on PATH at all). Each
// gets the same smoke test: --help, version, init, config, plan, and a `driver: local` deploy of a
// fresh project to the harness's build engine, answering over HTTP.
import { execFileSync, type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayName, gatewayPortsContainer } from '../../src/ingress/gateway-name.js';
import { dockerOn, type HarnessEnv, requireHarness } from './support/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
/** The build engine's address in the harness network (see test/harness/README.md). */
const ENGINE_ADDRESS = '10.231.0.10';
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

let harness: HarnessEnv;
let work: string;
let tarball: string;
let prefix: string;
let sea: string;
const projects: { project: string; port: number }[] = [];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 120_000): Result {
  const result: SpawnSyncReturns<string> = spawnSync(file, args, { cwd, env, encoding: 'utf8', timeout });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function expectOk(result: Result, what: string): Result {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  return result;
}

/** GET http://<engine>:<port>/ with an arbitrary Host: the body, or the error. */
function fetchBody(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: ENGINE_ADDRESS, port, path: '/', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

/** A project as a user starts one: a compose file and a Dockerfile, nothing of Stagecraft's. */
function freshProject(name: string, greeting: string): string {
  const dir = join(work, 'projects', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), `${greeting}\n`);
  writeFileSync(
    join(dir, 'Dockerfile'),
    `FROM ${harness.registry}/stagecraft-test/busybox:latest\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
  );
  writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    build: .\n');
  return dir;
}

/**
 * The smoke test, the same for every way of installing: `stagecraft` is the argv prefix that runs it.
 * Deploys `name` with ingress on `port` and returns the served body.
 */
async function smoke(
  stagecraft: string[],
  env: NodeJS.ProcessEnv,
  options: { name: string; port: number; build: 'npm' | 'sea'; node: RegExp },
): Promise<void> {
  const [file, ...prefixArgs] = stagecraft as [string, ...string[]];
  const dir = freshProject(options.name, `hello from ${options.name}`);
  const cli = (args: string[], timeout?: number) => run(file, [...prefixArgs, ...args], dir, env, timeout);

  const help = expectOk(cli(['--help']), '--help');
  expect(help.stdout).toContain('Usage: stagecraft [options] [command]');
  expect(help.stdout).toMatch(/\n {2}deploy\b/);

  const version = JSON.parse(expectOk(cli(['version', '--json']), 'version').stdout) as Record<
    string,
    string
  >;
  expect(version).toMatchObject({ version: PKG.version, build: options.build, platform: 'linux-x64' });
  expect(version['node']).toMatch(options.node);
  expect(version['commit']).toMatch(/^[0-9a-f]{12}(-dirty)?$/);

  expectOk(cli(['init', '--non-interactive', '--project-name', options.name]), 'init');
  const written = readFileSync(join(dir, 'stagecraft.yml'), 'utf8');
  expect(written).toContain(`name: ${options.name}`);
  // What a user adds next: where web listens, which domains route to it, and (offline here) the
  // gateway image from the harness registry on a port of its own.
  const edited = written.replace(
    'services:\n  web:\n    role: app\n',
    `services:\n  web:\n    role: app\n    port: 8080\n    domains: ["*"]\ningress:\n  image: ${harness.registry}/stagecraft-test/caddy:2\n  http_port: ${options.port}\n`,
  );
  expect(edited).not.toBe(written);
  writeFileSync(join(dir, 'stagecraft.yml'), edited);

  const config = expectOk(cli(['config', '-e', 'production']), 'config');
  expect(config.stdout).toContain(`http_port: ${options.port}`);

  const plan = expectOk(cli(['plan', '-e', 'production', '--version', 'v1']), 'plan');
  expect(plan.stdout).toContain(`build ${options.name}-web:v1`);
  expect(plan.stdout).toContain('Nothing has been changed');

  projects.push({ project: `${options.name}-production`, port: options.port });
  // `init` makes production require confirmation (gov's production-confirmation rule): without a
  // terminal and without --yes, the deploy refuses before it changes anything.
  const unconfirmed = cli(['deploy', '-e', 'production', '--version', 'v1']);
  expect(unconfirmed.code, unconfirmed.stderr).toBe(1);
  expect(unconfirmed.stderr).toContain('This environment requires confirmation');
  const deploy = expectOk(cli(['deploy', '-e', 'production', '--version', 'v1', '--yes'], 240_000), 'deploy');
  expect(deploy.stderr).toContain(`✓ Deployed ${options.name} v1 to production`);
  expect(await fetchBody(options.port)).toBe(`hello from ${options.name}\n`);
}

beforeAll(async () => {
  harness = await requireHarness();
  work = mkdtempSync(join(tmpdir(), 'stagecraft-package-'));

  // Pack from a copy of the sources (prepack builds it there), so the checkout's dist/ is untouched.
  const source = join(work, 'source');
  mkdirSync(source);
  for (const entry of ['package.json', 'package-lock.json', 'README.md', 'bin', 'docs', 'scripts', 'src'])
    cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'));
  const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).trim();
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: source,
      encoding: 'utf8',
      env: { ...process.env, STAGECRAFT_COMMIT: commit },
    }),
  ) as [{ filename: string; files: { path: string }[] }];
  tarball = join(work, packed[0].filename);
  rmSync(source, { recursive: true });

  prefix = join(work, 'prefix');
  mkdirSync(prefix);
  execFileSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
    cwd: work,
    stdio: 'ignore',
  });

  sea = execFileSync(
    process.execPath,
    [join(ROOT, 'scripts/build-sea.mjs'), '--out', join(work, 'sea/stagecraft')],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, STAGECRAFT_COMMIT: commit } },
  ).trim();
}, 600_000);

afterAll(async () => {
  for (const { project, port } of projects) {
    const containers = (
      await dockerOn(harness, 'local', [
        'ps',
        '-aq',
        '--filter',
        `label=com.docker.compose.project=${project}`,
      ])
    )
      .split('\n')
      .filter(Boolean);
    await dockerOn(harness, 'local', [
      'rm',
      '-f',
      ...containers,
      gatewayName(port, 443),
      gatewayPortsContainer(gatewayName(port, 443)),
    ]).catch(() => '');
    await dockerOn(harness, 'local', ['network', 'rm', `${project}_default`, gatewayName(port, 443)]).catch(
      () => '',
    );
  }
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the npm tarball', () => {
  it('holds the built CLI, the README and the config reference, and nothing else', () => {
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    // The README links the guides in docs/: they ship with it, so the links work from the package.
    const guides = readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `package/docs/${name}`);
    expect(guides).toContain('package/docs/config.md');
    expect(listing.filter((path) => !path.startsWith('package/dist/chunks/'))).toEqual(
      [
        'package/README.md',
        'package/bin/stagecraft.js',
        'package/dist/cli.js',
        ...guides,
        'package/package.json',
      ].sort(),
    );
    expect(listing.filter((path) => path.startsWith('package/dist/chunks/')).length).toBeGreaterThan(5);
    expect(listing.every((path) => path.endsWith('.js') || !path.startsWith('package/dist/'))).toBe(true);
    const manifest = JSON.parse(
      execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
    );
    // Everything is bundled into dist/: a runtime library belongs in devDependencies, or every
    // `npm install -g` and `npx` downloads it for nothing.
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.scripts.prepack).toBe('npm run build');
  });

  it('installed with npm install -g into an empty prefix: help, version, init, config, plan, local deploy', async () => {
    const bin = join(prefix, 'bin/stagecraft');
    expect(realpathSync(bin).startsWith(realpathSync(prefix))).toBe(true);
    expect(readdirSync(join(prefix, 'lib/node_modules'))).toEqual(['stagecraft']);
    const env = {
      PATH: `${join(prefix, 'bin')}:${SYSTEM_PATH}`,
      HOME: process.env['HOME'] ?? '/root',
      NO_COLOR: '1',
      DOCKER_HOST: harness.build_docker_host,
    };
    await smoke(['stagecraft'], env, { name: 'smoke-npm', port: 18091, build: 'npm', node: /^v20\./ });
  }, 400_000);

  it('runs through npx straight from the tarball', () => {
    const env = {
      PATH: SYSTEM_PATH,
      HOME: process.env['HOME'] ?? '/root',
      NO_COLOR: '1',
      npm_config_cache: join(work, 'npx-cache'),
      npm_config_update_notifier: 'false',
    };
    // As the README says it: a relative path (npx runs an absolute one as a command).
    const spec = `./${basename(tarball)}`;
    const result = expectOk(run('npx', ['--yes', spec, 'version', '--json'], work, env), 'npx');
    expect(JSON.parse(result.stdout)).toMatchObject({ version: PKG.version, build: 'npm' });
    const help = expectOk(run('npx', ['--yes', spec, '--help'], work, env), 'npx --help');
    expect(help.stdout).toContain('Usage: stagecraft [options] [command]');
  });

  it('runs on Node 22 and Node 24 too', () => {
    const project = join(work, 'projects', 'smoke-npm');
    for (const [major, version] of [
      ['22', /^v22\./],
      ['24', /^v24\./],
    ] as const) {
      const node = execFileSync(process.execPath, [join(ROOT, 'scripts/node-runtime.mjs'), major], {
        encoding: 'utf8',
      }).trim();
      const cli = join(prefix, 'lib/node_modules/stagecraft/bin/stagecraft.js');
      const env = { PATH: SYSTEM_PATH, HOME: process.env['HOME'] ?? '/root', NO_COLOR: '1' };
      const info = JSON.parse(
        expectOk(run(node, [cli, 'version', '--json'], project, env), 'version').stdout,
      );
      expect(info.node).toMatch(version);
      const plan = expectOk(
        run(node, [cli, 'plan', '-e', 'production', '--version', 'v2'], project, env),
        'plan',
      );
      expect(plan.stdout).toContain('build smoke-npm-web:v2');
    }
  });
});

describe('the one-file executable', () => {
  it('runs with no Node on PATH: help, version, init, config, plan, local deploy', async () => {
    // A machine without Node: every program of the system's PATH except node, npm, npx and corepack.
    const tools = join(work, 'tools');
    mkdirSync(tools);
    for (const dir of SYSTEM_PATH.split(':')) {
      for (const name of readdirSync(dir)) {
        if (['node', 'nodejs', 'npm', 'npx', 'corepack'].includes(name) || existsSync(join(tools, name)))
          continue;
        symlinkSync(join(dir, name), join(tools, name));
      }
    }
    const env = {
      PATH: `${join(work, 'sea')}:${tools}`,
      HOME: process.env['HOME'] ?? '/root',
      NO_COLOR: '1',
      DOCKER_HOST: harness.build_docker_host,
    };
    expect(spawnSync('node', ['-e', '0'], { env }).error).toMatchObject({ code: 'ENOENT' });
    expect(existsSync(sea)).toBe(true);
    await smoke(['stagecraft'], env, { name: 'smoke-sea', port: 18092, build: 'sea', node: /^v24\./ });
  }, 400_000);
});
