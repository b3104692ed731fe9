import { randomBytes } from 'node:crypto';
import { singleFileTar } from '../docker/archive.js';
import {
  type ContainerFacts,
  copyArchiveIntoArgs,
  createContainerArgs,
  execArgs,
  inspectContainersArgs,
  parseContainerInspect,
  type RunContainerOptions,
  removeContainersArgs,
  runContainerArgs,
  startContainersArgs,
} from '../docker/container.js';
import { imageExistsArgs, pullArgs } from '../docker/image.js';
import {
  INGRESS_DATA_LABEL,
  INGRESS_IMAGE_LABEL,
  INGRESS_LABEL,
  INGRESS_PORTS_CONTAINER_LABEL,
  INGRESS_PORTS_LABEL,
} from '../docker/labels.js';
import {
  connectAllArgs,
  type NetworkCreateOptions,
  networkCreateArgs,
  networkExistsArgs,
  parseUptimeCs,
} from '../docker/network.js';
import { type PlannedRoute, withPasswordHashes } from '../ingress/basic-auth.js';
import {
  acmeCaRootPath,
  type CaddyRoute,
  CONFIG_LOCK_HELD,
  caddyConfig,
  configLockArgv,
  configUnlockArgv,
  type DrainEnd,
  type DrainGroup,
  drainArgv,
  GATEWAY_DATA_DIR,
  GATEWAY_DRAIN_FILE,
  type IngressTls,
  loadConfigArgv,
  othersOn,
  PORTS_CONTAINER_CONFIG,
  parseDrainLine,
  proxySettingsOfConfig,
  readConfigArgv,
  routesFromConfig,
  SETTLE_MS,
  type Settle,
  sameOwner,
  sameRoutes,
  tlsOfConfig,
  upstreamAlias,
  withoutApp,
  withRoute,
  writeFileArgv,
} from '../ingress/caddy.js';
import { gatewayImage, gatewayImageChanged } from '../ingress/gateway-image.js';
import { gatewayPortsContainer } from '../ingress/gateway-name.js';
import type { ExecResult, Runner } from '../runners/types.js';
import { ExternalError, UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';
import { sleep } from '../util/sleep.js';

export interface IngressTarget {
  runner: Runner;
  /** The app whose routes and containers these are: its compose project, `<project>-<environment>`. */
  project: string;
  /** The gateway container, shared by every app on the host that listens on the same ports. */
  container: string;
  /** The network the gateway shares with the containers it routes to (same name as the gateway). */
  network: string;
  /** The app's own gateway from versions before the shared one: removed when the shared one starts. */
  legacy?: { container: string; network: string };
}

/**
 * Creates `network` on the runner's host with `options` unless it exists (one that appeared in
 * between counts as existing). Throws ExternalError when docker cannot create it.
 */
export async function ensureNetwork(
  runner: Runner,
  network: string,
  options: NetworkCreateOptions,
): Promise<void> {
  if ((await runner.exec(networkExistsArgs(network), { allowFailure: true })).exitCode === 0) return;
  const created = await runner.exec(networkCreateArgs(network, options), { allowFailure: true });
  if (created.exitCode !== 0 && !/already exists/.test(created.stderr)) {
    throw new ExternalError(
      `could not create network ${network} on ${runner.name}: ${created.stderr.trim()}`,
    );
  }
}

/**
 * Inspects the containers `names` in one command; returns a lookup by name (undefined for a
 * container that does not exist).
 */
async function inspectNamed(
  runner: Runner,
  names: string[],
): Promise<(name: string) => ContainerFacts | undefined> {
  const inspected = await runner.exec(inspectContainersArgs(names), { allowFailure: true });
  const found = inspected.stdout.trim() === '' ? [] : parseContainerInspect(inspected.stdout);
  return (name) => found.find((candidate) => candidate.name === name);
}

/** True when the gateway `facts` runs in its ports container and that container (`holder`) exists. */
function runsInPortsContainer(
  target: IngressTarget,
  facts: ContainerFacts,
  holder: ContainerFacts | undefined,
): boolean {
  return (
    holder !== undefined &&
    facts.labels[INGRESS_PORTS_CONTAINER_LABEL] === gatewayPortsContainer(target.container)
  );
}

/** `docker start` of a stopped gateway, its ports container first when it runs in one. */
function startGatewayArgs(
  target: IngressTarget,
  facts: ContainerFacts,
  holder: ContainerFacts | undefined,
): string[] {
  return startContainersArgs(
    runsInPortsContainer(target, facts, holder)
      ? [gatewayPortsContainer(target.container), target.container]
      : [target.container],
  );
}

/** The routes, TLS fingerprint and proxy settings of a live config. */
function liveOf(config: unknown): { routes: CaddyRoute[]; tls: string; proxy: string } {
  return { routes: routesFromConfig(config), tls: tlsOfConfig(config), proxy: proxySettingsOfConfig(config) };
}

/** The live config's routes and TLS fingerprint, or undefined while the admin API does not answer. */
async function readLive(
  target: IngressTarget,
): Promise<{ routes: CaddyRoute[]; tls: string; proxy: string } | undefined> {
  const result = await target.runner.exec(
    execArgs(target.container, readConfigArgv(), { interactive: false }),
    {
      allowFailure: true,
    },
  );
  if (result.exitCode !== 0) return undefined;
  try {
    return liveOf(JSON.parse(result.stdout) as unknown);
  } catch {
    return { routes: [], tls: '', proxy: '' };
  }
}

/** The named volume holding a gateway's certificates and ACME account: `<container>-data`. */
export function gatewayDataVolume(container: string): string {
  return `${container}-data`;
}

/** Puts the private ACME CA's root where the config's `trusted_roots_pem_files` points (idempotent). */
async function writeCaRoot(target: IngressTarget, pem: string): Promise<void> {
  const result = await target.runner.exec(execArgs(target.container, writeFileArgv(acmeCaRootPath(pem))), {
    stdin: pem,
    allowFailure: true,
  });
  if (result.exitCode !== 0) {
    throw new ExternalError(
      `cannot write the ACME CA root into the ingress on ${target.runner.name}: ${result.stderr.trim() || result.stdout.trim()}`,
      { hint: `the gateway image must have sh, mkdir and cat; check \`docker logs ${target.container}\`` },
    );
  }
}

/**
 * Puts the config of `routes` and `tls` into the gateway: beside it (loadBeside) when it runs in its
 * ports container (`beside`), else by loading it through the admin API.
 */
async function loadRoutes(
  target: IngressTarget,
  routes: CaddyRoute[],
  tls: IngressTls,
  beside?: BesideGateway,
): Promise<void> {
  // The file the config's trusted_roots_pem_files names must exist before Caddy provisions the issuer.
  if (tls.mode === 'acme' && tls.caRoot !== undefined) await writeCaRoot(target, tls.caRoot);
  if (beside !== undefined) await loadBeside(target, beside, caddyConfig(routes, tls));
  else await loadConfig(target, caddyConfig(routes, tls));
}

/** Loads a whole config into the gateway. Throws ExternalError when Caddy refuses it. */
async function loadConfig(target: IngressTarget, config: unknown): Promise<void> {
  // The config may hold a private key: it travels only on stdin, as a Secret.
  const result = await target.runner.exec(execArgs(target.container, loadConfigArgv()), {
    stdin: new Secret(JSON.stringify(config)),
    allowFailure: true,
  });
  if (result.exitCode !== 0) {
    throw new ExternalError(
      `the ingress on ${target.runner.name} refused its new config: ${result.stderr.trim() || result.stdout.trim()}`,
      { hint: `inspect it with \`docker logs ${target.container}\` on ${target.runner.name}` },
    );
  }
}

/**
 * What `ensureIngress` did: `created` a gateway where none was, `replaced` one that ran another image
 * (every app's routes carried over), `reconfigured` its routes, or left it `running` as it was.
 */
export type IngressOutcome = 'created' | 'replaced' | 'reconfigured' | 'running';

/** Where a ports container finds its config (PORTS_CONTAINER_CONFIG), inside it. */
const PORTS_CONFIG = '/etc/stagecraft/ports.json';

/**
 * The kernel setting that hands connections still waiting to be accepted by a gateway that stops to
 * the one that stays (Linux 5.14 and newer); ports containers are made without it on older kernels.
 */
const MIGRATE_REQ_SYSCTL = 'net.ipv4.tcp_migrate_req';

/** How long an old gateway answers with `Connection: close` before it stops, in s. */
const GATEWAY_DRAIN_S = 0.5;

/**
 * How long an old gateway may finish its requests in flight once told to stop, in s: short of
 * CONFIG_LOCK_STALE_S, so that the config lock held meanwhile is never taken for a dead one's.
 */
const GATEWAY_STOP_GRACE_S = 20;

/**
 * Makes sure the host's shared gateway runs `image`, on its network, publishing the HTTP port (and
 * HTTPS with TLS), and that it has the app's route for each service in `routes` (basic auth passwords
 * hashed here with bcrypt) beside the routes of every other app on it. The config survives restarts
 * (`caddy run --resume`) and is reloaded only when a route (path, body limit, basic auth user or
 * password, maintenance included) or the TLS settings differ; the read-change-load runs under the
 * gateway's config lock, so two apps deploying at once never drop each other's routes. The app's
 * gateway from an older version (`legacy`) is removed first: the shared one takes its ports.
 * The gateway runs in its ports container (gatewayPortsContainer), which publishes the ports. A
 * gateway running another image (gatewayImageChanged) is replaced (replaceGateway): the new one starts
 * with the old one's live config (every app's routes, basic auth hashes and maintenance) and the
 * app's routes, beside the old one, which then drains; no request is refused. A gateway made before
 * ports containers moves into one at that replacement, and requests to the host are refused for the
 * moment of that move (once).
 * Throws UserError when the app asks for other TLS settings than the apps already on the gateway, or
 * for a domain and path another app routes there (nothing changed); ExternalError for the host.
 */
export async function ensureIngress(
  target: IngressTarget,
  image: string,
  ports: { http: number; https: number },
  routes: PlannedRoute[],
  tls: IngressTls,
): Promise<IngressOutcome> {
  routes = routes.map((route) => ({ ...route, app: target.project }));
  const portsContainer = gatewayPortsContainer(target.container);
  // One inspect for the shared gateway, its ports container and the app's gateway from an older version.
  const names = [
    target.container,
    portsContainer,
    ...(target.legacy === undefined ? [] : [target.legacy.container]),
  ];
  const found = await inspectNamed(target.runner, names);
  let facts = found(target.container);
  const holder = found(portsContainer);
  const legacy = target.legacy !== undefined && found(target.legacy.container) !== undefined;
  const published = tls.mode === 'off' ? [`${ports.http}:80`] : [`${ports.http}:80`, `${ports.https}:443`];
  const dataVolume = gatewayDataVolume(target.container);
  // Only TLS on or off changes the ports a gateway publishes (its name holds the port numbers).
  const portsChange = facts !== undefined && facts.labels[INGRESS_PORTS_LABEL] !== published.join(',');
  const imageChange = facts !== undefined && gatewayImageChanged(facts, image);
  const recreate =
    portsChange ||
    imageChange ||
    // ACME certificates must outlive the container (CA rate limits): a gateway made before its data
    // volume existed is made again once, with it.
    (facts !== undefined && tls.mode === 'acme' && facts.labels[INGRESS_DATA_LABEL] !== dataVolume);
  if ((recreate || legacy) && facts?.running === true) {
    // Refused before anything changes: the other apps' routes and TLS as the gateway has them now
    // (checked again under the lock below).
    const before = await readLive(target);
    if (before !== undefined) {
      checkSharing(target, before, routes, tls);
      const others = othersOn(before.routes, target.project);
      if (portsChange && others.length > 0) throw tlsConflict(target, others);
    }
  }
  if (legacy) await target.runner.exec(removeContainersArgs([target.legacy!.container], { force: true }));
  let outcome: IngressOutcome = 'running';
  // Every app's routes of a gateway replaced for its image, carried into the new one.
  let carried: { routes: CaddyRoute[]; tls: string } | undefined;
  if (imageChange) {
    const gateway = { image, published, dataVolume };
    const replaced = await replaceGateway(target, facts!, holder, gateway, routes, tls, portsChange);
    carried = replaced;
    if (replaced.swapped) outcome = 'replaced';
  } else if (recreate) {
    // Published ports and mounts are fixed when a container is created: a change needs a new gateway.
    await target.runner.exec(removeContainersArgs([target.container, portsContainer], { force: true }), {
      allowFailure: true,
    });
    facts = undefined;
  }
  if (facts === undefined) {
    // The ports container as read above, unless the recreation just removed it.
    const ports = recreate ? undefined : holder;
    if (await createGateway(target, image, published, dataVolume, ports)) outcome = 'created';
  } else if (!facts.running && !imageChange) {
    await target.runner.exec(startGatewayArgs(target, facts, holder));
  }
  // Most deploys change no route: one read without the lock tells (the lock takes three commands).
  // Only this app changes its own routes, and its deploy lock is held.
  if (outcome === 'running' && carried === undefined && facts?.running === true) {
    const live = await readLive(target);
    if (live !== undefined && !(await wantedConfig(target, live, live.routes, live.tls, routes, tls)).changed)
      return outcome;
  }
  return withConfigLock(target, async (config) => {
    const live = liveOf(config);
    // The new gateway started with the carried routes; a route another deploy loaded since is newer.
    const base = [
      ...live.routes,
      ...(carried?.routes ?? []).filter((old) => !live.routes.some((route) => sameOwner(route, old))),
    ];
    const sharedTls = carried !== undefined && live.routes.length === 0 ? carried.tls : live.tls;
    const { wanted, changed } = await wantedConfig(target, live, base, sharedTls, routes, tls);
    if (changed || outcome === 'created') {
      // A running gateway gets the new config beside it: a reload would reset idle connections.
      await loadRoutes(
        target,
        wanted,
        tls,
        outcome === 'running' ? besideOf(target, facts, holder) : undefined,
      );
      if (outcome === 'running') outcome = 'reconfigured';
    }
    return outcome;
  });
}

/**
 * The routes the gateway should have: `base` (the other apps' and this app's live routes) with this
 * app's `routes` in place, and whether that differs from `live` (routes, TLS, or proxy settings an
 * older version wrote). Throws UserError when another app on the gateway holds a domain and path of
 * this app or differs in TLS (checkSharing).
 */
async function wantedConfig(
  target: IngressTarget,
  live: { routes: CaddyRoute[]; tls: string; proxy: string },
  base: CaddyRoute[],
  sharedTls: string,
  routes: PlannedRoute[],
  tls: IngressTls,
): Promise<{ wanted: CaddyRoute[]; changed: boolean }> {
  checkSharing(target, { routes: base, tls: sharedTls }, routes, tls);
  // Basic auth passwords become bcrypt hashes here, the live ones kept while they match.
  const wanted = (await withPasswordHashes(routes, base)).reduce(withRoute, base);
  const config = caddyConfig(wanted, tls);
  const changed =
    !sameRoutes(live.routes, wanted) ||
    live.tls !== tlsOfConfig(config) ||
    live.proxy !== proxySettingsOfConfig(config);
  return { wanted, changed };
}

/** Pulls the gateway image unless the host has it. Throws ExternalError when it cannot (nothing changed yet). */
async function pullImage(target: IngressTarget, image: string): Promise<void> {
  if ((await target.runner.exec(imageExistsArgs(image), { allowFailure: true })).exitCode === 0) return;
  const pulled = await target.runner.exec(pullArgs(image), { allowFailure: true });
  if (pulled.exitCode !== 0) {
    throw new ExternalError(
      `could not pull the gateway image ${image} on ${target.runner.name}: ${pulled.stderr.trim()}`,
      { hint: 'check ingress.image (name, tag, registry login on the host); the old gateway keeps serving' },
    );
  }
}

/** Where a replacing gateway finds its first config (`caddy run --config`), inside its container. */
export const GATEWAY_SEED_CONFIG = '/etc/stagecraft/gateway.json';

/**
 * `sh -c BESIDE_SCRIPT sh <old> <new> <stop grace s> <drain s>`: starts the new gateway beside the old
 * one (same ports container) and waits until its Caddy says it serves its config (its listeners are
 * open then; 30 s at most); then marks the old one draining (GATEWAY_DRAIN_FILE), stops it after the
 * drain time (its requests in flight finish within the grace), removes it and gives the new one its
 * name. Exits 1 when the new one does not start, 2 when it does not serve (its log on stderr, then
 * removed; the old one untouched), 3 (SWAP_UNNAMED) when it serves under its own name. It ignores
 * SIGHUP and SIGPIPE: a hand-over that has begun ends even if the deploy's SSH session dies, so two
 * gateways never stay side by side.
 */
export const BESIDE_SCRIPT =
  "trap '' HUP PIPE; " +
  'docker start "$2" >/dev/null || exit 1; ' +
  'i=0; until docker logs "$2" 2>&1 | grep -q "serving initial configuration"; do ' +
  'if [ "$i" -ge 300 ] || [ "$(docker inspect --format "{{.State.Running}}" "$2")" != true ]; then ' +
  'docker logs --tail 20 "$2" >&2 2>&1; docker rm -f "$2" >/dev/null 2>&1; exit 2; fi; ' +
  'sleep 0.1; i=$((i + 1)); done; ' +
  `f=$(mktemp) && docker cp "$f" "$1:${GATEWAY_DRAIN_FILE}" >/dev/null 2>&1; rm -f "$f"; ` +
  'sleep "$4"; docker stop -t "$3" "$1" >/dev/null; ' +
  '{ docker rm -f "$1" >/dev/null && docker rename "$2" "$1"; } || exit 3';

/**
 * `sh -c MOVE_SCRIPT sh <old> <old has a ports container: 1|0> <new ports container> <new> <ports
 * container name>`: the new ports container takes the old gateway's ports (the old gateway and its
 * ports container stopped first, started again if the new ones cannot start), then the names.
 */
export const MOVE_SCRIPT =
  "trap '' HUP PIPE; " +
  'docker stop -t 0 "$1" >/dev/null || exit 1; ' +
  'if [ "$2" = 1 ]; then docker stop -t 0 "$5" >/dev/null; fi; ' +
  'if ! { docker start "$3" >/dev/null && docker start "$4" >/dev/null; }; then ' +
  'docker stop -t 0 "$4" "$3" >/dev/null 2>&1; ' +
  'if [ "$2" = 1 ]; then docker start "$5" >/dev/null; fi; docker start "$1" >/dev/null; exit 1; fi; ' +
  '{ docker rm -f "$1" >/dev/null && docker rm -f "$5" >/dev/null 2>&1; ' +
  'docker rename "$3" "$5" && docker rename "$4" "$1"; } || exit 3';

/** BESIDE_SCRIPT's and MOVE_SCRIPT's exit code when the new gateway serves but could not take the old one's name. */
const SWAP_UNNAMED = 3;

/**
 * The container a replacing gateway (or its ports container) is created as until it takes the name:
 * `<name>-next-<8 hex>`, one per deploy (two apps' deploys may replace it at once).
 */
function nextName(container: string): string {
  return `${container}-next-${randomBytes(4).toString('hex')}`;
}

/**
 * Replaces a gateway that runs another image. It pulls the image and creates the new container
 * (nextName) while the old one serves; then, under the old one's config lock (no other app's change
 * lost), unless another deploy replaced it meanwhile, and after the same refusals as before any
 * change, copies in the config the new one starts with (every app's live routes, basic auth hashes
 * and maintenance, with the app's; on stdin as a Secret: it can hold the custom TLS key).
 * - The old gateway runs in its ports container (`holder` running, same ports): the new one starts in
 *   it too, beside the old one, and both take new connections; once the new Caddy serves, the old one
 *   gets GATEWAY_DRAIN_FILE (every response closes its connection), and GATEWAY_DRAIN_S later it
 *   stops (its requests in flight finish, GATEWAY_STOP_GRACE_S at most). No request is refused.
 * - Otherwise (a gateway made before ports containers, or other published ports) a new ports
 *   container is made too and MOVE_SCRIPT moves the ports: requests to the host are refused from the
 *   old gateway's stop until the new Caddy listens.
 * The new gateway then takes the old one's name. A stopped gateway is started first, to read its
 * config. Returns the old live routes and TLS fingerprint, and whether this deploy swapped; the
 * containers it made are removed unless it did. Throws UserError as ensureIngress; ExternalError for
 * the host (the old gateway serves on, or again, unless the new one does).
 */
async function replaceGateway(
  target: IngressTarget,
  facts: ContainerFacts,
  holder: ContainerFacts | undefined,
  gateway: { image: string; published: string[]; dataVolume: string },
  routes: PlannedRoute[],
  tls: IngressTls,
  portsChange: boolean,
): Promise<{ routes: CaddyRoute[]; tls: string; swapped: boolean }> {
  const { runner } = target;
  const portsContainer = gatewayPortsContainer(target.container);
  const beside = runsInPortsContainer(target, facts, holder) && !portsChange;
  const next = nextName(target.container);
  const nextPorts = beside ? undefined : nextName(portsContainer);
  await pullImage(target, gateway.image);
  if (!facts.running) await runner.exec(startGatewayArgs(target, facts, holder));
  let swapped = false;
  try {
    if (nextPorts !== undefined)
      await createPortsContainer(target, gateway.image, gateway.published, nextPorts);
    const created = await runner.exec(
      createContainerArgs(
        gateway.image,
        ['caddy', 'run', '--config', GATEWAY_SEED_CONFIG, '--resume'],
        gatewayOptions(target, gateway.image, gateway.published, gateway.dataVolume, {
          name: next,
          namespaceOf: nextPorts ?? portsContainer,
        }),
      ),
      { allowFailure: true },
    );
    if (created.exitCode !== 0) throw gatewayStartError(target, created);
    return await withConfigLock(target, async (config) => {
      const live = liveOf(config);
      const now = await runner.exec(inspectContainersArgs([target.container]), { allowFailure: true });
      const current = now.exitCode === 0 ? parseContainerInspect(now.stdout)[0] : undefined;
      // Another app's deploy replaced it while this one waited for the lock.
      if (current !== undefined && !gatewayImageChanged(current, gateway.image))
        return { routes: live.routes, tls: live.tls, swapped };
      checkSharing(target, live, routes, tls);
      const others = othersOn(live.routes, target.project);
      if (portsChange && others.length > 0) throw tlsConflict(target, others);
      const wanted = (await withPasswordHashes(routes, live.routes)).reduce(withRoute, live.routes);
      // The data volume is shared: the CA root the new config names is there before it starts.
      if (tls.mode === 'acme' && tls.caRoot !== undefined) await writeCaRoot(target, tls.caRoot);
      await seedGateway(target, next, caddyConfig(wanted, tls));
      const swap = beside
        ? await startBeside(target, next)
        : // The gap: from the old one's stop until the new Caddy listens (published ports are released
          // when a container stops). One command, one round trip.
          await runner.exec(
            [
              'sh',
              '-c',
              MOVE_SCRIPT,
              'sh',
              target.container,
              holder === undefined ? '0' : '1',
              nextPorts!,
              next,
              portsContainer,
            ],
            { allowFailure: true },
          );
      swapped = swap.exitCode === 0 || swap.exitCode === SWAP_UNNAMED;
      throwUnlessSwapped(target, next, swap);
      return { routes: live.routes, tls: live.tls, swapped };
    });
  } finally {
    if (!swapped)
      await runner.exec(
        removeContainersArgs([next, ...(nextPorts === undefined ? [] : [nextPorts])], { force: true }),
        {
          allowFailure: true,
        },
      );
  }
}

/**
 * Copies `config` into the created gateway `next` as the config it starts with (GATEWAY_SEED_CONFIG,
 * 0600, on stdin as a Secret: it can hold the custom TLS key). Throws ExternalError when Docker refuses.
 */
async function seedGateway(target: IngressTarget, next: string, config: unknown): Promise<void> {
  const seed = singleFileTar(GATEWAY_SEED_CONFIG.slice(1), JSON.stringify(config), 0o600);
  const copied = await target.runner.exec(copyArchiveIntoArgs(next), {
    stdin: new Secret(seed),
    allowFailure: true,
  });
  if (copied.exitCode !== 0) throw gatewayStartError(target, copied);
}

/**
 * Throws for a swap that did not end with `next` serving under the gateway's name: ExternalError with
 * the manual fix when it serves under its own name (SWAP_UNNAMED), gatewayStartError otherwise.
 */
function throwUnlessSwapped(target: IngressTarget, next: string, swap: ExecResult): void {
  if (swap.exitCode === SWAP_UNNAMED) {
    const { name } = target.runner;
    throw new ExternalError(
      `the new gateway ${next} on ${name} serves, but could not take the name ${target.container}: ${swap.stderr.trim()}`,
      {
        hint: `on ${name}: \`docker rm -f ${target.container} && docker rename ${next} ${target.container}\`, then deploy again`,
      },
    );
  }
  if (swap.exitCode !== 0) throw gatewayStartError(target, swap);
}

/** A running gateway in its running ports container: the image, published ports and data volume it was made with. */
interface BesideGateway {
  image: string;
  published: string[];
  dataVolume: string;
}

/**
 * The gateway `facts` as loadBeside needs it, from its labels, when it and its ports container
 * (`holder`) run; undefined otherwise (a gateway made before ports containers, or stopped).
 */
function besideOf(
  target: IngressTarget,
  facts: ContainerFacts | undefined,
  holder: ContainerFacts | undefined,
): BesideGateway | undefined {
  if (facts?.running !== true || holder?.running !== true) return undefined;
  if (!runsInPortsContainer(target, facts, holder)) return undefined;
  const image = gatewayImage(facts);
  const published = facts.labels[INGRESS_PORTS_LABEL];
  const dataVolume = facts.labels[INGRESS_DATA_LABEL];
  if (image === undefined || !published || !dataVolume) return undefined;
  return { image, published: published.split(','), dataVolume };
}

/**
 * Puts `config` into a gateway that runs in its ports container without reloading it: Caddy applies
 * a config change by restarting its servers, which closes idle keep-alive connections under clients
 * about to reuse them. Instead a new gateway of the same image starts with `config` beside it and the
 * old one drains and stops (startBeside), as for an image change. Runs under the config lock. Throws
 * ExternalError when the new one does not serve (Caddy refused the config: its log is in the
 * message); the old one then serves on, unchanged, and the new one is removed.
 */
async function loadBeside(target: IngressTarget, gateway: BesideGateway, config: unknown): Promise<void> {
  const next = nextName(target.container);
  const created = await target.runner.exec(
    createContainerArgs(
      gateway.image,
      ['caddy', 'run', '--config', GATEWAY_SEED_CONFIG, '--resume'],
      gatewayOptions(target, gateway.image, gateway.published, gateway.dataVolume, { name: next }),
    ),
    { allowFailure: true },
  );
  if (created.exitCode !== 0) throw gatewayStartError(target, created);
  let swapped = false;
  try {
    await seedGateway(target, next, config);
    const swap = await startBeside(target, next);
    swapped = swap.exitCode === 0 || swap.exitCode === SWAP_UNNAMED;
    throwUnlessSwapped(target, next, swap);
  } finally {
    if (!swapped)
      await target.runner.exec(removeContainersArgs([next], { force: true }), { allowFailure: true });
  }
}

/**
 * Starts the new gateway `next` in the old one's ports container and, once its Caddy serves, drains
 * and stops the old one and gives `next` its name: BESIDE_SCRIPT, one command. Returns its result:
 * exit 0, SWAP_UNNAMED, or another code with stderr saying why `next` did not take over (then the
 * old one was not touched and `next` is gone).
 */
async function startBeside(target: IngressTarget, next: string): Promise<ExecResult> {
  const swap = await target.runner.exec(
    [
      'sh',
      '-c',
      BESIDE_SCRIPT,
      'sh',
      target.container,
      next,
      String(GATEWAY_STOP_GRACE_S),
      String(GATEWAY_DRAIN_S),
    ],
    { allowFailure: true },
  );
  if (swap.exitCode === 0 || swap.exitCode === SWAP_UNNAMED) return swap;
  return { ...swap, stderr: `the new gateway ${next} did not serve its config: ${swap.stderr.trim()}` };
}

/**
 * The name, network namespace, data volume, restart policy and labels of a gateway container: it
 * runs in the network namespace of `namespaceOf` (its ports container, default
 * gatewayPortsContainer; a new one has a temporary name until the swap), which publishes the ports.
 */
function gatewayOptions(
  target: IngressTarget,
  image: string,
  published: string[],
  dataVolume: string,
  container: { name?: string; namespaceOf?: string } = {},
): RunContainerOptions {
  const portsContainer = gatewayPortsContainer(target.container);
  return {
    name: container.name ?? target.container,
    restart: 'unless-stopped',
    network: `container:${container.namespaceOf ?? portsContainer}`,
    volumes: [`${dataVolume}:${GATEWAY_DATA_DIR}`],
    labels: [
      [INGRESS_LABEL, target.container],
      [INGRESS_DATA_LABEL, dataVolume],
      [INGRESS_PORTS_LABEL, published.join(',')],
      [INGRESS_IMAGE_LABEL, image],
      [INGRESS_PORTS_CONTAINER_LABEL, portsContainer],
    ],
  };
}

/**
 * Creates (does not start) a ports container `name` for the gateway: on the gateway's network,
 * publishing `published`, with MIGRATE_REQ_SYSCTL where the host's kernel has it, running Caddy with
 * PORTS_CONTAINER_CONFIG (copied in). Throws ExternalError when Docker refuses.
 */
async function createPortsContainer(
  target: IngressTarget,
  image: string,
  published: string[],
  name: string,
): Promise<void> {
  const { runner } = target;
  const migrates =
    (
      await runner.exec(['test', '-e', `/proc/sys/${MIGRATE_REQ_SYSCTL.replaceAll('.', '/')}`], {
        allowFailure: true,
      })
    ).exitCode === 0;
  const created = await runner.exec(
    createContainerArgs(image, ['caddy', 'run', '--config', PORTS_CONFIG], {
      name,
      restart: 'unless-stopped',
      network: target.network,
      publish: published,
      labels: [
        [INGRESS_LABEL, target.container],
        [INGRESS_PORTS_LABEL, published.join(',')],
      ],
      ...(migrates ? { sysctls: [[MIGRATE_REQ_SYSCTL, '1']] } : {}),
    }),
    { allowFailure: true },
  );
  if (created.exitCode !== 0) throw gatewayStartError(target, created);
  const copied = await runner.exec(copyArchiveIntoArgs(name), {
    stdin: singleFileTar(PORTS_CONFIG.slice(1), JSON.stringify(PORTS_CONTAINER_CONFIG), 0o644),
    allowFailure: true,
  });
  if (copied.exitCode !== 0) throw gatewayStartError(target, copied);
}

/**
 * Creates and starts the gateway (and its network, data volume and ports container), labelled with
 * its ports, data volume, image and ports container. `holder`: the ports container as the caller read
 * it (undefined: there is none); one left without its gateway (a creation that stopped half-way) is
 * used when it publishes `published`, else made again. Returns false when another app's deploy
 * created the gateway a moment ago (use that one). Throws ExternalError when it cannot start.
 */
async function createGateway(
  target: IngressTarget,
  image: string,
  published: string[],
  dataVolume: string,
  holder: ContainerFacts | undefined,
): Promise<boolean> {
  const { runner } = target;
  await ensureNetwork(runner, target.network, { labels: { [INGRESS_LABEL]: target.container } });
  // Labelled, so `stagecraft remove --volumes` finds it with the gateway.
  await runner.exec([
    'docker',
    'volume',
    'create',
    '--label',
    `${INGRESS_LABEL}=${target.container}`,
    dataVolume,
  ]);
  const portsContainer = gatewayPortsContainer(target.container);
  if (holder === undefined || holder.labels[INGRESS_PORTS_LABEL] !== published.join(',')) {
    if (holder !== undefined) await runner.exec(removeContainersArgs([portsContainer], { force: true }));
    try {
      await createPortsContainer(target, image, published, portsContainer);
    } catch (error) {
      // Another app's deploy made it a moment ago.
      if (!/already in use/.test((error as Error).message)) throw error;
    }
  }
  const start = await runner.exec(startContainersArgs([portsContainer]), { allowFailure: true });
  if (start.exitCode !== 0) throw gatewayStartError(target, start);
  const run = await runner.exec(
    runContainerArgs(image, ['caddy', 'run', '--resume'], {
      detach: true,
      ...gatewayOptions(target, image, published, dataVolume),
    }),
    { allowFailure: true },
  );
  if (run.exitCode === 0) return true;
  if (/already in use/.test(run.stderr)) return false;
  throw gatewayStartError(target, run);
}

function gatewayStartError(target: IngressTarget, run: ExecResult): ExternalError {
  const port = /port is already allocated|address already in use/.test(run.stderr);
  return new ExternalError(
    `could not start the gateway ${target.container} on ${target.runner.name}: ${run.stderr.trim()}`,
    {
      hint: port
        ? `another process or container holds its ports on ${target.runner.name} (\`docker ps --filter publish=<port>\`, \`ss -ltnp\`): stop it, or set ingress.http_port and ingress.https_port`
        : `check the gateway image and \`docker info\` on ${target.runner.name}`,
    },
  );
}

function tlsConflict(target: IngressTarget, others: string[]): UserError {
  return new UserError(
    `the gateway ${target.container} on ${target.runner.name} serves ${others.join(', ')} with other TLS settings than ${target.project} asks for`,
    {
      hint: 'apps that share a gateway (the same ingress ports on a host) share its TLS settings: give them the same ingress.tls, or give this environment its own ports with ingress.http_port and ingress.https_port',
    },
  );
}

/**
 * Refuses what would change another app's traffic on a shared gateway: other TLS settings than the
 * gateway has while other apps use it, or a domain and path prefix another app already routes.
 */
function checkSharing(
  target: IngressTarget,
  live: { routes: CaddyRoute[]; tls: string },
  routes: PlannedRoute[],
  tls: IngressTls,
): void {
  const others = othersOn(live.routes, target.project);
  if (others.length === 0) return;
  // The other apps' routes under this app's TLS settings give the live TLS config when they agree.
  const theirs = live.routes.filter((route) => route.app !== undefined && route.app !== target.project);
  if (tlsOfConfig(caddyConfig(theirs, tls)) !== live.tls) throw tlsConflict(target, others);
  for (const route of routes) {
    for (const other of theirs) {
      const domain = route.domains.find((name) => other.domains.includes(name));
      if (domain === undefined || (route.path ?? '') !== (other.path ?? '')) continue;
      throw new UserError(
        `${domain === '*' ? 'every other domain (*)' : domain}${route.path ?? ''} of ${route.service} is already routed by ${other.app} (service ${other.service}) on the gateway ${target.container} on ${target.runner.name}`,
        {
          hint: `a domain and path belong to one app on a shared gateway: change services.${route.service}.domains, take the other app off with \`stagecraft remove\`, or give this environment its own ports with ingress.http_port and ingress.https_port`,
        },
      );
    }
  }
}

/** Pause between two tries to take the gateway's config lock, in ms. */
const CONFIG_LOCK_POLL_MS = 200;
/** How long a deploy waits for another app's change to the gateway's config, in ms. */
const CONFIG_LOCK_WAIT_MS = 90_000;
/** Pause between two tries while the gateway's admin API does not answer yet, in ms. */
const ADMIN_POLL_MS = 100;
/** Tries before a gateway whose admin API never answers is an error. */
const ADMIN_TRIES = 100;

/**
 * Runs `change` on the live config while holding the gateway's config lock (a folder made with mkdir
 * inside the gateway, which is atomic, holding a fresh token; one left by a change that died is taken
 * over after CONFIG_LOCK_STALE_S), taken and read in one command, and releases it whatever the
 * outcome (only if the token still holds it). Waits for the admin API of a gateway that is starting.
 * Throws ExternalError when the lock stays held CONFIG_LOCK_WAIT_MS or the admin API never answers.
 */
async function withConfigLock<T>(target: IngressTarget, change: (config: unknown) => Promise<T>): Promise<T> {
  const started = Date.now();
  const token = randomBytes(8).toString('hex');
  let noAdmin = 0;
  for (;;) {
    const taken = await target.runner.exec(
      execArgs(target.container, configLockArgv(token), { interactive: false }),
      { allowFailure: true },
    );
    if (taken.exitCode === 0) {
      try {
        return await change(JSON.parse(taken.stdout.trim() || 'null') as unknown);
      } finally {
        await target.runner.exec(
          execArgs(target.container, configUnlockArgv(token), { interactive: false }),
          {
            allowFailure: true,
          },
        );
      }
    }
    // Held by another change: `sh` answered 1. Anything else (the admin API, or the container, not up
    // yet) is waited for a moment.
    if (taken.exitCode === CONFIG_LOCK_HELD && taken.stderr.trim() === '') {
      if (Date.now() - started >= CONFIG_LOCK_WAIT_MS) {
        throw new ExternalError(
          `the config of the gateway ${target.container} on ${target.runner.name} stayed locked by another deploy for ${CONFIG_LOCK_WAIT_MS / 1000} s`,
          { hint: "wait for the other app's deploy to end and run this again" },
        );
      }
      await sleep(CONFIG_LOCK_POLL_MS);
      continue;
    }
    if (++noAdmin >= ADMIN_TRIES) {
      throw new ExternalError(
        `the ingress container ${target.container} on ${target.runner.name} did not start its admin API`,
        {
          hint: `check \`docker logs ${target.container}\` on ${target.runner.name}; the image must contain caddy and busybox wget`,
        },
      );
    }
    await sleep(ADMIN_POLL_MS);
  }
}

/**
 * Takes the app's routes off the shared gateway (under its config lock), keeping every other app's;
 * the certificates Caddy manages follow the remaining routes' domains. Returns the apps left on it.
 * A gateway that is not running has nothing to take off. Throws ExternalError for the host.
 */
export async function removeAppRoutes(target: IngressTarget): Promise<string[]> {
  const portsContainer = gatewayPortsContainer(target.container);
  const found = await inspectNamed(target.runner, [target.container, portsContainer]);
  const facts = found(target.container);
  if (facts?.running !== true) return [];
  const beside = besideOf(target, facts, found(portsContainer));
  return withConfigLock(target, async (config) => {
    const kept = withoutApp(config, target.project);
    if (JSON.stringify(kept) !== JSON.stringify(config)) {
      // The other apps' connections stay open: the config goes in beside the running gateway.
      if (beside !== undefined) await loadBeside(target, beside, kept);
      else await loadConfig(target, kept);
    }
    return othersOn(routesFromConfig(kept), target.project);
  });
}

/**
 * Puts containers behind a service's route: they join the ingress network under the route's alias, in
 * one command. Caddy sends them traffic once it re-reads the alias: SETTLE_MS later (drainUpstreams
 * waits for that before it reads; a rollout that stops old containers without a drain waits too).
 * Returns the host's uptime when they had joined, in centiseconds (undefined when it could not be
 * read). Throws what the runner throws when a connect fails.
 */
export async function addUpstreams(
  target: IngressTarget,
  service: string,
  containerIds: string[],
): Promise<number | undefined> {
  if (containerIds.length === 0) return undefined;
  const result = await target.runner.exec(
    connectAllArgs(target.network, upstreamAlias(service, target.project), containerIds),
  );
  return parseUptimeCs(result.stdout);
}

/** How long a drain's exec may take beyond its settle and grace (starting it on a busy host), in ms. */
const DRAIN_EXEC_MARGIN_MS = 30_000;

/**
 * Settles (`timing.settle`: until the gateway routes to the new containers), then waits until each
 * group's addresses (`ip:port` on the ingress network, as Caddy's `/reverse_proxy/upstreams` names
 * them) have no request in flight, or `timing.graceMs` has passed: one `docker exec` of DRAIN_SCRIPT
 * in the gateway for all the groups. Calls `onEnd` as each group ends (while the others still drain)
 * and returns every group's end by name. A group the script gave no line for (the gateway could not be
 * reached, the exec failed) is `unreachable`: the containers' own stop grace period still lets their
 * requests finish. Throws what the runner throws for an aborted `signal`.
 */
export async function drainUpstreams(
  target: IngressTarget,
  groups: DrainGroup[],
  timing: { settle: Settle; graceMs: number },
  onEnd: (name: string, end: DrainEnd) => void = () => {},
  signal?: AbortSignal,
): Promise<Map<string, DrainEnd>> {
  const ends = new Map<string, DrainEnd>();
  const ended = (name: string, end: DrainEnd) => {
    if (ends.has(name)) return;
    ends.set(name, end);
    onEnd(name, end);
  };
  try {
    await target.runner.exec(
      execArgs(target.container, drainArgv(groups, timing.settle, timing.graceMs), { interactive: false }),
      {
        allowFailure: true,
        // The script ends itself after the settle and the grace; this only bounds an exec that hangs.
        timeoutMs: SETTLE_MS + timing.graceMs + DRAIN_EXEC_MARGIN_MS,
        onLine: (line, stream) => {
          const parsed = stream === 'stdout' ? parseDrainLine(line) : undefined;
          if (parsed !== undefined) ended(parsed.name, parsed.end);
        },
        ...(signal ? { signal } : {}),
      },
    );
  } catch (error) {
    // A drain that could not run or finish is a drain that did not happen: the stop comes next.
    if (signal?.aborted) throw error;
  }
  for (const group of groups) ended(group.name, 'unreachable');
  return ends;
}
