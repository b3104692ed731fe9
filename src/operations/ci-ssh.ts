// The SSH material `ci secrets` stores for the deploy workflow, checked before anything is sent: the
// deploy key must be a private key (a `.pub` file is the usual mistake), and the known_hosts lines must
// pin every host the workflows deploy to. Neither value is ever part of an error.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CiHost } from '../providers/ci/types.js';
import { runLocal } from '../runners/local.js';
import { UserError } from '../util/errors.js';

/** PEM private keys (OpenSSH, PKCS#1, PKCS#8, SEC1, encrypted PKCS#8) have this header. */
const PRIVATE_KEY_HEADER = /^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----$/m;
/** Public keys (authorized_keys / .pub format) start with their algorithm. */
const PUBLIC_KEY = /^\s*(?:ssh-|ecdsa-|sk-ssh-|sk-ecdsa-)[\w@.-]+ [A-Za-z0-9+/=]+/;

/**
 * Refuses what cannot be the deploy workflow's SSH private key: a public key, or text without a
 * `-----BEGIN … PRIVATE KEY-----` line. `source` names where it came from (a path or a variable);
 * `fix` says how to give the right one. Errors: UserError, never with the value.
 */
export function checkPrivateKey(text: string, source: string, fix: string): void {
  if (PUBLIC_KEY.test(text)) {
    const privatePath = source.endsWith('.pub') ? source.slice(0, -'.pub'.length) : undefined;
    throw new UserError(`${source} is a public key, not the SSH private key the deploy workflow needs`, {
      hint: privatePath === undefined ? fix : `pass --ssh-key ${privatePath} (the same name without .pub)`,
    });
  }
  if (!PRIVATE_KEY_HEADER.test(text)) {
    throw new UserError(
      `${source} is not an SSH private key: it has no "-----BEGIN ... PRIVATE KEY-----" line`,
      { hint: `${fix} (a PuTTY .ppk converts with \`puttygen KEY.ppk -O private-openssh -o KEY\`)` },
    );
  }
}

/** How `ssh-keygen -F` looks a host up: `name`, or `[name]:port` off port 22. */
export function knownHostsLookup(host: CiHost): string {
  return host.port === 22 ? host.target : `[${host.target}]:${host.port}`;
}

/** The lines of a known_hosts file that match each lookup, and the lookups without any (ssh-keygen -F). */
export async function readKnownHosts(
  file: string,
  lookups: string[],
): Promise<{ lines: string[]; missing: string[] }> {
  const lines: string[] = [];
  const missing: string[] = [];
  for (const lookup of lookups) {
    const result = await runLocal(['ssh-keygen', '-F', lookup, '-f', file], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    const found = result.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
    if (result.exitCode !== 0 || found.length === 0) missing.push(lookup);
    else for (const line of found) if (!lines.includes(line)) lines.push(line);
  }
  return { lines, missing };
}

/** readKnownHosts for known_hosts text (e.g. from a variable), through a private temporary file. */
export async function readKnownHostsText(
  text: string,
  lookups: string[],
): Promise<{ lines: string[]; missing: string[] }> {
  const folder = await mkdtemp(join(tmpdir(), 'stagecraft-known-hosts-'));
  try {
    const file = join(folder, 'known_hosts');
    await writeFile(file, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
    return await readKnownHosts(file, lookups);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * The error for hosts `source` has no key for: names them and how to pin each into `file` (ssh-keyscan,
 * then compare the fingerprint with the host's own before trusting it), then `then`.
 */
export function missingHostKeysError(
  source: string,
  missing: string[],
  hosts: CiHost[],
  file: string,
  then = 'run this again',
): UserError {
  const scans = missing.map((lookup) => {
    const host = hosts.find((candidate) => knownHostsLookup(candidate) === lookup);
    const port = host === undefined || host.port === 22 ? '' : `-p ${host.port} `;
    return `\`ssh-keyscan ${port}-H ${host?.target ?? lookup} >> ${file}\``;
  });
  return new UserError(`${source} has no host key for ${missing.join(', ')}`, {
    hint: `add ${missing.length === 1 ? 'it' : 'them'} with ${scans.join(', ')}, check the fingerprints (\`ssh-keygen -lf ${file}\`) against each host's own, then ${then}`,
  });
}
