// The ssh runner's argv, error classification and the factory, without a network. (Real ssh: test/e2e/ssh-runner.test.ts.)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRunner,
  resolveHostAddress,
  resolveSshHostname,
  sshRunnerOptions,
} from '../../src/runners/factory.js';
import { LocalRunner } from '../../src/runners/local.js';
import { buildSshArgv, classifySshFailure, SshRunner } from '../../src/runners/ssh.js';
import { UserError } from '../../src/util/errors.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stagecraft-ssh-unit-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('buildSshArgv', () => {
  it('builds the minimal argv: multiplexing, strict host keys, batch mode, one quoted command', () => {
    expect(
      buildSshArgv({ name: 'h1', host: '10.0.0.1' }, '/tmp/sc-abc', [
        'docker',
        'ps',
        '--format',
        '{{.ID}} x',
      ]),
    ).toEqual([
      'ssh',
      '-o',
      'ControlMaster=auto',
      '-o',
      'ControlPath=/tmp/sc-abc/%C',
      '-o',
      'ControlPersist=60',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'ConnectTimeout=10',
      '10.0.0.1',
      '--',
      `docker ps --format '{{.ID}} x'`,
    ]);
  });

  it('adds every option in order', () => {
    const argv = buildSshArgv(
      {
        name: 'h1',
        host: 'web-1',
        user: 'deploy',
        port: 2222,
        identityFile: '/keys/id 25519',
        knownHostsFile: '/my dir/known_hosts',
        configFile: '/etc/stagecraft/ssh_config',
        proxyJump: 'bastion@jump:22',
        connectTimeoutSeconds: 3,
        controlPersistSeconds: 30,
      },
      '/tmp/sc-100%',
      ['true'],
    );
    expect(argv.join(' ')).toBe(
      'ssh -F /etc/stagecraft/ssh_config -o ControlMaster=auto -o ControlPath=/tmp/sc-100%%/%C -o ControlPersist=30 ' +
        '-o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="/my dir/known_hosts" ' +
        '-i /keys/id 25519 -o IdentitiesOnly=yes -p 2222 ' +
        "-o ProxyCommand=ssh -F /etc/stagecraft/ssh_config -o 'BatchMode=yes' -o 'StrictHostKeyChecking=yes' " +
        `-o 'UserKnownHostsFile="/my dir/known_hosts"' -i '/keys/id 25519' -o 'IdentitiesOnly=yes' ` +
        "-p 22 -l bastion -o 'ConnectTimeout=3' -W '[%h]:%p' -- jump -l deploy " +
        '-o ServerAliveInterval=15 -o ConnectTimeout=3 web-1 -- true',
    );
    expect(argv).toContain('/keys/id 25519');
    expect(argv.join(' ')).not.toMatch(/StrictHostKeyChecking=(no|accept-new)/);
  });

  it('reaches every jump with the same known_hosts, identity, strict checking and BatchMode (nested, % escaped per level)', () => {
    const argv = buildSshArgv(
      {
        name: 'h1',
        host: 'web-1',
        identityFile: '/keys/id%1',
        knownHostsFile: '/kh',
        proxyJump: 'a@j1,[::1]:2200',
      },
      '/tmp/sc',
      ['true'],
    );
    const proxy = argv.find((arg) => arg.startsWith('ProxyCommand='));
    expect(proxy).toBe(
      "ProxyCommand=ssh -o 'BatchMode=yes' -o 'StrictHostKeyChecking=yes' -o 'UserKnownHostsFile=/kh' " +
        "-i /keys/id%%%%1 -o 'IdentitiesOnly=yes' -p 2200 -o 'ConnectTimeout=10' " +
        "-o 'ProxyCommand=ssh -o '\\''BatchMode=yes'\\'' -o '\\''StrictHostKeyChecking=yes'\\'' " +
        "-o '\\''UserKnownHostsFile=/kh'\\'' -i /keys/id%%%%%%%%1 -o '\\''IdentitiesOnly=yes'\\'' -l a " +
        "-o '\\''ConnectTimeout=10'\\'' -W '\\''[%%h]:%%p'\\'' -- j1' -W '[%h]:%p' -- ::1",
    );
    expect(argv).not.toContain('-J');
    expect(() =>
      buildSshArgv({ name: 'h1', host: 'web-1', proxyJump: '-oX=y' }, '/tmp/sc', ['true']),
    ).toThrow('invalid proxy_jump host "-oX=y"');
  });

  it('rejects hosts that would be read as options, and control folders too long for a socket', () => {
    expect(() => new SshRunner({ name: 'h1', host: '-oProxyCommand=x' })).toThrow(UserError);
    expect(() => new SshRunner({ name: 'h1', host: 'a b' })).toThrow(UserError);
    expect(() => new SshRunner({ name: 'h1', host: 'h1', controlDir: `/tmp/${'x'.repeat(60)}` })).toThrow(
      /too long for a Unix socket/,
    );
  });
});

describe('classifySshFailure', () => {
  it.each([
    ['Host key verification failed.', 'host-key'],
    [
      'No ED25519 host key is known for [10.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.',
      'host-key',
    ],
    ['@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@', 'host-key'],
    ['root@10.0.0.1: Permission denied (publickey).', 'auth'],
    ['Received disconnect from 10.0.0.1 port 22:2: Too many authentication failures', 'auth'],
    ['ssh: Could not resolve hostname nope: Name or service not known', 'resolve'],
    ['ssh: connect to host 10.231.0.99 port 22: Connection timed out', 'unreachable'],
    ['ssh: connect to host 127.0.0.1 port 1: Connection refused', 'unreachable'],
    ['ssh: connect to host 10.9.9.9 port 22: No route to host', 'unreachable'],
    ['kex_exchange_identification: read: Connection reset by peer', 'unreachable'],
    ['Connection to 10.0.0.1 closed by remote host.', 'disconnected'],
    ['unix_listener: path "/very/long/path" too long for Unix domain socket', 'control-path'],
  ])('%j → %s', (stderr, kind) => {
    expect(classifySshFailure(stderr)?.kind).toBe(kind);
  });

  it('leaves the output of a remote command alone', () => {
    expect(classifySshFailure('')).toBeUndefined();
    expect(classifySshFailure('Error response from daemon: No such container: web')).toBeUndefined();
  });
});

describe('createRunner', () => {
  it('gives a LocalRunner for driver local', () => {
    const runner = createRunner({ name: 'local' }, { driver: 'local', rootDir: dir });
    expect(runner).toBeInstanceOf(LocalRunner);
    expect(runner.name).toBe('local');
  });

  it('gives an SshRunner: address before name, host user/port before ssh settings, paths from the root', () => {
    const settings = {
      driver: 'ssh' as const,
      rootDir: '/project',
      ssh: {
        user: 'deploy',
        port: 22,
        identity_file: 'keys/id_ed25519',
        known_hosts_file: '/etc/known',
        config_file: 'ssh/config',
        proxy_jump: 'jump',
        connect_timeout: '1m30s',
      },
    };
    const runner = createRunner({ name: 'h1', address: '10.0.0.1', port: 2200 }, settings);
    expect(runner).toBeInstanceOf(SshRunner);
    expect((runner as SshRunner).options).toEqual({
      name: 'h1',
      host: '10.0.0.1',
      user: 'deploy',
      port: 2200,
      identityFile: '/project/keys/id_ed25519',
      knownHostsFile: '/etc/known',
      configFile: '/project/ssh/config',
      proxyJump: 'jump',
      connectTimeoutSeconds: 90,
    });
    expect(sshRunnerOptions({ name: 'h2', user: 'root' }, { driver: 'ssh', rootDir: '/p' })).toEqual({
      name: 'h2',
      host: 'h2',
      user: 'root',
    });
    expect(
      sshRunnerOptions({ name: 'h3' }, { driver: 'ssh', rootDir: '/p', ssh: { connect_timeout: 5 } }),
    ).toMatchObject({
      connectTimeoutSeconds: 5,
    });
    expect(() =>
      sshRunnerOptions({ name: 'h3' }, { driver: 'ssh', rootDir: '/p', ssh: { connect_timeout: 'soon' } }),
    ).toThrow(UserError);
  });
});

describe('resolveSshHostname', () => {
  it('follows ssh config aliases with ssh -G (no network)', async () => {
    const config = join(dir, 'ssh_config');
    await writeFile(
      config,
      'Host web-a\n  HostName 10.1.2.3\n  User deploy\n\nHost web-b\n  HostName localhost\n',
    );
    const settings = { driver: 'ssh' as const, rootDir: dir, ssh: { config_file: 'ssh_config' } };
    expect(await resolveSshHostname({ name: 'a', address: 'web-a' }, settings)).toBe('10.1.2.3');
    expect(await resolveSshHostname({ name: 'web-a' }, settings)).toBe('10.1.2.3');
    expect(await resolveSshHostname({ name: 'c', address: '192.168.5.5' }, settings)).toBe('192.168.5.5');
    expect(await resolveHostAddress({ name: 'web-a' }, settings)).toBe('10.1.2.3');
    expect(await resolveHostAddress({ name: 'web-b' }, settings)).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(await resolveSshHostname({ name: 'x', address: 'addr' }, { driver: 'local', rootDir: dir })).toBe(
      'addr',
    );
  });
});
