import { describe, expect, it } from 'vitest';
import { parseHostFacts } from '../../src/plan/host-facts.js';
import { planSetupHost, type SetupWanted } from '../../src/plan/setup.js';
import { JOIN_SCRIPT, type MeshWanted } from '../../src/plan/setup-mesh.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOPERATOR operator@laptop';

const mesh: MeshWanted = {
  provider: 'tailscale',
  tailnetDomain: 'acme.ts.net',
  loginServer: undefined,
  install: { method: 'auto', minVersion: '1.60.0' },
  tags: { h1: ['tag:stagecraft', 'tag:web'] },
  configKey: 'network.providers.tailscale',
};

const wanted: SetupWanted = {
  deployUser: 'deploy',
  publicKey: KEY,
  folders: ['.stagecraft/shop-production'],
  logRotation: { maxSize: '10m', maxFile: '3' },
  ports: [80],
  minimum: { docker: '20.10.0', compose: '2.20.0' },
  mesh,
};

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A host that is set up for deploys; `extra` adds the tailscale lines of the probe. */
const ready = (extra: string) => `os_id=debian
os_version=13
os_name=Debian GNU/Linux 13 (trixie)
uid=0
user=root
sudo=yes
init=sysv
apt=yes
docker_version=Docker version 26.1.5+dfsg1, build a72d7cd
docker_cli=yes
docker_running=yes
docker_enabled=yes
compose_version=2.26.1-4
daemon_json=${b64('{"log-driver":"json-file","log-opts":{"max-size":"10m","max-file":"3"}}')}
deploy_home=/home/deploy
deploy_groups=deploy docker
deploy_key=${KEY}
folder=deploy .stagecraft/shop-production
${extra}probe=done
`;

const status = (state: string, suffix: string, name: string) =>
  b64(
    JSON.stringify({
      Version: '1.76.1',
      BackendState: state,
      Self: {
        HostName: name,
        DNSName: `${name}.${suffix}.`,
        TailscaleIPs: ['100.64.0.7'],
        Tags: ['tag:stagecraft', 'tag:web'],
        Online: true,
      },
      MagicDNSSuffix: suffix,
      CurrentTailnet: { Name: 'acme', MagicDNSSuffix: suffix, MagicDNSEnabled: true },
      Peer: {},
    }),
  );

/** Matches a UserError with exactly this message. */
const UserErrorWith = (message: string) => expect.objectContaining({ name: 'UserError', message });

const plan = (probe: string, want: SetupWanted = wanted) => planSetupHost('h1', parseHostFacts(probe), want);

describe('setup joins hosts to the mesh', () => {
  it('installs tailscale from the packages and joins with the host name, its tags and the key on stdin', () => {
    const result = plan(ready(''));
    expect(result.steps.map((step) => [step.id, step.title, step.found, step.action])).toEqual([
      [
        'setup:h1:mesh-apt-update',
        'refresh the package lists (apt-get update)',
        'no tailscale client',
        { kind: 'exec', argv: ['apt-get', 'update', '-qq'] },
      ],
      [
        'setup:h1:mesh-install',
        "install tailscale from Debian GNU/Linux 13 (trixie)'s packages",
        'no tailscale client',
        {
          kind: 'exec',
          argv: [
            'env',
            'DEBIAN_FRONTEND=noninteractive',
            'apt-get',
            'install',
            '-y',
            '-qq',
            '--no-install-recommends',
            'tailscale',
          ],
        },
      ],
      [
        'setup:h1:mesh-join',
        'join acme.ts.net as h1 with tag:stagecraft, tag:web (tailscale up)',
        'not on a tailnet',
        {
          kind: 'exec',
          argv: ['sh', '-c', JOIN_SCRIPT, 'sh', '--hostname=h1', '--advertise-tags=tag:stagecraft,tag:web'],
          stdinSecret: 'mesh-auth-key',
        },
      ],
    ]);
  });

  it('passes --login-server for headscale and runs through sudo for a sudoer', () => {
    const result = plan(
      ready(`tailscale_version=1.76.1\ntailscale_status=${status('NeedsLogin', '', '')}\n`).replace(
        'uid=0\nuser=root',
        'uid=1000\nuser=admin',
      ),
      {
        ...wanted,
        mesh: { ...mesh, provider: 'headscale', loginServer: 'https://hs.example.com', tags: {} },
      },
    );
    expect(result.checks.find((check) => check.name === 'tailscale')).toEqual({
      name: 'tailscale',
      found: 'tailscale 1.76.1',
    });
    expect(result.steps.map((step) => [step.id, step.title, step.found, step.action.argv])).toEqual([
      [
        'setup:h1:mesh-join',
        'join acme.ts.net as h1 (tailscale up --login-server https://hs.example.com)',
        'tailscale is NeedsLogin',
        [
          'sudo',
          '-n',
          'sh',
          '-c',
          JOIN_SCRIPT,
          'sh',
          '--hostname=h1',
          '--login-server=https://hs.example.com',
        ],
      ],
    ]);
  });

  it('changes nothing on a host already joined to the tailnet under its name', () => {
    const result = plan(
      ready(`tailscale_version=1.76.1\ntailscale_status=${status('Running', 'acme.ts.net', 'h1')}\n`),
    );
    expect(result.steps).toEqual([]);
    expect(result.checks.slice(-2)).toEqual([
      { name: 'tailscale', found: 'tailscale 1.76.1' },
      { name: 'mesh', found: 'joined acme.ts.net as h1 (100.64.0.7), tags tag:stagecraft, tag:web' },
    ]);
  });

  it('reports a host joined to another tailnet instead of re-joining it', () => {
    expect(() =>
      plan(ready(`tailscale_version=1.76.1\ntailscale_status=${status('Running', 'other.ts.net', 'h1')}\n`)),
    ).toThrow(UserErrorWith('h1 is joined to another tailnet (other.ts.net, as h1), not acme.ts.net'));
  });

  it('refuses a client older than min_version, and a missing client with install.method skip', () => {
    expect(() => plan(ready('tailscale_version=1.58.2\n  tailscale commit: abc\n'))).toThrow(
      UserErrorWith(
        'h1: tailscale 1.58.2 is older than 1.60.0 (network.providers.tailscale.install.min_version)',
      ),
    );
    expect(() =>
      plan(ready(''), { ...wanted, mesh: { ...mesh, install: { method: 'skip', minVersion: undefined } } }),
    ).toThrow(
      UserErrorWith(
        'h1: the Tailscale client is not installed and network.providers.tailscale.install.method is skip',
      ),
    );
  });

  it('plans nothing for the mesh without one', () => {
    const { mesh: _mesh, ...plain } = wanted;
    expect(plan(ready(''), plain).steps).toEqual([]);
  });
});
