#!/usr/bin/env node
// Plan time at scale, side by side: `node bench/plan.mjs [runs] [hosts] [services]` (default 15, 50, 30).
// Generates a project of `hosts` ssh hosts × `services` compose services (bench/lib/plan-fixture.mjs),
// then times, interleaved with `node -e 0`:
//   - `stagecraft plan` as a subprocess (the built CLI: run `npm run build` first);
//   - the same pipeline in this process (src/ bundled on the fly): the first run (cold: modules
//     compiled) and the median of the warm runs, with planToText alone.
// Both include the real `docker compose config` calls (the project's read, the rendered files' checks).
// Compose's own share is shown apart: `docker compose config` on the project alone, and the CLI's plan
// with `docker` replaced by bench/lib/compose-stub.mjs (the project read replayed, the checks skipped).
// With BENCH_BEFORE=<another checkout's bin/stagecraft.js> (built), its plan runs are interleaved too.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { writeComposeStub } from './lib/compose-stub.mjs';
import { writePlanFixture } from './lib/plan-fixture.mjs';

const runs = Number(process.argv[2] ?? 15);
const hosts = Number(process.argv[3] ?? 50);
const services = Number(process.argv[4] ?? 30);
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin/stagecraft.js');
const config = writePlanFixture({ hosts, services });

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const stub = writeComposeStub();
const stubEnv = {
  ...process.env,
  PATH: `${stub}:${process.env.PATH}`,
  DOCKER_CONFIG: join(stub, 'docker-config'),
};

function timed(args, options = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(options.file ?? process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    ...(options.env ? { env: options.env } : {}),
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

// The CLI, interleaved with bare Node.
const planArgs = [cli, '-c', config, '-e', 'production', 'plan', '--version', 'bench1', '--skip-migrations'];
const before = process.env.BENCH_BEFORE;
const bare = [];
const viaCli = [];
const viaBefore = [];
const stubbed = [];
const stubbedBefore = [];
const composeAlone = [];
const composeArgs = [
  'compose',
  '-f',
  join(dirname(config), 'docker-compose.yml'),
  'config',
  '--format',
  'json',
];
let steps = '';
for (let i = 0; i < runs + 2; i++) {
  const b = timed(['-e', '0']);
  const o = before ? timed([before, ...planArgs.slice(1)]) : undefined;
  const p = timed(planArgs);
  const c = timed(composeArgs, { file: 'docker' });
  const s = timed(planArgs, { env: stubEnv });
  const so = before ? timed([before, ...planArgs.slice(1)], { env: stubEnv }) : undefined;
  if (i >= 2) {
    bare.push(b.ms);
    viaCli.push(p.ms);
    if (o) viaBefore.push(o.ms);
    composeAlone.push(c.ms);
    stubbed.push(s.ms);
    if (so) stubbedBefore.push(so.ms);
  }
  steps = /(\d+) steps\./.exec(p.stdout)?.[1] ?? '?';
}

// In process: bundle bench/lib/plan-inprocess.ts (and src/) next to node_modules (so the packages
// resolve), import it, plan. A folder of its own: checkouts may share one node_modules.
mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
const outdir = mkdtempSync(join(root, 'node_modules', '.cache', 'stagecraft-bench-'));
await build({
  entryPoints: [join(root, 'bench/lib/plan-inprocess.ts')],
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});
const { planOnce } = await import(pathToFileURL(join(outdir, 'plan-inprocess.mjs')).href);
rmSync(outdir, { recursive: true, force: true });
rmSync(stub, { recursive: true, force: true });
const cold = await planOnce(config, 'production');
const warm = [];
for (let i = 0; i < runs; i++) warm.push(await planOnce(config, 'production'));

const base = median(bare);
const line = (name, ms) =>
  `${name.padEnd(34)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / base).toFixed(2).padStart(5)}x node -e 0`;
console.log(
  `plan at ${hosts} hosts x ${services} services (${steps} steps); runs: ${runs}, medians, interleaved with node -e 0; Node ${process.version}, load average ${loadavg()
    .map((load) => load.toFixed(1))
    .join(' ')}`,
);
console.log(line('node -e 0 (baseline)', base));
if (before) console.log(line('before: plan (CLI)', median(viaBefore)));
console.log(line('stagecraft plan (CLI)', median(viaCli)));
console.log(line('docker compose config, alone', median(composeAlone)));
if (before) console.log(line('before: plan, compose stubbed', median(stubbedBefore)));
console.log(line('stagecraft plan, compose stubbed', median(stubbed)));
console.log(line('in process, first run (cold)', cold.totalMs));
console.log(line('in process, warm', median(warm.map((run) => run.totalMs))));
console.log(line('  of which planToText (warm)', median(warm.map((run) => run.renderMs))));
