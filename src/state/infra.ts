// The hosts `infra up` made, per environment: `.stagecraft/infra/<env>.json`, written atomically. What
// deploy connects to when the environment lists no hosts of its own. Never holds a token.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_ADDRESS, HOST_NAME } from '../config/schema.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import { readUserFile } from '../util/user-file.js';

export interface InfraHost {
  name: string;
  role: string;
  address: string;
  /** The provider's id of the machine (a droplet id). */
  id: string;
}

export interface InfraState {
  schema: 'stagecraft.infra/v1';
  provider: string;
  environment: string;
  hosts: InfraHost[];
  updated_at: string;
}

export function infraStatePath(root: string, environment: string): string {
  return join(root, '.stagecraft', 'infra', `${environment}.json`);
}

/** The recorded state, or undefined when `infra up` has not run for the environment. */
export function readInfraState(root: string, environment: string): InfraState | undefined {
  const path = infraStatePath(root, environment);
  const text = readUserFile(path, {
    display: `the infra state ${path}`,
    hint: 'run `stagecraft infra up` again: it rebuilds the file from the cloud account',
  });
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as InfraState;
    if (state.schema !== 'stagecraft.infra/v1' || !Array.isArray(state.hosts))
      throw new Error('unknown schema');
    // Its names and addresses reach ssh's argv and plan's text: the same rules as stagecraft.yml's.
    state.hosts.forEach((host, index) => {
      const at = `hosts[${index}]`;
      if (host === null || typeof host !== 'object') throw new Error(`${at}: expected an object`);
      if (typeof host.name !== 'string' || host.name.length > 253 || !HOST_NAME.test(host.name))
        throw new Error(`${at}.name: expected a host name (letters, digits, _ . -)`);
      if (typeof host.address !== 'string' || host.address.length > 253 || !HOST_ADDRESS.test(host.address))
        throw new Error(`${at}.address: expected an IP address or DNS name`);
      if (typeof host.role !== 'string' || !HOST_NAME.test(host.role))
        throw new Error(`${at}.role: expected a role name`);
    });
    return state;
  } catch (error) {
    throw new UserError(`${path} is not a valid infra state file (${(error as Error).message})`, {
      hint: 'run `stagecraft infra up` again: it rebuilds the file from the cloud account',
    });
  }
}

export async function writeInfraState(root: string, state: InfraState): Promise<void> {
  await writeFileAtomic(infraStatePath(root, state.environment), `${JSON.stringify(state, null, 2)}\n`);
}

export function removeInfraState(root: string, environment: string): void {
  rmSync(infraStatePath(root, environment), { force: true });
}
