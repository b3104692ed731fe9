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
  withRoute,
  writeFileArgv,
} from '../ingress/caddy.js';
import type { ExecResult, Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { Secret } from '../util/secret.js';

export interface IngressTarget {
  runner: Runner;
  project: string;
  container: string;
  /** The network the gateway shares with the containers it routes to (`<project>_ingress`). */
  network: string;
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
  // The config may hold a private key: it travels only on stdin, as a Secret.
  const result = await target.runner.exec(execArgs(target.container, loadConfigArgv()), {
    stdin: new Secret(JSON.stringify(caddyConfig(routes, tls))),
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
 * Makes sure the gateway container runs on the host, on the ingress network, publishing the HTTP port
 * (and HTTPS with TLS), with one route per service in `routes` (basic auth passwords hashed here with
 * bcrypt). Its config survives restarts (`caddy run --resume`) and is reloaded only when the routes
 * (path, body limit, basic auth user or password, maintenance included) or the TLS settings differ.
 */
export async function ensureIngress(
  target: IngressTarget,
  image: string,
  ports: { http: number; https: number },
  routes: PlannedRoute[],
  tls: IngressTls,
): Promise<'created' | 'reconfigured' | 'running'> {
  await ensureNetwork(target.runner, target.network, { [INGRESS_LABEL]: target.project });
  const inspected = await target.runner.exec(inspectContainersArgs([target.container]), {
    allowFailure: true,
  });
  let facts = inspected.exitCode === 0 ? parseContainerInspect(inspected.stdout)[0] : undefined;
  const published = tls.mode === 'off' ? [`${ports.http}:80`] : [`${ports.http}:80`, `${ports.https}:443`];
  const dataVolume = gatewayDataVolume(target.container);
  if (
    facts !== undefined &&
    (facts.labels[INGRESS_PORTS_LABEL] !== published.join(',') ||
      // ACME certificates must outlive the container (CA rate limits): a gateway made before its data
      // volume existed is made again once, with it.
      (tls.mode === 'acme' && facts.labels[INGRESS_DATA_LABEL] !== dataVolume))
  ) {
    // Published ports and mounts are fixed when a container is created: a change needs a new gateway.
    await target.runner.exec(removeContainersArgs([target.container], { force: true }));
    facts = undefined;
  }
  let outcome: 'created' | 'reconfigured' | 'running' = 'running';
  if (facts === undefined) {
    // Labelled, so `stagecraft remove --volumes` finds it with the project's own volumes.
    await target.runner.exec([
      'docker',
      'volume',
      'create',
      '--label',
      `${INGRESS_LABEL}=${target.project}`,
      dataVolume,
    ]);
    await target.runner.exec(
      runContainerArgs(image, ['caddy', 'run', '--resume'], {
        detach: true,
        name: target.container,
        restart: 'unless-stopped',
        network: target.network,
        publish: published,
        volumes: [`${dataVolume}:${GATEWAY_DATA_DIR}`],
        labels: [
          [INGRESS_LABEL, target.project],
          [INGRESS_DATA_LABEL, dataVolume],
          [INGRESS_PORTS_LABEL, published.join(',')],
        ],
      }),
    );
    outcome = 'created';
  } else if (!facts.running) {
    await target.runner.exec(startContainersArgs([target.container]));
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const live = await readLive(target);
    if (live !== undefined) {
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
    await target.runner.exec(networkConnectArgs(target.network, id, { aliases: [upstreamAlias(service)] }));
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
