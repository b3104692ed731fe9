import { execArgs, inspectContainersArgs, parseContainerInspect } from '../docker/container.js';
import {
  networkConnectArgs,
  networkCreateArgs,
  networkDisconnectArgs,
  networkExistsArgs,
} from '../docker/network.js';
import {
  type CaddyRoute,
  caddyConfig,
  loadConfigArgv,
  readConfigArgv,
  routesFromConfig,
  sameRoutes,
  UPSTREAM_REFRESH_MS,
  upstreamAlias,
  withRoute,
} from '../ingress/caddy.js';
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';

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

async function readRoutes(target: IngressTarget): Promise<CaddyRoute[] | undefined> {
  const result = await target.runner.exec(
    execArgs(target.container, readConfigArgv(), { interactive: false }),
    {
      allowFailure: true,
    },
  );
  if (result.exitCode !== 0) return undefined;
  try {
    return routesFromConfig(JSON.parse(result.stdout));
  } catch {
    return [];
  }
}

async function loadRoutes(target: IngressTarget, routes: CaddyRoute[]): Promise<void> {
  const result = await target.runner.exec(execArgs(target.container, loadConfigArgv()), {
    stdin: JSON.stringify(caddyConfig(routes)),
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
 * Makes sure the gateway container runs on the host, on the ingress network, publishing `httpPort`,
 * with one route per service in `routes`. Its config survives restarts (`caddy run --resume`) and is
 * reloaded only when the routes differ from what it already has.
 */
export async function ensureIngress(
  target: IngressTarget,
  image: string,
  httpPort: number,
  routes: CaddyRoute[],
): Promise<'created' | 'reconfigured' | 'running'> {
  await ensureNetwork(target.runner, target.network, { 'stagecraft.ingress': target.project });
  const inspected = await target.runner.exec(inspectContainersArgs([target.container]), {
    allowFailure: true,
  });
  const facts = inspected.exitCode === 0 ? parseContainerInspect(inspected.stdout)[0] : undefined;
  let outcome: 'created' | 'reconfigured' | 'running' = 'running';
  if (facts === undefined) {
    await target.runner.exec([
      'docker',
      'run',
      '-d',
      '--name',
      target.container,
      '--restart',
      'unless-stopped',
      '--network',
      target.network,
      '-p',
      `${httpPort}:80`,
      '--label',
      `stagecraft.ingress=${target.project}`,
      image,
      'caddy',
      'run',
      '--resume',
    ]);
    outcome = 'created';
  } else if (!facts.running) {
    await target.runner.exec(['docker', 'start', target.container]);
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const current = await readRoutes(target);
    if (current !== undefined) {
      const wanted = routes.reduce(withRoute, current);
      if (!sameRoutes(current, wanted) || outcome === 'created') {
        await loadRoutes(target, wanted);
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
 * and Caddy sends them traffic once it re-reads the alias (waited for here).
 */
export async function addUpstreams(
  target: IngressTarget,
  service: string,
  containerIds: string[],
): Promise<void> {
  for (const id of containerIds) {
    await target.runner.exec(networkConnectArgs(target.network, id, { aliases: [upstreamAlias(service)] }));
  }
  if (containerIds.length > 0) await sleep(UPSTREAM_REFRESH_MS + 500);
}

/** Takes containers out of a service's route; requests already in flight on them are not cut. */
export async function removeUpstreams(target: IngressTarget, containerIds: string[]): Promise<void> {
  for (const id of containerIds) {
    await target.runner.exec(networkDisconnectArgs(target.network, id), { allowFailure: true });
  }
}
