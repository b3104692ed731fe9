#!/usr/bin/env node
// driver swarm against driver ssh on the same three hosts, side by side: the same app (the shop's
// api, 2 replicas behind the gateway on :8080 of every host) rolled to a new version under keep-alive
// load on every host's gateway (2 connections each). Prints per driver the rollout's wall time,
// requests, failed requests and p99 against the steady state, and the ratios swarm / ssh.
// Needs the e2e harness (root on Linux) and takes the bare hosts for itself:
//   flock /work/e2e.lock node bench/swarm.mjs [rounds]
// It starts three fresh bare hosts and forms a swarm of them with the harness (`bare up 3`,
// `bare swarm`); the ssh driver runs on the same hosts once the swarm's stack is removed.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, percentile } from './lib/load.mjs';
import { run } from './lib/run.mjs';

const rounds = Number(process.argv[2] ?? 2);
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin/stagecraft.js');
const harnessCli = join(root, 'test/harness/cli.mjs');

async function must(command, args, options = {}) {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr}`);
  return result;
}

const harness = JSON.parse((await must(process.execPath, [harnessCli, 'env'])).stdout);
const bare = JSON.parse(
  (await must(process.execPath, [harnessCli, 'bare', 'up', '3'])).stdout.trim().split('\n').at(-1),
);
await must(process.execPath, [harnessCli, 'bare', 'swarm']);
const manager = bare.hosts[0];
const onManager = (args) => must('docker', ['-H', manager.docker_host, ...args]);

const dir = mkdtempSync(join(tmpdir(), 'stagecraft-bench-swarm-'));
mkdirSync(join(dir, 'api'));
cpSync(join(root, 'examples/shop/api'), join(dir, 'api'), {
  recursive: true,
  filter: (path) => !path.includes('node_modules'),
});
writeFileSync(
  join(dir, 'docker-compose.yml'),
  `services:
  api:
    build:
      context: ./api
      args:
        NODE_IMAGE: \${NODE_IMAGE:-node:20-alpine}
    environment:
      APP_VERSION: \${STAGECRAFT_VERSION:-dev}
    init: true
    stop_grace_period: 10s
`,
);
const hosts = bare.hosts.map((host) => `{ name: ${host.name}, address: ${host.address} }`).join(', ');
const ssh = `    ssh: { user: root, identity_file: ${bare.identity_file}, known_hosts_file: ${bare.known_hosts} }
    hosts:
      web: [${hosts}]
    rollout: { health_timeout: 90s }
`;
writeFileSync(
  join(dir, 'stagecraft.yml'),
  `project:
  name: benchswarm
  registry: 127.0.0.1:5000/bench-swarm
services:
  api: { role: web, port: 3000, domains: ["*"], replicas: 2 }
ingress:
  image: 127.0.0.1:5000/stagecraft-test/caddy:2
  http_port: 8080
environments:
  swarm:
    driver: swarm
    manager: ${manager.name}
${ssh}  ssh:
    driver: ssh
${ssh}`,
);
const env = {
  ...process.env,
  NO_COLOR: '1',
  DOCKER_HOST: harness.build_docker_host,
  NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20',
  STAGECRAFT_STATE_FILE: join(dir, 'releases.json'),
};
const stagecraft = (args) => must(process.execPath, [cli, ...args], { cwd: dir, env });

/** Load on every host's gateway while `during` runs; the load's summary. */
async function underLoad(during) {
  const controller = { stop: false };
  const loads = bare.hosts.map((host) =>
    load({
      host: host.address,
      port: 8080,
      path: '/api/status',
      hostHeader: 'bench.localhost',
      connections: 2,
      durationMs: 400_000,
      stopWhen: () => controller.stop,
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const started = performance.now();
  await during();
  const ms = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  controller.stop = true;
  const results = await Promise.all(loads);
  const latencies = results.flatMap((result) => result.latenciesMs);
  return {
    ms,
    requests: results.reduce((sum, result) => sum + result.requests, 0),
    failed: results.reduce((sum, result) => sum + result.failures, 0),
    samples: results.flatMap((result) => result.failureSamples).slice(0, 3),
    p99: percentile(latencies, 99),
  };
}

const idle = () => new Promise((resolve) => setTimeout(resolve, 4000));
const results = { swarm: [], ssh: [] };
try {
  for (const driver of ['swarm', 'ssh']) {
    await stagecraft(['deploy', '-e', driver, '--version', `${driver}-0`]);
    for (let round = 1; round <= rounds; round++) {
      const steady = await underLoad(idle);
      const rollout = await underLoad(() =>
        stagecraft(['deploy', '-e', driver, '--version', `${driver}-${round}`]),
      );
      results[driver].push({ steady, rollout });
      console.log(
        `${driver} round ${round}: rollout ${(rollout.ms / 1000).toFixed(1)} s, ${rollout.requests} requests, ${rollout.failed} failed${rollout.samples.length > 0 ? ` (${rollout.samples.join('; ')})` : ''}, p99 ${rollout.p99.toFixed(1)} ms (steady ${steady.p99.toFixed(1)} ms) · load ${loadavg()[0].toFixed(1)}`,
      );
    }
    // The swarm's stack leaves the hosts' port 8080 to the ssh driver's gateway.
    if (driver === 'swarm') {
      await onManager(['stack', 'rm', 'benchswarm-swarm']);
      for (let i = 0; i < 60; i++) {
        const left = (
          await onManager([
            'network',
            'ls',
            '--quiet',
            '--filter',
            'label=com.docker.stack.namespace=benchswarm-swarm',
          ])
        ).stdout.trim();
        if (left === '') break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await run(process.execPath, [harnessCli, 'bare', 'down']);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const summary = (driver) => ({
  rolloutS: median(results[driver].map((r) => r.rollout.ms)) / 1000,
  failed: results[driver].reduce((sum, r) => sum + r.rollout.failed, 0),
  requests: results[driver].reduce((sum, r) => sum + r.rollout.requests, 0),
  p99: median(results[driver].map((r) => r.rollout.p99)),
  steadyP99: median(results[driver].map((r) => r.steady.p99)),
});
const swarm = summary('swarm');
const sshDriver = summary('ssh');
console.log(
  '\n| driver | rollout (median) | failed / requests | p99 during rollout | p99 steady | p99 ratio rollout/steady |',
);
console.log('|---|---|---|---|---|---|');
for (const [name, s] of [
  ['swarm', swarm],
  ['ssh', sshDriver],
]) {
  console.log(
    `| ${name} | ${s.rolloutS.toFixed(1)} s | ${s.failed} / ${s.requests} | ${s.p99.toFixed(1)} ms | ${s.steadyP99.toFixed(1)} ms | ${(s.p99 / s.steadyP99).toFixed(2)}× |`,
  );
}
console.log(
  `\nswarm / ssh: rollout time ${(swarm.rolloutS / sshDriver.rolloutS).toFixed(2)}×, p99 during rollout ${(swarm.p99 / sshDriver.p99).toFixed(2)}×`,
);
