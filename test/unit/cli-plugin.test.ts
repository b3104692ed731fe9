import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeConfigArgs } from '../../src/docker/compose.js';
import { cliPluginDirs, findCliPlugin, viaCliPlugin } from '../../src/runners/cli-plugin.js';
import { runLocal } from '../../src/runners/local.js';

const repo = resolve(import.meta.dirname, '../..');
const LINUX_SYSTEM = [
  '/usr/local/lib/docker/cli-plugins',
  '/usr/local/libexec/docker/cli-plugins',
  '/usr/lib/docker/cli-plugins',
  '/usr/libexec/docker/cli-plugins',
];

describe('cliPluginDirs (docker/cli getPluginDirs)', () => {
  it('searches cliPluginsExtraDirs, then the config folder, then the system folders', () => {
    const read: string[] = [];
    const dirs = cliPluginDirs({
      env: {},
      platform: 'linux',
      home: '/home/ann',
      readConfig: (path) => {
        read.push(path);
        return '{"auths":{},"cliPluginsExtraDirs":["/opt/homebrew/lib/docker/cli-plugins",7]}';
      },
    });
    expect(read).toEqual(['/home/ann/.docker/config.json']);
    expect(dirs).toEqual([
      '/opt/homebrew/lib/docker/cli-plugins',
      '/home/ann/.docker/cli-plugins',
      ...LINUX_SYSTEM,
    ]);
  });

  it('takes the config folder from DOCKER_CONFIG, and reads no config that is absent or empty', () => {
    expect(
      cliPluginDirs({
        env: { DOCKER_CONFIG: '/etc/dc' },
        platform: 'linux',
        home: '/h',
        readConfig: () => undefined,
      }),
    ).toEqual(['/etc/dc/cli-plugins', ...LINUX_SYSTEM]);
    expect(cliPluginDirs({ env: {}, platform: 'darwin', home: '/Users/b', readConfig: () => '  ' })).toEqual([
      '/Users/b/.docker/cli-plugins',
      ...LINUX_SYSTEM,
    ]);
  });

  it('uses ProgramData and ProgramFiles on Windows', () => {
    const dirs = cliPluginDirs({
      env: { ProgramData: 'D:/data', ProgramFiles: 'D:/programs' },
      platform: 'win32',
      home: '/u',
      readConfig: () => undefined,
    });
    expect(dirs).toEqual([
      '/u/.docker/cli-plugins',
      'D:/data/Docker/cli-plugins',
      'D:/programs/Docker/cli-plugins',
    ]);
  });
});

describe('findCliPlugin', () => {
  const base = { env: {}, home: '/home/ann', readConfig: () => undefined };

  it('returns the first docker-<name> in search order', () => {
    const files = new Set([
      '/usr/lib/docker/cli-plugins/docker-compose',
      '/home/ann/.docker/cli-plugins/docker-compose',
    ]);
    expect(findCliPlugin('compose', { ...base, platform: 'linux', isFile: (path) => files.has(path) })).toBe(
      '/home/ann/.docker/cli-plugins/docker-compose',
    );
    expect(
      findCliPlugin('buildx', { ...base, platform: 'linux', isFile: (path) => files.has(path) }),
    ).toBeUndefined();
  });

  it('adds .exe on Windows', () => {
    const seen: string[] = [];
    findCliPlugin('compose', {
      ...base,
      platform: 'win32',
      isFile: (path) => {
        seen.push(path);
        return false;
      },
    });
    expect(seen[0]).toBe('/home/ann/.docker/cli-plugins/docker-compose.exe');
  });

  it('leaves the lookup to docker when its config file does not parse', () => {
    expect(
      findCliPlugin('compose', {
        ...base,
        platform: 'linux',
        readConfig: () => '{not json',
        isFile: () => true,
      }),
    ).toBeUndefined();
  });
});

describe('viaCliPlugin', () => {
  const argv = ['docker', '-H', 'unix:///nowhere', 'compose', '-f', 'a.yml', 'config'];

  it('runs the plugin binary with docker’s arguments and the plugin protocol’s variable', () => {
    expect(viaCliPlugin(argv, 'compose', { A: '1' }, () => '/p/docker-compose')).toEqual({
      argv: ['/p/docker-compose', '-H', 'unix:///nowhere', 'compose', '-f', 'a.yml', 'config'],
      env: { A: '1', DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND: 'docker' },
    });
  });

  it('changes nothing when the plugin is not found or the command is not docker <plugin>', () => {
    expect(viaCliPlugin(argv, 'compose', { A: '1' }, () => undefined)).toEqual({ argv, env: { A: '1' } });
    expect(viaCliPlugin(['git', 'compose'], 'compose', {}, () => '/p/docker-compose')).toEqual({
      argv: ['git', 'compose'],
      env: {},
    });
    // `compose` as an argument of another command (here a container name), or as a flag's value.
    for (const other of [
      ['docker', 'run', 'compose'],
      ['docker', '--context', 'compose', 'ps'],
    ])
      expect(viaCliPlugin(other, 'compose', {}, () => '/p/docker-compose').argv).toEqual(other);
  });
});

describe('compose config through the plugin binary (real compose on this machine)', () => {
  const plugin = findCliPlugin('compose');
  const projects = [
    join(repo, 'examples/shop'),
    ...readdirSync(join(repo, 'test/fixtures/compose-fidelity')).map((name) =>
      join(repo, 'test/fixtures/compose-fidelity', name),
    ),
  ];

  it('finds docker-compose where docker finds it', () => {
    expect(plugin).toMatch(/\/docker-compose$/);
  });

  it.each(projects)('prints byte for byte what `docker compose config` prints: %s', async (dir) => {
    const argv = composeConfigArgs({ file: join(dir, 'docker-compose.yml'), projectDir: dir, envFiles: [] });
    const env = { POSTGRES_PASSWORD: 'pw', NODE_IMAGE: 'node:20', POSTGRES_IMAGE: 'postgres:16' };
    const viaDocker = await runLocal(argv, { cwd: dir, env, allowFailure: true });
    const direct = viaCliPlugin(argv, 'compose', env);
    expect(direct.argv[0]).toBe(plugin);
    const viaPlugin = await runLocal(direct.argv, { cwd: dir, env: direct.env, allowFailure: true });
    expect(viaPlugin.exitCode).toBe(viaDocker.exitCode);
    expect(viaPlugin.stdout).toBe(viaDocker.stdout);
    // Compose warns about unset variables in map order, which differs from run to run: the same
    // lines, in any order.
    const untimed = (text: string) =>
      text
        .replace(/time="[^"]*"/g, 'time=""')
        .split('\n')
        .sort();
    expect(untimed(viaPlugin.stderr)).toEqual(untimed(viaDocker.stderr));
    expect(viaDocker.stdout.length + viaDocker.stderr.length).toBeGreaterThan(20);
  });
});
