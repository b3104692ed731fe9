import { SPEC_HASH_LABEL } from '../docker/labels.js';
import { caddyConfig, SWARM_UPSTREAM_REFRESH_MS } from '../ingress/caddy.js';
import { UserError } from '../util/errors.js';
import { compareStrings, sha256Hex } from './canonical.js';
import { escapeDollars } from './project.js';
import { type RenderedFile, renderCompose } from './render.js';
import type { ComposePort, ComposeProject, ComposeService } from './types.js';

// Compose → Swarm stack file. `docker stack deploy` reads a compose file with the docker CLI's own
// loader (schema 3.x), not compose v2's: it refuses what `docker compose config` prints in places
// (depends_on as a map, `published` as a string, the top-level `name`) and ignores keys Swarm does not
// have (`restart`, …). This module turns the per-environment document Stagecraft renders (images
// pinned, secrets in env files; compose/project.ts) into a stack file that means the same on a swarm.
// Checked on Docker 26.1 (`docker stack config` and `docker stack deploy`): see docs/swarm.md.

/** The name of the gateway service Stagecraft adds to a stack that routes domains. */
export const GATEWAY_SERVICE = 'stagecraft-gateway';
/** Where the gateway's Caddy config is mounted in its tasks (a Swarm config). */
export const GATEWAY_CONFIG_TARGET = '/etc/stagecraft/gateway.json';
/** The file beside the stack file that holds the gateway's config (read by `docker stack deploy`). */
export const GATEWAY_CONFIG_FILE = 'gateway.json';

/** Node label a role puts on its hosts; a service of the role is constrained to nodes with it. */
export function roleLabel(role: string): string {
  return `stagecraft.role.${role}`;
}

/** The placement constraint for a role (Swarm's `node.labels.<key> == <value>`). */
export function roleConstraint(role: string): string {
  return `node.labels.${roleLabel(role)} == true`;
}

/** What the transform needs to know of each service, from the environment model. */
export interface StackService {
  name: string;
  role: string;
  replicas: number;
  /** The rollout order Stagecraft decided (start-first unless the service owns a volume or a fixed port). */
  strategy: 'start-first' | 'stop-first' | 'recreate';
  /** A one-shot service: it runs as `mode: replicated-job` in a job stack, not in the app stack. */
  job: boolean;
  /**
   * A job that depends on services of the stack: it joins the app stack's networks (external in its
   * job stack); otherwise its job stack has networks of its own.
   */
  needsStack?: boolean;
}

/** The gateway in the stack: Caddy, one task per node, its HTTP port published in host mode. */
export interface StackGateway {
  image: string;
  httpPort: number;
  routes: { service: string; domains: string[]; port: number }[];
}

export interface StackInput {
  /** The rendered per-environment document (compose/project.ts `projectHostCompose`, every service). */
  document: ComposeProject;
  services: StackService[];
  /** Present when services have domains: the gateway service is added. */
  gateway?: StackGateway;
}

export interface SwarmStack {
  /** The app stack: every service but the jobs, plus the gateway. */
  stack: RenderedFile & { document: ComposeProject };
  /** Files `docker stack deploy` reads beside the stack file (the gateway's config), path → content. */
  files: Record<string, string>;
  /** One stack file per one-shot service: it alone, `mode: replicated-job`, on the app stack's networks. */
  jobs: Record<string, RenderedFile & { document: ComposeProject }>;
}

/** compose `restart` → Swarm's `deploy.restart_policy` (compose's own mapping of the two keys). */
function restartPolicy(restart: unknown): Record<string, unknown> | undefined {
  if (typeof restart !== 'string') return undefined;
  if (restart === 'no') return { condition: 'none' };
  if (restart === 'always' || restart === 'unless-stopped') return { condition: 'any' };
  const onFailure = /^on-failure(?::(\d+))?$/.exec(restart);
  if (onFailure === null) return undefined;
  return onFailure[1] === undefined
    ? { condition: 'on-failure' }
    : { condition: 'on-failure', max_attempts: Number(onFailure[1]) };
}

/** Ports as Swarm takes them: `published` a number, published in host mode (no routing mesh). */
function hostModePorts(service: string, ports: ComposePort[]): Record<string, unknown>[] {
  return ports.map((port) => {
    const out: Record<string, unknown> = { ...port, mode: 'host' };
    delete out['host_ip'];
    if (port.published !== undefined && String(port.published) !== '') {
      const published = String(port.published);
      if (!/^\d+$/.test(published)) {
        throw new UserError(
          `service ${service}: the published port range ${published} cannot be published on a swarm`,
          { hint: 'publish one port per entry (Swarm publishes single ports)' },
        );
      }
      out['published'] = Number(published);
    } else {
      delete out['published'];
    }
    return out;
  });
}

/** The networks a service joins, by their key in the document. */
function serviceNetworks(spec: ComposeService): string[] {
  const networks = spec.networks;
  if (networks === undefined) return ['default'];
  return Array.isArray(networks) ? networks.map(String) : Object.keys(networks);
}

function swarmService(spec: ComposeService, service: StackService): ComposeService {
  const out = structuredClone(spec);
  // `docker compose config` prints unset keys as null (command, entrypoint); the stack loader refuses them.
  for (const key of Object.keys(out)) if (out[key] === null) delete out[key];
  const deploy: Record<string, unknown> = { ...(out.deploy ?? {}) };
  // Swarm ignores depends_on (it starts services together and restarts a task until it works) and
  // `restart` (its restart_policy is the same setting).
  delete out.depends_on;
  const policy = restartPolicy(out['restart']);
  delete out['restart'];
  if (deploy['restart_policy'] === undefined && policy !== undefined) deploy['restart_policy'] = policy;

  if (deploy['mode'] !== 'global') deploy['replicas'] = service.replicas;
  delete out['scale'];
  // The gateway finds tasks through DNS (tasks.<service>), so no virtual IP: dnsrr also needs no
  // IPVS in the kernel, and a host-mode port is allowed with it.
  if (deploy['endpoint_mode'] === undefined) deploy['endpoint_mode'] = 'dnsrr';
  const placement = { ...((deploy['placement'] as Record<string, unknown> | undefined) ?? {}) };
  const constraints = new Set((placement['constraints'] as string[] | undefined) ?? []);
  constraints.add(roleConstraint(service.role));
  placement['constraints'] = [...constraints].sort(compareStrings);
  deploy['placement'] = placement;
  const update = { ...((deploy['update_config'] as Record<string, unknown> | undefined) ?? {}) };
  if (update['order'] === undefined)
    update['order'] = service.strategy === 'start-first' ? 'start-first' : 'stop-first';
  if (update['failure_action'] === undefined) update['failure_action'] = 'pause';
  deploy['update_config'] = update;
  out.deploy = deploy as ComposeService['deploy'];

  if (out.ports !== undefined) out.ports = hostModePorts(service.name, out.ports) as unknown as ComposePort[];
  return out;
}

/** Top-level networks as overlay networks (attachable, so a one-off container can join them). */
function overlayNetworks(document: ComposeProject, used: Set<string>): Record<string, unknown> {
  const declared = (document.networks ?? {}) as Record<string, Record<string, unknown> | null>;
  const out: Record<string, unknown> = {};
  for (const key of [...used].sort(compareStrings)) {
    const network = { ...(declared[key] ?? {}) };
    if (network['external'] !== true) {
      const driver = network['driver'];
      if (driver !== undefined && driver !== 'overlay') {
        throw new UserError(
          `network ${key} uses the driver ${String(driver)}; a swarm's networks span its nodes with the overlay driver`,
          {
            hint: `remove driver: ${String(driver)} from networks.${key} (Stagecraft makes it an overlay network)`,
          },
        );
      }
      network['driver'] = 'overlay';
      network['attachable'] = true;
    }
    out[key] = network;
  }
  return out;
}

function rendered(document: ComposeProject): RenderedFile & { document: ComposeProject } {
  return { ...renderCompose(document), document };
}

/**
 * The stack files of a release, from the rendered per-environment document: every service with
 * `deploy.replicas`, a placement constraint on its role's node label, `update_config` with
 * `order` (start-first, or stop-first where Stagecraft decided so; the compose file's own
 * `update_config.order` wins) and `failure_action: pause` (unless set), `endpoint_mode: dnsrr`,
 * published ports in host mode, `restart` as `restart_policy`; `depends_on` and the top-level `name`
 * dropped; networks overlay and attachable. One-shot services go to job stacks (`mode:
 * replicated-job`, the app stack's networks as external ones). With a gateway, the service
 * `stagecraft-gateway` (Caddy, global, host-mode HTTP port) routes each domain to `tasks.<service>`;
 * its config is a Swarm config named after its content's hash. Pure; throws UserError for what a swarm
 * cannot publish (a port range, a non-overlay network, a service named like the gateway).
 */
export function swarmStack(input: StackInput, stackName: string): SwarmStack {
  const services: Record<string, ComposeService> = {};
  const jobs: SwarmStack['jobs'] = {};
  const used = new Set<string>();
  const documentServices = input.document.services;
  if (documentServices[GATEWAY_SERVICE] !== undefined) {
    throw new UserError(
      `the compose service ${GATEWAY_SERVICE} has the name of Stagecraft's gateway on a swarm`,
      {
        hint: `rename the compose service ${GATEWAY_SERVICE}`,
      },
    );
  }
  const top: ComposeProject = { services: {} };
  for (const [key, value] of Object.entries(input.document)) {
    if (key === 'name' || key === 'services' || key === 'networks' || key.startsWith('x-')) continue;
    top[key] = structuredClone(value);
  }
  for (const service of [...input.services].sort((a, b) => compareStrings(a.name, b.name))) {
    const spec = documentServices[service.name];
    if (spec === undefined) continue;
    const swarm = swarmService(spec, service);
    if (service.job) {
      const deploy = { ...(swarm.deploy ?? {}) } as Record<string, unknown>;
      delete deploy['replicas'];
      delete deploy['update_config'];
      deploy['mode'] = 'replicated-job';
      if ((deploy['restart_policy'] as { condition?: string } | undefined)?.condition !== 'on-failure')
        deploy['restart_policy'] = { condition: 'none' };
      swarm.deploy = deploy as ComposeService['deploy'];
      delete swarm.ports;
      let networks: Record<string, unknown> = {};
      if (service.needsStack === true) {
        for (const key of serviceNetworks(spec)) {
          // The app stack (deployed first with what the job needs) creates the network; the job joins it by name.
          used.add(key);
          networks[key] = { external: true, name: `${stackName}_${key}` };
        }
      } else {
        // A job that needs no service of the stack runs on networks of its own job stack.
        networks = overlayNetworks(input.document, new Set(serviceNetworks(spec)));
      }
      jobs[service.name] = rendered({
        ...structuredClone(top),
        services: { [service.name]: swarm },
        networks,
      });
      continue;
    }
    for (const key of serviceNetworks(spec)) used.add(key);
    services[service.name] = swarm;
  }
  const files: Record<string, string> = {};
  if (input.gateway !== undefined && input.gateway.routes.length > 0) {
    const routes = input.gateway.routes.map((route) => ({ ...route, upstream: `tasks.${route.service}` }));
    const config = `${JSON.stringify(caddyConfig(routes, undefined, { draining: false, refreshMs: SWARM_UPSTREAM_REFRESH_MS }), null, 2)}\n`;
    const configName = `${GATEWAY_SERVICE}-${sha256Hex(config).slice(0, 12)}`;
    files[GATEWAY_CONFIG_FILE] = config;
    const networks = [
      ...new Set(input.gateway.routes.flatMap((route) => serviceNetworks(documentServices[route.service]!))),
    ].sort(compareStrings);
    for (const key of networks) used.add(key);
    services[GATEWAY_SERVICE] = {
      image: input.gateway.image,
      command: ['caddy', 'run', '--config', GATEWAY_CONFIG_TARGET],
      // What a deploy compares its tasks against (as the spec hash of the compose services).
      labels: { [SPEC_HASH_LABEL]: sha256Hex(`${input.gateway.image}\n${config}`) },
      configs: [{ source: configName, target: GATEWAY_CONFIG_TARGET }],
      networks,
      ports: [{ target: 80, published: String(input.gateway.httpPort), protocol: 'tcp', mode: 'host' }],
      deploy: {
        mode: 'global',
        endpoint_mode: 'dnsrr',
        // The port is fixed on every node: the old task must let go of it first.
        update_config: { order: 'stop-first', failure_action: 'pause' },
      },
    };
    services[GATEWAY_SERVICE].ports = hostModePorts(
      GATEWAY_SERVICE,
      services[GATEWAY_SERVICE].ports!,
    ) as unknown as ComposePort[];
    top['configs'] = {
      ...((top['configs'] as Record<string, unknown> | undefined) ?? {}),
      [configName]: { file: `./${GATEWAY_CONFIG_FILE}` },
    };
  }
  const stack: ComposeProject = { ...top, services };
  if (used.size > 0) stack.networks = overlayNetworks(input.document, used);
  return { stack: rendered(stack), files, jobs };
}

/** What a deploy-time migration runs as on a swarm (operations/migrations.ts). */
export interface MigrationJobInput {
  /** The app stack, whose networks the job joins (external in the job stack). */
  stack: string;
  /** The database the migrations are of: the job's service is `migrate-<database>`. */
  database: string;
  /** The compose service whose image and networks the job uses (its spec in the rendered document). */
  spec: ComposeService;
  image: string;
  entrypoint: string;
  command: string[];
  /** The 0600 file beside the job file with the connection's variables (`docker stack deploy` reads it). */
  envFile: string;
  /** Files beside the job file, path → sha256, mounted read-only under `mount` as Swarm configs. */
  files: Record<string, string>;
  mount: string;
}

/** The stack a deploy-time migration runs in: `<stack>-migrate-<database>`, removed once it is done. */
export function migrationJobStackName(stack: string, database: string): string {
  return `${stack}-migrate-${database}`;
}

/**
 * The stack file of a deploy-time migration on a swarm: one service `migrate-<database>`, `mode:
 * replicated-job` with no restart, the migration service's image, on the app stack's networks (so the
 * database answers by its service name), the connection from an env file, and the migration files as
 * Swarm configs (every node gets them; a config cannot change, so each is named by a hash of its
 * path and content). Pure. Reference: docs.docker.com/reference/compose-file/deploy (mode), …/configs.
 */
export function migrationJobStack(input: MigrationJobInput): RenderedFile & { document: ComposeProject } {
  const jobStack = migrationJobStackName(input.stack, input.database);
  const configs: Record<string, unknown> = {};
  const mounts: { source: string; target: string; mode: number }[] = [];
  for (const [path, sha256] of Object.entries(input.files).sort(([a], [b]) => compareStrings(a, b))) {
    // Named explicitly (`docker stack deploy` would prefix the stack's name, and a name has at most
    // 64 characters).
    const name = `stagecraft-migration-${sha256Hex(`${jobStack}\n${path}\n${sha256}`).slice(0, 16)}`;
    configs[name] = { name, file: `./${path}` };
    mounts.push({ source: name, target: `${input.mount}/${path}`, mode: 0o444 });
  }
  const networks = serviceNetworks(input.spec);
  const document: ComposeProject = {
    services: {
      [`migrate-${input.database}`]: {
        image: input.image,
        // Literal argv: `docker stack deploy` would interpolate `$STAGECRAFT_PSQL_URL` in psql's script.
        entrypoint: [escapeDollars(input.entrypoint)],
        command: input.command.map(escapeDollars),
        env_file: [`./${input.envFile}`],
        ...(mounts.length > 0 ? { configs: mounts } : {}),
        networks,
        labels: { 'stagecraft.migration': input.stack },
        deploy: { mode: 'replicated-job', restart_policy: { condition: 'none' } },
      },
    },
    networks: Object.fromEntries(
      networks.map((key) => [key, { external: true, name: `${input.stack}_${key}` }]),
    ),
    ...(mounts.length > 0 ? { configs } : {}),
  };
  return rendered(document);
}
