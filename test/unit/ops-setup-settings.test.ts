import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectModel } from '../../src/model/project.js';
import { MINIMUM_VERSIONS, setupSettings } from '../../src/operations/setup.js';
import { load } from '../support/config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKeyOnly ops@laptop';
const OTHER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherTestKey ci@runner';

const config = (extra: string) => `project:
  name: shop
${extra}environments:
  production:
    driver: ssh
    ssh: { user: ops, identity_file: deploy_key }
    hosts:
      web: [h1]
`;

describe('setupSettings: who setup connects as and what it wants, from the project model', () => {
  it('defaults: root connects; the non-root ssh user is the deploy user, identity_file + .pub its key; port 80', () => {
    const loaded = load(config(''), { files: { 'deploy_key.pub': `${KEY}\n` } });
    expect(setupSettings(projectModel(loaded), 'production')).toEqual({
      sshUser: 'root',
      wanted: {
        deployUser: 'ops',
        publicKey: KEY,
        folders: ['.stagecraft/shop-production'],
        logRotation: { maxSize: '10m', maxFile: '3' },
        ports: [80],
        minimum: MINIMUM_VERSIONS,
      },
    });
  });

  it('infra.bootstrap and ingress as configured: its user, key file, log rotation; https with TLS on', () => {
    const loaded = load(
      config(
        'infra:\n  bootstrap: { ssh_user: admin, deploy_user: shipper, public_key_file: ops.pub, log_max_size: 50m, log_max_file: 7 }\ningress:\n  http_port: 8080\n  https_port: 8443\n  tls: { mode: acme, email_env: ACME_EMAIL }\n',
      ),
      { files: { 'deploy_key.pub': `${KEY}\n`, 'ops.pub': `${OTHER_KEY}\n` } },
    );
    expect(setupSettings(projectModel(loaded), 'production')).toEqual({
      sshUser: 'admin',
      wanted: {
        deployUser: 'shipper',
        publicKey: OTHER_KEY,
        folders: ['.stagecraft/shop-production'],
        logRotation: { maxSize: '50m', maxFile: '7' },
        ports: [8080, 8443],
        minimum: MINIMUM_VERSIONS,
      },
    });
  });

  it('a public_key_file that is missing: a UserError naming the path', () => {
    const loaded = load(config('infra:\n  bootstrap: { public_key_file: missing.pub }\n'));
    expect(() => setupSettings(projectModel(loaded), 'production')).toThrow(
      `no public key for the deploy user: ${join(loaded.root, 'missing.pub')} not found`,
    );
  });
});
