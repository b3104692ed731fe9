import type { PathSegment } from '../config/issues.js';
import type { Config } from '../config/schema.js';

/** How bad a finding is; the names are SARIF's `level` values. Only `error` fails `stagecraft gov`. */
export type Severity = 'error' | 'warning' | 'note';

/** Which YAML file a hit points into. */
export type SourceName = 'config' | 'compose';

/**
 * Where a rule found something: a key path in stagecraft.yml or the compose file (the runner turns it
 * into `file:line:column`), pointing at the key itself with `key: true` (a missing child), else at the
 * value.
 */
export interface RuleHit {
  source: SourceName;
  path: PathSegment[];
  key?: boolean;
  /** What is wrong, in one sentence; never a secret value. */
  message: string;
  /** What to do about this occurrence; the rule's generic fix when absent. */
  fix?: string;
}

/** One finding as printed: the rule, its severity and a position in a file of the project. */
export interface Finding {
  rule: string;
  severity: Severity;
  /** Path relative to the project root, with `/` separators. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
  fix: string;
}

/** A compose service as written in the file (before interpolation), the fields the rules read. */
export type RawComposeService = Record<string, unknown>;

/**
 * What the rules see of a project; built once by `readGovProject` (the only part that reads files),
 * so every rule is a pure function of it.
 */
export interface GovProject {
  /** Relative path of stagecraft.yml from the project root. */
  configFile: string;
  /** The validated configuration (interpolated with the selected environment's variables). */
  config: Config;
  /** stagecraft.yml as written: values before `${VAR}` interpolation, `x-` keys kept. */
  configRaw: Record<string, unknown>;
  /** The compose file, as written (anchors and `<<` merges applied, no interpolation). */
  compose: { file: string; services: Record<string, RawComposeService> } | undefined;
  /** Environments the environment-scoped rules look at (all, or the one from --env), sorted. */
  environments: string[];
  /** Variables compose interpolates with when deploying to `env`: the project's .env, its env_file(s), the process. */
  variables(env: string): Record<string, string>;
  /** Final-stage Dockerfile text of a compose service that is built, or undefined (no build, file missing). */
  dockerfile(service: string): string | undefined;
  /** Executable hooks present in .stagecraft/hooks/ (names such as `pre-deploy`). */
  hooks: string[];
  /** Folders under the root that hold migration files by convention (`migrations`, `prisma/migrations`…), with at least one file. */
  migrationFolders: string[];
}

/** A policy rule: its catalogue entry and a pure check. */
export interface Rule {
  id: string;
  severity: Severity;
  /** One line: what the rule wants. */
  title: string;
  /** Why it matters to someone deploying with Stagecraft. */
  why: string;
  /** The generic fix. */
  fix: string;
  check(project: GovProject): RuleHit[];
}
