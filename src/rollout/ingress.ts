import {
  execArgs,
  inspectContainersArgs,
  parseContainerInspect,
  removeContainersArgs,
  runContainerArgs,
  startContainersArgs,
} from '../docker/container.js';
import { INGRESS_DATA_LABEL, INGRESS_LABEL, INGRESS_PORTS_LABEL } from '../docker/labels.js';
import { networkConnectArgs, networkCreateArgs, networkExistsArgs } from '../docker/network.js';
import { type PlannedRoute, withPasswordHashes } from '../ingress/basic-auth.js';
import {
  acmeCaRootPath,
  type CaddyRoute,
  caddyConfig,
  configLockArgv,
  configUnlockArgv,
  GATEWAY_DATA_DIR,
  type IngressTls,
  loadConfigArgv,
  parseUpstreams,
  proxySettingsOfConfig,
  readConfigArgv,
  routesFromConfig,
  SWITCH_MARGIN_MS,
  sameRoutes,
  tlsOfConfig,
  UPSTREAM_REFRESH_MS,
  upstreamAlias,
  upstreamsArgv,
  withoutApp,
  withRoute,
  writeFileArgv,
} from '../ingress/caddy.js';
import type { ExecResult, Runner } from '../runners/types.js';
import { ExternalError, UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ensureNetwork(runner: Runner, network: string, labels: Record<string, string>): Promise<void> {
  if ((await runner.exec(networkExistsArgs(network), { allowFailure: true })).exitCode === 0) return;
  const created = await runner.exec(networkCreateArgs(network, { labels }), { allowFailure: true });
  if (created.exitCode !== 0 && !/already exists/.test(created.stderr)) {
    throw new ExternalError(
      `could not create network ${network} on ${runner.name}: ${created.stderr.trim()}`,
    );
  }
}

/** The compose project's default network, created with compose's labels so compose adopts it. */
export async function ensureProjectNetwork(runner: Runner, project: string, network: string): Promise<void> {
  await ensureNetwork(runner, network, {
    'com.docker.compose.network': 'default',
    'com.docker.compose.project': project,
  });
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
    const config = JSON.parse(result.stdout) as unknown;
    return {
      routes: routesFromConfig(config),
      tls: tlsOfConfig(config),
      proxy: proxySettingsOfConfig(config),
    };
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

async function loadRoutes(target: IngressTarget, routes: CaddyRoute[], tls: IngressTls): Promise<void> {
  // The file the config's trusted_roots_pem_files names must exist before Caddy provisions the issuer.
  if (tls.mode === 'acme' && tls.caRoot !== undefined) await writeCaRoot(target, tls.caRoot);
  await loadConfig(target, caddyConfig(routes, tls));
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
 * Makes sure the host's shared gateway runs, on its network, publishing the HTTP port (and HTTPS with
 * TLS), and that it has the app's route for each service in `routes` (basic auth passwords hashed here
 * with bcrypt) beside the routes of every other app on it. The config survives restarts (`caddy run
 * --resume`) and is reloaded only when a route (path, body limit, basic auth user or password,
 * maintenance included) or the TLS settings differ; the read-change-load runs under the gateway's
 * config lock, so two apps deploying at once never drop each other's routes. The app's gateway from an
 * older version (`legacy`) is removed first: the shared one takes its ports.
 * Throws UserError when the app asks for other TLS settings than the apps already on the gateway, or
 * for a domain and path another app routes there (nothing changed); ExternalError for the host.
 */
export async function ensureIngress(
  target: IngressTarget,
  image: string,
  ports: { http: number; https: number },
  routes: PlannedRoute[],
  tls: IngressTls,
): Promise<'created' | 'reconfigured' | 'running'> {
  routes = routes.map((route) => ({ ...route, app: target.project }));
  const inspect = async () => {
    const inspected = await target.runner.exec(inspectContainersArgs([target.container]), {
      allowFailure: true,
    });
    return inspected.exitCode === 0 ? parseContainerInspect(inspected.stdout)[0] : undefined;
  };
  let facts = await inspect();
  const published = tls.mode === 'off' ? [`${ports.http}:80`] : [`${ports.http}:80`, `${ports.https}:443`];
  const dataVolume = gatewayDataVolume(target.container);
  // Only TLS on or off changes the ports a gateway publishes (its name holds the port numbers).
  const portsChange = facts !== undefined && facts.labels[INGRESS_PORTS_LABEL] !== published.join(',');
  const recreate =
    portsChange ||
    // ACME certificates must outlive the container (CA rate limits): a gateway made before its data
    // volume existed is made again once, with it.
    (facts !== undefined && tls.mode === 'acme' && facts.labels[INGRESS_DATA_LABEL] !== dataVolume);
  // Refused before anything changes: the other apps' routes and TLS as the gateway has them now.
  const before = facts?.running === true ? await readLive(target) : undefined;
  if (before !== undefined) {
    checkSharing(target, before, routes, tls);
    const others = othersOn(before.routes, target.project);
    if (portsChange && others.length > 0) throw tlsConflict(target, others);
  }
  if (target.legacy !== undefined) await removeLegacyGateway(target.runner, target.legacy.container);
  await ensureNetwork(target.runner, target.network, { [INGRESS_LABEL]: target.container });
  if (recreate) {
    // Published ports and mounts are fixed when a container is created: a change needs a new gateway.
    await target.runner.exec(removeContainersArgs([target.container], { force: true }));
    facts = undefined;
  }
  let outcome: 'created' | 'reconfigured' | 'running' = 'running';
  if (facts === undefined) {
    // Labelled, so `stagecraft remove --volumes` finds it with the gateway.
    await target.runner.exec([
      'docker',
      'volume',
      'create',
      '--label',
      `${INGRESS_LABEL}=${target.container}`,
      dataVolume,
    ]);
    const run = await target.runner.exec(
      runContainerArgs(image, ['caddy', 'run', '--resume'], {
        detach: true,
        name: target.container,
        restart: 'unless-stopped',
        network: target.network,
        publish: published,
        volumes: [`${dataVolume}:${GATEWAY_DATA_DIR}`],
        labels: [
          [INGRESS_LABEL, target.container],
          [INGRESS_DATA_LABEL, dataVolume],
          [INGRESS_PORTS_LABEL, published.join(',')],
        ],
      }),
      { allowFailure: true },
    );
    if (run.exitCode === 0) outcome = 'created';
    // Another app's deploy created it a moment ago: use that one.
    else if (!/already in use/.test(run.stderr)) throw gatewayStartError(target, run);
  } else if (!facts.running) {
    await target.runner.exec(startContainersArgs([target.container]));
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await readLive(target)) !== undefined) {
      return withConfigLock(target, async () => {
        const live = (await readLive(target)) ?? { routes: [], tls: '', proxy: '' };
        checkSharing(target, live, routes, tls);
        // Basic auth passwords become bcrypt hashes here, the live ones kept while they match.
        const wanted = (await withPasswordHashes(routes, live.routes)).reduce(withRoute, live.routes);
        const tlsChanged = live.tls !== tlsOfConfig(caddyConfig(wanted, tls));
        // A gateway configured by an older version (e.g. a slower upstream refresh) is brought up to date.
        const proxyChanged = live.proxy !== proxySettingsOfConfig(caddyConfig(wanted, tls));
        if (!sameRoutes(live.routes, wanted) || tlsChanged || proxyChanged || outcome === 'created') {
          await loadRoutes(target, wanted, tls);
          if (outcome === 'running') outcome = 'reconfigured';
        }
        return outcome;
      });
    }
    await sleep(100);
  }
  throw new ExternalError(
    `the ingress container ${target.container} on ${target.runner.name} did not start its admin API`,
    {
      hint: `check \`docker logs ${target.container}\` on ${target.runner.name}; the image must contain caddy and busybox wget`,
    },
  );
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

/** Removes an app's own gateway from a version before the shared one, when it is there. */
async function removeLegacyGateway(runner: Runner, container: string): Promise<void> {
  const found = await runner.exec(inspectContainersArgs([container]), { allowFailure: true });
  if (found.exitCode === 0) await runner.exec(removeContainersArgs([container], { force: true }));
}

/** The apps other than `app` that have routes in a gateway's config, sorted. */
function othersOn(routes: CaddyRoute[], app: string): string[] {
  return [
    ...new Set(routes.flatMap((route) => (route.app !== undefined && route.app !== app ? [route.app] : []))),
  ].sort();
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

/**
 * Runs `change` while holding the gateway's config lock (a folder made with mkdir inside the gateway,
 * which is atomic; one left by a change that died is taken over after a minute), and releases it
 * whatever the outcome. Throws ExternalError when the lock stays held CONFIG_LOCK_WAIT_MS.
 */
async function withConfigLock<T>(target: IngressTarget, change: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const taken = await target.runner.exec(
      execArgs(target.container, configLockArgv(), { interactive: false }),
      {
        allowFailure: true,
      },
    );
    if (taken.exitCode === 0) break;
    if (Date.now() - started >= CONFIG_LOCK_WAIT_MS) {
      throw new ExternalError(
        `the config of the gateway ${target.container} on ${target.runner.name} stayed locked by another deploy for ${CONFIG_LOCK_WAIT_MS / 1000} s`,
        { hint: "wait for the other app's deploy to end and run this again" },
      );
    }
    await sleep(CONFIG_LOCK_POLL_MS);
  }
  try {
    return await change();
  } finally {
    await target.runner.exec(execArgs(target.container, configUnlockArgv(), { interactive: false }), {
      allowFailure: true,
    });
  }
}

/**
 * Takes the app's routes off the shared gateway (under its config lock), keeping every other app's;
 * the certificates Caddy manages follow the remaining routes' domains. Returns the apps left on it.
 * A gateway that is not running has nothing to take off. Throws ExternalError for the host.
 */
export async function removeAppRoutes(target: IngressTarget): Promise<string[]> {
  if ((await readLive(target)) === undefined) return [];
  return withConfigLock(target, async () => {
    const result = await target.runner.exec(
      execArgs(target.container, readConfigArgv(), { interactive: false }),
      { allowFailure: true },
    );
    if (result.exitCode !== 0) return [];
    const config = JSON.parse(result.stdout) as unknown;
    const kept = withoutApp(config, target.project);
    if (JSON.stringify(kept) !== JSON.stringify(config)) await loadConfig(target, kept);
    return othersOn(routesFromConfig(kept), target.project);
  });
}

/**
 * Puts containers behind a service's route: they join the ingress network under the route's alias,
 * and Caddy sends them traffic once it re-reads the alias (UPSTREAM_REFRESH_MS plus a margin, waited
 * for here).
 */
export async function addUpstreams(
  target: IngressTarget,
  service: string,
  containerIds: string[],
): Promise<void> {
  for (const id of containerIds) {
    await target.runner.exec(
      networkConnectArgs(target.network, id, { aliases: [upstreamAlias(service, target.project)] }),
    );
  }
  if (containerIds.length > 0) await sleep(UPSTREAM_REFRESH_MS + SWITCH_MARGIN_MS);
}

/** Pause between two reads of the gateway's upstreams while old containers drain, in ms. */
const DRAIN_POLL_MS = 50;

/**
 * Waits until the gateway has no request in flight to any of `addresses` (`ip:port` on the ingress
 * network, as Caddy's `/reverse_proxy/upstreams` names them), or `graceMs` has passed. Returns how
 * it ended and after how many ms. An upstream Caddy does not list has nothing in flight; a gateway
 * whose admin API does not answer ends the wait (the containers' own stop grace period still lets
 * their requests finish). `share` runs each read (default: at once); the rollout passes its host's
 * shared reader (host-batch.ts) so that services draining together read the gateway once.
 */
export async function drainUpstreams(
  target: IngressTarget,
  addresses: string[],
  graceMs: number,
  signal?: AbortSignal,
  share: (read: () => Promise<ExecResult>) => Promise<ExecResult> = (read) => read(),
): Promise<{ drained: boolean; waitedMs: number }> {
  const started = Date.now();
  const wanted = new Set(addresses);
  const read = () =>
    target.runner.exec(execArgs(target.container, upstreamsArgv(), { interactive: false }), {
      allowFailure: true,
    });
  for (;;) {
    signal?.throwIfAborted();
    const result = await share(read);
    let inFlight = 0;
    try {
      if (result.exitCode !== 0) return { drained: false, waitedMs: Date.now() - started };
      for (const upstream of parseUpstreams(result.stdout))
        if (wanted.has(upstream.address)) inFlight += upstream.numRequests;
    } catch {
      return { drained: false, waitedMs: Date.now() - started };
    }
    if (inFlight === 0) return { drained: true, waitedMs: Date.now() - started };
    if (Date.now() - started >= graceMs) return { drained: false, waitedMs: Date.now() - started };
    await sleep(DRAIN_POLL_MS);
  }
}
