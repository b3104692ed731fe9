// What the operating commands (status, logs, exec, ssh, secrets sync) share: the hosts in scope, one
// runner (one multiplexed ssh connection) per host, the release that runs now, and container lookups.

import {
  type ContainerFacts,
  inspectContainersArgs,
  listNamedContainersArgs,
  listProjectContainersArgs,
  listServiceContainersArgs,
  parseContainerInspect,
  parseJsonLines,
} from '../docker/container.js';
import type { EnvironmentModel, HostModel } from '../model/environment.js';
import { runnerFor } from '../runners/factory.js';
import type { Runner } from '../runners/types.js';
import { Ledger, latestRecord, mergeLedgers, readRemoteLedger, runningRelease } from '../state/ledger.js';
import type { ReleaseRecord } from '../state/types.js';
import { didYouMean } from '../util/did-you-mean.js';
import { ExternalError, PartialFailure, UserError } from '../util/errors.js';
import type { LoadedEnvironment } from './environment.js';
import type { Session } from './session.js';

/**
 * `*` (any run of characters) and `?` (one character) globs, as the scope flags (`--hosts`,
 * `--roles`, `--services`) take them; every other character matches itself. Matched in
 * O(pattern × name) steps at worst: a pattern such as `a*a*a*a*b` cannot backtrack without end, as
 * the regular expression it once became did.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = n;
    } else if (star !== -1) {
      p = star + 1;
      n = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * The hosts of the environment that `--hosts` and `--roles` leave in scope, in config order. A
 * pattern that matches nothing is an error (a typo must not silently mean "no hosts").
 */
export function hostsInScope(
  model: EnvironmentModel,
  scope: { hosts?: string[] | undefined; roles?: string[] | undefined },
): HostModel[] {
  const problems: string[] = [];
  const names = model.hosts.map((host) => host.name);
  const roles = [...new Set(model.hosts.flatMap((host) => host.roles))];
  for (const pattern of scope.hosts ?? []) {
    if (!names.some((name) => globMatch(pattern, name))) {
      const suggestion = didYouMean(pattern, names);
      problems.push(
        `no host matches "${pattern}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; hosts of ${model.environment}: ${names.join(', ')}`,
      );
    }
  }
  for (const pattern of scope.roles ?? []) {
    if (!roles.some((role) => globMatch(pattern, role))) {
      problems.push(`no role matches "${pattern}"; roles of ${model.environment}: ${roles.join(', ')}`);
    }
  }
  if (problems.length > 0) {
    throw new UserError(problems[0]!, {
      details: problems.slice(1),
      hint: 'check --hosts and --roles against the hosts of the environment in stagecraft.yml',
    });
  }
  return model.hosts.filter(
    (host) =>
      (scope.hosts === undefined || scope.hosts.some((pattern) => globMatch(pattern, host.name))) &&
      (scope.roles === undefined ||
        host.roles.some((role) => scope.roles!.some((pattern) => globMatch(pattern, role)))),
  );
}

/**
 * The names of the hosts `--hosts` and `--roles` leave in scope (hostsInScope: globs, both flags
 * narrow), or undefined when neither is given: the whole environment. Throws UserError as
 * hostsInScope for a pattern that matches nothing.
 */
export function hostNamesInScope(
  model: EnvironmentModel,
  scope: { hosts?: string[] | undefined; roles?: string[] | undefined },
): string[] | undefined {
  if (scope.hosts === undefined && scope.roles === undefined) return undefined;
  return hostsInScope(model, scope).map((host) => host.name);
}

/**
 * The names of the services `--services` leaves in scope (globs allowed), in model order, or
 * undefined without the flag. Throws UserError naming the services there are when a pattern matches
 * none (a typo must not silently mean "no service").
 */
export function serviceNamesInScope(
  model: EnvironmentModel,
  patterns: string[] | undefined,
): string[] | undefined {
  if (patterns === undefined) return undefined;
  const names = model.services.map((service) => service.name);
  for (const pattern of patterns) {
    if (names.some((name) => globMatch(pattern, name))) continue;
    const suggestion = didYouMean(pattern, names);
    throw new UserError(
      `no service matches "${pattern}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; services of ${model.environment}: ${names.join(', ')}`,
      { hint: 'check --services against the services of the compose file' },
    );
  }
  return names.filter((name) => patterns.some((pattern) => globMatch(pattern, name)));
}

/** A service of the model by name, or a user error naming the services there are. */
export function requireService(model: EnvironmentModel, name: string): EnvironmentModel['services'][number] {
  const service = model.services.find((candidate) => candidate.name === name);
  if (service !== undefined) return service;
  const names = model.services.map((candidate) => candidate.name);
  const suggestion = didYouMean(name, names);
  throw new UserError(
    `unknown service "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; services of ${model.environment}: ${names.join(', ')}`,
    { hint: 'use a service name from the compose file' },
  );
}

/**
 * One runner per host, created on first use and closed together: every command for a host shares
 * one multiplexed ssh connection (or runs here for `driver: local`).
 */
export class HostRunners {
  readonly #env: LoadedEnvironment;
  readonly #runners = new Map<string, Runner>();

  constructor(env: LoadedEnvironment) {
    this.#env = env;
  }

  get(hostName: string): Runner {
    let runner = this.#runners.get(hostName);
    if (runner === undefined) {
      runner = runnerFor(this.#env.model, hostName);
      this.#runners.set(hostName, runner);
    }
    return runner;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#runners.values()].map((runner) => runner.close().catch(() => undefined)));
    this.#runners.clear();
  }
}

/** Where the release history came from, for messages. */
export interface History {
  releases: ReleaseRecord[];
  /** The newest completed release: what the environment runs now (none after a removal). */
  current: ReleaseRecord | undefined;
  /** The newest completed record, a removal included (what `status` reports). */
  latest: ReleaseRecord | undefined;
  /** Set when the lock host's ledger could not be read (the local one was used alone). */
  remoteError: string | undefined;
}

/**
 * The environment's history (local ledger merged with the lock host's), read through the shared
 * runner of the lock host so no second connection is opened.
 */
export async function readHistory(
  context: Session,
  env: LoadedEnvironment,
  runners: HostRunners,
): Promise<History> {
  const { model } = env;
  const ledger = new Ledger({ projectRoot: env.loaded.root, env: context.env });
  const local = await ledger.list(model.environment);
  let releases = local;
  let remoteError: string | undefined;
  try {
    const remote = await readRemoteLedger(runners.get(model.lockHost), model.project, model.environment);
    releases = mergeLedgers(local, remote).filter((record) => record.environment === model.environment);
  } catch (error) {
    remoteError = (error as Error).message;
  }
  const latest = latestRecord(releases, model.environment);
  return { releases, current: runningRelease(latest), latest, remoteError };
}

/** Containers of one service (running or not) on a host, inspected; [] when there are none. */
export async function serviceContainers(
  runner: Runner,
  project: string,
  service: string,
  signal?: AbortSignal,
): Promise<ContainerFacts[]> {
  return inspectListed(runner, listServiceContainersArgs(project, service), signal);
}

/** Every container of the compose project on a host, inspected. */
export async function projectContainers(
  runner: Runner,
  project: string,
  signal?: AbortSignal,
): Promise<ContainerFacts[]> {
  return inspectListed(runner, listProjectContainersArgs(project), signal);
}

/**
 * The gateway container(s) serving the environment on a host: the shared gateway on its ports and,
 * until the next deploy replaces it, its own gateway from an older version (names from the model).
 */
export async function ingressContainers(
  runner: Runner,
  ingress: { container: string; legacy: { container: string } },
): Promise<ContainerFacts[]> {
  return inspectListed(runner, listNamedContainersArgs([ingress.container, ingress.legacy.container]));
}

async function inspectListed(
  runner: Runner,
  listArgv: string[],
  signal?: AbortSignal,
): Promise<ContainerFacts[]> {
  const listed = await runner.exec(listArgv, signal === undefined ? {} : { signal });
  const ids = parseJsonLines(listed.stdout)
    .map((entry) => String((entry as { ID?: unknown }).ID ?? ''))
    .filter((id) => id !== '');
  if (ids.length === 0) return [];
  // A container removed between the two commands makes inspect fail for it only; keep the others.
  const inspected = await runner.exec(inspectContainersArgs(ids), {
    allowFailure: true,
    ...(signal === undefined ? {} : { signal }),
  });
  return parseContainerInspect(inspected.stdout).sort(byName);
}

function byName(a: ContainerFacts, b: ContainerFacts): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The compose service a container belongs to, from its label. */
export function serviceOf(container: ContainerFacts): string | undefined {
  return container.labels['com.docker.compose.service'];
}

/** A container's name without the `<compose project>-` prefix: `api-1` for `shop-production-api-1`. */
export function shortContainerName(name: string, composeProject: string): string {
  return name.startsWith(`${composeProject}-`) ? name.slice(composeProject.length + 1) : name;
}

/**
 * The version part of an image reference: its tag (`v1` for `reg:5000/shop-api:v1@sha256:…`), else
 * the short digest, else `latest`.
 */
export function imageVersion(ref: string): string {
  const at = ref.indexOf('@');
  const name = at === -1 ? ref : ref.slice(0, at);
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) return name.slice(colon + 1);
  if (digest !== undefined) return digest.replace(/^sha256:/, '').slice(0, 12);
  return 'latest';
}

/** The image reference without tag and digest: `reg:5000/shop-api` for `reg:5000/shop-api:v1@sha256:…`. */
export function imageRepository(ref: string): string {
  const at = ref.indexOf('@');
  const name = at === -1 ? ref : ref.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
}

/** The error message of a host that could not be read, on one line. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}

/**
 * Throws when some of the hosts a read-only command read (`status`, `mesh status`) could not be read:
 * an ExternalError (exit 2) when none could, a PartialFailure (exit 10) when some could. Returns when
 * every host was read.
 */
export function throwIfUnreachable(hosts: { name: string; reachable: boolean }[], environment: string): void {
  const failed = hosts.filter((host) => !host.reachable);
  if (failed.length === 0) return;
  const message = `could not read ${failed.length} of ${hosts.length} host${hosts.length === 1 ? '' : 's'}: ${failed.map((host) => host.name).join(', ')}`;
  const hint = `check that ${failed.length === 1 ? 'the host is' : 'the hosts are'} up and reachable over ssh (\`stagecraft doctor -e ${environment}\`)`;
  if (failed.length === hosts.length) throw new ExternalError(message, { hint });
  throw new PartialFailure(message, { hint });
}
