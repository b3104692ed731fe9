// What a rollback can and cannot bring back as the target release ran (pure). A host keeps each
// release's compose file in the release's folder; a rollback deploys that file again. Where the
// folder is gone (retention, `remove`, a host the release never ran on), the file is rendered from
// today's compose file with the release's images and services, and these checks refuse a rollback
// that would then run something else than the release did.

import { compareStrings } from '../compose/canonical.js';
import type { EnvironmentModel } from '../model/environment.js';
import type { ReleaseRecord } from '../state/types.js';
import { UserError } from '../util/errors.js';
import type { ReusedCompose } from './deploy.js';
import { allSteps, type Plan } from './types.js';

/** The hint of every refusal below: the release's own commit holds the files it ran. */
function checkoutHint(target: ReleaseRecord): string {
  const commit = target.commit_sha === '' ? undefined : target.commit_sha.slice(0, 12);
  return commit === undefined
    ? 'restore the compose file and project files the release ran, then run the rollback again'
    : `switch this folder to the release's commit (\`git switch --detach ${commit}\`; untracked env files stay) and run the rollback again from there`;
}

/**
 * Per host in scope, the services the target release ran there (its ledger record, or the services
 * of its reused compose file). Throws UserError when one of them is no longer declared (compose file
 * or stagecraft.yml): a rollback could not bring it back.
 */
export function releaseServicesOf(
  model: EnvironmentModel,
  target: ReleaseRecord,
  reuse: Record<string, ReusedCompose>,
  onlyHosts: string[] | undefined,
): Record<string, string[]> {
  const declared = new Set(model.services.map((service) => service.name));
  const services: Record<string, string[]> = {};
  const missing: string[] = [];
  for (const [host, recorded] of Object.entries(target.hosts).sort(([a], [b]) => compareStrings(a, b))) {
    if (onlyHosts !== undefined && !onlyHosts.includes(host)) continue;
    if (!model.hosts.some((candidate) => candidate.name === host)) continue;
    const ran = reuse[host]?.services ?? recorded.services;
    services[host] = [...ran];
    for (const name of ran) if (!declared.has(name)) missing.push(`${name} on ${host}`);
  }
  if (missing.length > 0) {
    throw new UserError(
      `${target.id} (version ${target.version}) ran ${missing.join(', ')}, which this folder's compose file and stagecraft.yml no longer declare: a rollback cannot bring ${missing.length === 1 ? 'it' : 'them'} back`,
      { hint: checkoutHint(target) },
    );
  }
  return services;
}

/**
 * The hosts in scope that run services today but did not run the target release (it was limited to
 * other hosts, or the host came later): their compose file is rendered from today's config.
 */
export function hostsNeverRun(
  model: EnvironmentModel,
  target: ReleaseRecord,
  onlyHosts: string[] | undefined,
): string[] {
  return model.hosts
    .map((host) => host.name)
    .filter((host) => onlyHosts === undefined || onlyHosts.includes(host))
    .filter((host) => target.hosts[host] === undefined)
    .filter((host) => model.services.some((service) => service.hosts.includes(host)));
}

/**
 * The files hash `service` had on `host` in `target`: its own record, or, for a host the release did
 * not run on, the record of another host that ran the service. Null when the record cannot tell (a
 * release recorded without files hashes); undefined when the service mounted no project file.
 */
function recordedFilesHash(target: ReleaseRecord, host: string, service: string): string | undefined | null {
  const own = target.hosts[host];
  if (own !== undefined) return own.files_hashes === undefined ? null : own.files_hashes[service];
  const other = Object.values(target.hosts).find(
    (record) => record.files_hashes !== undefined && record.services.includes(service),
  );
  return other === undefined ? null : other.files_hashes![service];
}

/**
 * Refuses a rollback plan whose re-rendered compose files (hosts without a reused file) mount other
 * project files than the target release ran: a service's `stagecraft.files-hash` differs from the one
 * the release recorded for it (on that host, or on another host for a host it never ran on), or it
 * mounts project files where it mounted none. Releases recorded without files hashes are not checked.
 * Throws UserError naming each service and host.
 */
export function refuseChangedFiles(
  plan: Plan,
  target: ReleaseRecord,
  reuse: Record<string, ReusedCompose>,
): void {
  const changed: string[] = [];
  for (const step of allSteps(plan)) {
    const action = step.action;
    if (action.kind !== 'upload' || action.file !== 'compose' || step.host === undefined) continue;
    const host = step.host.name;
    if (reuse[host] !== undefined) continue;
    for (const service of [...(action.services ?? [])].sort(compareStrings)) {
      const recorded = recordedFilesHash(target, host, service);
      if (recorded !== null && action.filesHashes?.[service] !== recorded)
        changed.push(`${service} on ${host}`);
    }
  }
  if (changed.length > 0) {
    throw new UserError(
      `the project files that ${changed.join(', ')} mount differ from the ones ${target.id} (version ${target.version}) ran, and its compose file is not on ${changed.length === 1 ? 'that host' : 'those hosts'}: a rollback would run today's files under the old version`,
      { hint: checkoutHint(target) },
    );
  }
}
