// Configs across Stagecraft versions: `minimum_version:` (a newer config refuses an older CLI, as in
// Kamal) and keys written for an older Stagecraft (the original design's shapes), which get the
// migration to make instead of a bare "unknown key".
import {
  type BuildInfo,
  buildInfo,
  compareVersions,
  upgradeCommand,
  VERSION_PATTERN,
} from '../util/build-info.js';
import { UserError } from '../util/errors.js';
import type { ConfigIssue } from './issues.js';
import type { YamlSource } from './yaml-source.js';

/**
 * Refuses a config whose top-level `minimum_version:` is newer than this CLI: exit 1 with where it is
 * pinned and the upgrade command for this kind of build. Runs before schema validation, because a
 * newer config may use keys this CLI does not know. A value that is not a version is left to the
 * schema (which reports it with its position); a number gets its own message, since YAML reads
 * 0.10 as 0.1.
 * @throws UserError when the CLI is older than the pin, or the pin is a YAML number.
 */
export function checkMinimumVersion(
  raw: Record<string, unknown>,
  source: YamlSource,
  info: BuildInfo = buildInfo(),
): void {
  const pinned = raw['minimum_version'];
  if (pinned === undefined) return;
  const { line, column } = source.position(['minimum_version']);
  const where = `${source.file}:${line}:${column} minimum_version`;
  if (typeof pinned === 'number') {
    throw new UserError(`${where}: write the version as a string, e.g. minimum_version: "${pinned}.0"`, {
      hint: 'YAML reads an unquoted 0.10 as the number 0.1; quote the version',
    });
  }
  if (typeof pinned !== 'string' || !VERSION_PATTERN.test(pinned)) return;
  if (compareVersions(info.version, pinned) >= 0) return;
  throw new UserError(
    `${where}: this project needs Stagecraft ${pinned} or newer; this is ${info.version} (${info.build} build)`,
    { hint: `upgrade with: ${upgradeCommand(info.build)}` },
  );
}

interface LegacyKey {
  /** The formatted key path of an "unknown key" issue, e.g. backend.dev. */
  path: RegExp;
  /** The migration to make, given the match and the raw config. */
  fix: (match: RegExpExecArray, raw: Record<string, unknown>) => string;
}

function selectedProvider(raw: Record<string, unknown>, kind: string): string {
  const section = raw[kind];
  const provider =
    section !== null && typeof section === 'object'
      ? (section as Record<string, unknown>)['provider']
      : undefined;
  return typeof provider === 'string' ? provider : 'generic';
}

/** Keys of the original (pre-provider-refactor) Stagecraft config, with where they live now. */
const LEGACY_KEYS: LegacyKey[] = [
  {
    path: /^(backend|frontend)\.(dev|build)$/,
    fix: ([, kind, key], raw) => {
      const provider = selectedProvider(raw, kind!);
      return `move it under ${kind}.providers.${provider}.${key} (with ${kind}.provider: ${provider})`;
    },
  },
  {
    path: /^network\.(tailscale|headscale)$/,
    fix: ([, provider]) =>
      `move it under network.providers.${provider} and set network.provider: ${provider}`,
  },
  {
    path: /^infra\.bootstrap\.ssh$/,
    fix: () =>
      'the SSH user is now infra.bootstrap.ssh_user; port, identity_file and known_hosts_file are set per environment under environments.<name>.ssh',
  },
  {
    path: /^infra\.bootstrap\.docker\.installMethod$/,
    fix: () => 'renamed to install_method (apt, script or skip)',
  },
  {
    path: /^infra\.bootstrap\.docker\.version$/,
    fix: () => 'no longer used: delete it (the install method decides the Docker version)',
  },
  {
    path: /^infra\.bootstrap\.network$/,
    fix: () => 'the overlay network is chosen at the top level now: network.provider',
  },
];

/**
 * Rewrites "unknown key" issues for keys an older Stagecraft wrote into the migration to make, e.g.
 * `backend.dev: unknown key "dev": written for an older Stagecraft; move it under
 * backend.providers.generic.dev (with backend.provider: generic)`. Other issues pass through unchanged.
 */
export function explainLegacyKeys(issues: ConfigIssue[], raw: Record<string, unknown>): ConfigIssue[] {
  return issues.map((issue) => {
    if (!issue.message.startsWith('unknown key ')) return issue;
    for (const legacy of LEGACY_KEYS) {
      const match = legacy.path.exec(issue.path);
      if (match === null) continue;
      const key = issue.path.slice(issue.path.lastIndexOf('.') + 1);
      return {
        ...issue,
        message: `unknown key "${key}": written for an older Stagecraft; ${legacy.fix(match, raw)}`,
      };
    }
    return issue;
  });
}
