// The steps every release plan begins and ends with: the deploy lock on the lock host, the record
// in the ledger, and the lock's release after it.
import type { Step } from './types.js';

/**
 * `lock:acquire` in migrate_pre on `host` (the environment's lock host; a swarm's manager), with
 * `message` as the lock's reason. `project` is the compose project the lock is named after.
 */
export function lockAcquireStep(host: { name: string }, project: string, message: string): Step {
  return {
    id: 'lock:acquire',
    phase: 'migrate_pre',
    host,
    title: `acquire the deploy lock ${project} on ${host.name}`,
    action: { kind: 'lock-acquire', message },
    dependsOn: [],
  };
}

/** `record` in finalize: the release written to the ledger, with `title` saying which. */
export function recordStep(title: string): Step {
  return { id: 'record', phase: 'finalize', title, action: { kind: 'record' }, dependsOn: [] };
}

/** `lock:release` in finalize on `host`, after the record. */
export function lockReleaseStep(host: { name: string }): Step {
  return {
    id: 'lock:release',
    phase: 'finalize',
    host,
    title: 'release the deploy lock',
    action: { kind: 'lock-release' },
    dependsOn: ['record'],
  };
}
