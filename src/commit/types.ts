/** One file in the staged change, as `git diff --cached --name-status` reports it. */
export interface StagedFile {
  /** A added, M modified, D deleted, R renamed, C copied, T type changed. */
  status: 'A' | 'M' | 'D' | 'R' | 'C' | 'T';
  /** Path from the repository root, `/`-separated (the new path of a rename). */
  path: string;
  /** The old path of a rename or copy. */
  from?: string;
  /** Lines the change adds to this file (without the leading `+`); only read for migrations and the compose file. */
  added: string[];
  /** Lines the change removes from this file. */
  removed: string[];
}

/** Where a project's parts live, from the repository root: what turns paths into scopes. */
export interface ProjectLayout {
  /** Folder of stagecraft.yml from the repository root ('' at the root). */
  projectDir: string;
  /** stagecraft.yml and hook files, from the repository root. */
  configFiles: string[];
  /** The compose file, from the repository root. */
  composeFile: string;
  /** Migration folders, from the repository root. */
  migrationDirs: string[];
  /** Service name → build context folder, from the repository root. */
  services: Record<string, string>;
}

/** What a staged file is, for the commit type and scope. */
export type FileKind =
  | 'migration'
  | 'compose'
  | 'config'
  | 'service'
  | 'docs'
  | 'test'
  | 'ci'
  | 'build'
  | 'other';

/** A staged migration statement that breaks the running release (drops or renames). */
export interface DestructiveChange {
  file: string;
  /** e.g. `DROP COLUMN legacy_note`, `RENAME TO clients`, `dropColumn('note')`. */
  statement: string;
}

/** A suggested Conventional Commits message and how it was derived. */
export interface Suggestion {
  type: string;
  scope: string | undefined;
  breaking: boolean;
  subject: string;
  body: string[];
  footers: string[];
  /** The whole message, header, blank line, body, blank line, footers. */
  message: string;
}
