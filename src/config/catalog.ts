import type * as z from 'zod';

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
