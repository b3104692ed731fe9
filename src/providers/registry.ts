import {
  type MigrationEngineEntry,
  PROVIDER_KINDS,
  type ProviderCatalog,
  type ProviderKind,
  type ProviderSchemaEntry,
} from '../config/catalog.js';

/** Per-kind registries of providers. The built-ins register in providers/index.ts. */
export class ProviderRegistry {
  readonly #providers = new Map<ProviderKind, Map<string, ProviderSchemaEntry>>(
    PROVIDER_KINDS.map((kind) => [kind, new Map()]),
  );
  readonly #engines = new Map<string, MigrationEngineEntry>();

  register(kind: ProviderKind, entry: ProviderSchemaEntry): void {
    const kindMap = this.#providers.get(kind)!;
    if (kindMap.has(entry.id)) throw new Error(`${kind} provider "${entry.id}" is registered twice`);
    kindMap.set(entry.id, entry);
  }

  registerMigrationEngine(entry: MigrationEngineEntry): void {
    if (this.#engines.has(entry.id)) throw new Error(`migration engine "${entry.id}" is registered twice`);
    this.#engines.set(entry.id, entry);
  }

  ids(kind: ProviderKind): string[] {
    return [...this.#providers.get(kind)!.keys()].sort();
  }

  /**
   * The schemas the config layer validates with, in a stable order: ids by UTF-16 code unit, as ids()
   * (not localeCompare: its first call builds an ICU collator, 10-40 ms of every command's start-up).
   */
  catalog(): ProviderCatalog {
    const providers = Object.fromEntries(
      PROVIDER_KINDS.map((kind) => [
        kind,
        [...this.#providers.get(kind)!.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      ]),
    ) as Record<ProviderKind, ProviderSchemaEntry[]>;
    return { providers, migrationEngines: [...this.#engines.values()] };
  }
}
