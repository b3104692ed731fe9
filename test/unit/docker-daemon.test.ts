// The docker CLI's words for a daemon it cannot reach, and the error a step on this machine gets.
import { describe, expect, it } from 'vitest';
import { localDaemonError, unreachableDaemon } from '../../src/docker/daemon.js';
import { ExternalError, UserError } from '../../src/util/errors.js';

const CANNOT =
  'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?';
const PERMISSION =
  'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.45/version": dial unix /var/run/docker.sock: connect: permission denied';
const DURING =
  'error during connect: Get "http://docker.example:2375/v1.45/version": dial tcp: lookup docker.example: no such host';

describe('unreachableDaemon', () => {
  it('reads the address docker names, a socket it may not use, a connection that failed', () => {
    const text = `docker build … exited with code 1: ${CANNOT}`;
    expect(unreachableDaemon(text)).toEqual({
      address: 'unix:///var/run/docker.sock',
      permission: false,
      at: text.indexOf('Cannot'),
    });
    expect(unreachableDaemon(PERMISSION)).toMatchObject({
      address: 'unix:///var/run/docker.sock',
      permission: true,
    });
    expect(unreachableDaemon(DURING)).toMatchObject({ address: undefined, permission: false });
    expect(
      unreachableDaemon('docker build … exited with code 1: failed to solve: no such file'),
    ).toBeUndefined();
  });
});

describe('localDaemonError', () => {
  const failed = (line: string) => new ExternalError(`docker compose -p … exited with code 1: ${line}`);

  it('names the daemon and the step, keeps docker’s line, and says what to do (exit 2)', () => {
    const error = localDaemonError(failed(CANNOT), 'build:api', {});
    expect(error).toBeInstanceOf(ExternalError);
    expect(error?.exitCode).toBe(2);
    expect(error?.message).toBe(
      'build:api could not reach the Docker daemon at unix:///var/run/docker.sock (docker compose -p … exited with code 1)',
    );
    expect(error?.details).toEqual([CANNOT]);
    expect(error?.hint).toContain('start Docker on this machine (DOCKER_HOST is not set');
  });

  it('takes the address from DOCKER_HOST when docker names none, and a permission problem is one', () => {
    const remote = localDaemonError(failed(DURING), 'push:api', { DOCKER_HOST: 'tcp://docker.example:2375' });
    expect(remote?.message).toMatch(
      /^push:api could not reach the Docker daemon at tcp:\/\/docker\.example:2375 /,
    );
    expect(remote?.hint).toContain(
      'start the Docker daemon at tcp://docker.example:2375, or set DOCKER_HOST',
    );
    expect(localDaemonError(failed(PERMISSION), 'build:api', {})?.hint).toContain(
      'add it to the docker group',
    );
  });

  it('leaves other errors alone', () => {
    expect(localDaemonError(failed('failed to solve'), 'build:api', {})).toBeUndefined();
    expect(localDaemonError(new UserError(CANNOT), 'build:api', {})).toBeUndefined();
  });
});
