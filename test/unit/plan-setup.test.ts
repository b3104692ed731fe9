import { describe, expect, it } from 'vitest';
import { type HostFacts, parseHostFacts, versionBelow, versionOf } from '../../src/plan/host-facts.js';
import {
  daemonConfig,
  nftInputChain,
  planSetup,
  planSetupHost,
  type SetupWanted,
} from '../../src/plan/setup.js';
import { UserError } from '../../src/util/errors.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOPERATOR operator@laptop';

const wanted: SetupWanted = {
  deployUser: 'deploy',
  publicKey: KEY,
  folders: ['.stagecraft/shop-production'],
  logRotation: { maxSize: '10m', maxFile: '3' },
  ports: [80, 443],
  minimum: { docker: '20.10.0', compose: '2.20.0' },
};

/** The probe's output on a fresh Debian 13 host reached as root: no Docker, no deploy user. */
const BARE = `os_id=debian
os_like=
os_version=13
os_name=Debian GNU/Linux 13 (trixie)
uid=0
user=root
sudo=yes
init=sysv
apt=yes
probe=done
`;

/** The same host after setup. */
const READY = `os_id=debian
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
daemon_json=${Buffer.from('{"log-driver":"json-file","log-opts":{"max-size":"10m","max-file":"3"}}').toString('base64')}
deploy_home=/home/deploy
deploy_groups=deploy docker
deploy_key=${KEY}
folder=deploy .stagecraft/shop-production
probe=done
`;

describe('host facts', () => {
  it('parses the probe output', () => {
    const facts = parseHostFacts(READY);
    expect(facts.os).toEqual({
      id: 'debian',
      idLike: [],
      versionId: '13',
      name: 'Debian GNU/Linux 13 (trixie)',
    });
    expect(facts.docker).toEqual({ version: '26.1.5', cli: true, running: true, enabled: true });
    expect(facts.compose).toBe('2.26.1');
    expect(facts.deployUser).toEqual({
      exists: true,
      home: '/home/deploy',
      groups: ['deploy', 'docker'],
      authorizedKeys: [KEY],
      folders: { '.stagecraft/shop-production': 'deploy' },
    });
    expect(facts.firewall).toEqual({ ufw: 'absent', ufwRules: [], nftRuleset: '' });
  });

  it('refuses output that is not a finished probe', () => {
    expect(() => parseHostFacts('os_id=debian\n')).toThrow('the host probe did not finish');
  });

  it('compares versions numerically', () => {
    expect(versionOf('Docker version 20.10.24+dfsg1, build 297e128')).toBe('20.10.24');
    expect(versionBelow('2.9.0', '2.20.0')).toBe(true);
    expect(versionBelow('2.26.1', '2.20.0')).toBe(false);
    expect(versionBelow('20.10.0', '20.10.0')).toBe(false);
  });
});

describe('setup plan', () => {
  it('plans every step on a bare Debian 13 host, in order, with exact argv', () => {
    const plan = planSetupHost('bare1', parseHostFacts(BARE), wanted);
    expect(plan.steps.map((step) => step.id)).toEqual([
      'setup:bare1:apt-update',
      'setup:bare1:packages',
      'setup:bare1:log-rotation',
      'setup:bare1:docker-start',
      'setup:bare1:docker-enable',
      'setup:bare1:deploy-user',
      'setup:bare1:ssh-key',
      'setup:bare1:folders',
    ]);
    const argv = Object.fromEntries(plan.steps.map((step) => [step.id.split(':')[2], step.action.argv]));
    expect(argv['packages']).toEqual([
      'env',
      'DEBIAN_FRONTEND=noninteractive',
      'apt-get',
      'install',
      '-y',
      '-qq',
      '--no-install-recommends',
      'docker.io',
      'docker-cli',
      'docker-compose',
    ]);
    expect(argv['docker-start']).toEqual(['service', 'docker', 'start']);
    expect(argv['docker-enable']).toEqual(['update-rc.d', 'docker', 'defaults']);
    expect(argv['deploy-user']).toEqual([
      'useradd',
      '--create-home',
      '--shell',
      '/bin/bash',
      '--groups',
      'docker',
      '--user-group',
      '--password',
      '*',
      'deploy',
    ]);
    const key = plan.steps.find((step) => step.id.endsWith(':ssh-key'))!;
    expect(key.action.stdin).toBe(`${KEY}\n`);
    expect(key.action.argv.join(' ')).not.toContain('AAAA');
    const logs = plan.steps.find((step) => step.id.endsWith(':log-rotation'))!;
    expect(JSON.parse(logs.action.stdin!)).toEqual({
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '10m', 'max-file': '3' },
    });
  });

  it('plans nothing on a host that is set up, and says what it found', () => {
    const plan = planSetupHost('bare1', parseHostFacts(READY), wanted);
    expect(plan.steps).toEqual([]);
    expect(plan.checks.map((check) => check.name)).toEqual([
      'docker',
      'compose',
      'log-rotation',
      'docker-running',
      'docker-enabled',
      'deploy-user',
      'ssh-key',
      'folders',
      'firewall',
    ]);
  });

  it('goes through sudo for a sudoer and uses systemd where it runs', () => {
    const facts: HostFacts = {
      ...parseHostFacts(BARE),
      user: { name: 'admin', uid: 1000, sudo: true },
      init: 'systemd',
    };
    const plan = planSetupHost('h1', facts, wanted);
    const start = plan.steps.find((step) => step.id === 'setup:h1:docker-start')!;
    expect(start.action.argv).toEqual(['sudo', '-n', 'systemctl', 'start', 'docker']);
    expect(plan.steps.find((step) => step.id === 'setup:h1:docker-enable')!.action.argv).toEqual([
      'sudo',
      '-n',
      'systemctl',
      'enable',
      'docker',
    ]);
  });

  it('installs docker-compose-v2 on Ubuntu 24.04 and refuses other families naming what to install', () => {
    const ubuntu = {
      ...parseHostFacts(BARE),
      os: { id: 'ubuntu', idLike: ['debian'], versionId: '24.04', name: 'Ubuntu 24.04' },
    };
    expect(planSetupHost('h1', ubuntu, wanted).steps[1]!.action.argv.slice(-2)).toEqual([
      'docker.io',
      'docker-compose-v2',
    ]);
    const fedora = {
      ...parseHostFacts(BARE),
      apt: false,
      os: { id: 'fedora', idLike: [], versionId: '40', name: 'Fedora Linux 40' },
    };
    expect(() => planSetupHost('h2', fedora, wanted)).toThrow(
      'h2: Docker Engine is missing and setup installs Docker from Debian and Ubuntu packages only; install Docker Engine and the compose v2 plugin on Fedora Linux 40 yourself (e.g. the docker-ce and docker-compose-plugin packages)',
    );
  });

  it('refuses a non-root user without sudo and an engine below the minimum, for all hosts at once', () => {
    const noSudo = { ...parseHostFacts(READY), user: { name: 'bob', uid: 1000, sudo: false } };
    const old = {
      ...parseHostFacts(READY),
      docker: { version: '19.3.0', cli: true, running: true, enabled: true },
    };
    let error: unknown;
    try {
      planSetup(
        'production',
        [
          { host: 'h1', facts: noSudo },
          { host: 'h2', facts: old },
        ],
        wanted,
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).details).toEqual([
      'h1: bob is neither root nor a passwordless sudoer (set infra.bootstrap.ssh_user to root or to a user with passwordless sudo)',
      'h2: Docker Engine 19.3.0 is older than 20.10.0, which Stagecraft needs (upgrade Docker Engine on h2 (setup does not upgrade an existing engine), then run setup again)',
    ]);
  });

  it('opens gateway ports in an active ufw and in an nftables input chain that drops', () => {
    const ufw = {
      ...parseHostFacts(READY),
      firewall: {
        ufw: 'active' as const,
        ufwRules: ['22/tcp ALLOW Anywhere', '80/tcp ALLOW Anywhere'],
        nftRuleset: '',
      },
    };
    expect(planSetupHost('h1', ufw, wanted).steps.map((step) => step.action.argv)).toEqual([
      ['ufw', 'allow', '443/tcp'],
    ]);
    const ruleset = `table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\ttcp dport 22 accept
\t\ttcp dport { 80, 8080 } accept
\t}
}`;
    expect(nftInputChain(ruleset)).toEqual({ family: 'inet', table: 'filter', chain: 'input' });
    const nft = {
      ...parseHostFacts(READY),
      firewall: { ufw: 'absent' as const, ufwRules: [], nftRuleset: ruleset },
    };
    expect(planSetupHost('h1', nft, wanted).steps.map((step) => step.action.argv)).toEqual([
      ['nft', 'insert', 'rule', 'inet', 'filter', 'input', 'tcp', 'dport', '{ 443 }', 'accept'],
    ]);
  });

  it('keeps log settings the host already has and adds only what is missing', () => {
    expect(
      daemonConfig(
        '{"log-driver":"json-file","log-opts":{"max-size":"50m","max-file":"5"}}',
        wanted.logRotation,
      ),
    ).toBeUndefined();
    expect(
      JSON.parse(
        daemonConfig('{"data-root":"/srv/docker","log-opts":{"max-size":"50m"}}', wanted.logRotation)!,
      ),
    ).toEqual({
      'data-root': '/srv/docker',
      'log-driver': 'json-file',
      'log-opts': { 'max-size': '50m', 'max-file': '3' },
    });
    expect(daemonConfig('{"log-driver":"journald"}', wanted.logRotation)).toBeUndefined();
  });
});
