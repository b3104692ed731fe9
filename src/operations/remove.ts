import { hostname, userInfo } from 'node:os';
import {
  execArgs,
  inspectContainersArgs,
  listProjectContainersArgs,
  parseJsonLines,
} from '../docker/container.js';
import { INGRESS_LABEL } from '../docker/labels.js';
import { readConfigArgv, routesFromConfig } from '../ingress/caddy.js';
import { gatewayPortsContainer } from '../ingress/gateway-name.js';
import type { Retention } from '../plan/prune.js';
import { environmentFolder, type RemoveInventory, removeSteps, volumesByHost } from '../plan/remove.js';
import type { Plan } from '../plan/types.js';
import { runnerFor } from '../runners/factory.js';
import type { Runner } from '../runners/types.js';
import { appendRemoteLedger, Ledger } from '../state/ledger.js';
import type { ReleaseRecord } from '../state/types.js';
import { systemClock } from '../util/clock.js';
import { printPlan } from './deploy.js';
import { type LoadedEnvironment, loadEnvironment } from './environment.js';
import { lockSteps, maintenanceError, maintenancePlan, runMaintenance } from './prune.js';
import { retentionFor } from './retention.js';
import type { Session } from './session.js';

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');

/**
 * What one host has of the environment (read-only: docker ps, container and network inspect,
 * network and volume ls, the gateway's live config, test -d): the project's containers, the shared
 * gateway and which other apps use it (their routes, their containers on its network), the legacy
 * gateway of the environment, its networks and named volumes, and whether its folder exists. Throws
 * what the runner throws.
 */
export async function readRemoveInventory(runner: Runner, env: LoadedEnvironment): Promise<RemoveInventory> {
  const { model } = env;
  const project = model.composeProject;
  const listed = await runner.exec(listProjectContainersArgs(project));
  const containers = parseJsonLines(listed.stdout)
    .map((raw) => raw as Record<string, unknown>)
    .map((row) => ({
      id: String(row['ID'] ?? ''),
      name: String(row['Names'] ?? ''),
      // `State` is in docker 20.10+'s JSON; older clients only have `Status` ("Up 3 minutes").
      running:
        row['State'] !== undefined
          ? row['State'] === 'running'
          : String(row['Status'] ?? '').startsWith('Up'),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const exists = async (argv: string[]) => (await runner.exec(argv, { allowFailure: true })).exitCode === 0;
  const gateway = (await exists(inspectContainersArgs([model.ingress.container])))
    ? model.ingress.container
    : undefined;
  const portsName = gatewayPortsContainer(model.ingress.container);
  const gatewayPorts = (await exists(inspectContainersArgs([portsName]))) ? portsName : undefined;
  const legacyGateway = (await exists(inspectContainersArgs([model.ingress.legacy.container])))
    ? model.ingress.legacy.container
    : undefined;
  const projectNetworks = lines(
    (
      await runner.exec([
        'docker',
        'network',
        'ls',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--format',
        '{{.Name}}',
      ])
    ).stdout,
  );
  const ingress = await runner.exec(
    ['docker', 'network', 'inspect', '--format', '{{json .Containers}}', model.ingress.network],
    { allowFailure: true },
  );
  const ours = new Set([
    ...containers.map((container) => container.name),
    model.ingress.container,
    portsName,
  ]);
  const attached: string[] = [];
  if (ingress.exitCode === 0) {
    const entries = (JSON.parse(ingress.stdout.trim() || 'null') ?? {}) as Record<string, { Name?: string }>;
    for (const entry of Object.values(entries)) {
      const name = String(entry.Name ?? '');
      if (name !== '' && !ours.has(name)) attached.push(name);
    }
  }
  const routed = new Set<string>();
  if (gateway !== undefined) {
    const config = await runner.exec(execArgs(gateway, readConfigArgv(), { interactive: false }), {
      allowFailure: true,
    });
    if (config.exitCode === 0) {
      for (const route of routesFromConfig(JSON.parse(config.stdout || 'null') as unknown)) {
        if (route.app !== undefined && route.app !== project) routed.add(route.app);
      }
    }
  }
  // Other apps by their routes, and containers on the network of no app with routes (compose names a
  // container `<app>-<service>-<n>`).
  const sharedWith = [
    ...routed,
    ...attached.filter((name) => ![...routed].some((app) => name.startsWith(`${app}-`))),
  ].sort();
  const legacyNetwork = await exists(['docker', 'network', 'inspect', model.ingress.legacy.network]);
  const volumesLabelled = async (label: string) =>
    lines(
      (await runner.exec(['docker', 'volume', 'ls', '--filter', `label=${label}`, '--format', '{{.Name}}']))
        .stdout,
    );
  // The gateway's data volume (its certificates) goes with the gateway, or after it (a removal without
  // --volumes left it), never while other apps use it.
  // Versions before the shared gateway labelled the app's own gateway volume with the compose project.
  const volumes = [
    ...new Set([
      ...(await volumesLabelled(`com.docker.compose.project=${project}`)),
      ...(await volumesLabelled(`${INGRESS_LABEL}=${project}`)),
      ...(sharedWith.length === 0
        ? await volumesLabelled(`${INGRESS_LABEL}=${model.ingress.container}`)
        : []),
    ]),
  ].sort();
  const folder = await runner.exec(['test', '-d', environmentFolder(model)], { allowFailure: true });
  return {
    host: runner.name,
    containers,
    ...(gateway === undefined ? {} : { gateway }),
    ...(gatewayPorts === undefined ? {} : { gatewayPorts }),
    gatewaySharedWith: sharedWith,
    ...(legacyGateway === undefined ? {} : { legacyGateway }),
    networks: [
      ...new Set([
        ...projectNetworks,
        ...(ingress.exitCode === 0 ? [model.ingress.network] : []),
        ...(legacyNetwork ? [model.ingress.legacy.network] : []),
      ]),
    ].sort(),
    volumes,
    folder: folder.exitCode === 0,
  };
}

/** The removal record: no images, no hosts (nothing runs), phases as the plan ran them. */
export function removalRecord(plan: Plan, previous: string | undefined, message: string): ReleaseRecord {
  return {
    id: plan.releaseId,
    environment: plan.environment,
    version: plan.version,
    commit_sha: '',
    timestamp: systemClock.now().toISOString(),
    phases: Object.fromEntries(
      plan.phases.map((phase) => [phase.name, phase.skipped === undefined ? 'completed' : 'skipped']),
    ) as ReleaseRecord['phases'],
    ...(previous === undefined ? {} : { previous_id: previous }),
    kind: 'remove',
    images: {},
    hosts: {},
    deployer: { user: userInfo().username, machine: hostname(), ci: process.env['CI'] === 'true' },
    message,
  };
}

/**
 * Records a removal in the ledger here and appends it to the lock host's (a warning when that fails:
 * the local record stands).
 */
export async function recordRemoval(
  session: Session,
  env: LoadedEnvironment,
  ledger: Ledger,
  plan: Plan,
  message: string,
  started: number,
): Promise<void> {
  const { model } = env;
  const previous = (await ledger.list(model.environment))[0]?.id;
  const entry = removalRecord(plan, previous, message);
  await ledger.create({ ...entry, duration_ms: Date.now() - started });
  const runner = runnerFor(model, model.lockHost);
  try {
    await appendRemoteLedger(runner, model.project, model.environment, entry);
  } catch (error) {
    session.output.warn(
      `could not append the removal to the ledger on ${model.lockHost}: ${(error as Error).message}`,
    );
  } finally {
    await runner.close().catch(() => undefined);
  }
}

/** What `remove` takes from its command line, on every driver. */
export interface RemoveOptions {
  volumes: boolean;
  lockWaitMs?: number;
  confirm: (question: string) => Promise<void>;
}

/** One driver's removal, once it read what there is: where, what goes, the volumes, its plan. */
export interface Removal {
  /** `m1, m2`, or `the swarm of m1 (stack shop-production)`. */
  where: string;
  /** What goes besides the volumes, for the confirmation: `containers, networks, gateway, files`. */
  objects: string;
  /** Every named volume, `host: name, name`. */
  volumes: string[];
  /** The plan of the removal recorded as `releaseId`, with the images retention removes. */
  plan(input: { releaseId: string; message: string; images: Retention }): Plan;
}

/**
 * The course of a removal on every driver: its plan (printed with `--dry-run`, with the volumes kept
 * or deleted, and then undefined), the confirmation (naming every volume with `--volumes`), the run
 * under the deploy lock and the record here and on the lock host. Returns the removal's release id.
 * Throws what the confirmation throws (declined), what the run fails with (maintenanceError).
 */
export async function runRemoval(
  session: Session,
  env: LoadedEnvironment,
  options: RemoveOptions,
  removal: Removal,
): Promise<string | undefined> {
  const { model } = env;
  const images = (await retentionFor(session, env, undefined, { planOnly: false, retain: 0 })) ?? {
    keepReleases: [],
    keepImages: [],
    removeImages: [],
  };
  const ledger = new Ledger({ projectRoot: env.loaded.root, env: session.env });
  const releaseId = await ledger.newReleaseId(systemClock);
  const message = `remove ${model.composeProject}${options.volumes ? ' with its volumes' : ''}`;
  const plan = removal.plan({ releaseId, message, images });
  const { volumes, where } = removal;
  if (session.globals.dryRun) {
    printPlan(session, plan, 'text', undefined, options.volumes ? { flags: ['--volumes'] } : {});
    if (!session.globals.json && volumes.length > 0) {
      session.output.info(
        options.volumes
          ? `With --volumes these volumes and their data are deleted: ${volumes.join('; ')}`
          : `Volumes kept (pass --volumes to delete them): ${volumes.join('; ')}`,
      );
    }
    return undefined;
  }
  await options.confirm(
    options.volumes && volumes.length > 0
      ? `Remove ${model.project} ${model.environment} from ${where}, and DELETE the volumes ${volumes.join('; ')} with their data?`
      : `Remove ${model.project} ${model.environment} from ${where} (${removal.objects}${volumes.length > 0 ? '; volumes are kept' : ''})?`,
  );
  session.output.info(`Removing ${model.project} ${model.environment} from ${where}`);
  const started = Date.now();
  const result = await runMaintenance(session, env, plan, {
    record: () => recordRemoval(session, env, ledger, plan, message, started),
    ...(options.lockWaitMs !== undefined ? { lockWaitMs: options.lockWaitMs } : {}),
  });
  if (!result.ok) throw maintenanceError(plan, result);
  return releaseId;
}

/**
 * `stagecraft remove`: reads every host (read-only), plans the removal (plan/remove.ts), prints it with
 * `--dry-run`; otherwise asks (`confirm`: names the hosts, and with `volumes` every volume; `--yes`
 * answers), then runs it under the deploy lock and records the removal in the ledger (here and on the
 * lock host). On driver swarm, operations/swarm-remove.ts does it. Returns the exit code; throws UserError (refused, bad config), ExternalError (a host).
 */
export async function runRemove(session: Session, options: RemoveOptions): Promise<number> {
  const env = await loadEnvironment(session, 'deploy');
  if (env.model.driver === 'swarm')
    return (await import('./swarm-remove.js')).runSwarmRemove(session, env, options);
  const { model } = env;
  const inventories = await Promise.all(
    model.hosts.map(async (host) => {
      const runner = runnerFor(model, host.name);
      try {
        return await readRemoveInventory(runner, env);
      } finally {
        await runner.close().catch(() => undefined);
      }
    }),
  );
  const hosts = model.hosts.map((host) => host.name).join(', ');
  const volumes = volumesByHost(inventories);
  const releaseId = await runRemoval(session, env, options, {
    where: hosts,
    objects: 'containers, networks, gateway, files',
    volumes,
    plan: ({ releaseId, message, images }) => {
      const lock = lockSteps(env, message);
      const steps = removeSteps({ model, inventories, volumes: options.volumes, images }, [lock.acquire.id]);
      const record = {
        id: 'record',
        phase: 'finalize' as const,
        title: `record the removal of ${model.composeProject} (${releaseId})`,
        action: { kind: 'record' as const },
        dependsOn: [],
      };
      return maintenancePlan(
        env,
        'remove',
        { migrate_pre: [lock.acquire], rollout: steps, finalize: [record, lock.release] },
        releaseId,
      );
    },
  });
  if (releaseId === undefined) return 0;
  if (session.globals.json) {
    // One line after the step events (JSON lines), as `deploy --json` ends with its release event.
    session.output.result(
      JSON.stringify({
        event: 'remove',
        environment: model.environment,
        removal: releaseId,
        hosts: inventories.map((inventory) => ({
          host: inventory.host,
          containers: inventory.containers.map((container) => container.name),
          gateway: inventory.gatewaySharedWith.length === 0 ? (inventory.gateway ?? null) : null,
          networks: inventory.networks,
          volumes_removed: options.volumes ? inventory.volumes : [],
          volumes_kept: options.volumes ? [] : inventory.volumes,
        })),
      }),
    );
  } else {
    session.output.result(
      `✓ Removed ${model.project} ${model.environment} from ${hosts} (recorded as ${releaseId})${volumes.length > 0 && !options.volumes ? `; volumes kept: ${volumes.join('; ')}` : ''}`,
    );
  }
  return 0;
}
