import { execArgs, inspectContainersArgs, parseContainerInspect } from '../docker/container.js';
import { networkCreateArgs, networkExistsArgs } from '../docker/network.js';
import {
  type CaddyRoute,
  caddyConfig,
  loadConfigArgv,
  readConfigArgv,
  routesFromConfig,
  withRoute,
} from '../ingress/caddy.js';
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';

export interface IngressTarget {
  runner: Runner;
  project: string;
  container: string;
  network: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The compose project's default network, created with compose's labels so compose adopts it. */
export async function ensureProjectNetwork(runner: Runner, project: string, network: string): Promise<void> {
  const exists = await runner.exec(networkExistsArgs(network), { allowFailure: true });
  if (exists.exitCode === 0) return;
  const created = await runner.exec(
    networkCreateArgs(network, {
      labels: { 'com.docker.compose.network': 'default', 'com.docker.compose.project': project },
    }),
    { allowFailure: true },
  );
  if (created.exitCode !== 0 && !/already exists/.test(created.stderr)) {
    throw new ExternalError(
      `could not create network ${network} on ${runner.name}: ${created.stderr.trim()}`,
    );
  }
}

async function readRoutes(target: IngressTarget): Promise<CaddyRoute[]> {
  const result = await target.runner.exec(
    execArgs(target.container, readConfigArgv(), { interactive: false }),
    {
      allowFailure: true,
    },
  );
  if (result.exitCode !== 0) return [];
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
      {
        hint: `inspect it with \`docker logs ${target.container}\` on ${target.runner.name}`,
      },
    );
  }
}

/**
 * Makes sure the gateway container runs on the host, on the project network, publishing `httpPort`.
 * Its config survives restarts (`caddy run --resume`); a fresh one starts with no routes.
 */
export async function ensureIngress(
  target: IngressTarget,
  image: string,
  httpPort: number,
): Promise<'created' | 'running'> {
  await ensureProjectNetwork(target.runner, target.project, target.network);
  const inspected = await target.runner.exec(inspectContainersArgs([target.container]), {
    allowFailure: true,
  });
  const facts = inspected.exitCode === 0 ? parseContainerInspect(inspected.stdout)[0] : undefined;
  let outcome: 'created' | 'running' = 'running';
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
    const probe = await target.runner.exec(
      execArgs(target.container, readConfigArgv(), { interactive: false }),
      {
        allowFailure: true,
      },
    );
    if (probe.exitCode === 0) {
      if (outcome === 'created' || probe.stdout.trim() === 'null')
        await loadRoutes(target, await readRoutes(target));
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

/** Points one service's route at these upstreams (container-ip:port), atomically. */
export async function switchRoute(target: IngressTarget, route: CaddyRoute): Promise<void> {
  const routes = await readRoutes(target);
  await loadRoutes(target, withRoute(routes, route));
}

export async function currentRoute(target: IngressTarget, service: string): Promise<CaddyRoute | undefined> {
  return (await readRoutes(target)).find((route) => route.service === service);
}
