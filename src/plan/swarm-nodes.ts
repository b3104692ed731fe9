// Which role labels the swarm's nodes lack or carry in excess: pure, shared by deploy's `labels` step
// (engine/swarm.ts ensureNodeLabels) and setup's plan (plan/setup-swarm.ts).
import { roleLabel } from '../compose/stack.js';
import type { SwarmNode } from '../docker/swarm.js';

/** One host wanted in the swarm with its roles (deploy's `swarm-labels` action holds a list of these). */
export interface WantedNode {
  host: string;
  address: string;
  roles: string[];
}

/** The node of a host: found by its address (`Status.Addr`), else by its hostname. */
export function nodeOfHost(nodes: SwarmNode[], wanted: Pick<WantedNode, 'host' | 'address'>) {
  return (
    nodes.find((candidate) => candidate.addr === wanted.address) ??
    nodes.find((candidate) => candidate.hostname === wanted.host)
  );
}

/** What changes on one node: labels to add (`stagecraft.role.<role>=true`) and role labels to remove. */
export interface NodeLabelChange {
  host: string;
  node: SwarmNode;
  add: Record<string, string>;
  remove: string[];
}

/**
 * For each wanted host: its node and the role labels to add and remove (hosts whose labels are right
 * are left out), and the hosts that are no node of the swarm.
 */
export function nodeLabelChanges(
  nodes: SwarmNode[],
  wanted: WantedNode[],
): { changes: NodeLabelChange[]; missing: WantedNode[] } {
  const changes: NodeLabelChange[] = [];
  const missing: WantedNode[] = [];
  for (const host of wanted) {
    const node = nodeOfHost(nodes, host);
    if (node === undefined) {
      missing.push(host);
      continue;
    }
    const add: Record<string, string> = {};
    for (const role of host.roles) if (node.labels[roleLabel(role)] !== 'true') add[roleLabel(role)] = 'true';
    const remove = Object.keys(node.labels).filter(
      (key) => key.startsWith('stagecraft.role.') && !host.roles.some((role) => roleLabel(role) === key),
    );
    if (Object.keys(add).length > 0 || remove.length > 0)
      changes.push({ host: host.host, node, add, remove });
  }
  return { changes, missing };
}

/** `+stagecraft.role.web -stagecraft.role.db`: a change as a log line shows it. */
export function describeLabelChange(change: Pick<NodeLabelChange, 'add' | 'remove'>): string {
  return [...Object.keys(change.add).map((key) => `+${key}`), ...change.remove.map((key) => `-${key}`)].join(
    ' ',
  );
}
