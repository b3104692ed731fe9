// `stagecraft ci init|run|secrets`: the facts of the project (model/ci.ts), the files the CI provider
// renders from them, and the provider's API calls with a token found here. The provider is chosen
// through the registry; nothing here knows which CI it is.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import type { EnvironmentPurpose } from '../config/environment.js';
import type { LoadedConfig } from '../config/load.js';
import { ciFactsOf } from '../model/ci.js';
import { environmentSettings, projectModel } from '../model/project.js';
import type {
  CiConnection,
  CiFacts,
  CiFile,
  CiProvider,
  CiSecretValue,
  RequiredSecret,
} from '../providers/ci/types.js';
import { isCiProviderEntry } from '../providers/ci/types.js';
import { runLocal } from '../runners/local.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { didYouMean } from '../util/did-you-mean.js';
import { UserError } from '../util/errors.js';
import { unifiedDiff } from '../util/line-diff.js';
import { makeDirectory } from '../util/make-dir.js';
import { resolvePath } from '../util/paths.js';
import { registerSecretValue, Secret } from '../util/secret.js';
import { sleep } from '../util/sleep.js';
import { readUserFile } from '../util/user-file.js';
import {
  checkPrivateKey,
  knownHostsLookup,
  missingHostKeysError,
  readKnownHosts,
  readKnownHostsText,
} from './ci-ssh.js';
import { resolveSecretValues } from './secret-files.js';

/** What the ci operations need from the caller (the CLI gives its context). */
export interface CiSession {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Loads stagecraft.yml for `envName` (else as `purpose` chooses). */
  loadConfig(purpose: EnvironmentPurpose, envName?: string): Promise<LoadedConfig>;
  log(line: string): void;
}

/** The CI provider: `--provider`, else `ci.provider`, else the only one registered. */
export async function chooseCiProvider(
  requested: string | undefined,
  loaded: LoadedConfig,
): Promise<{ provider: CiProvider; config: Record<string, unknown> }> {
  const { builtinProviders } = await import('../providers/index.js');
  const registry = builtinProviders();
  const ids = registry.ids('ci');
  const ci = projectModel(loaded).ci;
  const id = requested ?? ci.provider ?? (ids.length === 1 ? ids[0] : undefined);
  if (id === undefined) {
    throw new UserError('choose a CI provider with --provider', { hint: `available: ${ids.join(', ')}` });
  }
  const entry = registry.catalog().providers.ci.find((candidate) => candidate.id === id);
  if (!isCiProviderEntry(entry)) {
    const suggestion = didYouMean(id, ids);
    throw new UserError(
      `unknown CI provider "${id}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
      {
        hint: `available: ${ids.join(', ')}`,
      },
    );
  }
  const config = ci.providers[id] ?? {};
  return { provider: await entry.ci(), config };
}

async function git(cwd: string, args: string[]): Promise<string | undefined> {
  try {
    const result = await runLocal(['git', ...args], { cwd, allowFailure: true, timeoutMs: 10_000 });
    return result.exitCode === 0 ? result.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The repository root (git), else the folder of stagecraft.yml. */
export async function repositoryRoot(configRoot: string): Promise<string> {
  return (await git(configRoot, ['rev-parse', '--show-toplevel'])) ?? configRoot;
}

/** The default branch: origin's HEAD, else the current branch, else main. */
export async function defaultBranch(root: string): Promise<string> {
  const remoteHead = await git(root, ['symbolic-ref', '--short', 'refs/remotes/origin/HEAD']);
  if (remoteHead?.includes('/')) return remoteHead.slice(remoteHead.indexOf('/') + 1);
  const current = await git(root, ['branch', '--show-current']);
  return current !== undefined && current !== '' ? current : 'main';
}

/**
 * Refuses a `--branch` that git would not take as a branch name (git-check-ref-format(1): empty, a
 * space, `..`, `~^:?*[\\`, a control character, a leading `-` or `/`, a trailing `/`, `.` or `.lock`,
 * `@{`, or a bare `@`). Throws UserError.
 */
export function checkBranchName(name: string): void {
  const bad =
    name === '' ||
    name === '@' ||
    /[\s~^:?*[\\\x00-\x1f\x7f]/.test(name) ||
    name.includes('..') ||
    name.includes('@{') ||
    name.includes('//') ||
    /^[-/.]|[/.]$|\.lock$|\/\./.test(name);
  if (bad) {
    throw new UserError(`--branch ${JSON.stringify(name)} is not a branch name`, {
      hint: 'pass the branch whose pushes deploy, e.g. --branch main (or leave --branch out for the default branch)',
    });
  }
}

function posix(path: string): string {
  return path.split(sep).join('/');
}

export interface CiInitOptions {
  provider?: string;
  branch?: string;
  force?: boolean;
  dryRun: boolean;
  stagecraftVersion: string;
}

export type FileAction = 'created' | 'updated' | 'unchanged' | 'refused';

export interface CiInitResult {
  provider: string;
  root: string;
  files: {
    path: string;
    description: string;
    action: FileAction;
    reason?: string;
    /** With dry-run: the lines it would write (created), or the unified diff from what is there. */
    lines?: number;
    diff?: string;
  }[];
  secrets: RequiredSecret[];
  warnings: string[];
}

/** Facts and files of a project, without writing anything. */
export async function ciFiles(
  session: CiSession,
  options: Pick<CiInitOptions, 'provider' | 'branch' | 'stagecraftVersion'>,
): Promise<{
  facts: CiFacts;
  files: CiFile[];
  provider: CiProvider;
  providerConfig: Record<string, unknown>;
  root: string;
  loaded: LoadedConfig;
}> {
  if (options.branch !== undefined) checkBranchName(options.branch);
  const loaded = await session.loadConfig('any');
  const { provider, config } = await chooseCiProvider(options.provider, loaded);
  const root = await repositoryRoot(loaded.root);
  const facts = ciFactsOf(loaded, {
    stagecraftVersion: options.stagecraftVersion,
    workingDirectory: posix(relative(root, loaded.root)) || '.',
    configFile: posix(relative(loaded.root, loaded.file)),
    branch: options.branch ?? (await defaultBranch(root)),
  });
  return { facts, files: provider.workflows(facts, config), provider, providerConfig: config, root, loaded };
}

/**
 * What to do with one file: write it when absent, or when what is there is what `ci init` wrote
 * (its recorded hash matches its body); refuse an edited or foreign file unless `force`.
 */
export function fileAction(
  existing: string | undefined,
  wanted: string,
  force: boolean,
  hashOf: (text: string) => { recorded: string; actual: string } | undefined,
): { action: FileAction; reason?: string } {
  if (existing === undefined) return { action: 'created' };
  if (existing === wanted) return { action: 'unchanged' };
  if (force) return { action: 'updated' };
  const hash = hashOf(existing);
  if (hash === undefined) return { action: 'refused', reason: 'not written by `stagecraft ci init`' };
  if (hash.recorded !== hash.actual)
    return { action: 'refused', reason: 'edited since `stagecraft ci init` wrote it' };
  return { action: 'updated' };
}

/**
 * `ci init`: renders the workflows and writes those it may. A file it may not replace (edited, or not
 * its own) is a UserError, unless dry-run: then every file is reported with what would happen, the
 * lines of a new file and the unified diff of a changed or refused one, and nothing is written.
 */
export async function ciInit(session: CiSession, options: CiInitOptions): Promise<CiInitResult> {
  const { facts, files, provider, root } = await ciFiles(session, options);
  const { recordedHash } = await import('../providers/ci/github-workflows.js');
  const results: CiInitResult['files'] = [];
  for (const file of files) {
    const path = join(root, file.path);
    const existing = readUserFile(path);
    const decision = fileAction(existing, file.content, options.force === true, recordedHash);
    const preview = !options.dryRun
      ? {}
      : existing === undefined
        ? { lines: file.content.split('\n').length - (file.content.endsWith('\n') ? 1 : 0) }
        : existing === file.content
          ? {}
          : { diff: unifiedDiff(existing, file.content, file.path) };
    results.push({ path: file.path, description: file.description, ...decision, ...preview });
  }
  const refused = results.filter((file) => file.action === 'refused');
  if (refused.length > 0 && !options.dryRun) {
    throw new UserError(
      `not overwriting ${refused.map((file) => `${file.path} (${file.reason})`).join(', ')}`,
      {
        hint: 'pass --force to replace it with the generated workflow (`stagecraft ci init --dry-run` shows the difference)',
      },
    );
  }
  if (!options.dryRun) {
    for (const [index, file] of files.entries()) {
      if (results[index]!.action === 'unchanged') continue;
      const path = join(root, file.path);
      await makeDirectory(dirname(path));
      await writeFileAtomic(path, file.content);
    }
  }
  return {
    provider: provider.id,
    root,
    files: results,
    secrets: provider.requiredSecrets(facts),
    warnings: facts.warnings,
  };
}

/** The API token: the provider's variables, else its token command (e.g. `gh auth token`). */
export async function findToken(
  session: CiSession,
  provider: CiProvider,
  config: Record<string, unknown>,
): Promise<Secret> {
  const variables = provider.tokenVariables(config);
  for (const name of variables) {
    const value = session.env[name];
    if (value !== undefined && value.trim() !== '') {
      registerSecretValue(value.trim());
      return new Secret(value.trim());
    }
  }
  const command = provider.tokenCommand;
  if (command !== undefined) {
    try {
      const result = await runLocal(command, { cwd: session.cwd, allowFailure: true, timeoutMs: 15_000 });
      const token = result.stdout.trim();
      if (result.exitCode === 0 && token !== '') {
        registerSecretValue(token);
        return new Secret(token);
      }
    } catch {
      // not installed: the error below says what to do
    }
  }
  throw new UserError(
    `no ${provider.id} token: ${variables.join(' and ')} ${variables.length > 1 ? 'are' : 'is'} unset`,
    {
      hint: `set ${variables.join(' or ')}${command === undefined ? '' : `, or log in with \`${command[0]} auth login\``}`,
    },
  );
}

/** owner/name: `--repo`, else the provider config's repository, else the origin remote. */
export async function findRepository(
  provider: CiProvider,
  config: Record<string, unknown>,
  requested: string | undefined,
  root: string,
): Promise<string> {
  const repository = requested ?? (config['repository'] as string | undefined);
  if (repository !== undefined) {
    if (!/^[^/\s]+\/[^/\s]+$/.test(repository)) {
      throw new UserError(`--repo ${repository}: expected owner/name`, { hint: 'e.g. --repo acme/shop' });
    }
    return repository;
  }
  const remote = await git(root, ['remote', 'get-url', 'origin']);
  const fromRemote = remote === undefined ? undefined : provider.repositoryFromRemote(remote);
  if (fromRemote === undefined) {
    throw new UserError(
      `cannot tell the ${provider.id} repository: ${remote === undefined ? 'no origin remote' : `origin is ${remote}`}`,
      {
        hint: `pass --repo owner/name (or set ci.providers.${provider.id}.repository)`,
      },
    );
  }
  return fromRemote;
}

export interface CiConnectionOptions {
  repo?: string;
  pollIntervalMs: number;
  progress: (line: string) => void;
}

async function connect(session: CiSession, options: CiConnectionOptions & { provider?: string }) {
  const loaded = await session.loadConfig('any');
  const { provider, config } = await chooseCiProvider(options.provider, loaded);
  const root = await repositoryRoot(loaded.root);
  const connection: CiConnection = {
    baseUrl: provider.apiBaseUrl(session.env),
    token: await findToken(session, provider, config),
    repository: await findRepository(provider, config, options.repo, root),
    pollIntervalMs: options.pollIntervalMs,
    log: session.log,
    progress: options.progress,
    sleep: (ms) => sleep(ms),
  };
  return { loaded, provider, config, root, connection };
}

export interface CiRunOptions extends CiConnectionOptions {
  env?: string;
  ref?: string;
  watch: boolean;
}

/** The deploy environments CI knows (driver ssh), and the one asked for. */
function deployEnvironment(loaded: LoadedConfig, requested: string | undefined): string {
  const names = Object.values(projectModel(loaded).environments)
    .filter((env) => env.driver === 'ssh')
    .map((env) => env.name);
  if (requested !== undefined) {
    if (names.includes(requested)) return requested;
    const suggestion = didYouMean(requested, names);
    throw new UserError(
      `${requested} is not an environment CI deploys${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; it deploys: ${names.join(', ') || 'none'}`,
      { hint: 'CI deploys the environments with driver ssh; pass --env with one of them' },
    );
  }
  if (names.length === 1) return names[0]!;
  throw new UserError(
    names.length === 0
      ? 'no environment for CI to deploy (driver ssh)'
      : `choose an environment with --env: ${names.join(', ')}`,
  );
}

/** `ci run`: dispatches the deploy workflow and (with watch) follows it. */
export async function ciRun(session: CiSession, options: CiRunOptions) {
  const { loaded, provider, config, root, connection } = await connect(session, options);
  const environment = deployEnvironment(loaded, options.env);
  const ref = options.ref ?? (await git(root, ['branch', '--show-current']));
  if (ref === undefined || ref === '') {
    throw new UserError('no branch is checked out here', {
      hint: 'pass --ref with the branch or tag to deploy',
    });
  }
  const outcome = await provider.run(connection, {
    workflowFile: provider.deployWorkflowFile(config),
    environment,
    ref,
    watch: options.watch,
  });
  return { ...outcome, environment, ref, repository: connection.repository };
}

export interface CiSecretsOptions extends CiConnectionOptions {
  env?: string;
  sshKey?: string;
  dryRun: boolean;
  stagecraftVersion: string;
}

/**
 * `ci secrets`: the value of every secret the workflows read, from this machine (identity file,
 * known_hosts, env files, the environment, secret commands), stored through the provider's API.
 * Values are never printed; a missing value stops everything before any is sent.
 */
export async function ciSecrets(session: CiSession, options: CiSecretsOptions) {
  const loadedAny = await session.loadConfig('any');
  const { facts, provider } = await ciFiles(session, {
    stagecraftVersion: options.stagecraftVersion,
    branch: 'main',
  });
  const environment = deployEnvironment(loadedAny, options.env);
  const loaded = await session.loadConfig('deploy', environment);
  const env = facts.environments.find((candidate) => candidate.name === environment)!;
  const settings = environmentSettings(projectModel(loaded), environment);
  const values: CiSecretValue[] = [];
  const sources: Record<string, string> = {};
  const missing: string[] = [];
  const required = provider.requiredSecrets(facts);

  for (const secret of required) {
    const fromEnv = session.env[secret.name];
    if (fromEnv !== undefined && fromEnv !== '') {
      values.push({ name: secret.name, value: new Secret(fromEnv) });
      sources[secret.name] = `$${secret.name}`;
    }
  }
  const has = (name: string) => values.some((value) => value.name === name);
  const valueFor = (name: string) => values.find((value) => value.name === name)?.value.reveal();
  const [sshKeyName, knownHostsName] = [required[0]!.name, required[1]!.name];
  // Every host the workflows deploy to: the known_hosts secret serves all their jobs.
  const allHosts = facts.environments.flatMap((candidate) => candidate.hosts);
  const lookups = [...new Set(allHosts.map(knownHostsLookup))];

  const keyFromEnv = valueFor(sshKeyName);
  if (keyFromEnv !== undefined) {
    checkPrivateKey(
      keyFromEnv,
      `$${sshKeyName}`,
      `set ${sshKeyName} to the content of the deploy key's private key file (not the .pub), or unset it to read --ssh-key`,
    );
  }
  const knownHostsFromEnv = valueFor(knownHostsName);
  if (knownHostsFromEnv !== undefined) {
    const { missing: unknown } = await readKnownHostsText(knownHostsFromEnv, lookups);
    if (unknown.length > 0) {
      throw missingHostKeysError(
        `$${knownHostsName}`,
        unknown,
        allHosts,
        'known_hosts',
        `set ${knownHostsName} from that file (or unset it to read the environment's known_hosts_file) and run this again`,
      );
    }
  }

  if (!has(sshKeyName)) {
    const file = options.sshKey ?? settings.ssh?.identity_file;
    if (file === undefined)
      missing.push(
        `${sshKeyName} (pass --ssh-key FILE, or set environments.${environment}.ssh.identity_file)`,
      );
    else {
      const path = resolvePath(session.cwd, file);
      const text = readUserFile(path, {
        display: `the SSH private key ${path}`,
        maxBytes: 64 * 1024,
        hint: 'pass --ssh-key with the deploy key file',
      });
      if (text === undefined)
        throw new UserError(`cannot read the SSH private key ${path}: it does not exist`, {
          hint: 'pass --ssh-key with the deploy key file',
        });
      checkPrivateKey(text, path, 'pass --ssh-key with the private key file (the one without .pub)');
      values.push({ name: sshKeyName, value: new Secret(text) });
      sources[sshKeyName] = path;
    }
  }
  if (!has(knownHostsName)) {
    const file = resolvePath(loaded.root, env.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts'));
    if (!existsSync(file)) missing.push(`${knownHostsName} (no known_hosts file at ${file})`);
    else {
      const { lines, missing: unknown } = await readKnownHosts(file, lookups);
      if (unknown.length > 0) throw missingHostKeysError(file, unknown, allHosts, file);
      values.push({ name: knownHostsName, value: new Secret(`${lines.join('\n')}\n`) });
      sources[knownHostsName] = `${file} (${lookups.length} host${lookups.length === 1 ? '' : 's'})`;
    }
  }
  const configSecrets = facts.secrets.filter((secret) => !has(secret.secretName));
  const keyNames = configSecrets
    .map((secret) => secret.key)
    .filter((key): key is string => key !== undefined);
  let keyValues = new Map<string, Secret>();
  if (keyNames.length > 0) {
    try {
      keyValues = await resolveSecretValues(loaded, keyNames, session.env);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      missing.push(error.message.replace(/^no value for secrets? /, ''));
    }
  }
  for (const secret of configSecrets) {
    // A key without a value is already in `missing` (resolveSecretValues names every one).
    const value =
      secret.key !== undefined ? keyValues.get(secret.key)?.reveal() : loaded.variables[secret.variable];
    if (value === undefined || value === '') {
      if (secret.key === undefined) missing.push(secret.variable);
      continue;
    }
    values.push({ name: secret.secretName, value: new Secret(value) });
    sources[secret.secretName] =
      secret.key !== undefined
        ? `${secret.source} (${environment})`
        : `${secret.variable} (${environment} env_file or environment)`;
  }
  // The environment's env files, whole (they are git-ignored: the deploy job writes them back).
  for (const file of env.envFiles) {
    if (has(file.secretName)) continue;
    const path = resolvePath(loaded.root, file.path);
    const text = readUserFile(path, {
      display: `env file ${path}`,
      hint: 'point env_file at a regular file of KEY=value lines',
    });
    if (text === undefined) {
      missing.push(`${file.secretName} (no env file at ${path})`);
      continue;
    }
    values.push({ name: file.secretName, value: new Secret(text) });
    sources[file.secretName] = path;
  }
  const envFileSecrets = new Set(
    facts.environments.flatMap((candidate) => candidate.envFiles.map((file) => file.secretName)),
  );
  // Registry credentials come from the environment only.
  for (const secret of required.slice(2)) {
    if (envFileSecrets.has(secret.name)) continue;
    if (!has(secret.name) && !facts.secrets.some((candidate) => candidate.secretName === secret.name)) {
      missing.push(`${secret.name} (set it in the environment)`);
    }
  }
  if (missing.length > 0) {
    throw new UserError(`no value for ${missing.join('; ')}`, {
      hint: `set them in the environment or in ${typeof settings.envFile === 'string' ? settings.envFile : "the environment's env_file"}; nothing was sent`,
    });
  }
  values.sort((a, b) => a.name.localeCompare(b.name));
  if (options.dryRun) {
    return {
      repository: undefined,
      environment,
      dryRun: true,
      secrets: values.map((value) => ({ name: value.name, source: sources[value.name] ?? '' })),
      created: [],
      updated: [],
    };
  }
  const { connection } = await connect(session, options);
  for (const value of values) registerSecretValue(value.value.reveal());
  const result = await provider.setSecrets(connection, values);
  return {
    repository: connection.repository,
    environment,
    dryRun: false,
    secrets: values.map((value) => ({ name: value.name, source: sources[value.name] ?? '' })),
    ...result,
  };
}
