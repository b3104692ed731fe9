// `stagecraft secrets sync`: resolves the environment's secrets from local sources (env files, the
// process environment, commands such as `op read …`) and hands them to the selected provider: env
// files on every host (`envfile`) or a secret store (`encore`). Values only ever travel as Secret: on
// stdin, into 0600 files; output names keys, never values.
import { renderEnvFile } from '../compose/project.js';
import type { EnvironmentModel, HostModel } from '../model/environment.js';
import { projectModel } from '../model/project.js';
import { releaseDir } from '../plan/deploy.js';
import { planRestart, type RestartHost, type RestartSecretFile, secretEnvPath } from '../plan/restart.js';
import { hostsNeverRun } from '../plan/rollback-fidelity.js';
import { allSteps, type Plan } from '../plan/types.js';
import { selectedAppProvider } from '../providers/app.js';
import {
  type FileOutcome,
  type HostFiles,
  type HostOutcome,
  hasChanges,
  isSecretsProvider,
  type SecretFile,
  type SecretsProvider,
} from '../providers/secrets/types.js';
import { planToJson, planToText } from '../render/plan.js';
import { formatTable } from '../render/table.js';
import { Ledger } from '../state/ledger.js';
import { readSpecKey } from '../state/spec-key.js';
import type { ReleaseRecord } from '../state/types.js';
import { systemClock } from '../util/clock.js';
import { ExternalError, InternalError, PartialFailure, UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';
import { type ReleaseRun, releaseError, runRelease } from './deploy.js';
import { type LoadedEnvironment, loadEnvironment, refuseOnSwarm } from './environment.js';
import { HostRunners, hostsInScope, readHistory } from './fleet.js';
import {
  allKeysPath,
  keySpecs,
  pairsForKeys,
  patchCompose,
  resolveSecretValues,
  selectKeys,
  serviceSecretPairs,
} from './secret-files.js';
import type { Session } from './session.js';
import { specHashesOf } from './status.js';

export interface SecretsSyncOptions {
  /** Only these keys (names from secrets.keys); undefined: every key. */
  keys: string[] | undefined;
  restart: boolean;
  /** Called with the environment's model before anything is read from or written to a host (e.g. to confirm); may throw to stop. */
  beforeHosts?: (model: LoadedEnvironment['model']) => Promise<void>;
}

function secretsProvider(id: string, catalogEntries: readonly { id: string }[]): SecretsProvider {
  const entry = catalogEntries.find((candidate) => candidate.id === id);
  if (!isSecretsProvider(entry as SecretsProvider | undefined)) {
    throw new UserError(`secrets provider "${id}" cannot sync secrets`, {
      hint: 'use secrets.provider envfile or encore',
    });
  }
  return entry as SecretsProvider;
}

/** The all-keys file (`secrets.env`, or the provider's target_file) of every host in scope. */
function allKeysFiles(
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  values: ReadonlyMap<string, Secret>,
  merge: boolean,
): HostFiles[] {
  const allKeys = Object.fromEntries([...values].map(([name, value]) => [name, value.reveal()]));
  return hosts.map((host) => ({
    host: host.name,
    runner: runners.get(host.name),
    files: [
      {
        path: allKeysPath(env),
        service: undefined,
        content: new Secret(renderEnvFile(allKeys)),
        merge,
        unresolved: unresolvedKeys(allKeys),
      },
    ],
  }));
}

/**
 * The secret env file each service of a host in scope reads (`secrets/<service>.env`), as a deploy
 * would write it now, at its path in `release`'s folder (the files a restart release compares with).
 */
function serviceFiles(
  env: LoadedEnvironment,
  runners: HostRunners,
  hosts: HostModel[],
  release: ReleaseRecord,
  values: ReadonlyMap<string, Secret>,
  keys: string[] | undefined,
): ServiceFiles[] {
  return hosts.map((host) => {
    const files: SecretFile[] = [];
    const services = release.hosts[host.name]?.services ?? [];
    const pairs =
      services.length === 0 ? {} : serviceSecretPairs(env, env.compose, services, values, release.images);
    for (const service of Object.keys(pairs).sort()) {
      const wanted = keys !== undefined ? pairsForKeys(pairs[service]!, keys, values) : pairs[service]!;
      if (Object.keys(wanted).length === 0) continue;
      files.push({
        path: secretEnvPath(env.model, release.id, service),
        service,
        content: new Secret(renderEnvFile(wanted)),
        merge: keys !== undefined,
        unresolved: unresolvedKeys(wanted),
      });
    }
    return { host: host.name, runner: runners.get(host.name), files, servicePairs: pairs };
  });
}

/** What a dry run has for a secret whose value comes from a command (not run). */
const UNRESOLVED = '(resolved by its command, which a dry run does not run)';

/** The keys of env file pairs whose value is a dry run's stand-in. */
function unresolvedKeys(pairs: Record<string, string>): Set<string> {
  return new Set(Object.keys(pairs).filter((key) => pairs[key] === UNRESOLVED));
}

interface ServiceFiles extends HostFiles {
  /** Service → every pair its env file holds after the sync (what its keyed spec hash covers). */
  servicePairs: Record<string, Record<string, string>>;
}

interface Restarted {
  host: string;
  service: string;
  status: 'completed' | 'unchanged';
  outcome: string;
}

/**
 * The restart release of a sync: every host of `current` gets a new release folder (a copy of the
 * current one) with the compose file pointing the changed services at their new env files (a new spec
 * hash), the changed files, and with `restart` the services that read secrets rolled out again.
 * Reads each host's current compose file; throws ExternalError for a host where it is gone.
 */
async function restartPlan(
  env: LoadedEnvironment,
  runners: HostRunners,
  provider: SecretsProvider,
  current: ReleaseRecord,
  releaseId: string,
  wanted: ServiceFiles[],
  diffs: HostOutcome[],
  options: { restart: boolean; message: string },
): Promise<Plan> {
  const { model } = env;
  let specKey: Promise<string> | undefined;
  const specHashKey = () =>
    (specKey ??= readSpecKey(runners.get(model.lockHost), model.project, model.environment));
  const hosts = model.hosts.filter((host) => current.hosts[host.name] !== undefined);
  const planned: RestartHost[] = await Promise.all(
    hosts.map(async (host) => {
      const composeFile = `${releaseDir(model, current.id)}/compose.yml`;
      const text = await runners.get(host.name).read(composeFile);
      if (text === undefined) {
        throw new ExternalError(
          `${host.name}: the compose file of release ${current.id} is gone (${composeFile})`,
          {
            hint: 'deploy again: it writes every file of a new release',
          },
        );
      }
      const entry = wanted.find((candidate) => candidate.host === host.name);
      const files = entry?.files ?? [];
      const outcomes = diffs.find((entry) => entry.host === host.name)?.files ?? [];
      const secretFiles: RestartSecretFile[] = [];
      const changed: Record<string, Record<string, string>> = {};
      for (const file of files) {
        const outcome = outcomes.find((candidate) => candidate.path === file.path);
        if (file.service === undefined || outcome === undefined || !hasChanges(outcome.changes)) continue;
        changed[file.service] = entry?.servicePairs[file.service] ?? {};
        if (!file.merge) {
          secretFiles.push({ service: file.service, write: 'replace', content: file.content });
          continue;
        }
        if (provider.mergeArgv === undefined)
          throw new InternalError(`secrets provider ${provider.id} cannot set single keys (--keys)`);
        secretFiles.push({
          service: file.service,
          write: 'merge',
          content: file.content,
          argv: provider.mergeArgv(secretEnvPath(model, releaseId, file.service), file.content),
        });
      }
      const composeText =
        Object.keys(changed).length === 0
          ? text
          : patchCompose(text, changed, {
              compose: env.compose,
              variables: env.loaded.variables,
              specHashKey: await specHashKey(),
            });
      return {
        name: host.name,
        composeText,
        specHashes: specHashesOf(composeText),
        secretFiles,
        restart: options.restart
          ? files.flatMap((file) => (file.service === undefined ? [] : [file.service]))
          : [],
      };
    }),
  );
  return planRestart({
    model,
    releaseId,
    basedOn: { id: current.id, version: current.version },
    hosts: planned,
    message: options.message,
  });
}

/** The rollouts of a restart release with their outcome, in plan order. */
function restartedServices(
  plan: Plan,
  steps: { id: string; status: string; detail?: string }[],
): Restarted[] {
  const restarted: Restarted[] = [];
  for (const step of allSteps(plan)) {
    if (step.action.kind !== 'rollout' || step.host === undefined) continue;
    const result = steps.find((candidate) => candidate.id === step.id);
    if (result === undefined || (result.status !== 'completed' && result.status !== 'unchanged')) continue;
    const prefix = `${step.action.service}: `;
    const detail = result.detail ?? '';
    restarted.push({
      host: step.host.name,
      service: step.action.service,
      status: result.status,
      outcome: detail.startsWith(prefix) ? detail.slice(prefix.length) : detail,
    });
  }
  return restarted;
}

/** A host path as a person reads it: `~/.stagecraft/…` for paths relative to the home folder. */
function displayPath(path: string): string {
  return path.startsWith('/') || path.startsWith('~') ? path : `~/${path}`;
}

function describeChanges(outcome: HostOutcome['files'][number]): string {
  const { added, changed, removed, unchanged, unresolved = [] } = outcome.changes;
  const parts = [
    ...(added.length > 0 ? [`added ${added.join(', ')}`] : []),
    ...(changed.length > 0 ? [`changed ${changed.join(', ')}`] : []),
    ...(removed.length > 0 ? [`removed ${removed.join(', ')}`] : []),
    ...(unresolved.length > 0
      ? [`not compared ${unresolved.join(', ')} (from a command, not run in a dry run)`]
      : []),
  ];
  if (parts.length === 0) return `unchanged (${unchanged.length} key${unchanged.length === 1 ? '' : 's'})`;
  return parts.join('; ');
}

/**
 * The hosts in scope that run services but that `release` did not cover: a release limited with
 * `--hosts` (ReleaseRecord.scope) leaves them on older releases, whose env files a sync of this one
 * does not touch. Empty for a release of the whole environment. Pure.
 */
export function hostsOutsideRelease(
  model: EnvironmentModel,
  hosts: HostModel[],
  release: ReleaseRecord,
): string[] {
  if (release.scope === undefined) return [];
  return hostsNeverRun(
    model,
    release,
    hosts.map((host) => host.name),
  );
}

/** Runs the sync; returns the exit code (throws PartialFailure / ExternalError when hosts failed). */
export async function syncSecrets(context: Session, options: SecretsSyncOptions): Promise<number> {
  let selected: string[] = [];
  let values = new Map<string, Secret>();
  const env = await loadEnvironment(context, 'deploy', async (loaded) => {
    if ((projectModel(loaded).secrets?.keys ?? []).length === 0) {
      throw new UserError('this project declares no secrets', {
        hint: 'list them under secrets.keys in stagecraft.yml (with secrets.provider: envfile or encore)',
      });
    }
    selected = selectKeys(
      keySpecs(loaded).map((spec) => spec.name),
      options.keys,
    );
    // A dry run runs no secret command: such keys are compared as unresolved.
    values = await resolveSecretValues(
      loaded,
      selected,
      context.env,
      context.globals.dryRun ? { commands: 'placeholder', placeholder: UNRESOLVED } : undefined,
    );
    return Object.fromEntries([...values].map(([name, value]) => [name, value.reveal()]));
  });
  refuseOnSwarm(env, 'secrets sync', 'a deploy writes the secrets into the stack: run `stagecraft deploy`');
  const { model, loaded } = env;
  await options.beforeHosts?.(model);
  const project = projectModel(loaded);
  const secrets = project.secrets!;
  const provider = secretsProvider(secrets.provider, loaded.catalog.providers.secrets);
  const providerConfig = secrets.providerConfig;
  // A store's CLI runs in the backend's app folder when the backend provider has one (Encore's).
  const backend = selectedAppProvider(loaded.catalog, 'backend', project.providers.backend);
  const appDir = backend?.provider.appDir?.(backend.config, loaded.root);
  const request = {
    environment: model.environment,
    root: loaded.root,
    defaultWorkdir: appDir ?? loaded.root,
    config: providerConfig,
    values,
    hosts: [] as HostFiles[],
    parallelHosts: model.rollout.parallelHosts,
    dryRun: context.globals.dryRun,
    log: (line: string) => context.output.debug(line),
  };

  const dryRun = context.globals.dryRun;
  if (provider.destination === 'store') {
    if (options.restart)
      context.output.warn('--restart applies to the envfile provider only; nothing restarted');
    const outcome = await provider.sync(request);
    if (outcome.destination !== 'store') throw new Error('secrets provider returned host outcomes');
    if (context.globals.json) {
      context.output.json({
        provider: provider.id,
        environment: model.environment,
        store: outcome.store,
        dry_run: dryRun,
        set: outcome.set,
      });
    } else {
      context.output.result(
        `${dryRun ? 'Dry run: would set' : 'Set'} ${outcome.set.length} secret${outcome.set.length === 1 ? '' : 's'} in ${outcome.store}: ${outcome.set.join(', ')}`,
      );
    }
    return 0;
  }

  const hosts = hostsInScope(model, context.globals);
  const runners = new HostRunners(env);
  try {
    const history = await readHistory(context, env, runners);
    if (history.remoteError !== undefined) {
      context.output.warn(
        `release history from this machine only: could not read the ledger on ${model.lockHost}: ${history.remoteError}`,
      );
    }
    const release = history.current;
    const uncovered = release === undefined ? [] : hostsOutsideRelease(model, hosts, release);
    if (release !== undefined && uncovered.length > 0) {
      context.output.warn(
        `the current release ${release.id} (version ${release.version}) covered only ${release.scope?.hosts?.join(', ') ?? 'some hosts'}: the services on ${uncovered.join(', ')} keep the env files of the releases they run; deploy the whole environment to give them these values`,
      );
    }
    if (release === undefined) {
      context.output.warn(
        `no completed release of ${model.environment} yet: writing ${allKeysPath(env)} only`,
      );
    }
    const keys = options.keys === undefined ? undefined : selected;
    // The all-keys file is the environment's (no release holds it): brought up to date in place.
    const allKeys = await provider.sync({
      ...request,
      hosts: allKeysFiles(env, runners, hosts, values, keys !== undefined),
    });
    if (allKeys.destination !== 'hosts') throw new Error('secrets provider returned a store outcome');
    // A service's env file belongs to a release: compared with the current release's, and written into
    // a new release's folder by its plan (the current release's folder stays as it ran).
    const wanted = release === undefined ? [] : serviceFiles(env, runners, hosts, release, values, keys);
    const diffed = await provider.sync({ ...request, hosts: wanted, dryRun: true });
    if (diffed.destination !== 'hosts') throw new Error('secrets provider returned a store outcome');

    const failed = new Map<string, string>();
    for (const result of [...allKeys.hosts, ...diffed.hosts]) {
      if (result.error !== undefined && !failed.has(result.host)) failed.set(result.host, result.error);
    }
    const changedFiles = diffed.hosts.flatMap((result) =>
      result.files.filter((file) => hasChanges(file.changes)),
    );

    // A new release when service files change or --restart asks for one; none while a host failed.
    let plan: Plan | undefined;
    let run: ReleaseRun | undefined;
    let restartError: unknown;
    if (release !== undefined && failed.size === 0 && (options.restart || changedFiles.length > 0)) {
      const ledger = new Ledger({ projectRoot: loaded.root, env: context.env });
      const changedServices = [...new Set(changedFiles.map((file) => file.service!))].sort();
      const message = `secrets sync${options.restart ? ' --restart' : ''}: ${
        changedServices.length === 0 ? 'secrets unchanged' : `new secrets for ${changedServices.join(', ')}`
      }${options.restart ? '' : ' (containers not restarted)'}`;
      try {
        plan = await restartPlan(
          env,
          runners,
          provider,
          release,
          await ledger.newReleaseId(systemClock),
          wanted,
          diffed.hosts,
          { restart: options.restart, message },
        );
        if (!dryRun) {
          run = await runRelease(
            context,
            {
              env,
              plan,
              commit: release.commit_sha,
              ledger,
              hostAddresses: {},
              images: release.images,
              basedOn: release,
              message,
            },
            {},
          );
          if (!run.result.ok)
            // --to-previous skips releases of the running version: the release the sync started from
            // is named.
            restartError = releaseError(
              plan,
              run.result,
              `run \`stagecraft rollback --to-release ${release.id}\` to return every host to the release this sync started from`,
            );
        }
      } catch (error) {
        // The all-keys files are written; say what changed before reporting why no release was made.
        restartError = error;
      }
    }
    const recorded = run?.result.ok === true ? plan : undefined;
    const restarted =
      recorded === undefined || run === undefined ? [] : restartedServices(recorded, run.result.steps);
    // Service files show at their path in the new release (the one recorded, or the one planned).
    const shownAt = (file: FileOutcome): FileOutcome =>
      file.service === undefined || plan === undefined || release === undefined
        ? file
        : {
            ...file,
            path: secretEnvPath(model, plan.releaseId, file.service),
            written: recorded !== undefined && hasChanges(file.changes),
          };
    const hostOutcomes = hosts.map((host) => ({
      host: host.name,
      files: [
        ...(allKeys.hosts.find((result) => result.host === host.name)?.files ?? []),
        ...(diffed.hosts.find((result) => result.host === host.name)?.files ?? []).map(shownAt),
      ],
    }));

    if (context.globals.json) {
      context.output.json({
        provider: provider.id,
        environment: model.environment,
        release: recorded?.releaseId ?? release?.id ?? null,
        based_on: recorded === undefined ? null : (release?.id ?? null),
        dry_run: dryRun,
        hosts: hostOutcomes.map((result) => ({
          host: result.host,
          ok: !failed.has(result.host),
          error: failed.get(result.host) ?? null,
          files: result.files.map((file) => ({
            path: file.path,
            service: file.service ?? null,
            written: file.written,
            ...file.changes,
          })),
        })),
        restarted,
        ...(dryRun && plan !== undefined ? { plan: planToJson(plan) } : {}),
      });
    } else {
      const rows = [['HOST', 'FOR', 'FILE', 'KEYS']];
      for (const result of hostOutcomes) {
        for (const file of result.files) {
          rows.push([result.host, file.service ?? 'all', displayPath(file.path), describeChanges(file)]);
        }
        if (failed.has(result.host)) rows.push([result.host, '-', '-', `FAILED: ${failed.get(result.host)}`]);
      }
      const written = hostOutcomes.flatMap((result) => result.files.filter((file) => file.written));
      const wouldWrite = hostOutcomes.flatMap((result) =>
        result.files.filter((file) => hasChanges(file.changes)),
      );
      const pending = hostOutcomes.flatMap((result) =>
        result.files
          .filter((file) => file.written && file.service !== undefined)
          .map((file) => `${result.host}/${file.service}`),
      );
      const lines = [
        `Secrets of ${model.project} ${model.environment} (envfile${release === undefined ? '' : `, release ${release.id}`}): ${selected.length} key${selected.length === 1 ? '' : 's'}`,
        '',
        formatTable(rows),
        '',
        dryRun
          ? `Dry run: ${wouldWrite.length} file${wouldWrite.length === 1 ? '' : 's'} would be written; nothing was changed.`
          : written.length === 0
            ? 'Nothing changed.'
            : `${written.length} file${written.length === 1 ? '' : 's'} written (0600).`,
      ];
      if (recorded !== undefined) {
        lines.push(
          `Recorded release ${recorded.releaseId} (restart of ${release!.id}, version ${recorded.version}).`,
        );
      }
      const replaced = restarted.filter((entry) => entry.status === 'completed');
      const current = restarted.filter((entry) => entry.status === 'unchanged');
      if (replaced.length > 0) {
        lines.push(
          `Restarted: ${replaced.map((entry) => `${entry.host}/${entry.service} (${entry.outcome})`).join(', ')}`,
        );
      }
      if (current.length > 0) {
        lines.push(
          `Already running these secrets: ${current.map((entry) => `${entry.host}/${entry.service}`).join(', ')}`,
        );
      }
      if (pending.length > 0 && (!options.restart || restartError !== undefined)) {
        lines.push(
          `Containers still run the old values: ${pending.join(', ')}; apply them with \`stagecraft secrets sync -e ${model.environment} --restart\` or the next deploy.`,
        );
      }
      if (dryRun && plan !== undefined) lines.push('', planToText(plan, context.output.colors));
      context.output.result(lines.join('\n'));
    }

    if (restartError !== undefined) throw restartError;
    if (failed.size === 0) return 0;
    const message = `secrets sync failed on ${[...failed.keys()].join(', ')}: ${[...failed.values()][0]}`;
    const hint =
      'fix the host (see above) and run `stagecraft secrets sync` again; it only writes what differs';
    if (failed.size === hosts.length) throw new ExternalError(message, { hint });
    throw new PartialFailure(message, { hint });
  } finally {
    await runners.closeAll();
  }
}
