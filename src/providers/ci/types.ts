// The behaviour of a CI provider (`ci.provider`): which workflow files `stagecraft ci init` writes,
// how `ci run` starts and follows a deploy run, how `ci secrets` stores values. The core finds a
// provider through the registry and never imports a concrete one.
import type { ProviderSchemaEntry } from '../../config/catalog.js';
import type { Secret } from '../../util/secret.js';

/** One host a deploy reaches over SSH, as CI must pin its host key. */
export interface CiHost {
  name: string;
  /** What ssh connects to: the host's address, else its name. */
  target: string;
  port: number;
}

/** One environment CI deploys (driver ssh). */
export interface CiEnvironment {
  name: string;
  hosts: CiHost[];
  /** The env's `ssh.known_hosts_file` as written in stagecraft.yml, when it sets one. */
  knownHostsFile: string | undefined;
  /**
   * The env's `env_file`s as written (relative to stagecraft.yml), each with the CI secret holding its
   * content: the files are git-ignored, so the deploy job writes them from these secrets.
   */
  envFiles: { path: string; secretName: string }[];
}

/** One variable a deploy reads a secret from, and the CI secret that holds it. */
export interface CiSecret {
  /** Environment variable Stagecraft reads (a `secrets.keys` name or its from_env, a connection_env). */
  variable: string;
  /** Name of the CI secret (GitHub: the variable upper-cased). */
  secretName: string;
  /** Where stagecraft.yml names it, e.g. `secrets.keys[0]` or `databases.main.connection_env`. */
  source: string;
  /** The `secrets.keys` name whose value this is, when it is one. */
  key: string | undefined;
}

/** The image registry deploys push to: its host, and whether it is on the deploying machine itself. */
export interface CiRegistry {
  /** e.g. ghcr.io, registry.example.com:5000, docker.io */
  host: string;
  /** localhost / 127.0.0.0/8 / [::1]: a CI runner cannot push there. */
  loopback: boolean;
}

export interface CiMigration {
  database: string;
  engine: string;
  strategy: string;
}

/**
 * Everything about the project that CI workflows depend on, computed from stagecraft.yml by pure code
 * (model/ci.ts). Deterministic: same config, same facts.
 */
export interface CiFacts {
  project: string;
  /** The Stagecraft version the workflows install (`npm install -g stagecraft@<version>`). */
  stagecraftVersion: string;
  /** The folder of stagecraft.yml relative to the repository root, POSIX, `.` for the root. */
  workingDirectory: string;
  /** stagecraft.yml's file name relative to workingDirectory. */
  configFile: string;
  /** The branch whose pushes deploy. */
  branch: string;
  environments: CiEnvironment[];
  secrets: CiSecret[];
  /** undefined: no project.registry (images travel over SSH). */
  registry: CiRegistry | undefined;
  migrations: CiMigration[];
  /** Things CI cannot do as configured, for the user to read. */
  warnings: string[];
}

/** A file `ci init` writes, relative to the repository root. */
export interface CiFile {
  path: string;
  content: string;
  /** What the file does, one line. */
  description: string;
}

/** A repository secret the user must create, and where `ci secrets` takes its value from. */
export interface RequiredSecret {
  name: string;
  description: string;
}

/** Where a CI API lives and who calls it. */
export interface CiConnection {
  /** API base URL, without a trailing slash. */
  baseUrl: string;
  token: Secret;
  /** owner/name */
  repository: string;
  /** How long to wait between polls (ms). */
  pollIntervalMs: number;
  log: (line: string) => void;
  /** Progress lines (job state changes). */
  progress: (line: string) => void;
  /** Waits `ms` (injected so rate-limit waits are observable). */
  sleep: (ms: number) => Promise<void>;
}

export interface CiRunRequest {
  workflowFile: string;
  environment: string;
  ref: string;
  watch: boolean;
}

export interface CiRunOutcome {
  runId: number;
  url: string;
  /** undefined unless watched to the end. */
  conclusion: string | undefined;
}

export interface CiSecretValue {
  name: string;
  value: Secret;
}

/** A CI provider: its config schema plus what `ci init|run|secrets` do with it. */
export interface CiProvider extends ProviderSchemaEntry {
  /** The workflow files for this project, in a stable order (`config`: `ci.providers.<id>`). */
  workflows(facts: CiFacts, config: Record<string, unknown>): CiFile[];
  /** The secrets the workflows read, for the user to create (names only). */
  requiredSecrets(facts: CiFacts): RequiredSecret[];
  /** The deploy workflow's file name (what `ci run` dispatches), from the provider config. */
  deployWorkflowFile(config: Record<string, unknown>): string;
  /** The token from the environment: provider config `token_env`, else the provider's defaults. */
  tokenVariables(config: Record<string, unknown>): string[];
  /** A command whose stdout is a token when no variable holds one (e.g. `gh auth token`). */
  tokenCommand: string[] | undefined;
  /** The API base from the environment (e.g. GITHUB_API_URL), else the public API. */
  apiBaseUrl(env: Record<string, string | undefined>): string;
  /** The repository from a git remote URL, or undefined when it is not one of this provider's. */
  repositoryFromRemote(url: string): string | undefined;
  /** Starts the deploy workflow, finds its run and (with watch) follows it to the end. */
  run(connection: CiConnection, request: CiRunRequest): Promise<CiRunOutcome>;
  /** Stores secrets in the CI's secret store (values encrypted for it, never printed). */
  setSecrets(
    connection: CiConnection,
    secrets: CiSecretValue[],
  ): Promise<{ created: string[]; updated: string[] }>;
}

/**
 * A CI provider's entry in the registry: its config schema (every command validates stagecraft.yml)
 * and its behaviour, loaded on first use (only the `ci` commands need it: start-up time).
 */
export interface CiProviderEntry extends ProviderSchemaEntry {
  ci(): Promise<CiProvider>;
}

export function isCiProviderEntry(entry: ProviderSchemaEntry | undefined): entry is CiProviderEntry {
  return typeof (entry as Partial<CiProviderEntry> | undefined)?.ci === 'function';
}
