// `stagecraft ssh` and `stagecraft exec`: a person's session on a host or in a container, over the same
// ssh connection settings deploy uses (through the runner's multiplexed connection, so connection
// problems get the runner's clear errors before the terminal is handed over).
import { homedir } from 'node:os';
import { composeRunArgs } from '../docker/compose.js';
import { execArgs } from '../docker/container.js';
import type { EnvironmentModel, HostModel } from '../model/environment.js';
import { releaseDir } from '../plan/deploy.js';
import { runInteractive, tailscaleSshArgv } from '../runners/interactive.js';
import { SshRunner } from '../runners/ssh.js';
import type { Runner } from '../runners/types.js';
import { didYouMean } from '../util/did-you-mean.js';
import { ExternalError, UserError } from '../util/errors.js';
import type { LoadedEnvironment } from './environment.js';
import {
  type HostRunners,
  hostsInScope,
  oneLine,
  readHistory,
  requireService,
  serviceContainers,
  shortContainerName,
} from './fleet.js';
import type { Session } from './session.js';

/** A host by name, or the first host of a role; an unknown name lists both. */
export function resolveHostOrRole(model: EnvironmentModel, target: string): HostModel {
  const byName = model.hosts.find((host) => host.name === target);
  if (byName !== undefined) return byName;
  const byRole = model.hosts.find((host) => host.roles.includes(target));
  if (byRole !== undefined) return byRole;
  const hosts = model.hosts.map((host) => host.name);
  const roles = [...new Set(model.hosts.flatMap((host) => host.roles))];
  const suggestion = didYouMean(target, [...hosts, ...roles]);
  throw new UserError(
    `"${target}" is neither a host nor a role of ${model.environment}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
    { hint: `hosts: ${hosts.join(', ')}; roles: ${roles.join(', ')}` },
  );
}

/** What a person typed after `--`: one word is a command line for the remote shell, several are an argv. */
export function remoteCommand(words: readonly string[]): string | string[] | undefined {
  if (words.length === 0) return undefined;
  return words.length === 1 ? words[0]! : [...words];
}

function terminal(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/**
 * The argv that runs `remote` (or a login shell) on a host through the runner's open master
 * connection: the runner's own `ssh … host -- cmd`, with `-t`/`-T` (and `-n`) before the host.
 */
export function multiplexedArgv(
  runner: SshRunner,
  remote: string | readonly string[] | undefined,
  options: { tty: boolean; noStdin?: boolean },
): string[] {
  const probe = runner.commandArgv(['true']);
  // Shape of buildSshArgv: ['ssh', …options, host, '--', command].
  const host = probe[probe.length - 3]!;
  const base = probe.slice(0, -3);
  const flags = [options.tty ? '-t' : '-T', ...(options.noStdin === true ? ['-n'] : [])];
  if (remote === undefined) return [...base, ...flags, host];
  const command = typeof remote === 'string' ? remote : runner.commandArgv(remote).at(-1)!;
  return [...base, ...flags, host, '--', command];
}

/** Runs a person's command on a host's runner with the terminal attached; resolves with its exit code. */
async function runAttached(
  runner: Runner,
  remote: string | readonly string[] | undefined,
  options: { tty: boolean; noStdin?: boolean },
): Promise<number> {
  if (runner instanceof SshRunner) {
    await runner.connect();
    return runInteractive(multiplexedArgv(runner, remote, options));
  }
  // driver: local: the command runs here, in the home folder (where the release files are).
  if (remote === undefined) return runInteractive([process.env['SHELL'] ?? 'sh'], { cwd: homedir() });
  const argv = typeof remote === 'string' ? ['sh', '-c', remote] : [...remote];
  return runInteractive(argv, { cwd: homedir() });
}

/** `stagecraft ssh HOST|ROLE [-- CMD…]`. */
export async function sshSession(
  env: LoadedEnvironment,
  runners: HostRunners,
  target: string,
  words: readonly string[],
): Promise<number> {
  const { model } = env;
  if (model.driver === 'local') {
    throw new UserError(
      `environment ${model.environment} runs on this machine (driver: local): there is no host to ssh to`,
      {
        hint: `use \`stagecraft exec -e ${model.environment} SERVICE -- sh\` for a shell in a container`,
      },
    );
  }
  const host = resolveHostOrRole(model, target);
  const remote = remoteCommand(words);
  const tty = remote === undefined ? process.stdin.isTTY === true : terminal();
  if (model.mesh?.provider === 'tailscale') {
    return runInteractive(tailscaleSshArgv(host.target, host.user, remote));
  }
  return runAttached(runners.get(host.name), remote, { tty });
}

export interface ExecOptions {
  interactive: boolean;
  /** A one-off container of the current release's image (`docker compose run --rm`). */
  new: boolean;
}

/** The first host (model order) that has a running container of the service, and that container. */
async function findRunningContainer(
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  service: string,
): Promise<{ host: HostModel; id: string; name: string }> {
  const serviceHosts = env.model.services.find((candidate) => candidate.name === service)?.hosts ?? [];
  const ordered = [
    ...hosts.filter((host) => serviceHosts.includes(host.name)),
    ...hosts.filter((host) => !serviceHosts.includes(host.name)),
  ];
  const found = await Promise.all(
    ordered.map(async (host) => {
      try {
        const containers = await serviceContainers(runners.get(host.name), env.model.composeProject, service);
        return { host, container: containers.find((container) => container.running) };
      } catch (error) {
        return { host, error: oneLine(error) };
      }
    }),
  );
  const first = found.find((entry) => entry.container !== undefined);
  if (first?.container !== undefined) {
    return {
      host: first.host,
      id: first.container.id,
      name: shortContainerName(first.container.name, env.model.composeProject),
    };
  }
  const errors = found.flatMap((entry) =>
    entry.error === undefined ? [] : [`${entry.host.name}: ${entry.error}`],
  );
  const message = `no running container of ${service} on ${ordered.map((host) => host.name).join(', ')}`;
  if (errors.length > 0) {
    throw new ExternalError(`${message} that could be read`, {
      details: errors,
      hint: `check the hosts, or see what runs with \`stagecraft status -e ${env.model.environment}\``,
    });
  }
  throw new UserError(message, {
    hint: `see what runs with \`stagecraft status -e ${env.model.environment}\`, or use --new for a one-off container`,
  });
}

/** `stagecraft exec SERVICE [-i] [--new] -- CMD…`: output and exit code passed through. */
export async function execInService(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
  service: string,
  words: readonly string[],
  options: ExecOptions,
): Promise<number> {
  const { model } = env;
  requireService(model, service);
  if (words.length === 0) {
    throw new UserError('exec needs a command after --', {
      hint: `for example: stagecraft exec ${service} -- sh   (add -i for an interactive one)`,
    });
  }
  const hosts = hostsInScope(model, context.globals);
  const tty = options.interactive && terminal();
  const attached = { tty, noStdin: !options.interactive };
  if (model.driver === 'swarm') {
    if (options.new) {
      throw new UserError('exec --new is not supported on driver swarm yet', {
        hint: `exec into a running task: stagecraft exec -e ${model.environment} ${service} -- …`,
      });
    }
    const { findSwarmTask } = await import('./swarm-exec.js');
    const target = await findSwarmTask(env, runners, hosts, service);
    context.output.debug(`exec in ${target.name} on ${target.host.name}`);
    const argv = execArgs(target.container, [...words], { interactive: options.interactive, tty });
    return runAttached(runners.get(target.host.name), argv, attached);
  }
  if (!options.new) {
    const target = await findRunningContainer(env, runners, hosts, service);
    context.output.debug(`exec in ${target.name} on ${target.host.name}`);
    const argv = execArgs(target.id, [...words], { interactive: options.interactive, tty });
    return runAttached(runners.get(target.host.name), argv, attached);
  }
  const { current, remoteError } = await readHistory(context, env, runners);
  if (current === undefined) {
    throw new UserError(`no completed release of ${model.environment} to run a one-off container from`, {
      hint:
        remoteError === undefined
          ? `deploy first: stagecraft deploy -e ${model.environment}`
          : `the lock host's history could not be read (${remoteError}); check ${model.lockHost}`,
    });
  }
  const host = hosts.find((candidate) => current.hosts[candidate.name]?.services.includes(service) === true);
  if (host === undefined) {
    throw new UserError(
      `release ${current.id} does not run ${service} on ${hosts.map((candidate) => candidate.name).join(', ')}`,
      { hint: 'check --hosts / --roles, or the roles of the service in stagecraft.yml' },
    );
  }
  const file = `${releaseDir(model, current.id)}/compose.yml`;
  context.output.debug(`one-off ${service} container on ${host.name} from release ${current.id}`);
  const argv = composeRunArgs({ project: model.composeProject, file }, service, [...words], { noTty: !tty });
  return runAttached(runners.get(host.name), argv, attached);
}
