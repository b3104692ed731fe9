import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { readUserFile } from '../util/user-file.js';

/**
 * `.stagecraft/dev/state.json`: what a running dev stack holds (the supervisor, every process group,
 * the compose project and services, the hosts entries), so `dev down` — or the next `dev` after a crash —
 * can stop exactly that. Holds no secret.
 */
export interface DevState {
  version: 1;
  /** The supervising `stagecraft dev` process. */
  pid: number;
  /** Its start time in /proc (guards against a reused pid). */
  identity: string | undefined;
  mode: 'foreground' | 'detached';
  status: 'starting' | 'ready' | 'stopping' | 'failed';
  started_at: string;
  ready_at?: string;
  error?: string;
  /** Output of a detached stack. */
  log_file?: string;
  compose?: {
    docker: string;
    project: string;
    services: string[];
    /** DOCKER_HOST / DOCKER_CONTEXT at start, so `dev down` reaches the same engine. */
    docker_env: Record<string, string>;
  };
  processes: { name: string; pid: number; pgid: number; identity: string | undefined }[];
  hosts?: { file: string; domains: string[] };
  urls: { name: string; url: string }[];
}

export function devDir(root: string): string {
  return join(root, '.stagecraft', 'dev');
}

export function stateFile(root: string): string {
  return join(devDir(root), 'state.json');
}

export function readState(root: string): DevState | undefined {
  try {
    // A FIFO or device in its place counts as no state (readUserFile refuses it without blocking).
    const state = JSON.parse(readUserFile(stateFile(root)) ?? '') as DevState;
    return state.version === 1 && typeof state.pid === 'number' ? state : undefined;
  } catch {
    return undefined;
  }
}

export async function writeState(root: string, state: DevState): Promise<void> {
  await writeFileAtomic(stateFile(root), `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

export async function removeState(root: string): Promise<void> {
  await rm(stateFile(root), { force: true });
}
