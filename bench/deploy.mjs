#!/usr/bin/env node
// Deploy overhead against a hand-written baseline, side by side, on the e2e harness (root on Linux):
//   node bench/deploy.mjs [rounds]
// For 1 host and for 2 web hosts (+1 db host), each round deploys a new version of api and web with
// `stagecraft deploy --skip-build --skip-migrations`, then the same change with bench/baseline-deploy.sh:
// the same docker commands over one multiplexed ssh connection per host (upload, pull, start-first
// scale-up, health wait, gateway alias, drain, stop, remove). Also: requests failed and p99 latency on a
// web host during a rollout, against steady state. Images are built and pushed before timing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, percentile } from './lib/load.mjs';

const rounds = Number(process.argv[2] ?? 3);
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin/stagecraft.js');
const baseline = join(root, 'bench/baseline-deploy.sh');
const harness = JSON.parse(
  execFileSync(process.execPath, [join(root, 'test/harness/cli.mjs'), 'env'], { encoding: 'utf8' }),
);
const address = (name) => harness.hosts.find((host) => host.name === name).address;

function project(name, roles) {
  const dir = mkdtempSync(join(tmpdir(), `stagecraft-bench-${name}-`));
  cpSync(join(root, 'examples/shop'), dir, {
    recursive: true,
    filter: (path) => !path.includes('node_modules'),
  });
  const hosts = Object.entries(roles)
    .map(
      ([role, names]) =>
        `      ${role}:\n${names.map((host) => `        - { name: ${host}, address: ${address(host)} }`).join('\n')}`,
    )
    .join('\n');
  writeFileSync(
    join(dir, 'stagecraft.yml'),
    `project: { name: ${name}, registry: 127.0.0.1:5000/bench }
services:
  api: { role: web, port: 3000, domains: [api.shop.localhost], secrets: [POSTGRES_PASSWORD] }
  web: { role: web, port: 8080, domains: [shop.localhost, "*"] }
  db: { role: db }
databases:
  main: { connection_env: DATABASE_URL, migrations: { engine: raw, path: ./migrations, service: db } }
secrets: { provider: envfile, keys: [POSTGRES_PASSWORD] }
ingress: { image: 127.0.0.1:5000/stagecraft-test/caddy:2, http_port: 8080 }
environments:
  bench:
    driver: ssh
    env_file: .env.production
    ssh: { user: root, identity_file: ${harness.identity_file}, known_hosts_file: ${harness.known_hosts} }
    hosts:
${hosts}
    rollout: { parallel_hosts: 3, health_timeout: 60s }
`,
  );
  return dir;
}

const env = {
  ...process.env,
  NO_COLOR: '1',
  DOCKER_HOST: harness.build_docker_host,
  NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20',
  POSTGRES_IMAGE: '127.0.0.1:5000/stagecraft-test/postgres:15',
};

function stagecraft(dir, args) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd: dir,
    env: { ...env, STAGECRAFT_STATE_FILE: join(dir, 'releases.json') },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`stagecraft ${args.join(' ')} failed:\n${result.stderr}`);
  return performance.now() - started;
}

function runBaseline(name, webHosts, version) {
  const started = performance.now();
  const result = spawnSync(
    'bash',
    [baseline, harness.ssh_config, `${name}-bench`, `127.0.0.1:5000/bench/${name}`, version, ...webHosts],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`baseline failed:\n${result.stderr}`);
  return performance.now() - started;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cleanHosts = () => {
  for (const host of harness.hosts) {
    spawnSync('ssh', [
      '-F',
      harness.ssh_config,
      host.name,
      'docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker volume rm $(docker volume ls -q) >/dev/null 2>&1; rm -rf ~/.stagecraft; true',
    ]);
  }
};

const report = [];
for (const [name, roles, webHosts] of [
  ['one', { web: ['h1'], db: ['h1'] }, ['h1']],
  ['three', { web: ['h1', 'h2'], db: ['h3'] }, ['h1', 'h2']],
]) {
  cleanHosts();
  const dir = project(name, roles);
  const versions = Array.from({ length: rounds * 2 + 1 }, (_, i) => `b${i}`);
  for (const version of versions) stagecraft(dir, ['build', '--push', '-e', 'bench', '--version', version]);
  stagecraft(dir, ['deploy', '-e', 'bench', '--version', versions[0]]);
  const ours = [];
  const theirs = [];
  for (let round = 0; round < rounds; round++) {
    ours.push(
      stagecraft(dir, [
        'deploy',
        '-e',
        'bench',
        '--version',
        versions[round * 2 + 1],
        '--skip-build',
        '--skip-migrations',
      ]),
    );
    theirs.push(runBaseline(name, webHosts, versions[round * 2 + 2]));
  }
  report.push({ hosts: name === 'one' ? 1 : 3, stagecraft: median(ours), baseline: median(theirs) });
  console.log(
    `${name === 'one' ? '1 host ' : '3 hosts'}: stagecraft median ${(median(ours) / 1000).toFixed(2)} s, baseline ${(median(theirs) / 1000).toFixed(2)} s, ratio ${(median(ours) / median(theirs)).toFixed(2)}x  (rounds: ${ours.map((ms) => (ms / 1000).toFixed(1)).join(', ')} / ${theirs.map((ms) => (ms / 1000).toFixed(1)).join(', ')})`,
  );

  if (name === 'three') {
    const steady = await load({
      host: address('h1'),
      port: 8080,
      path: '/version',
      hostHeader: 'shop.localhost',
      connections: 8,
      durationMs: 8000,
    });
    let done = false;
    const during = load({
      host: address('h1'),
      port: 8080,
      path: '/version',
      hostHeader: 'shop.localhost',
      connections: 8,
      durationMs: 60_000,
      stopWhen: () => done,
    });
    const child = spawn(
      process.execPath,
      [cli, 'deploy', '-e', 'bench', '--version', versions[1], '--skip-build', '--skip-migrations'],
      {
        cwd: dir,
        env: { ...env, STAGECRAFT_STATE_FILE: join(dir, 'releases.json') },
        stdio: 'ignore',
      },
    );
    await new Promise((resolve) => child.on('close', resolve));
    done = true;
    const rollout = await during;
    console.log(
      `steady state on h1: ${steady.requests} requests, ${steady.failures} failed, p99 ${percentile(steady.latenciesMs, 99).toFixed(1)} ms; ` +
        `during a rollout: ${rollout.requests} requests, ${rollout.failures} failed, p99 ${percentile(rollout.latenciesMs, 99).toFixed(1)} ms ` +
        `(${(percentile(rollout.latenciesMs, 99) / percentile(steady.latenciesMs, 99)).toFixed(2)}x)`,
    );
  }
}
const [one, three] = report;
console.log(`3 hosts / 1 host (stagecraft): ${(three.stagecraft / one.stagecraft).toFixed(2)}x`);
cleanHosts();
