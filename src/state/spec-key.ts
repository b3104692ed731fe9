// The spec-hash key of one project and environment: 32 random bytes (hex) in
// `~/.stagecraft/<project>-<env>/spec-hash.key` (0600) on the lock host. Secret values enter a
// service's spec hash only through an HMAC with it (compose/project.ts), so the hash that plan JSON
// and container labels publish cannot be checked against a wordlist. The key never leaves the hosts:
// it is read into the deploying process, never printed, logged or written anywhere else.
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { registerSecretValue } from '../util/secret.js';
import { lastStderrLine, remoteStateDir } from './ledger.js';

/**
 * Prints the key in $1, creating it first when missing: a temp file with 32 random bytes as hex,
 * hard-linked into place (`ln` fails if another deploy created it first; then that one is used).
 */
const KEY_SCRIPT =
  'umask 077; mkdir -p "$(dirname "$1")" || exit 1; ' +
  'if [ ! -s "$1" ]; then t="$1.tmp.$$"; ' +
  'od -An -tx1 -N32 /dev/urandom | tr -d " \\n" > "$t" && ln "$t" "$1" 2>/dev/null; rm -f "$t"; fi; ' +
  'exec cat "$1"';

/** `.stagecraft/<project>-<env>/spec-hash.key` (relative to the runner's home). */
export function specKeyPath(project: string, env: string): string {
  return `${remoteStateDir(project, env)}/spec-hash.key`;
}

/** The key in a read's stdout, registered for redaction; ExternalError when the read failed or it is damaged. */
function keyFrom(
  runner: Runner,
  path: string,
  result: { exitCode: number; stdout: string; stderr: string },
): string {
  const key = result.stdout.trim();
  if (result.exitCode !== 0 || !/^[0-9a-f]{64}$/.test(key)) {
    throw new ExternalError(
      `could not read the spec-hash key ~/${path} on ${runner.name}: ${lastStderrLine(result.stderr) || (result.exitCode === 0 ? 'it is not 64 hex characters' : `exit code ${result.exitCode}`)}`,
      {
        hint: `check ~/.stagecraft on ${runner.name}; a damaged key file may be removed (the next deploy makes a new one and restarts every service that has secrets)`,
      },
    );
  }
  registerSecretValue(key);
  return key;
}

/**
 * The environment's spec-hash key from the lock host (created there on first use), as 64 hex
 * characters; registered with the redaction net. Throws ExternalError when the host cannot give one.
 */
export async function readSpecKey(runner: Runner, project: string, env: string): Promise<string> {
  const path = specKeyPath(project, env);
  return keyFrom(
    runner,
    path,
    await runner.exec(['sh', '-c', KEY_SCRIPT, 'sh', path], { allowFailure: true }),
  );
}

/**
 * The environment's spec-hash key from the lock host when it exists there, else undefined (nothing is
 * created: `plan --refresh` reads hosts, never writes them); registered with the redaction net.
 * Throws ExternalError when the host cannot be asked or the file is damaged.
 */
export async function readExistingSpecKey(
  runner: Runner,
  project: string,
  env: string,
): Promise<string | undefined> {
  const path = specKeyPath(project, env);
  const result = await runner.exec(['sh', '-c', 'if [ -s "$1" ]; then exec cat "$1"; fi', 'sh', path], {
    allowFailure: true,
  });
  if (result.exitCode === 0 && result.stdout.trim() === '') return undefined;
  return keyFrom(runner, path, result);
}
