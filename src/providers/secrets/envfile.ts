// Provider `envfile`: secrets as 0600 env files on every host. Content travels on stdin, never in argv;
// what changed is found by comparing sha256 hashes of `KEY="value"` lines, so values never leave the
// host they are on (nor this machine) for the comparison.

import pLimit from 'p-limit';
import * as z from 'zod';
import type { Runner } from '../../runners/types.js';
import { sha256Hex } from '../../util/hash.js';
import { Secret } from '../../util/secret.js';
import {
  type FileOutcome,
  type HostFiles,
  type HostOutcome,
  hasChanges,
  type KeyChanges,
  type SecretFile,
  type SecretsProvider,
  type SecretsSyncOutcome,
  type SecretsSyncRequest,
} from './types.js';

/** Exit code of HASH_SCRIPT when the file does not exist. */
const MISSING = 44;

/**
 * Prints `KEY sha256` for every `KEY=…` line of $1 (sha256 of the whole line, without its newline), or
 * exits 44 when there is no such file. Values stay on the host; printf is a shell builtin, so no value
 * shows in any process's arguments.
 */
export const HASH_SCRIPT =
  `f="$1"; [ -e "$f" ] || exit ${MISSING}; ` +
  `while IFS= read -r l || [ -n "$l" ]; do case "$l" in ''|'#'*) continue;; esac; ` +
  `h=$(printf '%s' "$l" | sha256sum) || exit 1; printf '%s %s\\n' "\${l%%=*}" "\${h%% *}"; done < "$f"`;

/**
 * Sets lines of $1 from stdin: the lines read on stdin, plus the file's lines whose key is not among
 * them ($2: the keys, comma-separated), sorted, written 0600 through a temp file and a rename. Prints
 * the sha256 of the result.
 */
export const MERGE_SCRIPT =
  'umask 077; f="$1"; t="$f.tmp.$$"; mkdir -p "$(dirname "$f")" || exit 1; ' +
  '{ cat; if [ -e "$f" ]; then awk -v keys="$2" ' +
  `'BEGIN { n = split(keys, a, ","); for (i = 1; i <= n; i++) s[a[i]] = 1 } ` +
  `{ k = $0; sub(/=.*/, "", k); if (!(k in s) && $0 != "") print }' "$f" || exit 1; fi; } ` +
  '| LC_ALL=C sort > "$t" && chmod 600 "$t" && mv -f "$t" "$f" || { s=$?; rm -f "$t"; exit "$s"; }; ' +
  `h=$(sha256sum < "$f") && printf '%s\\n' "\${h%% *}"`;

const sha256 = sha256Hex;

/**
 * The command that sets `lines` (sent on its stdin) in the env file at `path` and keeps its other keys
 * (MERGE_SCRIPT); only the keys' names are in the command.
 */
export function mergeArgv(path: string, lines: Secret): string[] {
  return ['sh', '-c', MERGE_SCRIPT, 'sh', path, [...envLineHashes(lines.reveal()).keys()].join(',')];
}

/** KEY → sha256 of its `KEY=…` line, for env file text (what HASH_SCRIPT prints on the host). */
export function envLineHashes(content: string): Map<string, string> {
  const hashes = new Map<string, string>();
  for (const line of content.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    hashes.set(equals === -1 ? line : line.slice(0, equals), sha256(line));
  }
  return hashes;
}

/** Parses HASH_SCRIPT's output. */
export function parseHashes(stdout: string): Map<string, string> {
  const hashes = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^(\S+) ([0-9a-f]{64})$/.exec(line.trim());
    if (match !== null) hashes.set(match[1]!, match[2]!);
  }
  return hashes;
}

/**
 * Which keys differ between what is wanted and what the host has (undefined: no file yet). With
 * `merge`, keys the host has beyond the wanted ones are kept, so they are not reported as removed.
 * Keys in `unresolved` (a dry run's stand-in values) that the host has are neither changed nor
 * unchanged: they are listed as `unresolved`.
 */
export function diffKeys(
  wanted: ReadonlyMap<string, string>,
  current: ReadonlyMap<string, string> | undefined,
  merge: boolean,
  unresolved: ReadonlySet<string> = new Set(),
): KeyChanges {
  const changes: KeyChanges = { added: [], changed: [], removed: [], unchanged: [] };
  const unknown: string[] = [];
  for (const [key, hash] of wanted) {
    const now = current?.get(key);
    if (now === undefined) changes.added.push(key);
    else if (unresolved.has(key)) unknown.push(key);
    else if (now === hash) changes.unchanged.push(key);
    else changes.changed.push(key);
  }
  if (unknown.length > 0) changes.unresolved = unknown;
  if (!merge && current !== undefined) {
    for (const key of current.keys()) if (!wanted.has(key)) changes.removed.push(key);
  }
  for (const list of Object.values(changes)) list.sort();
  return changes;
}

export { hasChanges };

/** Reads the host's line hashes of one file: undefined when it does not exist. */
async function remoteHashes(runner: Runner, path: string): Promise<Map<string, string> | undefined> {
  const result = await runner.exec(['sh', '-c', HASH_SCRIPT, 'sh', path], { allowFailure: true });
  if (result.exitCode === MISSING) return undefined;
  if (result.exitCode !== 0) {
    throw new Error(
      `could not read ${path}: ${result.stderr.trim().split('\n').at(-1) || `exit code ${result.exitCode}`}`,
    );
  }
  return parseHashes(result.stdout);
}

/** Brings one file up to date on a host (written only when a key differs or it does not exist). */
export async function syncEnvFile(runner: Runner, file: SecretFile, dryRun = false): Promise<FileOutcome> {
  const content = file.content.reveal();
  const wanted = envLineHashes(content);
  const current = await remoteHashes(runner, file.path);
  const changes = diffKeys(wanted, current, file.merge, file.unresolved);
  const outcome: FileOutcome = {
    path: file.path,
    service: file.service,
    changes,
    written: false,
    sha256: undefined,
  };
  if ((!hasChanges(changes) && current !== undefined) || dryRun) return outcome;
  if (file.merge) {
    const result = await runner.exec(mergeArgv(file.path, file.content), {
      stdin: new Secret(content),
      allowFailure: true,
    });
    if (result.exitCode !== 0) {
      throw new Error(
        `could not write ${file.path}: ${result.stderr.trim().split('\n').at(-1) || `exit code ${result.exitCode}`}`,
      );
    }
    outcome.sha256 = result.stdout.trim().split('\n').at(-1);
  } else {
    await runner.upload(file.path, file.content, 0o600);
    outcome.sha256 = sha256(content);
  }
  outcome.written = true;
  return outcome;
}

async function syncHost(host: HostFiles, dryRun: boolean): Promise<HostOutcome> {
  const files: FileOutcome[] = [];
  try {
    for (const file of host.files) files.push(await syncEnvFile(host.runner, file, dryRun));
    return { host: host.host, files };
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
    return { host: host.host, files, error: message };
  }
}

async function sync(request: SecretsSyncRequest): Promise<SecretsSyncOutcome> {
  const limit = pLimit(Math.max(1, request.parallelHosts));
  const hosts = await Promise.all(request.hosts.map((host) => limit(() => syncHost(host, request.dryRun))));
  return { destination: 'hosts', hosts };
}

export const envfileSecrets: SecretsProvider = {
  id: 'envfile',
  description: 'Secrets written to 0600 env files on the hosts.',
  schema: z.strictObject({
    source_file: z.string().optional().describe('Local env file the values come from.'),
    target_file: z.string().optional().describe('Path of the env file on the hosts.'),
  }),
  destination: 'hosts',
  sync,
  mergeArgv,
};
