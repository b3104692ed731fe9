// The swarm part of `stagecraft setup` on a `driver: swarm` environment, pure: from each host's swarm
// state (`docker info`'s Swarm, and the manager's nodes) to the steps that form the swarm — init on the
// manager, join the others as workers, label the nodes by role — and nothing for what is already
// right. Also the host firewall module that opens Swarm's ports between the nodes. No I/O here.
import {
  dialStdioArgs,
  SWARM_MANAGER_PORT,
  type SwarmInfo,
  type SwarmNode,
  swarmInitArgs,
} from '../docker/swarm.js';
import { ExternalError, UserError } from '../util/errors.js';
import { nftInputChain, type SetupCheck, type SetupModule, type SetupStep } from './setup.js';
import { describeLabelChange, nodeLabelChanges, type WantedNode } from './swarm-nodes.js';

/** What setup wants of the swarm (driver swarm), from the environment model and the hosts' addresses. */
export interface SwarmWanted {
  /** The host that inits the swarm and manages it (`manager:`). */
  manager: string;
  /** Every host of the environment, its address (the one it advertises, by which deploy finds its node) and roles. */
  nodes: WantedNode[];
}

/** What the probe read of one host's swarm state. */
export interface SwarmFacts {
  host: string;
  /** undefined: no Docker running yet (setup installs or starts it first). */
  info: SwarmInfo | undefined;
  /** The manager's nodes, when it manages a swarm. */
  nodes?: SwarmNode[];
}

/** Steps of the swarm phase: they run after every host's own steps, on the manager or the joining host. */
export type SwarmSetupAction =
  | { kind: 'swarm-init'; argv: string[] }
  | {
      /**
       * `docker system dial-stdio` with `POST /swarm/join` on stdin, the join token read from the
       * manager when the step runs: the plan never holds it.
       */
      kind: 'swarm-join';
      argv: string[];
      manager: string;
      /** The managers' `addr:2377`. */
      remoteAddrs: string[];
      advertiseAddr: string;
    }
  | { kind: 'swarm-labels'; nodes: WantedNode[] };

/** Swarm's ports between nodes (docs.docker.com/engine/swarm/swarm-tutorial/#open-protocols-and-ports-between-the-hosts). */
export const SWARM_PORTS: { port: number; proto: 'tcp' | 'udp'; managerOnly: boolean; what: string }[] = [
  { port: SWARM_MANAGER_PORT, proto: 'tcp', managerOnly: true, what: 'cluster management' },
  { port: 7946, proto: 'tcp', managerOnly: false, what: 'node communication' },
  { port: 7946, proto: 'udp', managerOnly: false, what: 'node communication' },
  { port: 4789, proto: 'udp', managerOnly: false, what: 'overlay network traffic (VXLAN)' },
];

function stateProblem(host: string, info: SwarmInfo): ExternalError {
  return new ExternalError(
    `${host}: its Docker Engine's swarm state is ${info.state}${info.error ? ` (${info.error})` : ''}`,
    {
      hint: `look at \`docker info\` on ${host}: unlock it (\`docker swarm unlock\`) or leave the swarm (\`docker swarm leave\`), then run setup again`,
    },
  );
}

function otherSwarm(host: string, info: SwarmInfo, manager: string, managerAddr: string): ExternalError {
  const managers = info.remoteManagers.map((remote) => remote.addr).filter(Boolean);
  return new ExternalError(
    `${host} is a ${info.controlAvailable ? 'manager' : 'worker'} of another swarm${managers.length > 0 ? ` (managers: ${managers.join(', ')})` : ''}, not of the swarm ${manager} (${managerAddr}) manages`,
    {
      hint: `setup does not move a node between swarms: run \`docker swarm leave\` on ${host} if it belongs in this environment (nothing was changed), or remove it from the environment's hosts`,
    },
  );
}

/**
 * The manager is a worker of a swarm: a config mistake when another host of the environment manages
 * that swarm (named in the message), else a node to promote. UserError: nothing was changed.
 */
function managerIsWorker(manager: string, info: SwarmInfo, nodes: WantedNode[]): UserError {
  const managers = info.remoteManagers.map((remote) => remote.addr).filter(Boolean);
  const hostOf = (addr: string) =>
    nodes.find((node) => `${node.address}:${SWARM_MANAGER_PORT}` === addr)?.host;
  const ours = managers.map(hostOf).filter((host) => host !== undefined);
  return new UserError(
    `${manager}, the manager in stagecraft.yml, is a worker of its swarm (managed by ${ours[0] ?? (managers.join(', ') || 'another node')})`,
    {
      hint:
        ours.length > 0
          ? `set manager: ${ours[0]} in this environment of stagecraft.yml (nothing was changed)`
          : `promote ${manager} on a manager of that swarm (\`docker node promote\`), or set manager: to a host of this environment that manages it (nothing was changed)`,
    },
  );
}

/**
 * Plans the swarm of a `driver: swarm` environment: `swarm:init:<manager>` unless the manager already
 * manages a swarm, `swarm:join:<host>` for each host that is in no swarm, `swarm:labels:<manager>` when
 * a node's role labels are not right (or nodes join). Throws, before anything changed: UserError when
 * the manager is only a worker (managerIsWorker); ExternalError when a host is in another swarm or an
 * engine's swarm is locked or failing.
 */
export function planSwarmSetup(
  facts: SwarmFacts[],
  wanted: SwarmWanted,
): { checks: SetupCheck[]; steps: SetupStep<SwarmSetupAction>[] } {
  const { manager } = wanted;
  const addressOf = (host: string) => wanted.nodes.find((node) => node.host === host)?.address ?? host;
  const managerAddr = addressOf(manager);
  const factsOf = (host: string) => facts.find((entry) => entry.host === host);
  const checks: SetupCheck[] = [];
  const steps: SetupStep<SwarmSetupAction>[] = [];
  const problems: ExternalError[] = [];

  const managerInfo = factsOf(manager)?.info;
  let nodes: SwarmNode[] | undefined;
  if (managerInfo === undefined || managerInfo.state === 'inactive') {
    steps.push({
      id: `swarm:init:${manager}`,
      host: manager,
      title: `create the swarm: ${manager} its manager, advertised on ${managerAddr} (docker swarm init)`,
      found: managerInfo === undefined ? 'Docker is not running yet' : `${manager} is in no swarm`,
      action: { kind: 'swarm-init', argv: swarmInitArgs(managerAddr) },
    });
  } else if (managerInfo.state !== 'active') {
    problems.push(stateProblem(manager, managerInfo));
  } else if (!managerInfo.controlAvailable) {
    // The other hosts' places follow from the right manager: this alone is the mistake to report.
    throw managerIsWorker(manager, managerInfo, wanted.nodes);
  } else {
    nodes = factsOf(manager)?.nodes ?? [];
    checks.push({
      name: 'swarm',
      found: `${manager} manages a swarm of ${nodes.length} node${nodes.length === 1 ? '' : 's'}${managerInfo.clusterId ? ` (cluster ${managerInfo.clusterId.slice(0, 12)})` : ''}`,
    });
  }

  const nodeIds = new Set((nodes ?? []).map((node) => node.id));
  for (const { host } of wanted.nodes) {
    if (host === manager) continue;
    const info = factsOf(host)?.info;
    if (info === undefined || info.state === 'inactive') {
      steps.push({
        id: `swarm:join:${host}`,
        host,
        title: `join the swarm of ${manager} as a worker, advertised on ${addressOf(host)} (Engine API POST /swarm/join; the token on stdin)`,
        found: info === undefined ? 'Docker is not running yet' : `${host} is in no swarm`,
        action: {
          kind: 'swarm-join',
          argv: dialStdioArgs(),
          manager,
          remoteAddrs: [`${managerAddr}:${SWARM_MANAGER_PORT}`],
          advertiseAddr: addressOf(host),
        },
      });
    } else if (info.state !== 'active') {
      problems.push(stateProblem(host, info));
    } else if (nodes !== undefined && nodeIds.has(info.nodeId)) {
      checks.push({
        name: `swarm-node ${host}`,
        found: `${host} is a ${info.controlAvailable ? 'manager' : 'worker'} of the swarm (${info.nodeAddr})`,
      });
    } else {
      problems.push(otherSwarm(host, info, manager, managerAddr));
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) {
    throw new ExternalError(`the swarm cannot be formed: ${problems.length} hosts are in the way`, {
      details: problems.map((problem) => `${problem.message} (${problem.hint})`),
      hint: 'setup changed nothing; fix what is said above, then run setup again',
    });
  }

  const labels = (found: string): SetupStep<SwarmSetupAction> => ({
    id: `swarm:labels:${manager}`,
    host: manager,
    title: `label the swarm's nodes by role (${[...new Set(wanted.nodes.flatMap((node) => node.roles))]
      .sort()
      .map((role) => `stagecraft.role.${role}`)
      .join(', ')})`,
    found,
    action: { kind: 'swarm-labels', nodes: wanted.nodes },
  });
  if (steps.length > 0 || nodes === undefined) {
    steps.push(labels('nodes join the swarm'));
    return { checks, steps };
  }
  const { changes, missing } = nodeLabelChanges(nodes, wanted.nodes);
  if (missing.length > 0) {
    // Every host is a node by its id; none was found by address or hostname: the addresses differ.
    const node = nodes.find((candidate) => candidate.id === factsOf(missing[0]!.host)?.info?.nodeId);
    throw new ExternalError(
      `${missing[0]!.host} is a node of the swarm, but advertises ${node?.addr ?? 'another address'} as ${node?.hostname ?? 'another name'}, not ${missing[0]!.address}`,
      {
        hint: `give ${missing[0]!.host} the address its node advertises in the environment's hosts, or have it leave the swarm (\`docker swarm leave\` on it) and run setup again`,
      },
    );
  }
  if (changes.length === 0) {
    checks.push({ name: 'node-labels', found: 'every node carries its role labels' });
  } else {
    steps.push(labels(changes.map((change) => `${change.host} ${describeLabelChange(change)}`).join(', ')));
  }
  return { checks, steps };
}

// ---- Swarm's ports in the host firewall ----

/** Runs `ufw allow proto <proto> from $1 to any port <port>` for each `port/proto` in $2…. */
export const UFW_SWARM_SCRIPT =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansions, not a template
  'p="$1"; shift; for r in "$@"; do ufw allow proto "${r#*/}" from "$p" to any port "${r%/*}" || exit 1; done';

/** The set or single value after `key` in an nft rule line (`{ a, b }` or `a`), as a list. */
function nftValues(line: string, key: RegExp): string[] | undefined {
  const match = line.match(new RegExp(`${key.source} (\\{[^}]*\\}|\\S+)`));
  if (!match) return undefined;
  return match[1]!
    .replace(/[{}]/g, ' ')
    .split(/[\s,]+/)
    .filter(Boolean);
}

/** Whether the ruleset has an accept rule for `proto` `port` from `addr` (a rule with no saddr accepts any). */
export function nftAcceptsFrom(ruleset: string, proto: 'tcp' | 'udp', port: number, addr: string): boolean {
  return ruleset.split('\n').some((line) => {
    if (!/\baccept\b/.test(line)) return false;
    const ports = nftValues(line, new RegExp(`${proto} dport`));
    if (ports === undefined || !ports.includes(String(port))) return false;
    const sources = nftValues(line, /ip6? saddr/);
    return sources === undefined || sources.includes(addr);
  });
}

/**
 * The setup module for Swarm's ports: where a host firewall is active (ufw, or an nftables input chain
 * that drops), it accepts 7946/tcp+udp and 4789/udp — and 2377/tcp on the manager — from the swarm's
 * other hosts' addresses only. Nothing without a swarm or without an active firewall.
 */
export const swarmFirewall: SetupModule = ({ host, facts, wanted, asRoot }) => {
  const swarm = wanted.swarm;
  if (swarm === undefined) return { checks: [], steps: [] };
  const peers = swarm.nodes.filter((node) => node.host !== host).map((node) => node.address);
  const ports = SWARM_PORTS.filter((entry) => !entry.managerOnly || host === swarm.manager);
  if (peers.length === 0) return { checks: [], steps: [] };
  const described = `${ports.map((entry) => `${entry.port}/${entry.proto}`).join(', ')} from ${peers.join(', ')}`;
  const { ufw, ufwRules, nftRuleset } = facts.firewall;
  if (ufw === 'active') {
    const steps: Omit<SetupStep, 'host'>[] = [];
    for (const peer of peers) {
      const closed = ports.filter(
        (entry) =>
          !ufwRules.some(
            (rule) =>
              rule === `${entry.port}/${entry.proto} ALLOW ${peer}` ||
              rule === `${entry.port}/${entry.proto} ALLOW IN ${peer}`,
          ),
      );
      if (closed.length === 0) continue;
      const list = closed.map((entry) => `${entry.port}/${entry.proto}`);
      steps.push({
        id: `swarm-ports-${peer}`,
        title: `open the swarm's ports ${list.join(', ')} to ${peer} (ufw allow … from ${peer})`,
        found: `ufw is active and does not allow ${list.join(', ')} from ${peer}`,
        action: { kind: 'exec', argv: asRoot(['sh', '-c', UFW_SWARM_SCRIPT, 'sh', peer, ...list]) },
      });
    }
    return steps.length === 0
      ? { checks: [{ name: 'swarm-ports', found: `ufw allows ${described}` }], steps: [] }
      : { checks: [], steps };
  }
  const chain = nftInputChain(nftRuleset);
  if (chain === undefined) return { checks: [], steps: [] };
  const steps: Omit<SetupStep, 'host'>[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    for (const family of ['ip', 'ip6'] as const) {
      const sources = peers.filter((peer) => (family === 'ip6') === peer.includes(':'));
      const missing = ports.filter(
        (entry) =>
          entry.proto === proto &&
          sources.some((peer) => !nftAcceptsFrom(nftRuleset, proto, entry.port, peer)),
      );
      const from = sources.filter((peer) =>
        missing.some((entry) => !nftAcceptsFrom(nftRuleset, proto, entry.port, peer)),
      );
      if (missing.length === 0 || from.length === 0) continue;
      const list = missing.map((entry) => entry.port);
      steps.push({
        id: `swarm-ports-${proto}${family === 'ip6' ? '6' : ''}`,
        title: `accept the swarm's ${proto.toUpperCase()} ${list.join(', ')} from ${from.join(', ')} (nft ${chain.family} ${chain.table} ${chain.chain})`,
        found: `nftables drops input and does not accept ${proto} ${list.join(', ')} from ${from.join(', ')}`,
        action: {
          kind: 'exec',
          argv: asRoot([
            'nft',
            'insert',
            'rule',
            chain.family,
            chain.table,
            chain.chain,
            family,
            'saddr',
            `{ ${from.join(', ')} }`,
            proto,
            'dport',
            `{ ${list.join(', ')} }`,
            'accept',
          ]),
        },
      });
    }
  }
  return steps.length === 0
    ? { checks: [{ name: 'swarm-ports', found: `nftables accepts ${described}` }], steps: [] }
    : { checks: [], steps };
};
