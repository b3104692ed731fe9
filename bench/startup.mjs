#!/usr/bin/env node
// CLI start-up against bare Node, side by side in one run: `node bench/startup.mjs [runs]`.
// Prints medians and the ratio for `--help` and `config` on the shop example, and for the zod and yaml
// chunks alone (what `config` cannot go below while it uses them). With
// BENCH_BEFORE=<another checkout's bin/stagecraft.js> (built), its runs are interleaved too ("before").
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const runs = Number(process.argv[2] ?? 30);
const cli = fileURLToPath(new URL('../bin/stagecraft.js', import.meta.url));
const example = fileURLToPath(new URL('../examples/shop/stagecraft.yml', import.meta.url));

const before = process.env.BENCH_BEFORE;
const commands = (bin, label) => [
  { name: `${label}--help`, args: [bin, '--help'] },
  { name: `${label}version`, args: [bin, 'version'] },
  { name: `${label}config`, args: [bin, '-c', example, 'config'] },
];
// The floor `config` stands on: the bundled zod and yaml chunks alone (the schema and YAML libraries
// the dependency rule has us keep), loaded without any of Stagecraft's code.
const chunks = fileURLToPath(new URL('../dist/chunks/', import.meta.url));
const chunkWith = (marker) =>
  readdirSync(chunks)
    .filter((name) => name.endsWith('.js'))
    .find((name) => readFileSync(join(chunks, name), 'utf8').includes(marker));
const libraries = [chunkWith('$ZodObject'), chunkWith('YAMLMap')].filter((name) => name !== undefined);
const cases = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'] },
  ...(libraries.length === 2
    ? [
        {
          name: 'zod + yaml chunks alone',
          args: [
            '--input-type=module',
            '-e',
            `await Promise.all(${JSON.stringify(libraries.map((name) => pathToFileURL(join(chunks, name)).href))}.map((url) => import(url)))`,
          ],
        },
      ]
    : []),
  ...(before ? commands(before, 'before: ') : []),
  ...commands(cli, 'stagecraft '),
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// NODE_EXTRA_CA_CERTS makes Node 20 read and parse its certificates at start-up (here 0.22 MB, ~80 ms,
// most of `node -e 0`): every ratio against a baseline that pays it looks better than it is. When it is
// set, the same runs go again without it, and both tables are printed.
const environments = [
  { label: `NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`, env: process.env },
  ...(process.env.NODE_EXTRA_CA_CERTS
    ? [
        {
          label: 'NODE_EXTRA_CA_CERTS unset for these runs',
          env: Object.fromEntries(
            Object.entries(process.env).filter(([name]) => name !== 'NODE_EXTRA_CA_CERTS'),
          ),
        },
      ]
    : []),
];

for (const { label, env } of environments) {
  const timings = new Map(cases.map((c) => [c.name, []]));
  for (let i = 0; i < runs + 3; i++) {
    for (const c of cases) {
      const start = process.hrtime.bigint();
      const result = spawnSync(process.execPath, c.args, { stdio: 'ignore', env });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.status !== 0) throw new Error(`${c.name} exited ${result.status}`);
      if (i >= 3) timings.get(c.name).push(ms);
    }
  }
  const baseline = median(timings.get(cases[0].name));
  console.log(
    `runs: ${runs} (interleaved), Node ${process.version}, ${label}, load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}`,
  );
  for (const c of cases) {
    const m = median(timings.get(c.name));
    console.log(
      `${c.name.padEnd(26)} median ${m.toFixed(1).padStart(6)} ms  ratio ${(m / baseline).toFixed(2)}x`,
    );
  }
}
