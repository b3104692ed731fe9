// The behaviour of an app provider (`backend.provider`, `frontend.provider`): how the app runs in
// `stagecraft dev`, what a deploy builds for it, which tools it needs. The core finds the selected
// provider in the catalog (providers/index.ts registers the built-ins) and calls these hooks; it never
// tests a provider id. Adding a provider = one file here plus one registry line.
import { type ProviderCatalog, type ProviderSchemaEntry, selectedProvider } from '../config/catalog.js';
import type { Runner } from '../runners/types.js';
import type { ToolName } from '../util/tools.js';

export type AppKind = 'backend' | 'frontend';

/** What a provider is asked about its dev process: its validated config and where the project is. */
export interface DevProcessInput {
  kind: AppKind;
  /** `<kind>.providers.<id>` as validated by the provider's schema; undefined when not given. */
  config: unknown;
  /** Absolute project root (the folder of stagecraft.yml). */
  root: string;
}

/**
 * A provider's pure decision about its dev process: where it runs, the port it serves on (routing
 * and readiness), the compose service it stands in for (if it names one); or why there is none.
 */
export type DevProcessDecision =
  | { workdir: string; port: number | undefined; service: string | undefined }
  | { note: string };

/** One planned dev process, as the dev planner (plan/dev.ts) hands it back to the provider. */
export interface DevProcessPlan {
  name: AppKind;
  /** The provider id (for messages such as `backend.providers.<id>.dev.port`). */
  provider: string;
  /** The provider's validated config (`<kind>.providers.<id>`), opaque to the core. */
  config: unknown;
  /** The compose service this process stands in for (the provider's, or built from its workdir). */
  alias: string | undefined;
  /** Absolute folder the process runs in. */
  workdir: string;
  /** The port it serves on localhost, when known. */
  port: number | undefined;
}

/** What the dev stack knows when it starts a process. */
export interface DevProcessSettings {
  /** The environment's variables: its env_file(s) overlaid by the process environment. */
  baseEnv: Record<string, string>;
  /** STAGECRAFT_DEV_READY_TIMEOUT in ms, when set. */
  readyTimeoutMs: number | undefined;
  /** mkcert's root CA file, when HTTPS is on (for runtimes that need it, e.g. NODE_EXTRA_CA_CERTS). */
  caFile: string | undefined;
  /** Whether children may print colour. */
  color: boolean;
  /** Full paths of the tools the provider declared in `dev.tools`, by tool name. */
  tools: Partial<Record<ToolName, string>>;
  warn: (message: string) => void;
}

/** A long-running process for the dev supervisor (dev/supervisor runs it, restarts it, stops it). */
export interface DevProcessSpec {
  /** Shown as the log prefix; also the name in --only and state.json. */
  name: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Ready when an output line (without colour codes) matches. */
  readyPattern?: RegExp;
  /** Without a pattern: ready when this port on localhost accepts connections. */
  readyPort?: number;
  /** How long the first start may take to become ready, in ms. */
  readyTimeoutMs: number;
  /** A crash stops the whole dev stack instead of a restart. */
  required: boolean;
  stopSignal: NodeJS.Signals;
  /** After the stop signal, how long before SIGKILL, in ms. */
  stopTimeoutMs: number;
  /** Hint printed when the process fails. */
  hint?: string;
}

/** How an app provider takes part in `stagecraft dev`. */
export interface AppDevHooks {
  /** Pure: the dev process for this config, or a note saying why there is none. */
  plan(input: DevProcessInput): DevProcessDecision;
  /** Tools the process needs, each with the reason shown when it is missing. */
  tools: { tool: ToolName; why: string }[];
  /**
   * One-shot work before the process starts (e.g. set secrets), run through `runner`. Returns lines
   * to print. Throws ExternalError when the work fails.
   */
  prepare?(
    plan: DevProcessPlan,
    settings: DevProcessSettings,
    runner: Runner,
    signal?: AbortSignal,
  ): Promise<string[]>;
  /** The supervised process. Throws UserError for a config that cannot run (e.g. a missing workdir). */
  spec(plan: DevProcessPlan, settings: DevProcessSettings): DevProcessSpec;
}

/** What `docker build` needs for a compose service a provider builds (paths absolute). */
export interface ProviderBuild {
  service: string;
  context: string;
  dockerfile: string | undefined;
  target: string | undefined;
  args: Record<string, string>;
}

/** An app provider: its config schema plus the hooks its kind needs (every hook optional). */
export interface AppProvider extends ProviderSchemaEntry {
  dev?: AppDevHooks;
  /** The image this provider builds for a deploy, from its config; undefined when it builds none. */
  build?(config: unknown, root: string): ProviderBuild | undefined;
  /** The app's folder (absolute), where its own CLI runs (e.g. a secret store's); undefined: the root. */
  appDir?(config: unknown, root: string): string | undefined;
}

/** The provider selected for an app kind, with its validated config; undefined when the kind is unset. */
export function selectedAppProvider(
  catalog: ProviderCatalog,
  kind: AppKind,
  section: { provider: string; providers?: Record<string, unknown> | undefined } | undefined,
): { provider: AppProvider; config: unknown } | undefined {
  const selected = selectedProvider(catalog, kind, section);
  return selected === undefined
    ? undefined
    : { provider: selected.entry as AppProvider, config: selected.config };
}

/** FORCE_COLOR=1 for a child when we print colour and the user set neither NO_COLOR nor FORCE_COLOR. */
export function colourEnv(settings: DevProcessSettings): Record<string, string> {
  const env = settings.baseEnv;
  if (!settings.color || env['NO_COLOR'] !== undefined || env['FORCE_COLOR'] !== undefined) return {};
  return { FORCE_COLOR: '1' };
}
