import { describe, expect, it } from 'vitest';
import { mkcertArgv } from '../../src/dev/mkcert.js';

describe('mkcertArgv', () => {
  it('ends the options with -- so that no domain is read as one', () => {
    expect(
      mkcertArgv('mkcert', '/c/dev.pem', '/c/dev-key.pem', ['-install.localhost', 'app.localhost']),
    ).toEqual([
      'mkcert',
      '-cert-file',
      '/c/dev.pem',
      '-key-file',
      '/c/dev-key.pem',
      '--',
      '-install.localhost',
      'app.localhost',
    ]);
  });
});
