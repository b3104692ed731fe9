#!/usr/bin/env node
// Start-up of Stagecraft as users install it, side by side in one interleaved run:
//   node bench/install-startup.mjs [runs]
// Packs the npm tarball and installs it into an empty prefix (run by the system Node), builds the
// one-file executable with and without the V8 code cache (Node 24 inside), and times `--help`,
// `version` and `config` (shop example) against bare `node -e 0` of both Node versions.
// Prints medians and ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 30);
const root = fileURLToPath(new URL('..', import.meta.url));
const example = join(root, 'examples/shop/stagecraft.yml');
const work = mkdtempSync(join(tmpdir(), 'stagecraft-bench-install-'));

const quiet = { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' };
// Pack from a copy of the sources (prepack builds it there): the checkout's dist/ stays as it is.
const source = join(work, 'source');
mkdirSync(source);
for (const entry of ['package.json', 'package-lock.json', 'README.md', 'bin', 'docs', 'scripts', 'src'])
  cpSync(join(root, entry), join(source, entry), { recursive: true });
symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'));
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: source, ...quiet }),
);
const prefix = join(work, 'prefix');
mkdirSync(prefix);
execFileSync(
  'npm',
  ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(work, packed[0].filename)],
  {
    cwd: work,
    stdio: 'ignore',
  },
);
const npmBin = join(prefix, 'bin/stagecraft');
const node24 = execFileSync(process.execPath, [join(root, 'scripts/node-runtime.mjs'), '24'], quiet).trim();
const seaBuild = (out, extra) =>
  execFileSync(process.execPath, [join(root, 'scripts/build-sea.mjs'), '--out', out, ...extra], {
    cwd: root,
    ...quiet,
  }).trim();
const sea = seaBuild(join(work, 'sea/stagecraft'), []);
const seaNoCache = seaBuild(join(work, 'sea-no-cache/stagecraft'), ['--no-code-cache']);

const cases = [
  { name: `node -e 0 (${process.version})`, file: process.execPath, args: ['-e', '0'] },
  {
    name: `node -e 0 (${execFileSync(node24, ['--version'], quiet).trim()})`,
    file: node24,
    args: ['-e', '0'],
  },
];
for (const [label, file] of [
  ['npm install', npmBin],
  ['sea', sea],
  ['sea, no code cache', seaNoCache],
]) {
  cases.push({ name: `${label}: --help`, file, args: ['--help'] });
  cases.push({ name: `${label}: version`, file, args: ['version'] });
  cases.push({ name: `${label}: config`, file, args: ['-c', example, 'config'] });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const timings = new Map(cases.map((c) => [c.name, []]));
for (let i = 0; i < runs + 3; i++) {
  for (const c of cases) {
    const start = process.hrtime.bigint();
    const result = spawnSync(c.file, c.args, { stdio: 'ignore', cwd: work });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) throw new Error(`${c.name} exited ${result.status}`);
    if (i >= 3) timings.get(c.name).push(ms);
  }
}
rmSync(work, { recursive: true, force: true });

const baseline = median(timings.get(cases[0].name));
console.log(
  `runs: ${runs} (interleaved), NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}; ratio against ${cases[0].name}`,
);
for (const c of cases) {
  const m = median(timings.get(c.name));
  console.log(
    `${c.name.padEnd(36)} median ${m.toFixed(1).padStart(6)} ms  ratio ${(m / baseline).toFixed(2)}x`,
  );
}
