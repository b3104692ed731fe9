// The maintenance switch of one project and environment, on the lock host:
// `~/.stagecraft/<project>-<env>/maintenance.jsonl`, one JSON line per `stagecraft maintenance on|off`
// (appended, so it is also the switch's history); the last line is the state. Deploys read it, so a
// deploy while maintenance is on keeps the routes answering 503. Never holds a secret.
import type { Runner } from '../runners/types.js';
import { ExternalError } from '../util/errors.js';
import { APPEND_SCRIPT, lastStderrLine, remoteStateDir } from './ledger.js';

/** One switch of maintenance, as recorded. */
export interface MaintenanceRecord {
  state: 'on' | 'off';
  /** RFC 3339 time of the switch. */
  at: string;
  /** The Retry-After the routes send while on, in seconds. */
  retry_after_seconds: number;
  by: { user: string; machine: string; ci: boolean };
  message?: string;
}

/** `.stagecraft/<project>-<env>/maintenance.jsonl` (relative to the lock host's home). */
export function maintenancePath(project: string, env: string): string {
  return `${remoteStateDir(project, env)}/maintenance.jsonl`;
}

/** Prints the last line of $1, or nothing when the file does not exist. */
const LAST_LINE_SCRIPT = 'if [ -f "$1" ]; then tail -n 1 "$1"; fi';

/**
 * The last recorded switch from its JSON line, or undefined for an empty text. Throws ExternalError
 * for a line that is not a switch (the file was edited or damaged).
 */
export function parseMaintenanceLine(text: string, where: string): MaintenanceRecord | undefined {
  const line = text.trim();
  if (line === '') return undefined;
  let parsed: Partial<MaintenanceRecord> | undefined;
  try {
    parsed = JSON.parse(line) as Partial<MaintenanceRecord>;
  } catch {
    parsed = undefined;
  }
  if (
    parsed === undefined ||
    (parsed.state !== 'on' && parsed.state !== 'off') ||
    typeof parsed.retry_after_seconds !== 'number' ||
    typeof parsed.at !== 'string'
  ) {
    throw new ExternalError(`the last line of ${where} is not a maintenance record`, {
      hint: `append a valid line with \`stagecraft maintenance on\` or \`off\`, or remove the file (maintenance is then off)`,
    });
  }
  return parsed as MaintenanceRecord;
}

/** The current switch on the lock host (undefined: never switched, i.e. off). Throws ExternalError. */
export async function readMaintenance(
  runner: Runner,
  project: string,
  env: string,
): Promise<MaintenanceRecord | undefined> {
  const path = maintenancePath(project, env);
  const result = await runner.exec(['sh', '-c', LAST_LINE_SCRIPT, 'sh', path], { allowFailure: true });
  if (result.exitCode !== 0) {
    throw new ExternalError(
      `could not read ~/${path} on ${runner.name}: ${lastStderrLine(result.stderr) || `exit code ${result.exitCode}`}`,
      { hint: `check that ${runner.name} is reachable (\`stagecraft doctor\`)` },
    );
  }
  return parseMaintenanceLine(result.stdout, `~/${path} on ${runner.name}`);
}

/** Appends one switch to the lock host's maintenance file (a single write). Throws ExternalError. */
export async function appendMaintenance(
  runner: Runner,
  project: string,
  env: string,
  record: MaintenanceRecord,
): Promise<void> {
  const path = maintenancePath(project, env);
  const result = await runner.exec(['sh', '-c', APPEND_SCRIPT, 'sh', path], {
    stdin: `${JSON.stringify(record)}\n`,
    allowFailure: true,
  });
  if (result.exitCode !== 0) {
    throw new ExternalError(
      `could not record maintenance ${record.state} in ~/${path} on ${runner.name}: ${lastStderrLine(result.stderr) || `exit code ${result.exitCode}`}`,
      { hint: `check the disk and the permissions of ~/.stagecraft on ${runner.name}` },
    );
  }
}
