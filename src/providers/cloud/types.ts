// What the core knows of a cloud provider: desired hosts in, an inventory out, steps applied. The core
// never tests a provider id; it looks the provider up by `cloud.provider` (providers/cloud/index.ts).
import type { Secret } from '../../util/secret.js';

/** A host the config wants for an environment. */
export interface DesiredHost {
  /** Logical name (the key under hosts.<env>), e.g. "web-1". */
  name: string;
  role: string;
  size: string;
  region: string;
  image: string;
  volumes: { name: string; sizeGb: number }[];
}

/** A machine that exists in the account and belongs to the project's environment (found by tags). */
export interface CloudMachine {
  id: string;
  /** Logical host name. */
  host: string;
  role: string;
  size: string;
  region: string;
  status: string;
  address: string | undefined;
}

export interface CloudVolume {
  id: string;
  name: string;
  sizeGb: number;
  region: string;
  attachedTo: string[];
}

export interface FirewallRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  ports: string;
  addresses: string[];
}

export interface CloudFirewall {
  id: string;
  name: string;
  inbound: FirewallRule[];
  machineIds: string[];
}

/** What exists now, plus the account's facts the plan is checked against. */
export interface CloudInventory {
  machines: CloudMachine[];
  volumes: CloudVolume[];
  firewall: CloudFirewall | undefined;
  /** Region and size slugs the account can create, as the API lists them. */
  regions: string[];
  sizes: string[];
  /** The SSH key the config names, if the account has it. */
  sshKey: { id: string; name: string } | undefined;
  /** How many more machines the account may create (limit − existing, all projects). */
  machinesLeft: number;
}

/** Everything a provider call needs: the provider's config section, the token, who/what. */
export interface CloudContext {
  project: string;
  environment: string;
  config: Record<string, unknown>;
  token: Secret;
  /** Progress lines (waiting, retries). */
  log: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

export type InfraStepAction =
  | { kind: 'create-machine'; host: DesiredHost; tags: string[]; name: string }
  | { kind: 'keep-machine'; host: string; id: string }
  | { kind: 'refuse'; host: string; reason: string }
  | { kind: 'delete-machine'; host: string; id: string; name: string }
  | { kind: 'create-volume'; host: string; name: string; sizeGb: number; region: string }
  | { kind: 'attach-volume'; host: string; name: string }
  | { kind: 'keep-volume'; host: string; name: string; id: string }
  | { kind: 'delete-volume'; name: string; id: string }
  /** Delete a destroyed host's node from the Headscale server (by its id, found by name). */
  | { kind: 'delete-mesh-node'; host: string; id: string; name: string; server: string }
  /** The mesh nodes of these hosts stay (Tailscale's control plane, or no Headscale API key): why and how. */
  | { kind: 'keep-mesh-nodes'; hosts: string[]; reason: string }
  | {
      kind: 'firewall';
      change: 'create' | 'update' | 'keep' | 'delete';
      name: string;
      inbound: FirewallRule[];
    };

/** One line of an infra plan. */
export interface InfraStep {
  id: string;
  title: string;
  action: InfraStepAction;
  /** Why the step is as it is when the title cannot say it, e.g. why public SSH stays open. */
  note?: string;
}

export interface InfraPlan {
  kind: 'infra';
  provider: string;
  project: string;
  environment: string;
  steps: InfraStep[];
}

/** A machine after `up`: what deploy connects to. */
export interface CloudHost {
  name: string;
  role: string;
  address: string;
  id: string;
}

export interface CloudProvider {
  readonly id: string;
  /** The API token from the variable the config names; a UserError when it is missing or empty. */
  token(config: Record<string, unknown>, env: Record<string, string | undefined>): Secret;
  /** Distribution packages of Docker Engine, its client and compose v2 on the provider's image. */
  dockerPackages(context: CloudContext): string[];
  /** The desired hosts of an environment from the provider's config (defaults applied). */
  desiredHosts(context: CloudContext): DesiredHost[];
  /** Reads the account (no change). Throws ExternalError when the API cannot be reached. */
  inventory(context: CloudContext): Promise<CloudInventory>;
  /** True when the provider's config keeps SSH open to its sources whatever the mesh (an escape hatch). */
  publicSsh(context: CloudContext): boolean;
  /**
   * The firewall the environment wants (undefined: none): the gateway's `ports` (tcp) from anywhere, and
   * SSH (tcp/22) from the configured sources — or, with `sshOverMesh` (plan/mesh-ssh.ts decided every
   * host is reached over the mesh), no tcp/22 and udp/41641 from anywhere for the mesh's direct
   * connections. Throws a UserError when SSH needs sources and the config gives none.
   */
  desiredFirewall(
    context: CloudContext,
    options: { sshSources: string[]; ports: number[]; sshOverMesh?: boolean },
  ): { name: string; inbound: FirewallRule[] } | undefined;
  /** Runs the plan's steps in order; `userData` is the cloud-init for new machines. Returns the hosts. */
  apply(context: CloudContext, plan: InfraPlan, userData: string): Promise<CloudHost[]>;
}
