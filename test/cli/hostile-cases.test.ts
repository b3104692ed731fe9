import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, stagecraft } from '../support/cli.js';

// Every case of test/fixtures/hostile (a copy of the hostile inputs Stagecraft once got wrong): the
// command must exit with the expected code, its error output must match the expected pattern, it
// must finish within 30 s and leave every file of the case folder as it was.

const CASES = fileURLToPath(new URL('../fixtures/hostile/', import.meta.url));
const made: string[] = [];
afterAll(() => {
  for (const folder of made) rmSync(folder, { recursive: true, force: true });
});

interface Expectation {
  code: number;
  pattern: RegExp;
}

function expectation(name: string): Expectation {
  const line = readFileSync(join(CASES, name, 'expect'), 'utf8').split('\n')[0]!;
  const match = /^(\d+) (.*?) # /.exec(line);
  if (match === null) throw new Error(`cannot read ${name}/expect`);
  return { code: Number(match[1]), pattern: new RegExp(match[2]!) };
}

/** A fresh copy of a case (12: stagecraft.yml becomes a symlink to itself). */
function caseFolder(name: string): string {
  const folder = mkdtempSync(join(tmpdir(), `stagecraft-hostile-${name.slice(0, 2)}-`));
  made.push(folder);
  cpSync(join(CASES, name), folder, { recursive: true });
  if (name === '12-config-symlink-loop') {
    rmSync(join(folder, 'stagecraft.yml'));
    symlinkSync('stagecraft.yml', join(folder, 'stagecraft.yml'));
  }
  return folder;
}

/** Path → sha256 (or the link target, or "dir") of everything in a folder. */
function snapshot(folder: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const info = lstatSync(path);
      if (info.isSymbolicLink()) out[prefix + entry] = 'link';
      else if (info.isDirectory()) {
        out[prefix + entry] = 'dir';
        walk(path, `${prefix}${entry}/`);
      } else out[prefix + entry] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(folder, '');
  return out;
}

const inputCases = readdirSync(CASES).filter((name) => /^\d\d-/.test(name) && Number(name.slice(0, 2)) < 37);

describe('hostile input is refused with a clear error, exit 1, nothing changed', () => {
  for (const name of inputCases) {
    for (const args of [
      ['config', '-e', 'staging'],
      ['plan', '-e', 'staging', '--dry-run'],
    ]) {
      // 25–29, 30 and 32–36 are about the compose file, which `config` does not read.
      if (/^(2[5-9]|3[023456])-/.test(name) && args[0] === 'config') continue;
      it(`${name}: stagecraft ${args.join(' ')}`, () => {
        const { code, pattern } = expectation(name);
        const folder = caseFolder(name);
        const before = snapshot(folder);
        const started = Date.now();
        const result = stagecraft(args, { cwd: folder });
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(result.stderr).toMatch(pattern);
        expect(result.stderr).not.toContain('internal error');
        expect(result.code).toBe(code);
        expect(snapshot(folder)).toEqual(before);
      });
    }
  }

  it('a stagecraft.yml with only comments says so (not "unknown environment")', () => {
    const folder = caseFolder('04-billion-laughs');
    writeFileSync(join(folder, 'stagecraft.yml'), '# project: shop\n\n# environments: {}\n');
    const result = stagecraft(['config', '-e', 'staging'], { cwd: folder });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'stagecraft.yml:1:1 the file is empty (only comments or blank lines): expected project, services and environments',
    );
    expect(result.stderr).not.toContain('unknown environment');
  });

  it('--version must be an image tag: a newline, a space, a path or an option is refused before anything is read', () => {
    const folder = caseFolder('50-state-file-is-fifo');
    for (const version of ['v1\nINJECT: yes', 'v1 --push', '../../x', '-oX', '.hidden', 'x'.repeat(129)]) {
      for (const command of ['plan', 'deploy', 'build']) {
        const args = [
          command,
          '-e',
          'staging',
          '--version',
          version,
          ...(command === 'deploy' ? ['--dry-run'] : []),
        ];
        const result = stagecraft(args, { cwd: folder });
        expect(result.stderr, `${command} ${version}`).toContain(
          `error: --version ${JSON.stringify(version)} is not a valid image tag`,
        );
        expect(result.stdout).not.toContain('INJECT');
        expect(result.code).toBe(1);
      }
    }
    const valid = stagecraft(['plan', '-e', 'staging', '--version', 'v1.4.2_rc-1'], { cwd: folder });
    expect(valid.stdout).toContain('version v1.4.2_rc-1');
  });

  it('51: a service environment value under a secret name is redacted by config, however it was written', () => {
    const folder = caseFolder('51-secret-named-service-environment');
    for (const json of [false, true]) {
      const result = stagecraft(['config', '-e', 'staging', ...(json ? ['--json'] : [])], { cwd: folder });
      expect(result.code).toBe(0);
      for (const value of ['FromEnvFileS3cret66', 'ScOverrideS3cret55', 'S3cr3tPassw0rd'])
        expect(result.stdout + result.stderr).not.toContain(value);
      expect(result.stdout).toMatch(
        json ? /"SESSION_SECRET": "\[redacted\]"/ : /SESSION_SECRET: "\[redacted\]"/,
      );
    }
  });

  it('53: a right-to-left override in a key is shown escaped, so the line reads as it is', () => {
    const folder = caseFolder('53-bidi-override-in-key');
    const before = snapshot(folder);
    for (const args of [
      ['config', '-e', 'staging'],
      ['plan', '-e', 'staging', '--dry-run'],
    ]) {
      const result = stagecraft(args, { cwd: folder });
      expect(result.stderr).toContain(
        'stagecraft.yml:7:5 services.web.ro\\u{202E}lpe: unknown key "ro\\u{202E}lpe" (did you mean "role"?)',
      );
      expect(result.stderr).not.toContain('\u202e');
      expect(result.code).toBe(1);
    }
    expect(snapshot(folder)).toEqual(before);
  });

  it('52: a value moved to the secret env file by its name is refused elsewhere and redacted in compose errors', () => {
    const folder = caseFolder('52-secret-through-compose-environment');
    const value = readFileSync(join(folder, '.env.staging'), 'utf8').match(/^SEED=(.*)$/m)![1]!;
    const healthcheck = stagecraft(['plan', '-e', 'staging', '--format', 'json'], { cwd: folder });
    expect(healthcheck.stderr).toContain(
      'error: a secret value appears in the compose file at services.api.healthcheck.test[2]',
    );
    expect(healthcheck.code).toBe(1);
    cpSync(join(folder, 'docker-compose.ports-variant.yml'), join(folder, 'docker-compose.yml'));
    const ports = stagecraft(['plan', '-e', 'staging'], { cwd: folder });
    expect(ports.stderr).toContain('Invalid hostPort: [redacted]');
    for (const result of [healthcheck, ports]) expect(result.stdout + result.stderr).not.toContain(value);
  });

  it('context build refuses a FIFO in place of its folder or a file, and --dry-run writes nothing', () => {
    const folder = caseFolder('50-state-file-is-fifo');
    const dry = stagecraft(['context', 'build', '--dry-run'], { cwd: folder });
    expect(dry.stdout).toMatch(
      /^would write \.ai-context\/\.gitignore, .*; nothing written \(--dry-run\)\n$/,
    );
    expect(readdirSync(folder)).not.toContain('.ai-context');
    execFileSync('mkfifo', [join(folder, '.ai-context')]);
    const fifo = stagecraft(['context', 'build'], { cwd: folder });
    expect(fifo.stderr).toContain(`error: ${join(folder, '.ai-context')} is not a folder`);
    expect(fifo.code).toBe(1);
    rmSync(join(folder, '.ai-context'));
    mkdirSync(join(folder, '.ai-context'));
    execFileSync('mkfifo', [join(folder, '.ai-context', 'manifest.json')]);
    const started = Date.now();
    const inside = stagecraft(['context', 'build'], { cwd: folder });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(inside.stderr).toContain('manifest.json is not a regular file');
    expect(inside.code).toBe(1);
  });

  it('a build context that is a FIFO, a file or missing is refused by plan at its build key', () => {
    for (const [kind, why] of [
      ['fifo', 'is not a regular file (a device, socket or pipe)'],
      ['file', 'is a file, not a folder'],
      ['missing', 'does not exist'],
    ] as const) {
      const folder = caseFolder('50-state-file-is-fifo');
      rmSync(join(folder, 'api'), { recursive: true });
      if (kind === 'fifo') execFileSync('mkfifo', [join(folder, 'api')]);
      if (kind === 'file') writeFileSync(join(folder, 'api'), 'FROM busybox\n');
      const result = stagecraft(['plan', '-e', 'staging'], { cwd: folder });
      expect(result.stderr).toContain(
        `error: docker-compose.yml:3:5 the build context of api, ${join(folder, 'api')}, ${why}: the build cannot start`,
      );
      expect(result.code).toBe(1);
    }
  });

  it('50: a state file that is a FIFO, a device or a folder is refused at once, naming it', () => {
    for (const [kind, make] of [
      ['fifo', (path: string) => execFileSync('mkfifo', [path])],
      ['device', (path: string) => symlinkSync('/dev/zero', path)],
      ['folder', (path: string) => mkdirSync(path)],
    ] as const) {
      const folder = caseFolder('50-state-file-is-fifo');
      mkdirSync(join(folder, '.stagecraft', 'infra'), { recursive: true });
      make(join(folder, '.stagecraft', 'releases.json'));
      make(join(folder, '.stagecraft', 'infra', 'staging.json'));
      const why =
        kind === 'folder' ? 'is a directory, not a file' : 'is not a regular file (a device, socket or pipe)';
      for (const [args, file] of [
        [['plan', '-e', 'staging'], 'the release ledger'],
        [['releases', '-e', 'staging'], 'the release ledger'],
        [['config', '-e', 'staging'], 'the infra state'],
      ] as const) {
        const started = Date.now();
        const result = stagecraft([...args], { cwd: folder });
        expect(Date.now() - started, `${kind} ${args[0]}`).toBeLessThan(20_000);
        const path = join(
          folder,
          '.stagecraft',
          file === 'the infra state' ? 'infra/staging.json' : 'releases.json',
        );
        expect(result.stderr, `${kind} ${args[0]}`).toContain(`error: ${file} ${path} ${why}`);
        expect(result.code, `${kind} ${args[0]}`).toBe(1);
      }
    }
  });

  it('an env file that is a FIFO or a folder is refused at its env_file key, without blocking', () => {
    const folder = caseFolder('31-env-file-is-device');
    execFileSync('mkfifo', [join(folder, 'pipe.env')]);
    mkdirSync(join(folder, 'folder.env'));
    for (const [file, why] of [
      ['pipe.env', 'is not a regular file (a device, socket or pipe)'],
      ['folder.env', 'is a directory, not a file'],
    ]) {
      const config = readFileSync(join(folder, 'stagecraft.yml'), 'utf8').replace(
        /env_file: \S+/,
        `env_file: ${file}`,
      );
      writeFileSync(join(folder, 'stagecraft.yml'), config);
      for (const args of [
        ['config', '-e', 'staging'],
        ['plan', '-e', 'staging'],
        ['deploy', '-e', 'staging', '--dry-run'],
      ]) {
        const started = Date.now();
        const result = stagecraft(args, { cwd: folder });
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(result.stderr).toContain(
          `error: stagecraft.yml:9:15 environments.staging.env_file: env file ${file} ${why}`,
        );
        expect(result.stderr).toContain('hint: point env_file at a regular file of KEY=value lines');
        expect(result.code).toBe(1);
      }
    }
  });

  it('a bind mount or compose secret of the project that leads to a device or a FIFO is refused at its mount', () => {
    const folder = caseFolder('33-compose-env-file-is-device');
    symlinkSync('/dev/zero', join(folder, 'zero'));
    mkdirSync(join(folder, 'conf'));
    writeFileSync(join(folder, 'conf', 'app.ini'), 'a=1\n');
    execFileSync('mkfifo', [join(folder, 'conf', 'pipe')]);
    const cases: [string, string][] = [
      [
        '    volumes: ["./zero:/etc/zero"]\n',
        'docker-compose.yml:4:15 service api: the bind mount ./zero:/etc/zero: ./zero is not a regular file (a device, socket or pipe)',
      ],
      [
        '    volumes: ["./conf:/etc/conf"]\n',
        'docker-compose.yml:4:15 service api: the bind mount ./conf:/etc/conf: ./conf/pipe is not a regular file (a device, socket or pipe)',
      ],
      [
        '    secrets: [token]\nsecrets:\n  token: { file: ./zero }\n',
        './zero is not a regular file (a device, socket or pipe)',
      ],
    ];
    for (const [tail, message] of cases) {
      writeFileSync(join(folder, 'docker-compose.yml'), `services:\n  api:\n    image: alpine:3\n${tail}`);
      for (const args of [
        ['plan', '-e', 'staging'],
        ['deploy', '-e', 'staging', '--dry-run'],
      ]) {
        const started = Date.now();
        const result = stagecraft(args, { cwd: folder });
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(result.stderr).toContain(message);
        expect(result.stderr).not.toContain('internal error');
        expect(result.code).toBe(1);
      }
    }
  });

  it('a compose file that is a symlink loop is named as one (not "no compose file")', () => {
    const folder = caseFolder('33-compose-env-file-is-device');
    rmSync(join(folder, 'docker-compose.yml'));
    symlinkSync('loop-b', join(folder, 'loop-a'));
    symlinkSync('loop-a', join(folder, 'loop-b'));
    symlinkSync('loop-a', join(folder, 'docker-compose.yml'));
    const result = stagecraft(['plan', '-e', 'staging'], { cwd: folder });
    expect(result.stderr).toContain(
      `error: ${join(folder, 'docker-compose.yml')} is a symbolic link loop (symlink that points back at itself)`,
    );
    expect(result.code).toBe(1);
  });

  it('a stagecraft.yml folder stops the upward search (a file further up is not used)', () => {
    const folder = caseFolder('11-config-is-directory');
    const inner = join(folder, 'sub');
    mkdirSync(inner);
    mkdirSync(join(inner, 'stagecraft.yml'));
    const result = stagecraft(['config'], { cwd: inner });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(inner, 'stagecraft.yml')} is a directory, not a file`);
  });
});

describe('children die with their parent', () => {
  it('a plan killed with SIGTERM leaves no `docker compose` (nor its children) running', async () => {
    const folder = caseFolder('37-secret-build-arg-in-plan-json');
    const bin = join(folder, 'fake-bin');
    mkdirSync(bin);
    const marker = `stagecraft-orphan-${process.pid}-${Date.now()}`;
    // A docker that hangs like compose on a huge file, with a grandchild (as the compose plugin is).
    // It stands for compose's plugin binary too (which plan runs directly when it finds it).
    const hang = `#!/bin/sh\nsh -c 'sleep 300; echo ${marker}' &\nexec sleep 301\n`;
    writeFileSync(join(bin, 'docker'), hang, { mode: 0o755 });
    mkdirSync(join(bin, 'cli-plugins'));
    writeFileSync(join(bin, 'cli-plugins', 'docker-compose'), hang, { mode: 0o755 });
    const child = spawn(process.execPath, [CLI, 'plan', '-e', 'staging'], {
      cwd: folder,
      env: {
        PATH: `${bin}:${process.env['PATH'] ?? ''}`,
        HOME: process.env['HOME'] ?? '/root',
        NO_COLOR: '1',
        DOCKER_CONFIG: bin,
      },
      stdio: 'ignore',
    });
    const running = () =>
      spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((line) => line !== '');
    for (let i = 0; i < 100 && running().length === 0; i++) await sleep(100);
    expect(running().length).toBe(1);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    await sleep(300);
    expect(running()).toEqual([]);
  });
});

describe('secrets never leak from a plan or config (cases 37–43)', () => {
  const planJson = (folder: string, env: Record<string, string> = {}) => {
    const result = stagecraft(['plan', '-e', 'staging', '--format', 'json'], { cwd: folder, env });
    expect(result.code).toBe(0);
    return { ...result, plan: JSON.parse(result.stdout) as { phases: { steps: PlanStep[] }[] } };
  };
  interface PlanStep {
    id: string;
    action: { kind: string; mode?: string; spec_hash?: string; service?: string };
  }
  const steps = (plan: { phases: { steps: PlanStep[] }[] }) => plan.phases.flatMap((phase) => phase.steps);

  it('37: a secret build arg is redacted from plan JSON, with a hint to use a BuildKit build secret', () => {
    const folder = caseFolder('37-secret-build-arg-in-plan-json');
    const before = snapshot(folder);
    const result = planJson(folder);
    expect(result.stdout).not.toContain('npm_SuperSecretToken123456');
    // The build runs `docker compose build` on the service's build section (stdin): no value in argv.
    const build = steps(result.plan).find((step) => step.id === 'build:api');
    expect(build?.action.kind).toBe('build');
    expect(result.stderr).toContain('build arg NPM_TOKEN of api holds a secret');
    expect(result.stderr).toContain('RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN');
    // A dry run says what the deploy would do: refuse.
    const dryRun = stagecraft(['deploy', '-e', 'staging', '--dry-run'], { cwd: folder });
    expect(dryRun.stderr).not.toContain('npm_SuperSecretToken123456');
    expect(dryRun.stderr).toContain('NPM_TOKEN');
    expect(dryRun.code).toBe(1);
    expect(snapshot(folder)).toEqual(before);
  });

  it('a secret in build.labels (stored in the image) is refused by plan and deploy, without its value', () => {
    const folder = caseFolder('37-secret-build-arg-in-plan-json');
    const compose = join(folder, 'docker-compose.yml');
    writeFileSync(
      compose,
      readFileSync(compose, 'utf8').replace(
        '        NPM_TOKEN: ${NPM_TOKEN}',
        '        NPM_TOKEN: ${NPM_TOKEN}\n      labels:\n        build.pw: "${DB_PASSWORD}"',
      ),
    );
    const before = snapshot(folder);
    for (const args of [
      ['plan', '-e', 'staging'],
      ['deploy', '-e', 'staging', '--dry-run'],
    ]) {
      const result = stagecraft(args, { cwd: folder });
      expect(result.stderr).toContain(
        'error: docker-compose.yml:8:9 build label api: build.pw would store a secret in the image (pushed to the registry, shown by docker inspect on every host)',
      );
      expect(result.stderr).not.toContain('S3cr3t');
      expect(result.code).toBe(1);
    }
    expect(snapshot(folder)).toEqual(before);
    // The list form (compose prints it as a map) is named at the labels key.
    writeFileSync(
      compose,
      readFileSync(compose, 'utf8').replace(
        '        build.pw: "${DB_PASSWORD}"',
        '        - "dsn=postgres://u:${DB_PASSWORD}@db/app"',
      ),
    );
    const listed = stagecraft(['plan', '-e', 'staging'], { cwd: folder });
    expect(listed.stderr).toContain(
      'error: docker-compose.yml:7:7 build label api: dsn would store a secret in the image',
    );
    expect(listed.code).toBe(1);
  });

  it('a compose.file that is missing or not a file is refused at its place in stagecraft.yml', () => {
    const folder = caseFolder('33-compose-env-file-is-device');
    const config = join(folder, 'stagecraft.yml');
    const text = readFileSync(config, 'utf8');
    mkdirSync(join(folder, 'compose-folder'));
    for (const [file, message] of [
      ['missing.yml', 'error: stagecraft.yml:4:9 compose.file: compose file not found: missing.yml'],
      ['compose-folder', 'error: stagecraft.yml:4:9 compose.file: compose-folder is a directory, not a file'],
      [
        '/dev/zero',
        'error: stagecraft.yml:4:9 compose.file: /dev/zero is not a regular file (a device, socket or pipe)',
      ],
    ]) {
      writeFileSync(
        config,
        text.replace('project:\n  name: hostile\n', `project:\n  name: hostile\ncompose:\n  file: ${file}\n`),
      );
      const result = stagecraft(['plan', '-e', 'staging'], { cwd: folder });
      expect(result.stderr).toContain(message);
      expect(result.code).toBe(1);
    }
  });

  it('a Dockerfile or a build secret file that is a FIFO is refused by plan at its key, without blocking', () => {
    const folder = caseFolder('37-secret-build-arg-in-plan-json');
    rmSync(join(folder, 'api', 'Dockerfile'));
    execFileSync('mkfifo', [join(folder, 'api', 'Dockerfile')]);
    let result = stagecraft(['plan', '-e', 'staging'], { cwd: folder });
    expect(result.stderr).toContain(
      `error: docker-compose.yml:3:5 the build of api reads ${join(folder, 'api', 'Dockerfile')}, which is not a regular file (a device, socket or pipe): the build would block on it or never end`,
    );
    expect(result.code).toBe(1);
    rmSync(join(folder, 'api', 'Dockerfile'));
    writeFileSync(join(folder, 'api', 'Dockerfile'), 'FROM scratch\n');
    execFileSync('mkfifo', [join(folder, 'npmrc')]);
    const compose = join(folder, 'docker-compose.yml');
    writeFileSync(
      compose,
      readFileSync(compose, 'utf8')
        .replace(
          '      context: ./api\n',
          '      context: ./api\n      dockerfile: Dockerfile\n      secrets: [npmrc]\n',
        )
        .concat('secrets:\n  npmrc:\n    file: ./npmrc\n'),
    );
    const started = Date.now();
    result = stagecraft(['deploy', '-e', 'staging', '--dry-run'], { cwd: folder });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.stderr).toContain(
      `error: docker-compose.yml:23:5 the build of api reads ${join(folder, 'npmrc')}, which is not a regular file`,
    );
    expect(result.code).toBe(1);
  });

  it('a secret interpolated into command or healthcheck is refused at its place, whatever its length', () => {
    const folder = caseFolder('37-secret-build-arg-in-plan-json');
    writeFileSync(
      join(folder, '.env.staging'),
      'NPM_TOKEN=x\nAPI_TOKEN=Zq7vK2w\nDB_PASSWORD=pw\nDATABASE_URL=postgres://db/app\n',
    );
    const compose = join(folder, 'docker-compose.yml');
    writeFileSync(
      compose,
      readFileSync(compose, 'utf8').replace(
        '    image: shop-api\n',
        '    image: shop-api\n    command: ["serve", "--token", "${API_TOKEN}"]\n',
      ),
    );
    for (const args of [
      ['plan', '-e', 'staging'],
      ['deploy', '-e', 'staging', '--dry-run'],
      ['plan', '-e', 'staging', '--format', 'json'],
    ]) {
      const result = stagecraft(args, { cwd: folder });
      expect(result.stderr).toContain(
        'error: docker-compose.yml:8:35 services.api.command[2] interpolates the secret API_TOKEN: its value would be written in clear into the compose file on the hosts',
      );
      expect(result.stdout + result.stderr).not.toContain('Zq7vK2w');
      expect(result.code).toBe(1);
    }
  });

  it('38: config redacts a value declared in secrets.keys whatever its name', () => {
    const folder = caseFolder('38-secret-declared-key-in-config');
    const before = snapshot(folder);
    const result = stagecraft(['config', '-e', 'staging'], { cwd: folder });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('sk_live_51Habc123SECRET');
    expect(result.stdout).toContain('STRIPE: "[redacted]"');
    const json = stagecraft(['config', '-e', 'staging', '--json'], { cwd: folder });
    expect(json.stdout).not.toContain('sk_live_51Habc123SECRET');
    expect(snapshot(folder)).toEqual(before);
  });

  it('41: plan runs no secrets.keys[].command', () => {
    const folder = caseFolder('41-plan-runs-secret-command');
    const before = snapshot(folder);
    planJson(folder);
    expect(stagecraft(['plan', '-e', 'staging'], { cwd: folder }).code).toBe(0);
    expect(stagecraft(['deploy', '-e', 'staging', '--dry-run'], { cwd: folder }).code).toBe(0);
    expect(snapshot(folder)).toEqual(before);
  });

  it('41: secrets sync --dry-run runs no secrets.keys[].command either', () => {
    const folder = caseFolder('41-plan-runs-secret-command');
    // Hosts that refuse at once: the sync gets as far as reading them (exit 2), after the values.
    const config = readFileSync(join(folder, 'stagecraft.yml'), 'utf8').replace(
      /address: 10\.0\.0\.\d }/g,
      'address: 127.0.0.1, port: 1 }',
    );
    writeFileSync(join(folder, 'stagecraft.yml'), config);
    const before = snapshot(folder);
    const result = stagecraft(['secrets', 'sync', '-e', 'staging', '--dry-run'], { cwd: folder });
    expect(result.stderr).toContain('could not reach h1 (127.0.0.1:1)');
    expect(result.code).toBe(2);
    expect(snapshot(folder)).toEqual(before);
  });

  it('42: the published spec_hash says nothing about the secret values', () => {
    const folder = caseFolder('42-spec-hash-oracle');
    const before = snapshot(folder);
    const hashOf = (env: Record<string, string>) =>
      steps(planJson(folder, env).plan).find(
        (step) => step.action.spec_hash !== undefined && step.id.includes('db'),
      )?.action.spec_hash;
    const first = hashOf({});
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    // Another password gives the same published hash: it cannot be tested against a wordlist.
    expect(hashOf({ DB_PASSWORD: 'hunter2-guess' })).toBe(first);
    expect(snapshot(folder)).toEqual(before);
  });

  it('43: a compose secrets: file: source is uploaded 0600', () => {
    const folder = caseFolder('43-compose-file-secret-mode');
    const before = snapshot(folder);
    const result = planJson(folder);
    const upload = steps(result.plan).find((step) => step.id === 'file:h3:db_password.txt');
    expect(upload?.action.mode).toBe('0600');
    expect(result.stdout).not.toContain('SuperSecretFilePassword');
    expect(snapshot(folder)).toEqual(before);
  });
});
