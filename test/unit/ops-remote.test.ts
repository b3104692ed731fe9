// `stagecraft ssh` / `exec`: which host a name or role means, what a typed command becomes, and the
// exact ssh argv (the settings deploy uses, through the runner's master connection).
import { describe, expect, it } from 'vitest';
import type { EnvironmentModel } from '../../src/model/environment.js';
import { multiplexedArgv, remoteCommand, resolveHostOrRole } from '../../src/operations/remote.js';
import { tailscaleSshArgv } from '../../src/runners/interactive.js';
import { SshRunner } from '../../src/runners/ssh.js';
import { UserError } from '../../src/util/errors.js';

const model = {
  environment: 'production',
  hosts: [
    { name: 'h1', target: '10.0.0.1', roles: ['web'] },
    { name: 'h2', target: '10.0.0.2', roles: ['web'] },
    { name: 'h3', target: '10.0.0.3', roles: ['db'] },
  ],
} as unknown as EnvironmentModel;

const options = {
  name: 'h1',
  host: '10.0.0.1',
  user: 'deploy',
  port: 2222,
  identityFile: '/keys/id',
  knownHostsFile: '/keys/known_hosts',
  controlDir: '/tmp/sc-test',
};

describe('resolveHostOrRole', () => {
  it('takes a host by name, else the first host of a role', () => {
    expect(resolveHostOrRole(model, 'h2').name).toBe('h2');
    expect(resolveHostOrRole(model, 'web').name).toBe('h1');
    expect(resolveHostOrRole(model, 'db').name).toBe('h3');
  });

  it('an unknown name is a user error that lists hosts and roles', () => {
    const error = (() => {
      try {
        resolveHostOrRole(model, 'wbe');
      } catch (caught) {
        return caught as UserError;
      }
    })();
    expect(error).toBeInstanceOf(UserError);
    expect(error?.message).toBe('"wbe" is neither a host nor a role of production (did you mean "web"?)');
    expect(error?.hint).toBe('hosts: h1, h2, h3; roles: web, db');
  });
});

describe('remoteCommand', () => {
  it('one word is a command line for the remote shell; several words are an exact argv', () => {
    expect(remoteCommand([])).toBeUndefined();
    expect(remoteCommand(['docker ps | grep api'])).toBe('docker ps | grep api');
    expect(remoteCommand(['echo', 'a b'])).toEqual(['echo', 'a b']);
  });
});

describe('ssh argv', () => {
  it('goes through the runner master connection, with -t before the host', () => {
    const runner = new SshRunner(options);
    const shell = multiplexedArgv(runner, undefined, { tty: true });
    expect(shell.slice(0, 7)).toEqual([
      'ssh',
      '-o',
      'ControlMaster=auto',
      '-o',
      'ControlPath=/tmp/sc-test/%C',
      '-o',
      'ControlPersist=60',
    ]);
    expect(shell.slice(-2)).toEqual(['-t', '10.0.0.1']);
    // The settings deploy uses: strict host keys against its known_hosts, its key, port and user.
    expect(shell.join(' ')).toContain(
      '-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/keys/known_hosts -i /keys/id -o IdentitiesOnly=yes -p 2222 -l deploy',
    );
    expect(
      multiplexedArgv(runner, ['docker', 'exec', '-i', 'abc', 'sh', '-c', 'echo $HOME'], {
        tty: false,
      }).slice(-4),
    ).toEqual(['-T', '10.0.0.1', '--', "docker exec -i abc sh -c 'echo $HOME'"]);
    expect(multiplexedArgv(runner, 'uptime; df -h', { tty: false, noStdin: true }).slice(-5)).toEqual([
      '-T',
      '-n',
      '10.0.0.1',
      '--',
      'uptime; df -h',
    ]);
  });

  it('tailscale ssh takes user@host and the command', () => {
    expect(tailscaleSshArgv('web-1', 'deploy', undefined)).toEqual(['tailscale', 'ssh', 'deploy@web-1']);
    expect(tailscaleSshArgv('web-1', undefined, ['ls', '-la'])).toEqual([
      'tailscale',
      'ssh',
      'web-1',
      'ls -la',
    ]);
  });
});
