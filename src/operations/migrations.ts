import { serviceNetwork } from '../compose/analyze.js';
import { renderDockerEnvFile } from '../compose/render.js';
import { migrationJobStack, migrationJobStackName } from '../compose/stack.js';
import { runContainerArgs } from '../docker/container.js';
import { stackDeployArgs } from '../docker/swarm.js';
import { runJobStack } from '../engine/swarm.js';
import { psqlConnectionEnv } from '../migrate/connection.js';
import { commandDeployArgv, prepareRawDeployMigration, rawDeployOutcome } from '../migrate/deploy.js';
import { deployMigrationTargets, type MigrationTarget } from '../migrate/targets.js';
import { imageRefs, type MigrationStep, releaseDir } from '../plan/deploy.js';
import type { Plan, Step } from '../plan/types.js';
import { ensureNetwork } from '../rollout/ingress.js';
import type { Runner } from '../runners/types.js';
import { ExternalError, UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';
import type { LoadedEnvironment } from './environment.js';

const MOUNT = '/stagecraft-migrations';

function targetsOf(env: LoadedEnvironment, strategy: 'pre_deploy' | 'post_deploy'): MigrationTarget[] {
  return deployMigrationTargets(env.model.migrations, strategy);
}

/**
 * The compose service a migration runs in: `migrations.service`, else the service named by the host
 * of the connection URL (`postgres://…@db:5432/…` → `db`).
 */
function migrationService(env: LoadedEnvironment, target: MigrationTarget): string {
  if (target.service !== undefined) return target.service;
  const url = env.loaded.variables[target.connectionEnv];
  const host = url === undefined ? undefined : URL.canParse(url) ? new URL(url).hostname : undefined;
  if (host !== undefined && env.compose.services[host] !== undefined) return host;
  throw new UserError(`database ${target.database}: cannot tell which service runs its migrations`, {
    hint: `set databases.${target.database}.migrations.service to a compose service (raw migrations need psql in its image)`,
  });
}

/** Services a migration needs running: its service's dependencies, and itself when it is stateful. */
function neededServices(env: LoadedEnvironment, service: string): string[] {
  const needed = new Set<string>();
  const visit = (name: string) => {
    for (const dependency of Object.keys(env.compose.services[name]?.depends_on ?? {})) {
      if (!needed.has(dependency)) {
        needed.add(dependency);
        visit(dependency);
      }
    }
  };
  visit(service);
  if (env.model.services.find((candidate) => candidate.name === service)?.strategy !== 'start-first')
    needed.add(service);
  return [...needed].sort();
}

/**
 * The connection URL of a migration target: its `connection_env` from the environment's env_file or
 * the shell. Throws UserError naming the variable (never a value) when it is unset or empty.
 */
function connectionUrl(env: LoadedEnvironment, target: MigrationTarget): string {
  const url = env.loaded.variables[target.connectionEnv];
  if (url === undefined || url === '') {
    throw new UserError(`${target.connectionEnv} is not set for environment ${env.model.environment}`, {
      hint: `set it in the environment's env_file (${String(env.model.migrations.envFile ?? 'env_file')}) or the shell: the deploy-time migrations of database ${target.database} connect with it`,
    });
  }
  return url;
}

/**
 * Checks, before a deploy changes anything, that every deploy-time migration has its connection URL.
 * Throws the UserError the migration step would throw later (connectionUrl).
 */
export function checkMigrationConnections(env: LoadedEnvironment): void {
  for (const strategy of ['pre_deploy', 'post_deploy'] as const)
    for (const target of targetsOf(env, strategy)) connectionUrl(env, target);
}

/**
 * The pre/post-deploy migrations of the environment, for the planner. With `checkConnections` (a
 * deploy, not a plan: CI plans run without secrets) a missing connection URL is a UserError now, before
 * anything changes, rather than in the migration step.
 */
export function plannedMigrations(env: LoadedEnvironment, checkConnections = false): MigrationStep[] {
  if (checkConnections) checkMigrationConnections(env);
  return (['pre_deploy', 'post_deploy'] as const).flatMap((strategy) =>
    targetsOf(env, strategy).map((target) => {
      const service = migrationService(env, target);
      return {
        database: target.database,
        strategy,
        engine: target.engine,
        service,
        needs: neededServices(env, service),
      };
    }),
  );
}

/**
 * Runs a migrate step: a one-off container of the migration service's image on the lock host, on the
 * project network, with the connection URL in a 0600 env file (never argv) and, for raw migrations,
 * the SQL files and psql script mounted read-only.
 */
export function migrationRunner(
  env: LoadedEnvironment,
  plan: Plan,
  hostAddresses: Record<string, string>,
  applied: Record<string, string[]>,
) {
  return async (step: Step, runner: Runner, log: (line: string) => void): Promise<string> => {
    const action = step.action;
    if (action.kind !== 'migrate') throw new Error(`not a migrate step: ${step.id}`);
    const target = targetsOf(env, action.strategy).find(
      (candidate) => candidate.database === action.database,
    )!;
    const service = action.service ?? migrationService(env, target);
    const model = env.model;
    const image = imageRefs(model, plan.version)[service] ?? env.compose.services[service]?.image;
    if (image === undefined) throw new UserError(`migration service ${service} has no image`);
    const url = connectionUrl(env, target);

    const dir = `${releaseDir(model, plan.releaseId)}/migrations/${target.database}`;
    const home = (await runner.exec(['pwd'])).stdout.trim();
    // psql gets the URL without its password (its argv is visible in `ps` on the host) and the
    // password as PGPASSWORD; a migration command gets the URL in its own variable.
    const connection =
      target.kind === 'raw' ? psqlConnectionEnv(url, target.connectionEnv) : { [target.connectionEnv]: url };
    await runner.upload(`${dir}/connection.env`, new Secret(renderDockerEnvFile(connection)), 0o600);
    let command: string[];
    let raw: ReturnType<typeof prepareRawDeployMigration> | undefined;
    if (target.kind === 'raw') {
      raw = prepareRawDeployMigration(target, env.loaded.root, model.migrations.selection);
      for (const upload of raw.uploads)
        await runner.upload(`${dir}/${upload.path}`, upload.content, upload.mode);
      command = raw.command(MOUNT);
    } else {
      command = commandDeployArgv(target);
    }

    const result =
      model.swarm === undefined
        ? await oneOffContainer(
            env,
            runner,
            { image, command, dir, home, service, timeoutMs: target.timeoutMs },
            hostAddresses,
            log,
          )
        : await swarmJob(
            env,
            runner,
            {
              image,
              command,
              dir,
              service,
              database: target.database,
              files: raw?.uploads ?? [],
              timeoutMs: target.timeoutMs,
            },
            log,
          );
    if (raw !== undefined) {
      const outcome = rawDeployOutcome(raw, result.exitCode, result.stdout, result.stderr);
      applied[target.database] = outcome.applied;
      return outcome.applied.length === 0
        ? `${target.database}: up to date`
        : `${target.database}: applied ${outcome.applied.join(', ')}`;
    }
    if (result.exitCode !== 0) {
      const last = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-3).join(' | ');
      throw new ExternalError(
        `migrations of database ${target.database} failed (exit ${result.exitCode}): ${last}`,
        {
          hint: `run them by hand with \`stagecraft migrate --database ${target.database}\` to see the whole output`,
        },
      );
    }
    applied[target.database] = [];
    return `${target.database}: ${target.engine} migrations ran`;
  };
}

interface MigrationRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * driver ssh: the migration as a one-off container (`docker run --rm`) on the lock host, on the
 * migration service's network (serviceNetwork: the one it shares with the database, created as
 * compose would when it does not exist yet), the connection from the 0600 env file, the migration
 * folder mounted read-only.
 */
async function oneOffContainer(
  env: LoadedEnvironment,
  runner: Runner,
  job: {
    image: string;
    command: string[];
    dir: string;
    home: string;
    service: string;
    timeoutMs: number | undefined;
  },
  hostAddresses: Record<string, string>,
  log: (line: string) => void,
): Promise<MigrationRun> {
  const { model } = env;
  const { image, command, dir, home } = job;
  const network = serviceNetwork(
    env.compose,
    job.service,
    neededServices(env, job.service),
    model.composeProject,
  );
  if (network.create !== undefined) await ensureNetwork(runner, network.name, network.create);
  const addHosts = model.services
    .filter((candidate) => !candidate.hosts.includes(runner.name) && candidate.hosts.length > 0)
    .flatMap((candidate) => {
      const address = hostAddresses[candidate.hosts[0]!];
      return address === undefined ? [] : [[candidate.name, address] as [string, string]];
    });
  const [entrypoint, ...args] = command;
  const argv = runContainerArgs(image, args, {
    remove: true,
    network: network.name,
    envFile: `${home}/${dir}/connection.env`,
    volumes: [`${home}/${dir}:${MOUNT}:ro`],
    labels: [['stagecraft.migration', model.composeProject]],
    addHosts,
    entrypoint: entrypoint!,
  });
  return runner.exec(argv, {
    allowFailure: true,
    onLine: log,
    ...(job.timeoutMs === undefined ? {} : { timeoutMs: job.timeoutMs }),
  });
}

/**
 * driver swarm: the migration as a job stack on the manager (compose/stack.ts migrationJobStack): a
 * `replicated-job` of the migration service's image on the app stack's networks, the connection from
 * the 0600 env file, the migration files as Swarm configs. Its output is shown once it is done.
 * Throws ExternalError when the job does not finish in time.
 */
async function swarmJob(
  env: LoadedEnvironment,
  runner: Runner,
  job: {
    image: string;
    command: string[];
    dir: string;
    service: string;
    database: string;
    files: { path: string; sha256: string }[];
    timeoutMs: number | undefined;
  },
  log: (line: string) => void,
): Promise<MigrationRun> {
  const swarm = env.model.swarm!;
  const [entrypoint, ...command] = job.command;
  const rendered = migrationJobStack({
    stack: swarm.stack,
    database: job.database,
    spec: env.compose.services[job.service] ?? {},
    image: job.image,
    entrypoint: entrypoint!,
    command,
    envFile: 'connection.env',
    files: Object.fromEntries(job.files.map((file) => [file.path, file.sha256])),
    mount: MOUNT,
  });
  const file = `${job.dir}/job.yml`;
  await runner.upload(file, rendered.text, 0o644);
  const stack = migrationJobStackName(swarm.stack, job.database);
  const timeoutMs = job.timeoutMs ?? 600_000;
  const run = await runJobStack(
    runner,
    {
      stack,
      service: `migrate-${job.database}`,
      argv: stackDeployArgs(stack, file, { prune: false }),
      timeoutMs,
    },
    new AbortController().signal,
  );
  for (const line of `${run.stdout}${run.stderr}`.trim().split('\n').filter(Boolean)) log(line);
  if (run.outcome === 'timeout') {
    throw new ExternalError(
      `migrations of database ${job.database} did not finish within ${Math.round(timeoutMs / 1000)} s on the swarm`,
      { hint: `see \`docker service ps ${stack}_migrate-${job.database}\` on ${runner.name}` },
    );
  }
  return run;
}
