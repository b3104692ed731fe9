import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/state/ledger.js';
import { PHASES } from '../../src/state/types.js';

// Separate processes (not promises in one process) write one ledger at once and exit right away:
// the file lock must lose no release and no phase update.
let root: string;
let writer: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'stagecraft-ledger-procs-'));
  writer = join(root, 'writer.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('../support/ledger-writer.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: writer,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function runWriter(id: string, path: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, id, path], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

describe('the local ledger under concurrent writer processes', () => {
  it('keeps every release and every phase update of 15 writers, in 3 trials', {
    timeout: 180_000,
  }, async () => {
    for (let trial = 0; trial < 3; trial++) {
      const path = join(root, `trial-${trial}`, 'releases.json');
      const ids = Array.from({ length: 15 }, (_, i) => `rel-20250101-0000${String(i).padStart(2, '0')}000`);
      const codes = await Promise.all(ids.map((id) => runWriter(id, path)));
      expect(codes).toEqual(ids.map(() => 0));
      const releases = await new Ledger({ projectRoot: root, path }).read();
      expect(releases.map((release) => release.id).sort()).toEqual(ids);
      for (const release of releases) {
        expect(Object.values(release.phases)).toEqual(PHASES.map(() => 'completed'));
      }
      // No lock file or moved-aside lock is left behind.
      expect(await readdir(join(root, `trial-${trial}`))).toEqual(['releases.json']);
    }
  });
});
