import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  dialStdioArgs,
  joinTokenArgs,
  parseEngineResponse,
  parseSwarmInfo,
  type SwarmInfo,
  type SwarmNode,
  swarmInfoArgs,
  swarmInitArgs,
  swarmJoinRequest,
} from '../../src/docker/swarm.js';
import { setupPlanJson, setupPlanText } from '../../src/operations/setup.js';
import { asRootRunner, runSwarmSteps } from '../../src/operations/setup-swarm.js';
import { parseHostFacts } from '../../src/plan/host-facts.js';
import { planSetupHost, type SetupPlan, type SetupWanted } from '../../src/plan/setup.js';
import {
  nftAcceptsFrom,
  planSwarmSetup,
  type SwarmFacts,
  type SwarmWanted,
  UFW_SWARM_SCRIPT,
} from '../../src/plan/setup-swarm.js';
import { nodeLabelChanges } from '../../src/plan/swarm-nodes.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { ExternalError, UserError } from '../../src/util/errors.js';
import { redact, Secret } from '../../src/util/secret.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/swarm/${name}`, import.meta.url), 'utf8');
const MANAGER = parseSwarmInfo(fixture('docker-info-manager.json'));
const WORKER = parseSwarmInfo(fixture('docker-info-worker.json'));
const INACTIVE = parseSwarmInfo(fixture('docker-info-inactive.json'));

const swarm: SwarmWanted = {
  manager: 'bare1',
  nodes: [
    { host: 'bare1', address: '10.231.0.41', roles: ['web'] },
    { host: 'bare2', address: '10.231.0.42', roles: ['web'] },
    { host: 'bare3', address: '10.231.0.43', roles: ['db', 'web'] },
  ],
};

const node = (id: string, host: string, addr: string, labels: Record<string, string> = {}): SwarmNode => ({
  id,
  hostname: host,
  addr,
  state: 'ready',
  labels,
});

/** The three hosts joined to bare1's swarm, with the given labels on bare3. */
function formed(bare3Labels: Record<string, string>): SwarmFacts[] {
  const manager: SwarmInfo = { ...MANAGER, nodeId: 'n1', nodeAddr: '10.231.0.41' };
  const worker = (id: string, addr: string): SwarmInfo => ({ ...WORKER, nodeId: id, nodeAddr: addr });
  return [
    {
      host: 'bare1',
      info: manager,
      nodes: [
        node('n1', 'bare1', '10.231.0.41', { 'stagecraft.role.web': 'true' }),
        node('n2', 'bare2', '10.231.0.42', { 'stagecraft.role.web': 'true' }),
        node('n3', 'bare3', '10.231.0.43', bare3Labels),
      ],
    },
    { host: 'bare2', info: worker('n2', '10.231.0.42') },
    { host: 'bare3', info: worker('n3', '10.231.0.43') },
  ];
}

describe('docker swarm argv and output', () => {
  it('builds the commands as exact argv', () => {
    expect(swarmInfoArgs()).toEqual(['docker', 'info', '--format', '{{json .Swarm}}']);
    expect(swarmInitArgs('10.231.0.41')).toEqual([
      'docker',
      'swarm',
      'init',
      '--advertise-addr',
      '10.231.0.41',
    ]);
    expect(joinTokenArgs()).toEqual(['docker', 'swarm', 'join-token', '--quiet', 'worker']);
    expect(dialStdioArgs()).toEqual(['docker', 'system', 'dial-stdio']);
  });

  it('parses docker info’s Swarm of a manager, a worker and an engine in no swarm (Docker 26.1.5)', () => {
    expect(MANAGER).toEqual({
      nodeId: 'px1gz6gkxc0f6rxg8wv95qe8u',
      nodeAddr: '10.231.0.41',
      state: 'active',
      controlAvailable: true,
      error: '',
      clusterId: 'df1bnsr9ks1um11adfcorsk3i',
      remoteManagers: [{ nodeId: 'px1gz6gkxc0f6rxg8wv95qe8u', addr: '10.231.0.41:2377' }],
    });
    expect(WORKER).toEqual({
      nodeId: 'nzfhbiursqoeztn9688q2g3jq',
      nodeAddr: '10.231.0.42',
      state: 'active',
      controlAvailable: false,
      error: '',
      clusterId: undefined,
      remoteManagers: [{ nodeId: 'ljmucpgioez3r48qhkgi4uxtm', addr: '10.231.0.41:2377' }],
    });
    expect(INACTIVE).toMatchObject({
      nodeId: '',
      state: 'inactive',
      controlAvailable: false,
      remoteManagers: [],
    });
    expect(() => parseSwarmInfo('Cannot connect to the Docker daemon')).toThrow(SyntaxError);
  });

  it('writes POST /v1.41/swarm/join as a Secret, the token only in its body', () => {
    const token = new Secret('SWMTKN-1-unit-test-token-abcdef');
    const request = swarmJoinRequest({
      token,
      advertiseAddr: '10.231.0.42',
      remoteAddrs: ['10.231.0.41:2377'],
    });
    expect(request).toBeInstanceOf(Secret);
    expect(String(request)).toBe('[redacted]');
    const body =
      '{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"10.231.0.42","RemoteAddrs":["10.231.0.41:2377"],"JoinToken":"SWMTKN-1-unit-test-token-abcdef"}';
    expect(request.reveal()).toBe(
      `POST /v1.41/swarm/join HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(redact(`could not join: ${request.reveal()}`)).not.toContain('unit-test-token');
  });

  it('reads the engine’s answers to a join (captured through docker system dial-stdio)', () => {
    const ok =
      'HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/26.1.5+dfsg1 (linux)\r\nDate: Tue, 01 Dec 2026 17:06:03 GMT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
    expect(parseEngineResponse(ok)).toEqual({ status: 200, message: '' });
    const already =
      'HTTP/1.1 503 Service Unavailable\r\nApi-Version: 1.45\r\nContent-Type: application/json\r\nContent-Length: 121\r\nConnection: close\r\n\r\n{"message":"This node is already part of a swarm. Use \\"docker swarm leave\\" to leave this swarm and join another one."}\n';
    expect(parseEngineResponse(already)).toEqual({
      status: 503,
      message:
        'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
    });
    const bad =
      'HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 33\r\nConnection: close\r\n\r\n{"message":"invalid join token"}\n';
    expect(parseEngineResponse(bad)).toEqual({ status: 500, message: 'invalid join token' });
    expect(() => parseEngineResponse('error during connect')).toThrow('the engine did not answer with HTTP');
  });
});

describe('planSwarmSetup', () => {
  it('on fresh hosts: init on the manager, joins, then labels — no token anywhere', () => {
    const { steps, checks } = planSwarmSetup(
      swarm.nodes.map((entry) => ({ host: entry.host, info: undefined })),
      swarm,
    );
    expect(checks).toEqual([]);
    expect(steps.map((step) => step.id)).toEqual([
      'swarm:init:bare1',
      'swarm:join:bare2',
      'swarm:join:bare3',
      'swarm:labels:bare1',
    ]);
    expect(steps[0]!.action).toEqual({
      kind: 'swarm-init',
      argv: ['docker', 'swarm', 'init', '--advertise-addr', '10.231.0.41'],
    });
    expect(steps[1]).toMatchObject({
      host: 'bare2',
      found: 'Docker is not running yet',
      action: {
        kind: 'swarm-join',
        argv: ['docker', 'system', 'dial-stdio'],
        manager: 'bare1',
        remoteAddrs: ['10.231.0.41:2377'],
        advertiseAddr: '10.231.0.42',
      },
    });
    expect(steps[3]!.action).toEqual({ kind: 'swarm-labels', nodes: swarm.nodes });
    expect(JSON.stringify(steps)).not.toMatch(/SWMTKN|token"/i);
  });

  it('engines in no swarm: the same steps, found "in no swarm"', () => {
    const { steps } = planSwarmSetup(
      [
        { host: 'bare1', info: INACTIVE },
        { host: 'bare2', info: INACTIVE },
        { host: 'bare3', info: undefined },
      ],
      swarm,
    );
    expect(steps.map((step) => `${step.id}: ${step.found}`)).toEqual([
      'swarm:init:bare1: bare1 is in no swarm',
      'swarm:join:bare2: bare2 is in no swarm',
      'swarm:join:bare3: Docker is not running yet',
      'swarm:labels:bare1: nodes join the swarm',
    ]);
  });

  it('a formed, labelled swarm: nothing to do, every check said', () => {
    const { steps, checks } = planSwarmSetup(
      formed({ 'stagecraft.role.db': 'true', 'stagecraft.role.web': 'true' }),
      swarm,
    );
    expect(steps).toEqual([]);
    expect(checks).toEqual([
      { name: 'swarm', found: 'bare1 manages a swarm of 3 nodes (cluster df1bnsr9ks1u)' },
      { name: 'swarm-node bare2', found: 'bare2 is a worker of the swarm (10.231.0.42)' },
      { name: 'swarm-node bare3', found: 'bare3 is a worker of the swarm (10.231.0.43)' },
      { name: 'node-labels', found: 'every node carries its role labels' },
    ]);
  });

  it('a node whose role labels are wrong: only the labels step', () => {
    const { steps } = planSwarmSetup(formed({ 'stagecraft.role.cache': 'true' }), swarm);
    expect(steps.map((step) => `${step.id}: ${step.found}`)).toEqual([
      'swarm:labels:bare1: bare3 +stagecraft.role.db +stagecraft.role.web -stagecraft.role.cache',
    ]);
  });

  it('a host in another swarm stops setup before anything changes (ExternalError, exit 2)', () => {
    const facts = formed({});
    facts[2] = {
      host: 'bare3',
      info: { ...WORKER, nodeId: 'elsewhere', remoteManagers: [{ nodeId: 'x', addr: '10.9.9.9:2377' }] },
    };
    const run = () => planSwarmSetup(facts, swarm);
    expect(run).toThrow(ExternalError);
    expect(run).toThrow(
      'bare3 is a worker of another swarm (managers: 10.9.9.9:2377), not of the swarm bare1 (10.231.0.41) manages',
    );
    try {
      run();
    } catch (error) {
      expect((error as ExternalError).hint).toContain('run `docker swarm leave` on bare3');
      expect((error as ExternalError).exitCode).toBe(2);
    }
  });

  it('a worker of some swarm while the manager is in none: another swarm', () => {
    expect(() =>
      planSwarmSetup(
        [
          { host: 'bare1', info: INACTIVE },
          { host: 'bare2', info: WORKER },
          { host: 'bare3', info: INACTIVE },
        ],
        swarm,
      ),
    ).toThrow('bare2 is a worker of another swarm (managers: 10.231.0.41:2377)');
  });

  it('the manager a worker of the swarm another host manages: that host named, exit 1, nothing else said', () => {
    const facts = formed({});
    const run = () => planSwarmSetup(facts, { ...swarm, manager: 'bare2' });
    expect(run).toThrow(UserError);
    expect(run).toThrow('bare2, the manager in stagecraft.yml, is a worker of its swarm (managed by bare1)');
    try {
      run();
    } catch (error) {
      expect((error as UserError).hint).toBe(
        'set manager: bare1 in this environment of stagecraft.yml (nothing was changed)',
      );
      expect((error as UserError).details).toEqual([]);
    }
    // A swarm managed from outside the environment: promote, or point at a host that manages it.
    const outside = () =>
      planSwarmSetup(
        [{ host: 'bare1', info: { ...WORKER, remoteManagers: [{ nodeId: 'x', addr: '10.9.9.9:2377' }] } }],
        swarm,
      );
    expect(outside).toThrow(
      'bare1, the manager in stagecraft.yml, is a worker of its swarm (managed by 10.9.9.9:2377)',
    );
  });

  it('label changes are computed once, for deploy and setup alike', () => {
    const nodes = [node('n1', 'bare1', '10.231.0.41', { 'stagecraft.role.web': 'true' })];
    expect(nodeLabelChanges(nodes, swarm.nodes)).toEqual({
      changes: [],
      missing: [swarm.nodes[1], swarm.nodes[2]],
    });
  });
});

describe('plan text and JSON', () => {
  it('shows the swarm phase after the hosts, argv but never a token', () => {
    const { steps, checks } = planSwarmSetup(
      swarm.nodes.map((entry) => ({ host: entry.host, info: undefined })),
      swarm,
    );
    const plan: SetupPlan = {
      kind: 'setup',
      environment: 'production',
      hosts: [],
      swarm: { manager: 'bare1', steps, checks },
    };
    const text = setupPlanText(plan);
    expect(text).toContain("swarm (manager bare1): 4 changes, after the hosts' own\n");
    expect(text).toContain(
      '  + swarm:init:bare1  create the swarm: bare1 its manager, advertised on 10.231.0.41 (docker swarm init)  (found: Docker is not running yet)',
    );
    expect(text).toContain(
      '  + swarm:join:bare2  join the swarm of bare1 as a worker, advertised on 10.231.0.42 (Engine API POST /swarm/join; the token on stdin)',
    );
    const json = setupPlanJson(plan) as { swarm: { steps: { id: string; argv?: string[] }[] } };
    expect(json.swarm.steps.map((step) => [step.id, step.argv?.join(' ')])).toEqual([
      ['swarm:init:bare1', 'docker swarm init --advertise-addr 10.231.0.41'],
      ['swarm:join:bare2', 'docker system dial-stdio'],
      ['swarm:join:bare3', 'docker system dial-stdio'],
      ['swarm:labels:bare1', undefined],
    ]);
  });
});

describe('runSwarmSteps', () => {
  const TOKEN = 'SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx';

  function fleet() {
    const log: import('../../src/runners/recording.js').RecordedCall[] = [];
    const stdin: string[] = [];
    const joined = new Set<string>();
    const infoOf = (host: string) =>
      host === 'bare1' ? MANAGER : joined.has(host) ? { ...WORKER, NodeID: host } : INACTIVE;
    const runners = new Map(
      ['bare1', 'bare2', 'bare3'].map((host) => [
        host,
        new RecordingRunner({
          name: host,
          log,
          script: (argv, options) => {
            const line = argv.join(' ');
            if (line === 'docker info --format {{json .Swarm}}') {
              const info = infoOf(host);
              return {
                stdout: JSON.stringify({
                  NodeID: info.nodeId,
                  LocalNodeState: info.state,
                  ControlAvailable: info.controlAvailable,
                }),
              };
            }
            if (line === 'docker swarm join-token --quiet worker') return { stdout: `${TOKEN}\n` };
            if (line === 'docker system dial-stdio') {
              stdin.push((options.stdin as Secret).reveal());
              joined.add(host);
              return { stdout: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' };
            }
            if (line === 'docker node ls --quiet') return { stdout: 'n1\n' };
            if (line.startsWith('docker node inspect'))
              return {
                stdout: [
                  '{"id":"n1","hostname":"bare1","addr":"10.231.0.41","state":"ready","labels":{}}',
                  '{"id":"n2","hostname":"bare2","addr":"10.231.0.42","state":"ready","labels":{}}',
                  '{"id":"n3","hostname":"bare3","addr":"10.231.0.43","state":"ready","labels":{}}',
                ].join('\n'),
              };
            return undefined;
          },
        }),
      ]),
    );
    return { log, stdin, runners };
  }

  it('inits (skipped: bare1 manages already), joins with the token on stdin only, then labels', async () => {
    const { log, stdin, runners } = fleet();
    const { steps } = planSwarmSetup(
      swarm.nodes.map((entry) => ({ host: entry.host, info: undefined })),
      swarm,
    );
    const events: string[] = [];
    await runSwarmSteps(
      steps,
      (host) => runners.get(host)!,
      (event) => {
        if (event.type === 'step-done') events.push(`${event.step.id} ${event.status}`);
        if (event.type === 'step-output') events.push(`  ${event.line}`);
      },
    );
    expect(events).toEqual([
      '  bare1 manages a swarm already',
      'swarm:init:bare1 completed',
      expect.stringMatching(/^ {2}bare[23] joined the swarm of bare1$/),
      expect.stringMatching(/^(swarm:join:bare[23] completed| {2}bare[23] joined the swarm of bare1)$/),
      expect.stringMatching(/^(swarm:join:bare[23] completed| {2}bare[23] joined the swarm of bare1)$/),
      expect.stringMatching(/^swarm:join:bare[23] completed$/),
      '  bare1: +stagecraft.role.web',
      '  bare2: +stagecraft.role.web',
      '  bare3: +stagecraft.role.db +stagecraft.role.web',
      '  labelled 3 nodes',
      'swarm:labels:bare1 completed',
    ]);
    // The token is read once on the manager and goes out only on the workers' stdin, in the request body.
    const execs = log.filter((call) => call.kind === 'exec');
    expect(
      execs.filter((call) => call.argv.join(' ') === 'docker swarm join-token --quiet worker'),
    ).toHaveLength(1);
    expect(JSON.stringify(execs.map((call) => call.argv))).not.toContain(TOKEN);
    expect(execs.filter((call) => call.stdin !== undefined).map((call) => [call.host, call.stdin])).toEqual([
      ['bare2', '[secret]'],
      ['bare3', '[secret]'],
    ]);
    expect(stdin.map((text) => JSON.parse(text.slice(text.indexOf('{'))))).toEqual([
      {
        ListenAddr: '0.0.0.0:2377',
        AdvertiseAddr: expect.stringMatching(/^10\.231\.0\.4[23]$/),
        RemoteAddrs: ['10.231.0.41:2377'],
        JoinToken: TOKEN,
      },
      {
        ListenAddr: '0.0.0.0:2377',
        AdvertiseAddr: expect.stringMatching(/^10\.231\.0\.4[23]$/),
        RemoteAddrs: ['10.231.0.41:2377'],
        JoinToken: TOKEN,
      },
    ]);
    expect(redact(`x ${TOKEN} y`)).toBe('x [redacted] y');
  });

  it('init runs docker swarm init and shows none of its output (it prints a join command with the token)', async () => {
    const runner = new RecordingRunner({
      name: 'bare1',
      script: {
        'docker info': { stdout: fixture('docker-info-inactive.json') },
        'docker swarm init': {
          stdout: `Swarm initialized: current node (px1gz6gkxc0f6rxg8wv95qe8u) is now a manager.\n\nTo add a worker to this swarm, run the following command:\n\n    docker swarm join --token ${TOKEN} 10.231.0.41:2377\n`,
        },
      },
    });
    const { steps } = planSwarmSetup([{ host: 'bare1', info: INACTIVE }], {
      manager: 'bare1',
      nodes: [swarm.nodes[0]!],
    });
    const lines: string[] = [];
    await runSwarmSteps(
      steps.filter((step) => step.action.kind === 'swarm-init'),
      () => runner,
      (event) => {
        if (event.type === 'step-output') lines.push(event.line);
      },
    );
    expect(runner.commands.map((argv) => argv.join(' '))).toEqual([
      'docker info --format {{json .Swarm}}',
      'docker swarm init --advertise-addr 10.231.0.41',
    ]);
    expect(lines).toEqual(['bare1 created the swarm and manages it']);
  });

  it('a refused join is an ExternalError that does not quote the token', async () => {
    const runner = new RecordingRunner({
      name: 'bare2',
      script: (argv) => {
        const line = argv.join(' ');
        if (line.startsWith('docker info')) return { stdout: fixture('docker-info-inactive.json') };
        if (line === 'docker swarm join-token --quiet worker') return { stdout: `${TOKEN}-x\n` };
        if (line === 'docker system dial-stdio')
          return {
            stdout: `HTTP/1.1 500 Internal Server Error\r\n\r\n{"message":"invalid join token ${TOKEN}-x"}`,
          };
        return undefined;
      },
    });
    const { steps } = planSwarmSetup(
      [
        { host: 'bare1', info: MANAGER, nodes: [node('px1gz6gkxc0f6rxg8wv95qe8u', 'bare1', '10.231.0.41')] },
        { host: 'bare2', info: INACTIVE },
      ],
      { manager: 'bare1', nodes: swarm.nodes.slice(0, 2) },
    );
    const join = steps.filter((step) => step.action.kind === 'swarm-join');
    const error = await runSwarmSteps(
      join,
      () => runner,
      () => {},
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as Error).message).toBe(
      'bare2 could not join the swarm of bare1 (10.231.0.41:2377): invalid join token [redacted] (HTTP 500)',
    );
  });

  it('runs as root through sudo -n when setup connects as a sudoer', async () => {
    const runner = new RecordingRunner({ name: 'h1' });
    await asRootRunner(runner, { user: { name: 'ops', uid: 1000, sudo: true } }).exec(swarmInfoArgs());
    await asRootRunner(runner, { user: { name: 'root', uid: 0, sudo: true } }).exec(swarmInfoArgs());
    expect(runner.commands.map((argv) => argv.join(' '))).toEqual([
      'sudo -n docker info --format {{json .Swarm}}',
      'docker info --format {{json .Swarm}}',
    ]);
  });
});

describe('swarm ports in the host firewall', () => {
  const base: SetupWanted = {
    deployUser: 'deploy',
    publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOPERATOR operator@laptop',
    folders: [],
    logRotation: { maxSize: '10m', maxFile: '3' },
    ports: [80],
    minimum: { docker: '20.10.0', compose: '2.20.0' },
    swarm,
  };
  const probe = (extra: string) =>
    parseHostFacts(
      `os_id=debian\nos_version=13\nos_name=Debian 13\nuid=0\nuser=root\nsudo=yes\ninit=sysv\napt=yes\n${extra}probe=done\n`,
    );
  const swarmSteps = (host: string, extra: string) =>
    planSetupHost(host, probe(extra), base).steps.filter((step) => step.id.includes('swarm-ports'));
  const swarmChecks = (host: string, extra: string) =>
    planSetupHost(host, probe(extra), base).checks.filter((check) => check.name === 'swarm-ports');

  it('ufw: the manager opens 2377/tcp, 7946/tcp+udp and 4789/udp to each other node only', () => {
    const steps = swarmSteps(
      'bare1',
      'ufw=active\nufw_rule=80/tcp ALLOW Anywhere\nufw_rule=7946/tcp ALLOW 10.231.0.42\n',
    );
    expect(steps.map((step) => [step.id, step.action.argv])).toEqual([
      [
        'setup:bare1:swarm-ports-10.231.0.42',
        ['sh', '-c', UFW_SWARM_SCRIPT, 'sh', '10.231.0.42', '2377/tcp', '7946/udp', '4789/udp'],
      ],
      [
        'setup:bare1:swarm-ports-10.231.0.43',
        ['sh', '-c', UFW_SWARM_SCRIPT, 'sh', '10.231.0.43', '2377/tcp', '7946/tcp', '7946/udp', '4789/udp'],
      ],
    ]);
    // A worker: no 2377.
    expect(swarmSteps('bare2', 'ufw=active\n').map((step) => step.action.argv.slice(4))).toEqual([
      ['10.231.0.41', '7946/tcp', '7946/udp', '4789/udp'],
      ['10.231.0.43', '7946/tcp', '7946/udp', '4789/udp'],
    ]);
    const rules = ['10.231.0.41', '10.231.0.43']
      .flatMap((peer) =>
        ['7946/tcp', '7946/udp', '4789/udp'].map(
          (rule) => `ufw_rule=${rule}                   ALLOW       ${peer}\n`,
        ),
      )
      .join('');
    expect(swarmSteps('bare2', `ufw=active\n${rules}`)).toEqual([]);
    expect(swarmChecks('bare2', `ufw=active\n${rules}`)).toEqual([
      { name: 'swarm-ports', found: 'ufw allows 7946/tcp, 7946/udp, 4789/udp from 10.231.0.41, 10.231.0.43' },
    ]);
  });

  it('nftables with an input chain that drops: accept rules from the nodes’ addresses', () => {
    const ruleset = `table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n`;
    const nft = `nft=${Buffer.from(ruleset).toString('base64')}\n`;
    expect(swarmSteps('bare1', nft).map((step) => step.action.argv.join(' '))).toEqual([
      'nft insert rule inet filter input ip saddr { 10.231.0.42, 10.231.0.43 } tcp dport { 2377, 7946 } accept',
      'nft insert rule inet filter input ip saddr { 10.231.0.42, 10.231.0.43 } udp dport { 7946, 4789 } accept',
    ]);
    const open = ruleset.replace(
      '\t\ttcp dport 22 accept\n',
      '\t\tip saddr { 10.231.0.42, 10.231.0.43 } tcp dport { 2377, 7946 } accept\n\t\tip saddr { 10.231.0.42, 10.231.0.43 } udp dport { 4789, 7946 } accept\n\t\ttcp dport 22 accept\n',
    );
    expect(swarmSteps('bare1', `nft=${Buffer.from(open).toString('base64')}\n`)).toEqual([]);
    expect(nftAcceptsFrom(open, 'udp', 4789, '10.231.0.43')).toBe(true);
    expect(nftAcceptsFrom(open, 'udp', 4789, '10.231.0.99')).toBe(false);
    expect(nftAcceptsFrom('udp dport 4789 accept', 'udp', 4789, '10.231.0.99')).toBe(true);
  });

  it('no active firewall, or no swarm: nothing', () => {
    expect(swarmSteps('bare1', '')).toEqual([]);
    const { swarm: _, ...ssh } = base;
    expect(
      planSetupHost('bare1', probe('ufw=active\n'), ssh).steps.filter((step) => step.id.includes('swarm')),
    ).toEqual([]);
  });
});
