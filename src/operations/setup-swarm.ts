// The swarm phase of `stagecraft setup` on a `driver: swarm` environment: read each host's swarm state,
// then (after every host's own setup steps) init the swarm on the manager, join the other hosts as
// workers and label the nodes by role. The pure plan is plan/setup-swarm.ts; this file does the I/O.
//
// The join token is a secret: it is read on the manager (`docker swarm join-token --quiet worker`, its
// stdout) into a Secret and travels only on the worker's stdin, inside the Engine API request
// `POST /swarm/join` that `docker system dial-stdio` hands to the worker's engine. It is never in an
// argv (here or on a host), a log line, the plan or an error.
import { isIP } from 'node:net';
import {
  joinTokenArgs,
  nodeIdsArgs,
  parseEngineResponse,
  parseSwarmInfo,
  type SwarmInfo,
  swarmInfoArgs,
  swarmJoinRequest,
} from '../docker/swarm.js';
import { type HostStepEvent, runHostSteps } from '../engine/hosts.js';
import { ensureNodeLabels, readSwarmNodes } from '../engine/swarm.js';
import type { HostModel } from '../model/environment.js';
import type { HostFacts } from '../plan/host-facts.js';
import type { SetupStep } from '../plan/setup.js';
import type { SwarmFacts, SwarmSetupAction, SwarmWanted } from '../plan/setup-swarm.js';
import { resolveHostAddress, runnerHost } from '../runners/factory.js';
import type { ExecOptions, Runner } from '../runners/types.js';
import { ExternalError, UserError } from '../util/errors.js';
import { redact, Secret } from '../util/secret.js';
import type { LoadedEnvironment } from './environment.js';

/**
 * What setup wants of the swarm, or undefined for another driver: the manager and every host with
 * the address it advertises (an IP: the configured one, else what the host name resolves to, as deploy
 * finds the nodes) and its roles.
 */
export async function swarmWantedOf(env: LoadedEnvironment): Promise<SwarmWanted | undefined> {
  const { model } = env;
  if (model.driver !== 'swarm' || model.swarm === undefined) return undefined;
  if (model.mesh !== undefined) {
    throw new UserError(
      `setup does not form a swarm over a mesh yet (environment ${model.environment} has driver swarm and a network provider)`,
      {
        hint: 'form the swarm yourself on the hosts’ mesh addresses (`docker swarm init --advertise-addr <100.x address>` on the manager), or use driver swarm without network.provider',
      },
    );
  }
  const nodes = await Promise.all(
    model.hosts.map(async (host) => ({
      host: host.name,
      address:
        isIP(host.target) !== 0 ? host.target : await resolveHostAddress(runnerHost(host), model.connection),
      roles: [...host.roles].sort(),
    })),
  );
  return { manager: model.swarm.manager, nodes };
}

/** The runner with `sudo -n` in front of every command when setup connects as a sudoer, not root. */
export function asRootRunner(runner: Runner, facts: Pick<HostFacts, 'user'>): Runner {
  if (facts.user.uid === 0) return runner;
  return {
    name: runner.name,
    exec: (argv: readonly string[], options?: ExecOptions) => runner.exec(['sudo', '-n', ...argv], options),
    upload: (path, content, mode) => runner.upload(path, content, mode),
    read: (path) => runner.read(path),
    close: () => runner.close(),
  };
}

/** `docker info`'s Swarm on a host, or undefined when its engine does not answer (not installed or not running). */
async function swarmInfoOf(runner: Runner, signal?: AbortSignal): Promise<SwarmInfo | undefined> {
  const result = await runner.exec(swarmInfoArgs(), {
    allowFailure: true,
    timeoutMs: 60_000,
    ...(signal ? { signal } : {}),
  });
  if (result.exitCode !== 0) return undefined;
  try {
    return parseSwarmInfo(result.stdout);
  } catch (error) {
    throw new ExternalError(`${runner.name}: could not read the swarm state from \`docker info\``, {
      cause: error,
    });
  }
}

/** The ids of the nodes of the swarm a manager manages. */
async function nodeIdsOn(manager: Runner, signal?: AbortSignal): Promise<string[]> {
  const result = await manager.exec(nodeIdsArgs(), { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
  return result.stdout.split('\n').filter(Boolean);
}

/** Reads each host's swarm state, and the manager's nodes when it manages a swarm (in parallel, read only). */
export async function probeSwarm(
  hosts: HostModel[],
  runnerFor: (host: HostModel) => Runner,
  wanted: SwarmWanted,
): Promise<SwarmFacts[]> {
  return Promise.all(
    hosts.map(async (host) => {
      const runner = runnerFor(host);
      const info = await swarmInfoOf(runner);
      if (host.name !== wanted.manager || info?.controlAvailable !== true) return { host: host.name, info };
      return { host: host.name, info, nodes: await readSwarmNodes(runner, { timeoutMs: 60_000 }) };
    }),
  );
}

type SwarmStep = SetupStep<SwarmSetupAction>;

/**
 * Runs the swarm phase's steps through the engine (engine/hosts.ts): the manager's init first, then
 * the joins (hosts in parallel), then the labels. Each step checks the host's swarm state again
 * before it changes anything (a second run, or a race, finds the work done). Throws ExternalError when
 * a step fails; the steps after it do not run.
 */
export async function runSwarmSteps(
  steps: SwarmStep[],
  runnerOf: (host: string) => Runner,
  emit: (event: HostStepEvent<SwarmStep>) => void,
): Promise<void> {
  let token: Promise<Secret> | undefined;
  const joinToken = (manager: string, signal: AbortSignal) => {
    token ??= runnerOf(manager)
      .exec(joinTokenArgs(), { signal, timeoutMs: 60_000 })
      .then((result) => new Secret(result.stdout.trim()));
    return token;
  };
  const handle = async (step: SwarmStep, log: (line: string) => void, signal: AbortSignal) => {
    const runner = runnerOf(step.host);
    const { action } = step;
    switch (action.kind) {
      case 'swarm-init': {
        const info = await swarmInfoOf(runner, signal);
        if (info?.state === 'active' && info.controlAvailable) {
          log(`${step.host} manages a swarm already`);
          return;
        }
        if (info !== undefined && info.state !== 'inactive') {
          throw new ExternalError(`${step.host} is in another swarm or its swarm is ${info.state}`, {
            hint: `look at \`docker info\` on ${step.host}; setup does not move a node between swarms`,
          });
        }
        // Its output is not shown, not even with --verbose: it prints the `docker swarm join --token …` command.
        await runner.exec(action.argv, { signal, timeoutMs: 120_000 });
        log(`${step.host} created the swarm and manages it`);
        return;
      }
      case 'swarm-join': {
        const info = await swarmInfoOf(runner, signal);
        if (info === undefined)
          throw new ExternalError(`the Docker Engine on ${step.host} does not answer`, {
            hint: `start Docker on ${step.host} (\`service docker start\`) and run setup again`,
          });
        if (info.state === 'active') {
          if ((await nodeIdsOn(runnerOf(action.manager), signal)).includes(info.nodeId)) {
            log(`${step.host} is a node of the swarm already`);
            return;
          }
          throw new ExternalError(
            `${step.host} is a node of another swarm, not of the swarm of ${action.manager}`,
            {
              hint: `setup does not move a node between swarms: run \`docker swarm leave\` on ${step.host} if it belongs here`,
            },
          );
        }
        const request = swarmJoinRequest({
          token: await joinToken(action.manager, signal),
          advertiseAddr: action.advertiseAddr,
          remoteAddrs: action.remoteAddrs,
        });
        const result = await runner.exec(action.argv, {
          stdin: request,
          signal,
          allowFailure: true,
          timeoutMs: 120_000,
        });
        let answer: { status: number; message: string };
        try {
          answer = parseEngineResponse(result.stdout);
        } catch {
          const why = redact(`${result.stderr}`.trim().split('\n').at(-1) ?? '');
          throw new ExternalError(
            `${step.host} could not reach its Docker Engine's API (docker system dial-stdio exited with code ${result.exitCode}${why ? `: ${why}` : ''})`,
          );
        }
        if (answer.status !== 200) {
          throw new ExternalError(
            `${step.host} could not join the swarm of ${action.manager} (${action.remoteAddrs.join(', ')}): ${redact(answer.message)} (HTTP ${answer.status})`,
            {
              hint: `check that ${step.host} reaches ${action.remoteAddrs.join(', ')} (TCP 2377, 7946; UDP 7946, 4789) and run setup again`,
            },
          );
        }
        log(`${step.host} joined the swarm of ${action.manager}`);
        return;
      }
      case 'swarm-labels': {
        const outcome = await ensureNodeLabels(runner, action, log, signal);
        if (outcome.detail) log(outcome.detail);
        return;
      }
    }
  };
  const signal = new AbortController().signal;
  for (const kind of ['swarm-init', 'swarm-join', 'swarm-labels'] as const) {
    const group = steps.filter((step) => step.action.kind === kind);
    if (group.length === 0) continue;
    const result = await runHostSteps<SwarmStep>([...new Set(group.map((step) => step.host))], group, {
      parallelHosts: 4,
      signal,
      emit,
      handle,
    });
    const failed = Object.entries(result.hostsFailed);
    if (failed.length > 0) {
      const [host, error] = failed[0]!;
      if (error instanceof ExternalError || error instanceof UserError) throw error;
      throw new ExternalError(`the swarm step on ${host} failed: ${redact(String(error))}`, { cause: error });
    }
  }
}
