import type * as z from 'zod';
import type { ToolName } from '../util/tools.js';

/** Every pluggable kind of provider; `<kind>.provider` selects one, `<kind>.providers.<id>` configures it. */
export const PROVIDER_KINDS = [
  'backend',
  'frontend',
  'network',
  'cloud',
  'ci',
  'secrets',
  'ingress',
] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export interface ProviderSchemaEntry {
  id: string;
  description: string;
  /** Validates `<kind>.providers.<id>`; it must accept `{}` if the provider needs no configuration. */
  schema: z.ZodType;
  /**
   * Said when a config names a provider of this kind that does not exist (e.g. one that was removed),
   * after the list of known ids: what to use instead.
   */
  unknownIdHint?: string;
  /** Tools `stagecraft doctor` requires while this provider is selected, each with the reason. */
  doctorTools?: { tool: ToolName; why: string }[];
}

export interface MigrationEngineEntry {
  id: string;
  description: string;
  /** The argv run by a command-based engine when `migrations.command` is not given. */
  defaultCommand?: string[];
  /** True when the engine cannot run without `migrations.command`. */
  requiresCommand: boolean;
}

/**
 * What the config layer needs to know about providers: their ids and config schemas. The provider
 * registry builds it; the config layer never imports a concrete provider.
 */
export interface ProviderCatalog {
  providers: Record<ProviderKind, ProviderSchemaEntry[]>;
  migrationEngines: MigrationEngineEntry[];
}

export function findProvider(
  catalog: ProviderCatalog,
  kind: ProviderKind,
  id: string,
): ProviderSchemaEntry | undefined {
  return catalog.providers[kind].find((entry) => entry.id === id);
}

/**
 * The provider a config section selects (`<kind>.provider`) and its validated config
 * (`<kind>.providers.<id>`, undefined when not given); undefined when the section is unset.
 */
export function selectedProvider(
  catalog: ProviderCatalog,
  kind: ProviderKind,
  section: { provider: string; providers?: Record<string, unknown> | undefined } | undefined,
): { entry: ProviderSchemaEntry; config: unknown } | undefined {
  if (section === undefined) return undefined;
  const entry = findProvider(catalog, kind, section.provider);
  return entry === undefined ? undefined : { entry, config: section.providers?.[section.provider] };
}
