// The behaviour of a secrets provider (`secrets.provider`): where `stagecraft secrets sync` puts values.
// The core finds a provider through the registry and never imports a concrete one.
import type { ProviderSchemaEntry } from '../../config/catalog.js';
import type { Runner } from '../../runners/types.js';
import type { Secret } from '../../util/secret.js';

/** One env file to bring up to date on a host. */
export interface SecretFile {
  /** Relative to the deploy user's home (`~/` allowed), or absolute. */
  path: string;
  /** The service whose containers read it (compose `env_file`), or undefined for the all-keys file. */
  service: string | undefined;
  /** The whole file, rendered `KEY="value"` lines (or, when `merge`, the lines to set). */
  content: Secret;
  /**
   * Set only the lines in `content` and keep the file's other lines (`--keys`); otherwise the file
   * becomes exactly `content`.
   */
  merge: boolean;
  /** Keys of `content` whose value is a dry run's stand-in, not the secret (see KeyChanges.unresolved). */
  unresolved?: ReadonlySet<string>;
}

/** Which keys a sync changes in one file, by comparing hashes of `KEY="value"` lines (never values). */
export interface KeyChanges {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  /**
   * Keys the host has whose new value a dry run did not resolve (a secret `command` runs only for
   * real): they may or may not change. Absent when there are none.
   */
  unresolved?: string[];
}

/** Whether a file has to be written for these changes (a dry run counts unresolved keys as changing). */
export function hasChanges(changes: KeyChanges): boolean {
  return (
    changes.added.length +
      changes.changed.length +
      changes.removed.length +
      (changes.unresolved?.length ?? 0) >
    0
  );
}

export interface FileOutcome {
  path: string;
  service: string | undefined;
  changes: KeyChanges;
  /** The file was (re)written. */
  written: boolean;
  /** sha256 of the file as it is now on the host (after writing). */
  sha256: string | undefined;
}

export interface HostFiles {
  host: string;
  runner: Runner;
  files: SecretFile[];
}

export interface HostOutcome {
  host: string;
  files: FileOutcome[];
  /** Set when the host could not be read or written; `files` then holds what was done before. */
  error?: string;
}

export interface SecretsSyncRequest {
  environment: string;
  /** The project root (relative paths in the provider config are relative to it). */
  root: string;
  /** Where a store's CLI runs when the provider config does not say (e.g. the Encore app folder). */
  defaultWorkdir: string;
  /** `secrets.providers.<id>` as validated by the provider's schema. */
  config: Record<string, unknown>;
  /** Name → value of the secrets to sync. */
  values: ReadonlyMap<string, Secret>;
  /** For providers whose destination is `hosts`: the files per host, each with its runner. */
  hosts: HostFiles[];
  parallelHosts: number;
  /** Find what would change and change nothing (`--dry-run`). */
  dryRun: boolean;
  log: (line: string) => void;
}

export type SecretsSyncOutcome =
  | { destination: 'hosts'; hosts: HostOutcome[] }
  | { destination: 'store'; store: string; set: string[] };

/** A secrets provider: its config schema plus what `secrets sync` does with it. */
export interface SecretsProvider extends ProviderSchemaEntry {
  /** `hosts`: env files on every host (the core computes them); `store`: a secret store of its own. */
  destination: 'hosts' | 'store';
  sync(request: SecretsSyncRequest): Promise<SecretsSyncOutcome>;
  /**
   * For `hosts` providers: the command that sets `lines` (rendered `KEY="value"` lines, sent on its
   * stdin; only their names go into the command) in the env file at `path` and keeps the file's other
   * lines, as a release's plan runs it (`--keys`).
   */
  mergeArgv?(path: string, lines: Secret): string[];
}

export function isSecretsProvider(entry: ProviderSchemaEntry | undefined): entry is SecretsProvider {
  return (
    entry !== undefined &&
    typeof (entry as Partial<SecretsProvider>).sync === 'function' &&
    ((entry as Partial<SecretsProvider>).destination === 'hosts' ||
      (entry as Partial<SecretsProvider>).destination === 'store')
  );
}
