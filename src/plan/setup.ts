// `stagecraft setup` as a pure planner: host facts (plan/host-facts.ts) + what a deploy needs → the
// steps that close the gap, and nothing for what is already right. No I/O here.
import { UserError } from '../util/errors.js';
import { APT_UPDATE_ARGV, aptInstallArgv } from './apt.js';
import { type HostFacts, versionBelow } from './host-facts.js';
import { type MeshWanted, meshSetup } from './setup-mesh.js';
import { type SwarmSetupAction, type SwarmWanted, swarmFirewall } from './setup-swarm.js';

/** What a host must offer a deploy. */
export interface SetupWanted {
  /** Non-root user that deploys: in the docker group, with the operator's key. */
  deployUser: string;
  /** The operator's public key line ("ssh-ed25519 AAAA… comment"). */
  publicKey: string;
  /** Folders the deploy writes, relative to the deploy user's home (e.g. ".stagecraft/shop-production"). */
  folders: string[];
  /** json-file log rotation written to /etc/docker/daemon.json where not set. */
  logRotation: { maxSize: string; maxFile: string };
  /** TCP ports the gateway listens on, opened where a host firewall is active. */
  ports: number[];
  minimum: { docker: string; compose: string };
  /** The mesh hosts join (network.provider tailscale or headscale); undefined without one. */
  mesh?: MeshWanted;
  /** driver swarm: the swarm the hosts form (its manager, every node's address and roles). */
  swarm?: SwarmWanted;
}

/** A command on the host, run as the connecting user (root, or through `sudo -n`). */
export interface HostCommand {
  kind: 'exec';
  argv: string[];
  /** Sent on stdin (a file's content, a public key): never in argv. */
  stdin?: string;
  /**
   * A secret the operation sends on stdin when it runs the step (the mesh auth key): the plan never
   * holds its value, so plan output, JSON and the ledger cannot show it.
   */
  stdinSecret?: 'mesh-auth-key';
}

/** One change setup makes to one host (a command on it; the swarm phase's steps have their own actions). */
export interface SetupStep<A = HostCommand> {
  /** Stable id, `setup:<host>:<name>`. */
  id: string;
  host: string;
  /** What the step does, for plan output and progress. */
  title: string;
  /** What the probe found that makes the step needed. */
  found: string;
  action: A;
}

/** A thing setup looked at on a host and found already right (printed so every check is visible). */
export interface SetupCheck {
  name: string;
  found: string;
}

export interface SetupHostPlan {
  host: string;
  os: string;
  checks: SetupCheck[];
  steps: SetupStep[];
}

export interface SetupPlan {
  kind: 'setup';
  environment: string;
  hosts: SetupHostPlan[];
  /**
   * driver swarm: the swarm phase, after every host's own steps — init on the manager, joins, node
   * labels (plan/setup-swarm.ts). Undefined for the other drivers.
   */
  swarm?: { manager: string; checks: SetupCheck[]; steps: SetupStep<SwarmSetupAction>[] };
}

/** What a setup module sees for one host. */
export interface SetupContext {
  host: string;
  facts: HostFacts;
  wanted: SetupWanted;
  /** argv as root: unchanged for root, `sudo -n …` for a sudoer. */
  asRoot(argv: string[]): string[];
  /** Decisions of earlier modules for this host (e.g. docker is being installed). */
  state: { installsDocker: boolean; dockerConfigChanges: boolean; aptUpdated: boolean };
}

/** One concern of setup (packages, docker service, deploy user…): checks and steps for one host. */
export type SetupModule = (context: SetupContext) => {
  checks: SetupCheck[];
  steps: Omit<SetupStep, 'host'>[];
};

/**
 * Distribution packages for Docker Engine, its client and compose v2, or why setup cannot install them.
 * Debian 13 and Ubuntu 25.04+ package the client apart (docker-cli); older releases ship it in docker.io.
 */
export function dockerPackages(
  os: HostFacts['os'],
): { engine: string; cli: string; compose: string } | { refuse: string } {
  const major = Number(os.versionId.split('.')[0]);
  if (os.id === 'debian') {
    if (major >= 13) return { engine: 'docker.io', cli: 'docker-cli', compose: 'docker-compose' };
    return {
      refuse: `Debian ${os.versionId || '(testing)'} packages only compose v1; install Docker Engine and the compose v2 plugin (Docker's docker-ce and docker-compose-plugin packages), or use Debian 13 or later`,
    };
  }
  if (os.id === 'ubuntu') {
    const [year, month] = os.versionId.split('.').map(Number);
    const at = (year ?? 0) * 100 + (month ?? 0);
    if (at >= 2504) return { engine: 'docker.io', cli: 'docker-cli', compose: 'docker-compose-v2' };
    if (at >= 2204) return { engine: 'docker.io', cli: 'docker.io', compose: 'docker-compose-v2' };
    return {
      refuse: `Ubuntu ${os.versionId} has no compose v2 package; install Docker's docker-ce and docker-compose-plugin packages, or use Ubuntu 22.04 or later`,
    };
  }
  return {
    refuse: `setup installs Docker from Debian and Ubuntu packages only; install Docker Engine and the compose v2 plugin on ${os.name} yourself (e.g. the docker-ce and docker-compose-plugin packages)`,
  };
}

const packages: SetupModule = ({ facts, wanted, asRoot, state, host }) => {
  const { docker, compose } = facts;
  const needEngine = docker.version === undefined;
  const needCli = !docker.cli;
  const needCompose = compose === undefined;
  const checks: SetupCheck[] = [];
  if (docker.version !== undefined && versionBelow(docker.version, wanted.minimum.docker)) {
    throw new UserError(
      `${host}: Docker Engine ${docker.version} is older than ${wanted.minimum.docker}, which Stagecraft needs`,
      {
        hint: `upgrade Docker Engine on ${host} (setup does not upgrade an existing engine), then run setup again`,
      },
    );
  }
  if (compose !== undefined && versionBelow(compose, wanted.minimum.compose)) {
    throw new UserError(
      `${host}: docker compose ${compose} is older than ${wanted.minimum.compose}, which Stagecraft needs`,
      { hint: `upgrade the compose v2 plugin on ${host}, then run setup again` },
    );
  }
  if (!needEngine) checks.push({ name: 'docker', found: `Docker Engine ${docker.version}` });
  if (!needCompose) checks.push({ name: 'compose', found: `docker compose ${compose}` });
  if (!needEngine && !needCli && !needCompose) return { checks, steps: [] };

  const chosen = dockerPackages(facts.os);
  if ('refuse' in chosen || !facts.apt) {
    const why = 'refuse' in chosen ? chosen.refuse : `${facts.os.name} has no apt-get`;
    throw new UserError(
      `${host}: ${needEngine ? 'Docker Engine' : 'the compose v2 plugin'} is missing and ${why}`,
      {
        hint: `install Docker Engine ≥ ${wanted.minimum.docker} and compose v2 ≥ ${wanted.minimum.compose} on ${host}, then run setup again`,
      },
    );
  }
  const names = [
    ...new Set([
      ...(needEngine ? [chosen.engine] : []),
      ...(needCli ? [chosen.cli] : []),
      ...(needCompose ? [chosen.compose] : []),
    ]),
  ];
  state.installsDocker = needEngine;
  state.aptUpdated = true;
  const found = [
    needEngine ? 'no Docker Engine' : '',
    needCli && !needEngine ? 'no docker client' : '',
    needCompose ? 'no docker compose v2' : '',
  ]
    .filter(Boolean)
    .join(', ');
  return {
    checks,
    steps: [
      {
        id: 'apt-update',
        title: 'refresh the package lists (apt-get update)',
        found,
        action: { kind: 'exec', argv: asRoot([...APT_UPDATE_ARGV]) },
      },
      {
        id: 'packages',
        title: `install ${names.join(', ')} from ${facts.os.name}'s packages`,
        found,
        action: {
          kind: 'exec',
          argv: asRoot(aptInstallArgv(names)),
        },
      },
    ],
  };
};

/** daemon.json with json-file rotation where the host sets none; undefined when nothing changes. */
export function daemonConfig(
  current: string | undefined,
  rotation: SetupWanted['logRotation'],
): string | undefined {
  let parsed: Record<string, unknown> = {};
  if (current !== undefined && current.trim() !== '') {
    try {
      parsed = JSON.parse(current) as Record<string, unknown>;
    } catch {
      throw new UserError('/etc/docker/daemon.json is not valid JSON', {
        hint: 'fix or remove it on the host, then run setup again',
      });
    }
  }
  const driver = parsed['log-driver'];
  if (driver !== undefined && driver !== 'json-file' && driver !== 'local') return undefined;
  const opts = { ...((parsed['log-opts'] as Record<string, string> | undefined) ?? {}) };
  if (opts['max-size'] !== undefined && opts['max-file'] !== undefined && driver !== undefined)
    return undefined;
  const next = {
    ...parsed,
    'log-driver': driver ?? 'json-file',
    'log-opts': { 'max-size': rotation.maxSize, 'max-file': rotation.maxFile, ...opts },
  };
  return `${JSON.stringify(next, null, 2)}\n`;
}

const dockerConfig: SetupModule = ({ facts, wanted, asRoot, state }) => {
  const next = daemonConfig(facts.daemonJson, wanted.logRotation);
  if (next === undefined) {
    const opts = JSON.parse(facts.daemonJson ?? '{}')['log-opts'] ?? {};
    return {
      checks: [
        {
          name: 'log-rotation',
          found: `containers' logs rotate (max-size ${opts['max-size'] ?? 'set by driver'}, max-file ${opts['max-file'] ?? 'set by driver'})`,
        },
      ],
      steps: [],
    };
  }
  state.dockerConfigChanges = true;
  return {
    checks: [],
    steps: [
      {
        id: 'log-rotation',
        title: `rotate container logs: json-file max-size ${wanted.logRotation.maxSize}, max-file ${wanted.logRotation.maxFile} (/etc/docker/daemon.json)`,
        found:
          facts.daemonJson === undefined ? 'no /etc/docker/daemon.json' : 'daemon.json sets no log rotation',
        action: {
          kind: 'exec',
          argv: asRoot(['sh', '-c', 'mkdir -p /etc/docker && cat > /etc/docker/daemon.json']),
          stdin: next,
        },
      },
    ],
  };
};

const dockerService: SetupModule = ({ facts, asRoot, state }) => {
  const steps: Omit<SetupStep, 'host'>[] = [];
  const checks: SetupCheck[] = [];
  const systemd = facts.init === 'systemd';
  const running = facts.docker.running && !state.installsDocker;
  if (!running || state.dockerConfigChanges) {
    const verb = running ? 'restart' : 'start';
    steps.push({
      id: 'docker-start',
      title: running
        ? 'restart Docker to apply the log settings (running containers restart)'
        : 'start Docker',
      found: running ? 'Docker runs with the old settings' : 'Docker is not running',
      action: {
        kind: 'exec',
        argv: asRoot(systemd ? ['systemctl', verb, 'docker'] : ['service', 'docker', verb]),
      },
    });
  } else {
    checks.push({ name: 'docker-running', found: 'Docker is running' });
  }
  if (!facts.docker.enabled || state.installsDocker) {
    if (systemd || facts.init === 'sysv') {
      steps.push({
        id: 'docker-enable',
        title: 'start Docker at boot',
        found: 'Docker does not start at boot',
        action: {
          kind: 'exec',
          argv: asRoot(systemd ? ['systemctl', 'enable', 'docker'] : ['update-rc.d', 'docker', 'defaults']),
        },
      });
    }
  } else {
    checks.push({ name: 'docker-enabled', found: 'Docker starts at boot' });
  }
  return { checks, steps };
};

const deployUser: SetupModule = ({ facts, wanted, asRoot }) => {
  const user = wanted.deployUser;
  const { deployUser: found } = facts;
  const steps: Omit<SetupStep, 'host'>[] = [];
  const checks: SetupCheck[] = [];
  if (!found.exists) {
    steps.push({
      id: 'deploy-user',
      title: `create the deploy user ${user} in the docker group`,
      found: `no user ${user}`,
      action: {
        kind: 'exec',
        argv: asRoot([
          'useradd',
          '--create-home',
          '--shell',
          '/bin/bash',
          '--groups',
          'docker',
          '--user-group',
          // No password that works, but not "locked" ("!"), which sshd refuses even for keys without PAM.
          '--password',
          '*',
          user,
        ]),
      },
    });
  } else if (!found.groups.includes('docker')) {
    steps.push({
      id: 'deploy-user',
      title: `add ${user} to the docker group`,
      found: `${user} is not in the docker group`,
      action: { kind: 'exec', argv: asRoot(['usermod', '--append', '--groups', 'docker', user]) },
    });
  } else {
    checks.push({ name: 'deploy-user', found: `${user} exists, in the docker group` });
  }
  const key = wanted.publicKey.trim();
  const keyBody = key.split(/\s+/).slice(0, 2).join(' ');
  if (found.authorizedKeys.some((line) => line.includes(keyBody))) {
    checks.push({ name: 'ssh-key', found: `${user} accepts the operator's key` });
  } else {
    steps.push({
      id: 'ssh-key',
      title: `authorize the operator's key for ${user} (~${user}/.ssh/authorized_keys)`,
      found: `${user} does not accept the operator's key`,
      action: {
        kind: 'exec',
        argv: asRoot(['sh', '-c', AUTHORIZE_KEY_SCRIPT, 'sh', user]),
        stdin: `${key}\n`,
      },
    });
  }
  const missing = wanted.folders.filter((folder) => found.folders[folder] !== user);
  if (missing.length === 0) {
    checks.push({
      name: 'folders',
      found: `${wanted.folders.map((f) => `~/${f}`).join(', ')} owned by ${user}`,
    });
  } else {
    steps.push({
      id: 'folders',
      title: `create ${missing.map((f) => `~${user}/${f}`).join(', ')} owned by ${user}`,
      found: missing
        .map((f) => (found.folders[f] ? `~/${f} owned by ${found.folders[f]}` : `no ~/${f}`))
        .join(', '),
      action: { kind: 'exec', argv: asRoot(['sh', '-c', FOLDERS_SCRIPT, 'sh', user, ...missing]) },
    });
  }
  return { checks, steps };
};

/** Appends stdin (one key line) to ~$1/.ssh/authorized_keys with ssh's modes and $1 as owner. */
export const AUTHORIZE_KEY_SCRIPT =
  'h=$(getent passwd "$1" | cut -d: -f6) && g=$(id -gn "$1") && install -d -m 700 -o "$1" -g "$g" "$h/.ssh" && ' +
  'cat >> "$h/.ssh/authorized_keys" && chown "$1:$g" "$h/.ssh/authorized_keys" && chmod 600 "$h/.ssh/authorized_keys"';

/** Creates each folder $2… (and its parents) under ~$1, owned by $1, mode 0700. */
export const FOLDERS_SCRIPT =
  'u="$1"; shift; h=$(getent passwd "$u" | cut -d: -f6) && g=$(id -gn "$u") || exit 1; ' +
  'for f in "$@"; do p="$h"; for part in $(echo "$f" | tr / " "); do p="$p/$part"; install -d -m 700 -o "$u" -g "$g" "$p" || exit 1; done; done';

/** The first nftables base chain hooked on input with policy drop: "family table chain". */
export function nftInputChain(ruleset: string): { family: string; table: string; chain: string } | undefined {
  let family = '';
  let table = '';
  let chain = '';
  for (const raw of ruleset.split('\n')) {
    const line = raw.trim();
    const tableMatch = line.match(/^table (\S+) (\S+) \{/);
    if (tableMatch) {
      family = tableMatch[1]!;
      table = tableMatch[2]!;
      continue;
    }
    const chainMatch = line.match(/^chain (\S+) \{/);
    if (chainMatch) {
      chain = chainMatch[1]!;
      continue;
    }
    if (/hook input\b/.test(line) && /policy drop/.test(line) && ['inet', 'ip'].includes(family)) {
      return { family, table, chain };
    }
  }
  return undefined;
}

function nftAllows(ruleset: string, port: number): boolean {
  return ruleset.split('\n').some((line) => {
    if (!/accept/.test(line) || !/tcp dport/.test(line)) return false;
    const ports = line.match(/tcp dport (\{[^}]*\}|\S+)/)?.[1] ?? '';
    return ports
      .replace(/[{}]/g, ' ')
      .split(/[\s,]+/)
      .includes(String(port));
  });
}

const firewall: SetupModule = ({ facts, wanted, asRoot }) => {
  const { ufw, ufwRules, nftRuleset } = facts.firewall;
  const ports = [...new Set(wanted.ports)].sort((a, b) => a - b);
  if (ufw === 'active') {
    const open = (port: number) => ufwRules.some((rule) => new RegExp(`^${port}(/tcp)? ALLOW`).test(rule));
    const closed = ports.filter((port) => !open(port));
    if (closed.length === 0)
      return { checks: [{ name: 'firewall', found: `ufw allows ${ports.join(', ')}` }], steps: [] };
    return {
      checks: [],
      steps: closed.map((port) => ({
        id: `firewall-${port}`,
        title: `open TCP ${port} for the gateway (ufw allow ${port}/tcp)`,
        found: `ufw is active and does not allow ${port}`,
        action: { kind: 'exec' as const, argv: asRoot(['ufw', 'allow', `${port}/tcp`]) },
      })),
    };
  }
  const chain = nftInputChain(nftRuleset);
  if (chain !== undefined) {
    const closed = ports.filter((port) => !nftAllows(nftRuleset, port));
    if (closed.length === 0)
      return { checks: [{ name: 'firewall', found: `nftables allows ${ports.join(', ')}` }], steps: [] };
    return {
      checks: [],
      steps: [
        {
          id: 'firewall',
          title: `open TCP ${closed.join(', ')} for the gateway (nft ${chain.family} ${chain.table} ${chain.chain})`,
          found: `nftables drops input and does not accept ${closed.join(', ')}`,
          action: {
            kind: 'exec',
            argv: asRoot([
              'nft',
              'insert',
              'rule',
              chain.family,
              chain.table,
              chain.chain,
              'tcp',
              'dport',
              `{ ${closed.join(', ')} }`,
              'accept',
            ]),
          },
        },
      ],
    };
  }
  return { checks: [{ name: 'firewall', found: 'no active host firewall (ufw, nftables)' }], steps: [] };
};

/** The modules in the order their steps run. Later concerns (a mesh join) append their own. */
export const SETUP_MODULES: SetupModule[] = [
  packages,
  dockerConfig,
  dockerService,
  deployUser,
  firewall,
  swarmFirewall,
  meshSetup,
];

/**
 * Plans setup for one host: throws a UserError when the host cannot be set up (unsupported system,
 * no root access, a Docker too old to keep).
 */
export function planSetupHost(
  host: string,
  facts: HostFacts,
  wanted: SetupWanted,
  modules: SetupModule[] = SETUP_MODULES,
): SetupHostPlan {
  if (facts.user.uid !== 0 && !facts.user.sudo) {
    throw new UserError(`${host}: ${facts.user.name} is neither root nor a passwordless sudoer`, {
      hint: 'set infra.bootstrap.ssh_user to root or to a user with passwordless sudo',
    });
  }
  const context: SetupContext = {
    host,
    facts,
    wanted,
    asRoot: (argv) => (facts.user.uid === 0 ? argv : ['sudo', '-n', ...argv]),
    state: { installsDocker: false, dockerConfigChanges: false, aptUpdated: false },
  };
  const checks: SetupCheck[] = [];
  const steps: SetupStep[] = [];
  for (const module of modules) {
    const out = module(context);
    checks.push(...out.checks);
    steps.push(...out.steps.map((step) => ({ ...step, id: `setup:${host}:${step.id}`, host })));
  }
  return { host, os: facts.os.name, checks, steps };
}

/** Plans setup for every host; all hosts' problems are reported at once. */
export function planSetup(
  environment: string,
  hosts: { host: string; facts: HostFacts }[],
  wanted: SetupWanted,
  modules: SetupModule[] = SETUP_MODULES,
): SetupPlan {
  const problems: UserError[] = [];
  const planned: SetupHostPlan[] = [];
  for (const { host, facts } of hosts) {
    try {
      planned.push(planSetupHost(host, facts, wanted, modules));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      problems.push(error);
    }
  }
  if (problems.length === 1 && hosts.length === 1) throw problems[0]!;
  if (problems.length > 0) {
    throw new UserError(
      `setup cannot proceed on ${problems.length} host${problems.length === 1 ? '' : 's'}`,
      {
        details: problems.map((problem) => `${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`),
        hint: 'fix what is said above, then run `stagecraft setup` again',
      },
    );
  }
  return { kind: 'setup', environment, hosts: planned };
}
