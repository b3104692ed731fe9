// The cloud-init user data of a new machine: what `setup` does, done at first boot (setup then runs
// over SSH to verify, and finds nothing left to do). Pure: same input, same bytes.
import { stringify } from 'yaml';
import { FOLDERS_SCRIPT, type SetupWanted } from './setup.js';

/**
 * A `#cloud-config` document: Docker Engine and compose v2 from the image's packages (`packages`),
 * json-file log rotation, Docker started at boot, the deploy user in the docker group with the
 * operator's key, and the environment's folders. Gateway ports are the cloud firewall's business.
 */
export function cloudInitUserData(wanted: SetupWanted, packages: string[]): string {
  const user = wanted.deployUser;
  const daemon = {
    'log-driver': 'json-file',
    'log-opts': { 'max-size': wanted.logRotation.maxSize, 'max-file': wanted.logRotation.maxFile },
  };
  const document = {
    package_update: true,
    packages,
    users: [
      'default',
      { name: user, shell: '/bin/bash', lock_passwd: true, ssh_authorized_keys: [wanted.publicKey.trim()] },
    ],
    write_files: [
      {
        path: '/etc/docker/daemon.json',
        permissions: '0644',
        content: `${JSON.stringify(daemon, null, 2)}\n`,
      },
    ],
    runcmd: [
      ['usermod', '--append', '--groups', 'docker', user],
      ['usermod', '--password', '*', user],
      ['systemctl', 'enable', 'docker'],
      ['systemctl', 'restart', 'docker'],
      ['sh', '-c', FOLDERS_SCRIPT, 'sh', user, ...wanted.folders],
    ],
  };
  return `#cloud-config\n${stringify(document, { lineWidth: 0 })}`;
}
