import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectHostCompose, renderCompose, renderEnvFile } from '../../src/compose/project.js';
import {
  ambiguousComposeFiles,
  COMPOSE_CONFIG_TIMEOUT_MS,
  type ComposeExec,
  composeFileFor,
  readCompose,
  runComposeConfig,
} from '../../src/compose/read.js';
import type { ComposeProject, ComposeService } from '../../src/compose/types.js';
import { ExternalError, TimedOutError, UserError } from '../../src/util/errors.js';

const repo = resolve(import.meta.dirname, '../..');
const shopDir = join(repo, 'examples/shop');
const fixture = (name: string) =>
  JSON.parse(readFileSync(join(repo, 'test/fixtures/compose', name), 'utf8')) as ComposeProject;

const scratch = mkdtempSync(join(tmpdir(), 'stagecraft-compose-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A scripted exec that records what it was asked to run. */
function fakeExec(result: { exitCode: number; stdout?: string; stderr?: string } | Error) {
  const calls: { argv: readonly string[]; env?: Record<string, string>; allowFailure?: boolean }[] = [];
  const exec: ComposeExec = async (argv, options) => {
    calls.push({ argv, ...options });
    if (result instanceof Error) throw result;
    return { stdout: '', stderr: '', ...result };
  };
  return { exec, calls };
}

describe('readCompose (scripted docker)', () => {
  it('runs compose config with the variables in its environment and parses the model', async () => {
    const { exec, calls } = fakeExec({ exitCode: 0, stdout: JSON.stringify(fixture('shop.config.json')) });
    const project = await readCompose({
      file: 'docker-compose.yml',
      projectDir: '/path/to/shop',
      variables: { POSTGRES_PASSWORD: 'x' },
      exec,
      profiles: ['app'],
    });
    expect(Object.keys(project.services).sort()).toEqual(['api', 'db', 'web']);
    expect(calls).toEqual([
      {
        argv: [
          'docker',
          '-H',
          'unix:///dev/null/stagecraft-compose-config',
          'compose',
          '-f',
          '/path/to/shop/docker-compose.yml',
          '--project-directory',
          '/path/to/shop',
          '--profile',
          'app',
          'config',
          '--format',
          'json',
        ],
        env: { POSTGRES_PASSWORD: 'x' },
        allowFailure: true,
        timeoutMs: 10_000,
      },
    ]);
  });

  it('passes compose warnings on, in both log formats', async () => {
    const warnings: string[] = [];
    const { exec } = fakeExec({
      exitCode: 0,
      stdout: '{"name":"x","services":{}}',
      stderr:
        'time="2025-01-01T00:00:00Z" level=warning msg="The \\"NOPE\\" variable is not set. Defaulting to a blank string."\n' +
        'WARN[0000] the attribute `version` is obsolete\n',
    });
    await readCompose({
      file: '/a/c.yml',
      projectDir: '/a',
      variables: {},
      exec,
      onWarning: (w) => warnings.push(w),
    });
    expect(warnings).toEqual([
      'The "NOPE" variable is not set. Defaulting to a blank string.',
      'the attribute `version` is obsolete',
    ]);
  });

  it('compose plugin missing → ExternalError (both docker CLI wordings)', async () => {
    for (const stderr of [
      "docker: unknown command: docker compose\n\nRun 'docker --help' for more information\n",
      "docker: 'compose' is not a docker command.\nSee 'docker --help'\n",
    ]) {
      const { exec } = fakeExec({ exitCode: 1, stderr });
      const error = await readCompose({ file: 'c.yml', projectDir: '/a', variables: {}, exec }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(ExternalError);
      expect(error.message).toBe('docker compose (v2) is not installed');
      expect(error.hint).toMatch(/compose v2 plugin/i);
    }
  });

  it('compose timing out twice → TimedOutError whose hint names an env file over 1 MiB, else devices and pipes', async () => {
    const big = join(scratch, 'big.env');
    const small = join(scratch, 'small.env');
    writeFileSync(big, 'A=x\n'.repeat(300_000));
    writeFileSync(small, 'A=x\n');
    const { exec, calls } = fakeExec(new TimedOutError('timed out'));
    const read = (envFiles: string[]) =>
      readCompose({ file: 'c.yml', projectDir: '/a', variables: {}, envFiles, exec }).catch((e) => e);
    const slow = await read([small, big]);
    expect(slow).toBeInstanceOf(TimedOutError);
    expect(slow.message).toBe(
      `docker compose config did not finish reading c.yml in ${COMPOSE_CONFIG_TIMEOUT_MS / 1000} s, twice`,
    );
    expect(slow.hint).toBe(
      `the env file ${big} weighs 1.1 MB, and compose reads env files slowly: keep it to the variables the project uses (a few kilobytes)`,
    );
    expect(calls).toHaveLength(2);
    expect((await read([small])).hint).toMatch(/^a file it reads may be a device or a pipe/);
  });

  it('docker missing → ExternalError', async () => {
    const { exec } = fakeExec(Object.assign(new Error('spawn docker ENOENT'), { code: 'ENOENT' }));
    const error = await readCompose({ file: 'c.yml', projectDir: '/a', variables: {}, exec }).catch((e) => e);
    expect(error).toBeInstanceOf(ExternalError);
    expect(error.message).toBe('docker is not installed (or not on PATH)');
    const exit127 = fakeExec({ exitCode: 127, stderr: 'docker: not found' });
    await expect(
      readCompose({ file: 'c.yml', projectDir: '/a', variables: {}, exec: exit127.exec }),
    ).rejects.toThrow('docker is not installed');
  });

  it('invalid compose file → UserError with compose’s message and the file name', async () => {
    const { exec } = fakeExec({
      exitCode: 15,
      stderr: 'validating /a/docker-compose.yml: services.b.env_file must be a string\n',
    });
    const error = await readCompose({
      file: 'docker-compose.yml',
      projectDir: '/a',
      variables: {},
      exec,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(
      'docker-compose.yml is not a valid compose file: services.b.env_file must be a string',
    );
    expect(error.command).toBe(
      'docker -H unix:///dev/null/stagecraft-compose-config compose -f /a/docker-compose.yml --project-directory /a config --format json',
    );
  });

  it('missing file → UserError', async () => {
    const { exec } = fakeExec({ exitCode: 14, stderr: 'open /a/nope.yml: no such file or directory\n' });
    const error = await readCompose({ file: 'nope.yml', projectDir: '/a', variables: {}, exec }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe('compose file not found: nope.yml');
  });

  it('output that is not JSON → ExternalError', async () => {
    const { exec } = fakeExec({ exitCode: 0, stdout: 'services:\n  a: {}\n' });
    await expect(
      readCompose({ file: 'c.yml', projectDir: '/a', variables: {}, exec }),
    ).rejects.toBeInstanceOf(ExternalError);
  });
});

describe('composeFileFor', () => {
  const dir = (name: string, files: string[]) => {
    const path = join(scratch, name);
    mkdirSync(path, { recursive: true });
    for (const file of files) writeFileSync(join(path, file), 'services: {}\n');
    return path;
  };

  it('compose.file from stagecraft.yml', () => {
    const root = dir('configured', ['docker-compose.yml', 'deploy.yml']);
    expect(composeFileFor(root, { compose: { file: 'deploy.yml' } })).toBe(join(root, 'deploy.yml'));
  });

  it('a configured file that does not exist is a UserError', () => {
    const root = dir('configured-missing', ['docker-compose.yml']);
    expect(() => composeFileFor(root, { compose: { file: 'deploy.yml' } })).toThrow(
      'compose file not found: deploy.yml (compose.file in stagecraft.yml)',
    );
  });

  it('the first of the conventional names', () => {
    expect(composeFileFor(dir('both', ['compose.yaml', 'docker-compose.yaml']), {})).toBe(
      join(scratch, 'both', 'docker-compose.yaml'),
    );
    expect(composeFileFor(dir('modern', ['compose.yml', 'compose.yaml']), { compose: {} })).toBe(
      join(scratch, 'modern', 'compose.yaml'),
    );
    expect(composeFileFor(dir('last', ['compose.yml']), {})).toBe(join(scratch, 'last', 'compose.yml'));
  });

  it('warns when two conventional names are there, naming the one docker compose would take', () => {
    const both = dir('ambiguous', ['compose.yaml', 'docker-compose.yml']);
    expect(ambiguousComposeFiles(both, {})).toBe(
      'docker-compose.yml and compose.yaml are both here: Stagecraft uses docker-compose.yml, but `docker compose` without -f uses compose.yaml; set compose.file in stagecraft.yml (or remove the other file) so both run the same one',
    );
    expect(ambiguousComposeFiles(both, { compose: { file: 'compose.yaml' } })).toBeUndefined();
    expect(ambiguousComposeFiles(dir('single', ['compose.yml']), {})).toBeUndefined();
  });

  it('none → UserError', () => {
    const root = dir('none', []);
    expect(() => composeFileFor(root, {})).toThrow(UserError);
    expect(() => composeFileFor(root, {})).toThrow(`no compose file in ${root}`);
  });
});

describe('runComposeConfig', () => {
  const argv = ['docker', 'compose', 'config'];
  const scripted = (outcomes: (Error | { exitCode: number; stdout: string; stderr: string })[]) => {
    const timeouts: (number | undefined)[] = [];
    const exec: ComposeExec = async (_argv, options) => {
      timeouts.push(options.timeoutMs);
      const next = outcomes.shift();
      if (next === undefined || next instanceof Error) throw next ?? new Error('no more outcomes');
      return next;
    };
    return { exec, timeouts };
  };

  it('runs a read that timed out once more, each with the 10 s limit', async () => {
    const { exec, timeouts } = scripted([
      new TimedOutError('docker compose config timed out after 20s'),
      { exitCode: 0, stdout: '{}', stderr: '' },
    ]);
    expect(await runComposeConfig(exec, argv, {})).toEqual({ exitCode: 0, stdout: '{}', stderr: '' });
    expect(COMPOSE_CONFIG_TIMEOUT_MS).toBe(10_000);
    expect(timeouts).toEqual([10_000, 10_000]);
  });

  it('gives up after the second timeout with exit 2', async () => {
    const second = new TimedOutError('docker compose config timed out after 20s');
    const { exec, timeouts } = scripted([new TimedOutError('first'), second]);
    const error = await runComposeConfig(exec, argv, {}).catch((e: unknown) => e);
    expect(error).toBe(second);
    expect((error as TimedOutError).exitCode).toBe(2);
    expect(timeouts).toHaveLength(2);
  });

  it('does not retry any other failure', async () => {
    const missing = new ExternalError('docker was not found on PATH');
    const { exec, timeouts } = scripted([missing, { exitCode: 0, stdout: '{}', stderr: '' }]);
    expect(await runComposeConfig(exec, argv, {}).catch((e: unknown) => e)).toBe(missing);
    expect(timeouts).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the real `docker compose` (v2). In CI it is installed, so its absence is a failure there.

const composeAvailable = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
const inCi = process.env['CI'] === 'true';

const realExec: ComposeExec = (argv, options) =>
  new Promise((done) => {
    execFile(
      argv[0] as string,
      argv.slice(1),
      { env: { ...process.env, ...options.env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        done({ exitCode: code, stdout, stderr });
      },
    );
  });

/** The variables the shop fixture was generated with. */
const SHOP_VARIABLES = {
  NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20',
  POSTGRES_IMAGE: '127.0.0.1:5000/stagecraft-test/postgres:16-alpine',
  POSTGRES_PASSWORD: 'pg-S3cret$value',
};

if (!composeAvailable && inCi) {
  describe('docker compose v2 (real)', () => {
    it('is installed', () => {
      expect.fail('`docker compose version` failed: CI must install the compose v2 plugin');
    });
  });
}

describe.skipIf(!composeAvailable)('docker compose v2 (real)', { timeout: 60_000 }, () => {
  it('reads examples/shop exactly as the fixture says', async () => {
    const project = await readCompose({
      file: 'docker-compose.yml',
      projectDir: shopDir,
      variables: SHOP_VARIABLES,
      exec: realExec,
    });
    const expected = JSON.parse(
      JSON.stringify(fixture('shop.config.json')).replaceAll('/path/to/shop', shopDir),
    ) as ComposeProject;
    // If this fails after a change to examples/shop, run test/fixtures/compose/regenerate.sh.
    expect(project.services, 'shop.config.json is stale: run test/fixtures/compose/regenerate.sh').toEqual(
      expected.services,
    );
    expect(project.name).toBe('shop');
    // What the projection relies on: absolute build contexts, `$` printed as `$$`.
    expect((project.services['api'] as ComposeService).build?.context).toBe(join(shopDir, 'api'));
    expect((project.services['db'] as ComposeService).environment?.['POSTGRES_PASSWORD']).toBe(
      'pg-S3cret$$value',
    );
  });

  it('reads the model without contacting any Docker daemon, whatever DOCKER_HOST says', async () => {
    const socket = join(scratch, 'daemon.sock');
    const requests: string[] = [];
    const daemon = createServer((connection) => {
      connection.on('data', (chunk) => requests.push(chunk.toString().split('\r\n')[0] ?? ''));
    });
    await new Promise<void>((done) => daemon.listen(socket, done));
    try {
      const project = await readCompose({
        file: 'docker-compose.yml',
        projectDir: shopDir,
        variables: { ...SHOP_VARIABLES, DOCKER_HOST: `unix://${socket}` },
        exec: realExec,
      });
      expect(Object.keys(project.services).sort()).toEqual(['api', 'db', 'web']);
      // Without `docker -H`, the CLI and compose each send `HEAD /_ping` here and wait for it.
      expect(requests).toEqual([]);
    } finally {
      daemon.close();
    }
  });

  it('reports an invalid file with compose’s own message', async () => {
    const dir = join(scratch, 'invalid');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  a:\n    image: x\n    depends_on: [zz]\n');
    const error = await readCompose({
      file: 'docker-compose.yml',
      projectDir: dir,
      variables: {},
      exec: realExec,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/^docker-compose\.yml is not a valid compose file: .*"zz"/);
  });

  it('places compose’s error at the line and column of the key it names, in each of compose’s forms', async () => {
    const cases: [string, string, string][] = [
      [
        'services:\n  api:\n    image: busybox\n    ports: 8080\n',
        '4:5',
        'services.api.ports must be a list',
      ],
      [
        'services:\n  api:\n    image: busybox\n    foo: 1\n',
        '4:5',
        'Additional property foo is not allowed',
      ],
      [
        'services:\n  my.api:\n    image: busybox\n    healthcheck:\n      interval: often\n',
        '5:7',
        "error decoding 'services[my.api].healthcheck.interval'",
      ],
      [
        'services:\n  api:\n    image: busybox\n    ports:\n      - 80\n      - {target: x}\n',
        '4:5',
        'services.api.ports.[].target',
      ],
      [
        'services:\n  api:\n    image: busybox\n    depends_on: [db]\n',
        '4:5',
        'depends on undefined service "db"',
      ],
      [
        'networks:\n  front:\n    driver: 1\nservices:\n  api:\n    image: busybox\n',
        '3:5',
        'networks.front.driver must be a string',
      ],
      [
        'services:\n  api:\n    image: busybox\n    deploy:\n      replicas: many\n',
        '5:7',
        'services.api.deploy.replicas',
      ],
    ];
    for (const [index, [text, at, message]] of cases.entries()) {
      const dir = join(scratch, `located-${index}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'docker-compose.yml'), text);
      const error = await readCompose({
        file: 'docker-compose.yml',
        projectDir: dir,
        variables: {},
        exec: realExec,
      }).catch((e) => e);
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(
        new RegExp(`^docker-compose\\.yml is not a valid compose file: docker-compose\\.yml:${at} `),
      );
      expect(error.message).toContain(message);
      expect(error.details ?? []).not.toContainEqual(expect.stringMatching(/^decoding failed/));
    }
  });

  it('reports a missing required variable as a UserError', async () => {
    const dir = join(scratch, 'required');
    mkdirSync(dir, { recursive: true });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is what is under test
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  a:\n    image: "x:${TAG:?TAG is required}"\n');
    await expect(
      readCompose({ file: 'compose.yaml', projectDir: dir, variables: {}, exec: realExec }),
    ).rejects.toThrow(/compose\.yaml is not a valid compose file: .*TAG is required/);
  });

  it('reports a missing file as a UserError', async () => {
    await expect(
      readCompose({ file: 'missing.yml', projectDir: scratch, variables: {}, exec: realExec }),
    ).rejects.toThrow('compose file not found: missing.yml');
  });

  it('reads back the rendered per-host files and their env files exactly', async () => {
    const compose = await readCompose({
      file: 'docker-compose.yml',
      projectDir: shopDir,
      variables: SHOP_VARIABLES,
      exec: realExec,
    });
    for (const [host, services, remote] of [
      ['h1', ['api', 'web'], { db: '10.231.0.13' }],
      ['h3', ['db'], { api: '10.231.0.11', web: '10.231.0.11' }],
    ] as const) {
      const projected = projectHostCompose({
        compose,
        composeProjectName: 'shop-production',
        services: [...services],
        images: { api: '127.0.0.1:5000/shop/shop-api:v1', web: '127.0.0.1:5000/shop/shop-web:v1' },
        secretValues: [SHOP_VARIABLES.POSTGRES_PASSWORD],
        secretNames: ['POSTGRES_PASSWORD'],
        remoteServices: remote,
        releaseLabels: { 'stagecraft.version': 'v1' },
        stagecraftServices: { web: { replicas: 2 } },
        projectDir: shopDir,
      });
      const dir = join(scratch, host);
      mkdirSync(join(dir, 'secrets'), { recursive: true });
      const rendered = renderCompose(projected.document);
      writeFileSync(join(dir, 'compose.yml'), rendered.text);
      for (const [service, pairs] of Object.entries(projected.secretEnv)) {
        writeFileSync(join(dir, 'secrets', `${service}.env`), renderEnvFile(pairs), { mode: 0o600 });
      }
      const reread = await readCompose({
        file: 'compose.yml',
        projectDir: dir,
        variables: {},
        exec: realExec,
      });
      expect(reread.name).toBe('shop-production');

      // Compose merges env_file into environment and prints extra_hosts as host=ip; otherwise equal.
      const expected = structuredClone(projected.document.services);
      for (const [name, spec] of Object.entries(expected)) {
        const secrets = projected.secretEnv[name] ?? {};
        if (spec.env_file !== undefined || spec.environment !== undefined) {
          const escaped = Object.fromEntries(
            Object.entries(secrets).map(([k, v]) => [k, v.replaceAll('$', '$$$$')]),
          );
          spec.environment = { ...spec.environment, ...escaped };
        }
        delete spec.env_file;
        // Compose fills in the empty deploy sections.
        if (spec.deploy !== undefined) spec.deploy = { resources: {}, placement: {}, ...spec.deploy };
        if (Array.isArray(spec.extra_hosts)) {
          spec.extra_hosts = spec.extra_hosts.map((entry) => String(entry).replace(':', '='));
        }
      }
      expect(reread.services).toEqual(expected);
      expect(rendered.text).not.toContain('S3cret');
    }
    const h3 = await readCompose({
      file: 'compose.yml',
      projectDir: join(scratch, 'h3'),
      variables: {},
      exec: realExec,
    });
    expect(h3.volumes).toEqual({ 'db-data': { name: 'shop-production_db-data' } });
    expect(h3.networks).toEqual({ default: { name: 'shop-production_default', ipam: {} } });
  });

  it('compose’s env_file parser returns every rendered value exactly', async () => {
    const values: Record<string, string> = {
      PLAIN: 'plain',
      QUOTES: 'has "double" and \'single\'',
      BACKSLASH: 'back\\slash\\n\\',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is what is under test
      DOLLARS: '$HOME ${X} $$ $ \\$X ${X:-default}',
      NEWLINES: 'multi\nline\r\nend',
      SPACES: '  spaced  ',
      HASH: '#hash # x',
      TAB: 'tab\there',
      UNICODE: 'é☃',
      EMPTY: '',
      EQUALS: 'a=b=c',
      BACKTICK: '`cmd`',
      APOSTROPHE: "'",
      CONTROL: '\u0001x',
      'dotted.key': 'v',
      'dashed-key': 'w',
    };
    const dir = join(scratch, 'envfile');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'secrets.env'), renderEnvFile(values));
    writeFileSync(
      join(dir, 'compose.yml'),
      'services:\n  a:\n    image: busybox\n    env_file: [secrets.env]\n',
    );
    const project = await readCompose({
      file: 'compose.yml',
      projectDir: dir,
      variables: { X: 'expanded', HOME: '/home/x' },
      exec: realExec,
    });
    const environment = (project.services['a'] as ComposeService).environment ?? {};
    const literal = Object.fromEntries(
      Object.entries(environment).map(([key, value]) => [key, value?.replaceAll('$$', '$')]),
    );
    expect(literal).toEqual(values);
  });
});
