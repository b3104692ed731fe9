// `stagecraft setup`: probe each host, plan (plan/setup.ts), run the plan's steps per host, probe again
// to verify. Also the check `deploy` makes before it touches a host that may not be set up.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type HostBoundStep, type HostStepEvent, runHostSteps } from '../engine/hosts.js';
import type { EnvironmentModel, HostModel } from '../model/environment.js';
import { environmentSettings, type ProjectModel, projectModel } from '../model/project.js';
import {
  type HostFacts,
  PROBE_SCRIPT,
  parseHostFacts,
  READY_PROBE_SCRIPT,
  versionBelow,
} from '../plan/host-facts.js';
import { planSetup, type SetupPlan, type SetupStep, type SetupWanted } from '../plan/setup.js';
import { planSwarmSetup } from '../plan/setup-swarm.js';
import { createRunner } from '../runners/factory.js';
import type { Runner } from '../runners/types.js';
import { formatDuration } from '../util/duration.js';
import { ExternalError, PartialFailure, UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import { redact } from '../util/secret.js';
import { readUserFile } from '../util/user-file.js';
import type { LoadedEnvironment } from './environment.js';
import { hostsReachedOverMesh, meshAuthKeys, meshWantedOf } from './mesh.js';
import type { Session } from './session.js';
import { asRootRunner, probeSwarm, runSwarmSteps, swarmWantedOf } from './setup-swarm.js';

export const MINIMUM_VERSIONS = { docker: '20.10.0', compose: '2.20.0' } as const;

/** Who setup connects as and what it wants on the hosts (from the project model). */
export interface SetupSettings {
  sshUser: string;
  wanted: SetupWanted;
}

function publicKeyOf(project: ProjectModel, environment: string): string {
  const identity = environmentSettings(project, environment).ssh?.identity_file;
  const candidates = project.bootstrap.publicKeyFile
    ? [project.bootstrap.publicKeyFile]
    : identity
      ? [`${resolvePath(project.root, identity)}.pub`]
      : ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub'].map((name) => join(homedir(), '.ssh', name));
  for (const path of candidates) {
    const text = readUserFile(path, {
      maxBytes: 64 * 1024,
      hint: 'point infra.bootstrap.public_key_file at a .pub file',
    });
    if (text !== undefined) {
      const key = text.trim();
      if (/^(ssh|ecdsa|sk)-\S+ \S+/.test(key)) return key.split('\n')[0]!;
      throw new UserError(`${path} is not an OpenSSH public key`, {
        hint: 'point infra.bootstrap.public_key_file at a .pub file',
      });
    }
  }
  throw new UserError(`no public key for the deploy user: ${candidates.join(', ')} not found`, {
    hint: 'set infra.bootstrap.public_key_file to your OpenSSH public key (e.g. ~/.ssh/id_ed25519.pub)',
  });
}

/** Who setup connects as and what it wants on the hosts of `environment`, from the project model. */
export function setupSettings(project: ProjectModel, environment: string): SetupSettings {
  const { bootstrap, ingress } = project;
  const ports = [ingress.httpPort];
  if (ingress.tls.mode !== 'off') ports.push(ingress.httpsPort);
  return {
    sshUser: bootstrap.sshUser,
    wanted: {
      deployUser: environmentSettings(project, environment).deployUser,
      publicKey: publicKeyOf(project, environment),
      folders: [`.stagecraft/${project.project}-${environment}`],
      logRotation: { maxSize: bootstrap.logMaxSize, maxFile: bootstrap.logMaxFile },
      ports,
      minimum: MINIMUM_VERSIONS,
    },
  };
}

/**
 * Runners that connect as the setup user (root or a sudoer), one multiplexed connection per host: to
 * the host's setupTarget (its way in before it joined the mesh), except for the hosts in `overMesh`
 * (online peers of this machine's tailnet), which are reached like deploys reach them (their target).
 */
export class SetupRunners {
  readonly #runners = new Map<string, Runner>();
  constructor(
    private readonly env: LoadedEnvironment,
    private readonly user: string,
    private readonly overMesh: ReadonlySet<string> = new Set(),
  ) {}

  for(host: HostModel): Runner {
    let runner = this.#runners.get(host.name);
    if (runner === undefined) {
      const { ssh, rootDir } = this.env.model.connection;
      runner = createRunner(
        {
          name: host.name,
          address: this.overMesh.has(host.name) ? host.target : (host.setupTarget ?? host.target),
          user: this.user,
          ...(host.port ? { port: host.port } : {}),
        },
        { driver: 'ssh', ssh, rootDir },
      );
      this.#runners.set(host.name, runner);
    }
    return runner;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#runners.values()].map((runner) => runner.close().catch(() => undefined)));
  }
}

/** Probes one host (one round trip). Throws an ExternalError when the host cannot be read. */
export async function probeHost(
  runner: Runner,
  wanted: Pick<SetupWanted, 'deployUser' | 'folders'>,
): Promise<HostFacts> {
  const result = await runner.exec(['sh', '-c', PROBE_SCRIPT, 'sh', wanted.deployUser, ...wanted.folders], {
    timeoutMs: 60_000,
  });
  try {
    return parseHostFacts(result.stdout);
  } catch (error) {
    throw new ExternalError(`${runner.name}: could not read the host's facts`, { cause: error });
  }
}

/** The light probe before a deploy (READY_PROBE_SCRIPT, one round trip). Throws ExternalError like probeHost. */
async function probeReady(runner: Runner): Promise<HostFacts> {
  const result = await runner.exec(['sh', '-c', READY_PROBE_SCRIPT], { timeoutMs: 60_000 });
  try {
    return parseHostFacts(result.stdout);
  } catch (error) {
    throw new ExternalError(`${runner.name}: could not read the host's facts`, { cause: error });
  }
}

async function probeAll(
  hosts: HostModel[],
  runners: SetupRunners,
  wanted: SetupWanted,
): Promise<{ host: string; facts: HostFacts }[]> {
  return Promise.all(
    hosts.map(async (host) => ({ host: host.name, facts: await probeHost(runners.for(host), wanted) })),
  );
}

/** The plan as text: per host, what was found right and each step with what made it needed. */
export function setupPlanText(plan: SetupPlan): string {
  const lines: string[] = [];
  for (const host of plan.hosts) {
    lines.push(
      `${host.host} (${host.os}): ${host.steps.length === 0 ? 'set up; nothing to change' : `${host.steps.length} change${host.steps.length === 1 ? '' : 's'}`}`,
    );
    for (const check of host.checks) lines.push(`  = ${check.name}: ${check.found}`);
    for (const step of host.steps) lines.push(`  + ${step.id}  ${step.title}  (found: ${step.found})`);
  }
  if (plan.swarm !== undefined) {
    const { steps, checks, manager } = plan.swarm;
    lines.push(
      `swarm (manager ${manager}): ${steps.length === 0 ? 'formed and labelled; nothing to change' : `${steps.length} change${steps.length === 1 ? '' : 's'}, after the hosts' own`}`,
    );
    for (const check of checks) lines.push(`  = ${check.name}: ${check.found}`);
    for (const step of steps) lines.push(`  + ${step.id}  ${step.title}  (found: ${step.found})`);
  }
  return `${lines.join('\n')}\n`;
}

/** The stable JSON form of a setup plan (`setup --dry-run --json`). Public keys and file contents are left out. */
export function setupPlanJson(plan: SetupPlan): Record<string, unknown> {
  return {
    schema: 'stagecraft.setup-plan/v1',
    environment: plan.environment,
    hosts: plan.hosts.map((host) => ({
      host: host.host,
      os: host.os,
      changes: host.steps.length,
      checks: host.checks,
      steps: host.steps.map((step) => ({
        id: step.id,
        title: step.title,
        found: step.found,
        argv: step.action.argv,
      })),
    })),
    ...(plan.swarm === undefined
      ? {}
      : {
          swarm: {
            manager: plan.swarm.manager,
            changes: plan.swarm.steps.length,
            checks: plan.swarm.checks,
            // The join token is never in a plan: a join's argv is `docker system dial-stdio`, its request is made when it runs.
            steps: plan.swarm.steps.map((step) => ({
              id: step.id,
              host: step.host,
              title: step.title,
              found: step.found,
              ...('argv' in step.action ? { argv: step.action.argv } : {}),
            })),
          },
        }),
  };
}

export interface SetupOptions {
  dryRun: boolean;
  /** Hosts to set up (default: every host of the environment in scope). */
  hosts: HostModel[];
}

export interface SetupOutcome {
  plan: SetupPlan;
  changed: number;
}

/**
 * Probes, plans and (unless dry-run) applies setup, then probes again: a host whose second plan is not
 * empty did not converge (an ExternalError). Returns the plan that ran and how many steps changed a host.
 */
export async function runSetup(
  context: Session,
  env: LoadedEnvironment,
  options: SetupOptions,
): Promise<SetupOutcome> {
  if (env.model.driver === 'swarm' && options.hosts.length !== env.model.hosts.length) {
    throw new UserError(
      'setup on driver swarm sets up every node of the swarm: --hosts and --roles do not apply',
      {
        hint: `run \`stagecraft setup -e ${env.model.environment}\` without them; hosts already set up are left as they are`,
      },
    );
  }
  const swarm = await swarmWantedOf(env);
  const base = setupSettings(projectModel(env.loaded), env.model.environment);
  const mesh = meshWantedOf(env.model);
  const settings = {
    ...base,
    wanted: { ...base.wanted, ...(mesh ? { mesh } : {}), ...(swarm ? { swarm } : {}) },
  };
  // Once a host is an online peer, its public SSH may be closed (infra up's firewall): go over the mesh.
  const overMesh = await hostsReachedOverMesh(env.model.mesh, options.hosts);
  const runners = new SetupRunners(env, settings.sshUser, overMesh);
  const { output } = context;
  if (overMesh.size > 0)
    output.info(
      output.colors.dim(`  … over the mesh (this machine's tailnet): ${[...overMesh].sort().join(', ')}`),
    );
  // driver swarm: the hosts' swarm state, read as root (as the swarm steps run), planned after their own steps.
  const rootRunners = new Map<string, Runner>();
  const rootRunnerOf = (host: string) => rootRunners.get(host)!;
  const planAll = async (hosts: HostModel[]): Promise<SetupPlan> => {
    const probed = await probeAll(hosts, runners, settings.wanted);
    const plan = planSetup(env.model.environment, probed, settings.wanted);
    if (swarm === undefined) return plan;
    for (const { host, facts } of probed) {
      const model = env.model.hosts.find((candidate) => candidate.name === host)!;
      rootRunners.set(host, asRootRunner(runners.for(model), facts));
    }
    const swarmFacts = await probeSwarm(hosts, (host) => rootRunnerOf(host.name), swarm);
    return { ...plan, swarm: { manager: swarm.manager, ...planSwarmSetup(swarmFacts, swarm) } };
  };
  try {
    const plan = await planAll(options.hosts);
    if (options.dryRun) return { plan, changed: 0 };
    const steps = plan.hosts.flatMap((host) => host.steps);
    const swarmSteps = plan.swarm?.steps ?? [];
    for (const host of plan.hosts) {
      for (const check of host.checks) output.info(`  = ${host.host} ${check.name}: ${check.found}`);
      if (host.steps.length === 0)
        output.info(output.colors.green(`✓ ${host.host}: already set up; nothing changed`));
    }
    for (const check of plan.swarm?.checks ?? []) output.info(`  = swarm ${check.name}: ${check.found}`);
    if (plan.swarm !== undefined && swarmSteps.length === 0)
      output.info(
        output.colors.green(`✓ swarm of ${plan.swarm.manager}: formed and labelled; nothing changed`),
      );
    if (steps.length === 0 && swarmSteps.length === 0) return { plan, changed: 0 };
    const authKeys = await meshAuthKeys(
      env.model,
      context.env,
      steps.filter((step) => step.action.stdinSecret === 'mesh-auth-key').map((step) => step.host),
    );
    const emit = <S extends HostBoundStep>(event: HostStepEvent<S>) => {
      if (event.type === 'step-start')
        output.info(output.colors.dim(`  … ${event.step.id}  ${event.step.title}`));
      else if (event.type === 'step-output') output.debug(`    ${redact(event.line)}`);
      else if (event.type === 'step-done') {
        const took = output.colors.dim(`(${formatDuration(event.durationMs)})`);
        if (event.status === 'completed')
          output.info(`  ${output.colors.green('✓')} ${event.step.id}  ${event.step.title} ${took}`);
        else
          output.info(`  ${output.colors.red('✗')} ${event.step.id}  ${redact(event.error ?? '')} ${took}`);
      }
    };
    const result = await runHostSteps<SetupStep>(
      plan.hosts.filter((host) => host.steps.length > 0).map((host) => host.host),
      steps,
      {
        parallelHosts: 4,
        signal: new AbortController().signal,
        emit,
        handle: async (step, log, signal) => {
          const host = options.hosts.find((candidate) => candidate.name === step.host)!;
          const run = await runners.for(host).exec(step.action.argv, {
            onLine: (line: string) => log(redact(line)),
            signal,
            allowFailure: true,
            timeoutMs: 15 * 60_000,
            ...(step.action.stdin !== undefined ? { stdin: step.action.stdin } : {}),
            ...(step.action.stdinSecret !== undefined && authKeys.has(step.host)
              ? { stdin: `${authKeys.get(step.host)!.reveal()}\n` }
              : {}),
          });
          if (run.exitCode !== 0) {
            const last = redact(`${run.stderr}\n${run.stdout}`.trim().split('\n').slice(-3).join(' | '));
            throw new ExternalError(
              `${step.title} failed on ${step.host} (exit ${run.exitCode})${last ? `: ${last}` : ''}`,
            );
          }
        },
      },
    );
    const failed = Object.keys(result.hostsFailed);
    // The swarm forms once every host is set up (the manager inits, the others join, then the labels).
    if (failed.length === 0 && swarmSteps.length > 0) await runSwarmSteps(swarmSteps, rootRunnerOf, emit);
    // Verify: what setup did must leave nothing to do.
    const done = options.hosts.filter((host) => result.hostsDone.includes(host.name));
    const again = await planAll(failed.length === 0 ? options.hosts : done);
    const left = again.hosts.filter((host) => host.steps.length > 0);
    const swarmLeft = failed.length === 0 ? (again.swarm?.steps ?? []) : [];
    if (left.length > 0 || swarmLeft.length > 0) {
      throw new ExternalError(
        `setup did not converge on ${[...left.map((host) => host.host), ...(swarmLeft.length > 0 ? [`the swarm of ${again.swarm!.manager}`] : [])].join(', ')}`,
        {
          details: [
            ...left.flatMap((host) => host.steps.map((step) => `${host.host}: still ${step.found}`)),
            ...swarmLeft.map((step) => `${step.id}: still ${step.found}`),
          ],
          hint: 'run with --verbose to see the commands’ output',
        },
      );
    }
    for (const host of done) output.info(output.colors.green(`✓ ${host.name}: set up`));
    if (plan.swarm !== undefined && failed.length === 0)
      output.info(
        output.colors.green(
          `✓ swarm of ${plan.swarm.manager}: ${env.model.hosts.length} nodes, labelled by role`,
        ),
      );
    if (failed.length > 0) {
      const first = result.hostsFailed[failed[0]!];
      const message = `setup failed on ${failed.join(', ')}${done.length > 0 ? ` (done on ${done.map((h) => h.name).join(', ')})` : ''}${plan.swarm !== undefined ? '; the swarm was not formed' : ''}`;
      const hint = 'fix the failure above and run `stagecraft setup` again; it resumes where it stopped';
      if (
        done.length > 0 ||
        plan.hosts.some((host) => host.steps.length === 0 && !failed.includes(host.host))
      )
        throw new PartialFailure(message, { hint, cause: first });
      throw new ExternalError(message, { hint, cause: first });
    }
    return { plan, changed: steps.length + swarmSteps.length };
  } finally {
    await runners.closeAll();
  }
}

/** Why a host cannot take a deploy yet (Docker or compose v2 missing or too old), or undefined. */
export function notReadyReason(facts: HostFacts): string | undefined {
  if (facts.docker.version === undefined) return 'has no Docker Engine';
  if (facts.compose === undefined) return 'has no docker compose v2';
  if (versionBelow(facts.docker.version, MINIMUM_VERSIONS.docker))
    return `runs Docker ${facts.docker.version} (< ${MINIMUM_VERSIONS.docker})`;
  if (versionBelow(facts.compose, MINIMUM_VERSIONS.compose))
    return `runs docker compose ${facts.compose} (< ${MINIMUM_VERSIONS.compose})`;
  if (!facts.docker.running) return 'does not run Docker';
  return undefined;
}

/**
 * Before a deploy touches the hosts: each must have Docker and compose v2 running. Probes with the
 * deploy's own connection settings (one round trip per host, in parallel).
 */
export async function checkHostsReady(
  env: LoadedEnvironment,
  runnerFor: (host: HostModel) => Runner,
  hosts: HostModel[] = env.model.hosts,
): Promise<{ host: string; reason: string }[]> {
  if (env.model.driver === 'local') return [];
  const probed = await Promise.all(
    hosts.map(async (host) => {
      let facts: HostFacts;
      try {
        facts = await probeReady(runnerFor(host));
      } catch (error) {
        if (!(error instanceof ExternalError)) throw error;
        // A new host refuses the deploy user until setup has created it: say so next to ssh's own advice.
        throw new ExternalError(error.message, {
          details: [...error.details, ...(error.hint ? [error.hint] : [])],
          hint: `if ${host.name} is new, run \`stagecraft setup -e ${env.model.environment}\` first (it installs Docker and creates the deploy user with your key), or \`stagecraft deploy --setup\``,
          cause: error,
        });
      }
      return { host: host.name, reason: notReadyReason(facts) };
    }),
  );
  return probed.filter((entry): entry is { host: string; reason: string } => entry.reason !== undefined);
}

/** The error deploy raises for hosts that are not set up. */
export function notSetUpError(
  model: EnvironmentModel,
  notReady: { host: string; reason: string }[],
): UserError {
  return new UserError(
    `${notReady.length === 1 ? `host ${notReady[0]!.host} is` : `${notReady.length} hosts are`} not set up for deploys`,
    {
      details: notReady.map((entry) => `${entry.host} ${entry.reason}`),
      hint: `run \`stagecraft setup -e ${model.environment}\` first (or \`stagecraft deploy --setup\` to do both)`,
    },
  );
}
