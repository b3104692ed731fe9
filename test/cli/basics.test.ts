import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';

describe('stagecraft basics', () => {
  it('prints help listing the commands, exit 0', () => {
    const result = stagecraft(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: stagecraft [options] [command]');
    for (const command of ['init', 'config', 'schema', 'version', 'completion'])
      expect(result.stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
  });

  it('a reader that stops early (`| head -c 5`) is no error: exit 0, no stack trace', () => {
    const piped = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${CLI}" deploy --help | head -c 5; echo " \${PIPESTATUS[0]}"`],
      { encoding: 'utf8' },
    );
    expect(piped.stdout).toBe('Usage 0\n');
    expect(piped.stderr).toBe('');
  });

  it('has --help on every command', () => {
    const result = stagecraft(['init', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--non-interactive');
    expect(result.stdout).toContain('--force');
  });

  it('`help <command>` prints that command’s help, exit 0, and no hint', () => {
    const result = stagecraft(['help', 'plan']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: stagecraft plan [options]');
    expect(result.stderr).toBe('');
  });

  it('prints the version', () => {
    // The npm build (bin/ + dist/), the commit it was built from, and the Node it runs on.
    expect(stagecraft(['version']).stdout).toMatch(
      new RegExp(
        `^Stagecraft version 0\\.1\\.0 \\(npm build, commit [0-9a-f]{12}(-dirty)?, Node ${process.version.replaceAll('.', '\\.')} linux-x64\\)\\n$`,
      ),
    );
    expect(JSON.parse(stagecraft(['version', '--json']).stdout)).toEqual({
      version: '0.1.0',
      build: 'npm',
      commit: expect.stringMatching(/^[0-9a-f]{12}(-dirty)?$/),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    });
  });

  it('rejects an unknown command with exit 1 and a hint', () => {
    const result = stagecraft(['deploi']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("unknown command 'deploi'");
    expect(result.stderr).toContain('run `stagecraft --help`');
  });

  it('a word that names no subcommand of lock, releases, mesh or infra is an unknown command, not an argument of the default', () => {
    const lock = stagecraft(['lock', 'bogus']);
    expect(lock.code).toBe(1);
    expect(lock.stderr).toBe(
      "error: unknown command 'bogus' for 'stagecraft lock' (its commands: status, acquire, release)\nhint: run `stagecraft lock --help` for its usage\n",
    );
    const releases = stagecraft(['releases', 'lsit']);
    expect(releases.code).toBe(1);
    expect(releases.stderr).toBe(
      "error: unknown command 'lsit' for 'stagecraft releases' (its commands: list, show, diff)\nhint: run `stagecraft releases --help` for its usage\n",
    );
    // The default still runs when nothing, or its own name, is typed: here it stops at the config.
    for (const args of [['lock'], ['lock', 'status'], ['infra']]) {
      const result = stagecraft(args, { cwd: projectWith({}) });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: stagecraft config not found/);
    }
  });

  it("a subcommand's usage error hints that subcommand's --help, not the top-level one", () => {
    const unknown = stagecraft(['ci', 'init', '--bogus']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      "error: unknown option '--bogus'\nhint: run `stagecraft ci init --help` for its usage\n",
    );
    const missing = stagecraft(['plan', '--format']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      "error: option '--format <format>' argument missing\nhint: run `stagecraft plan --help` for its usage\n",
    );
    const argument = stagecraft(['new', '--template', 'node-api']);
    expect(argument.code).toBe(1);
    expect(argument.stderr).toBe(
      "error: missing required argument 'dir'\nhint: run `stagecraft new --help` for its usage\n",
    );
    const top = stagecraft(['--bogus']);
    expect(top.code).toBe(1);
    expect(top.stderr).toBe(
      "error: unknown option '--bogus'\nhint: run `stagecraft --help` for the list of commands and flags\n",
    );
  });

  it('reports a missing config with exit 1 and what to do', () => {
    const result = stagecraft(['config'], { cwd: projectWith({}) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: stagecraft config not found: no stagecraft.yml in \S+ or its parents\nhint: run `stagecraft init`/,
    );
    expect(result.stdout).toBe('');
  });

  it('prints every config problem with positions and no stack trace', () => {
    const root = projectWith({
      'stagecraft.yml': 'project:\n  name: Shop\nenvironments:\n  dev:\n    driver: lokal\n',
    });
    const result = stagecraft(['config'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        'error: stagecraft.yml has 2 problems',
        '  stagecraft.yml:2:9 project.name: expected lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters, found "Shop"',
        '  stagecraft.yml:5:13 environments.dev.driver: expected one of "local", "ssh", "swarm", found "lokal" (did you mean "local"?)',
        'hint: fix the keys above; `stagecraft schema` prints every key with its type',
        '',
      ].join('\n'),
    );
  });

  it('with --json (or plan --format json) also puts the error on stdout as one JSON line', () => {
    const root = projectWith({
      'stagecraft.yml': 'project:\n  name: Shop\nenvironments:\n  production:\n    driver: local\n',
    });
    const expected = {
      event: 'error',
      message: 'stagecraft.yml has 1 problem',
      details: [
        'stagecraft.yml:2:9 project.name: expected lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters, found "Shop"',
      ],
      hint: 'fix the keys above; `stagecraft schema` prints every key with its type',
      exit_code: 1,
    };
    for (const args of [
      ['config', '--json'],
      ['plan', '-e', 'production', '--format', 'json'],
    ]) {
      const result = stagecraft(args, { cwd: root });
      expect(result.code).toBe(1);
      expect(result.stdout.endsWith('\n')).toBe(true);
      expect(JSON.parse(result.stdout)).toEqual(expected);
      expect(result.stderr).toContain('error: stagecraft.yml has 1 problem\n');
    }
    const plain = stagecraft(['config'], { cwd: root });
    expect(plain.stdout).toBe('');
  });

  it('finds stagecraft.yml from a sub-folder and honours STAGECRAFT_CONFIG', () => {
    const root = projectWith({
      'stagecraft.yml': 'project:\n  name: shop\nenvironments:\n  dev:\n    driver: local\n',
    });
    mkdirSync(`${root}/a/b`, { recursive: true });
    expect(stagecraft(['config', '--json'], { cwd: `${root}/a/b` }).code).toBe(0);
    const other = projectWith({});
    const viaEnv = stagecraft(['config', '--json'], {
      cwd: other,
      env: { STAGECRAFT_CONFIG: `${root}/stagecraft.yml` },
    });
    expect(JSON.parse(viaEnv.stdout).config.project.name).toBe('shop');
  });

  it('prints the resolved config with secrets redacted', () => {
    const root = projectWith({
      'stagecraft.yml':
        'project:\n  name: shop\nservices:\n  api:\n    environment:\n      DB: postgres://u:${DB_PASSWORD}@db/shop\nenvironments:\n  dev:\n    driver: local\n    env_file: .env\n',
      '.env': 'DB_PASSWORD=s3cret-value\n',
    });
    const text = stagecraft(['config'], { cwd: root });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('DB: "[redacted]"');
    expect(text.stdout).not.toContain('s3cret-value');
    const json = JSON.parse(stagecraft(['config', '--json'], { cwd: root }).stdout);
    expect(json.environment).toBe('dev');
    expect(json.config.services.api.environment.DB).toBe('[redacted]');
  });

  it('selects the environment from --env, then STAGECRAFT_ENV', () => {
    const root = projectWith({
      'stagecraft.yml':
        'project:\n  name: shop\nenvironments:\n  dev:\n    driver: local\n  prod:\n    driver: local\n',
    });
    expect(JSON.parse(stagecraft(['config', '--json', '-e', 'prod'], { cwd: root }).stdout).environment).toBe(
      'prod',
    );
    expect(
      JSON.parse(stagecraft(['config', '--json'], { cwd: root, env: { STAGECRAFT_ENV: 'prod' } }).stdout)
        .environment,
    ).toBe('prod');
    const flagWins = stagecraft(['config', '--json', '--env', 'dev'], {
      cwd: root,
      env: { STAGECRAFT_ENV: 'prod' },
    });
    expect(JSON.parse(flagWins.stdout).environment).toBe('dev');
    const unknown = stagecraft(['config', '-e', 'staging'], { cwd: root });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown environment "staging"; available environments: dev, prod');
  });

  it('init refuses a compose service that stagecraft.yml cannot name, and writes nothing', () => {
    for (const name of ['_worker', 'constructor']) {
      const root = projectWith({ 'docker-compose.yml': `services:\n  ${name}:\n    image: busybox\n` });
      const result = stagecraft(['init', '--non-interactive'], { cwd: root });
      expect(result.stderr).toContain(`error: compose service "${name}" cannot be named in stagecraft.yml`);
      expect(result.code).toBe(1);
      expect(readdirSync(root)).toEqual(['docker-compose.yml']);
    }
  });

  it('schema -o refuses a folder, a device or a FIFO in its place and leaves it as it was', () => {
    const root = projectWith({ 'keep.json': '{}\n' });
    mkdirSync(join(root, 'out'));
    execFileSync('mkfifo', [join(root, 'pipe')]);
    symlinkSync('/dev/null', join(root, 'null'));
    for (const [name, why] of [
      ['out', 'is a directory, not a file'],
      ['pipe', 'is not a regular file (a device, socket or pipe)'],
      ['null', 'is not a regular file (a device, socket or pipe)'],
    ] as const) {
      const result = stagecraft(['schema', '-o', name], { cwd: root });
      expect(result.stderr).toContain(`error: ${join(root, name)} ${why}: nothing was written`);
      expect(result.code).toBe(1);
    }
    expect(lstatSync(join(root, 'out')).isDirectory()).toBe(true);
    expect(lstatSync(join(root, 'pipe')).isFIFO()).toBe(true);
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(readdirSync(root).sort()).toEqual(['keep.json', 'null', 'out', 'pipe']);
    const written = stagecraft(['schema', '-o', 'keep.json'], { cwd: root });
    expect(written.code).toBe(0);
    expect(JSON.parse(readFileSync(join(root, 'keep.json'), 'utf8')).$schema).toBe(
      'http://json-schema.org/draft-07/schema#',
    );
  });

  it('prints a draft-07 JSON Schema that knows every top-level key and provider', () => {
    const result = stagecraft(['schema']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout);
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.required).toEqual(['project', 'environments']);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        'project',
        'compose',
        'backend',
        'frontend',
        'dev',
        'services',
        'databases',
        'network',
        'cloud',
        'ci',
        'secrets',
        'ingress',
        'environments',
      ]),
    );
    expect(Object.keys(schema.properties.backend.properties.providers.properties).sort()).toEqual([
      'encore-ts',
      'generic',
    ]);
    expect(schema.properties.project.additionalProperties).toBe(false);
  });

  it('prints completion scripts for bash, zsh and fish', () => {
    const bash = stagecraft(['completion', 'bash']);
    expect(bash.code).toBe(0);
    expect(bash.stdout).toContain('complete -F _stagecraft stagecraft');
    expect(bash.stdout).toContain('init) opts="--non-interactive --project-name --force"');
    expect(stagecraft(['completion', 'fish']).stdout).toContain(
      'complete -c stagecraft -n __fish_use_subcommand -a init',
    );
    expect(stagecraft(['completion', 'zsh']).stdout).toContain('#compdef stagecraft');
    expect(stagecraft(['completion', 'tcsh']).code).toBe(1);
  });

  it('honours NO_COLOR and never colours a pipe', () => {
    const result = stagecraft(['config'], { cwd: projectWith({}), env: { FORCE_COLOR: '0' } });
    expect(result.stderr).not.toMatch(/\u001b\[/);
  });
});
