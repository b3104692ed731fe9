#!/usr/bin/env node
// Rollout speed and its cost to traffic, side by side, on the e2e harness (root on Linux; hold the
// harness: `flock /work/e2e.lock node bench/deploy.mjs [rounds]`). Every timed rollout runs under
// keep-alive load through the gateway (8 connections), and prints the requests that failed and p99
// latency against steady state. Images are built and pushed before anything is timed.
//
// 1. Per service, on h1 (app "solo": the shop's web alone, whose image has a 1 s health check):
//    Stagecraft's rollout step (`deploy --json`, duration of rollout:h1:web) against docker-rollout
//    replacing the same service on the same host (timed on the host). With DOCKER_ROLLOUT=<path to
//    wowu/docker-rollout's script> that script runs (copied to the host for the run, with a compose
//    override that puts new containers on the gateway's network under the route's alias, as
//    docker-rollout expects of a proxy); bench/docker-rollout-algorithm.sh (its algorithm as a plain
//    script) runs in every case.
// 2. Ten services on one host (app "ten": web and nine copies, each routed) against one ("solo"):
//    whole `stagecraft deploy` times, each under load; beside them docker-rollout's algorithm for the
//    ten services side by side against one (the host's own cost of ten at once).
// 3. 3 hosts against 1 host (the shop: api, web, db), each deploy against a hand-written baseline
//    (bench/baseline-deploy.sh: the same docker commands over one multiplexed ssh connection per host).
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, percentile } from './lib/load.mjs';
import { run } from './lib/run.mjs';

const rounds = Number(process.argv[2] ?? 3);
const root = fileURLToPath(new URL('..', import.meta.url));
/** The shared gateway's network on the bench hosts (the projects' ingress is on port 8080). */
const GATEWAY_NETWORK = 'stagecraft-gateway-8080-443';
const cli = join(root, 'bin/stagecraft.js');
const dockerRollout = process.env.DOCKER_ROLLOUT;
/** BENCH_PARTS=2,3 runs only those parts (part 2 then compares with the 1-service app deployed alone). */
const parts = (process.env.BENCH_PARTS ?? '1,2,3').split(',').map(Number);
/**
 * BENCH_BEFORE=<another checkout's bin/stagecraft.js> (built): in parts 2 and 3 each round also deploys
 * with that build (interleaved with this one, same hosts and load), so before and after are compared
 * in one run.
 */
const before = process.env.BENCH_BEFORE;
const loadAverage = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join(', ');

const harness = JSON.parse((await run(process.execPath, [join(root, 'test/harness/cli.mjs'), 'env'])).stdout);
const address = (name) => harness.hosts.find((host) => host.name === name).address;
const ssh = (host, script, input) =>
  run('ssh', ['-F', harness.ssh_config, host, script], input === undefined ? {} : { input });

const env = {
  ...process.env,
  NO_COLOR: '1',
  DOCKER_HOST: harness.build_docker_host,
  NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20',
  POSTGRES_IMAGE: '127.0.0.1:5000/stagecraft-test/postgres:15',
};

async function stagecraft(dir, args, bin = cli) {
  const result = await run(process.execPath, [bin, ...args], {
    cwd: dir,
    env: { ...env, STAGECRAFT_STATE_FILE: join(dir, 'releases.json') },
  });
  if (result.code !== 0) throw new Error(`stagecraft ${args.join(' ')} failed:\n${result.stderr}`);
  return result;
}

/** Milliseconds of a step in `deploy --json` output. */
function stepMs(stdout, id) {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line);
    if (event.event === 'step-done' && event.step === id) return event.duration_ms;
  }
  throw new Error(`no step ${id} in the deploy's events`);
}

/** Runs `during` under load on `host`'s gateway; returns its value and the load's summary. */
async function underLoad(host, during) {
  let done = false;
  const loading = load({
    host: address(host),
    port: 8080,
    path: '/version',
    hostHeader: 'shop.localhost',
    connections: 8,
    durationMs: 60_000,
    stopWhen: () => done,
  });
  let value;
  try {
    value = await during();
  } finally {
    done = true;
  }
  return { value, load: summary(await loading) };
}

const summary = (outcome) => ({
  requests: outcome.requests,
  failed: outcome.failures,
  samples: outcome.failureSamples,
  p99: percentile(outcome.latenciesMs, 99),
});

async function steady(host) {
  return summary(
    await load({
      host: address(host),
      port: 8080,
      path: '/version',
      hostHeader: 'shop.localhost',
      connections: 8,
      durationMs: 5000,
    }),
  );
}

async function cleanHosts() {
  await Promise.all(
    harness.hosts.map((host) =>
      ssh(
        host.name,
        'docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker volume rm $(docker volume ls -q) >/dev/null 2>&1; docker network prune -f >/dev/null 2>&1; rm -rf ~/.stagecraft; true',
      ),
    ),
  );
}

/**
 * The upstream alias Stagecraft gave `service` of compose project `project` on the gateway network of
 * `host`, read from one of its running containers (`live-…`). Throws when none has one.
 */
async function upstreamAliasOn(host, project, service) {
  const result = await ssh(
    host,
    `docker inspect --format '{{range $name, $net := .NetworkSettings.Networks}}{{if eq $name "${GATEWAY_NETWORK}"}}{{range $net.Aliases}}{{println .}}{{end}}{{end}}{{end}}' $(docker ps -q --filter label=com.docker.compose.project=${project} --filter label=com.docker.compose.service=${service} | head -1)`,
  );
  const alias = result.stdout.split('\n').find((line) => line.startsWith('live-'));
  if (alias === undefined)
    throw new Error(`no upstream alias for ${project}/${service} on ${host}: ${result.stderr}`);
  return alias;
}

const sshBlock = `    ssh: { user: root, identity_file: ${harness.identity_file}, known_hosts_file: ${harness.known_hosts} }`;

/** A project folder: the shop's api/web/migrations, `compose` as its compose file, `config` as stagecraft.yml. */
function project(name, compose, config) {
  const dir = mkdtempSync(join(tmpdir(), `stagecraft-bench-${name}-`));
  cpSync(join(root, 'examples/shop'), dir, {
    recursive: true,
    filter: (path) => !path.includes('node_modules'),
  });
  if (compose !== undefined) writeFileSync(join(dir, 'docker-compose.yml'), compose);
  writeFileSync(join(dir, 'stagecraft.yml'), config);
  return dir;
}

/** An app of `count` routed copies of the shop's web on h1: `web` is built, the others run its image. */
function webApp(name, count) {
  const copies = Array.from({ length: count - 1 }, (_, i) => `w${i + 2}`);
  const service = (image) => `    ${image}
    environment: { APP_VERSION: "\${STAGECRAFT_VERSION:-dev}" }
    init: true
    stop_grace_period: 10s`;
  const compose = `name: ${name}
services:
  web:
${service(`build: { context: ./web, args: { NODE_IMAGE: "\${NODE_IMAGE:-node:20-alpine}" } }`)}
${copies.map((copy) => `  ${copy}:\n${service(`image: 127.0.0.1:5000/bench/${name}-web:\${STAGECRAFT_VERSION:-dev}`)}`).join('\n')}
`;
  const config = `project: { name: ${name}, registry: 127.0.0.1:5000/bench }
services:
  web: { port: 8080, domains: [shop.localhost, "*"] }
${copies.map((copy) => `  ${copy}: { port: 8080, domains: [${copy}.shop.localhost] }`).join('\n')}
ingress: { image: 127.0.0.1:5000/stagecraft-test/caddy:2, http_port: 8080 }
environments:
  bench:
    driver: ssh
${sshBlock}
    hosts:
      web: [{ name: h1, address: ${address('h1')} }]
    rollout: { health_timeout: 60s }
`;
  return project(name, compose, config);
}

function shopApp(name, roles) {
  const hosts = Object.entries(roles)
    .map(
      ([role, names]) =>
        `      ${role}:\n${names.map((host) => `        - { name: ${host}, address: ${address(host)} }`).join('\n')}`,
    )
    .join('\n');
  return project(
    name,
    undefined,
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
${sshBlock}
    hosts:
${hosts}
    rollout: { parallel_hosts: 3, health_timeout: 60s }
`,
  );
}

async function prepare(dir, versions) {
  for (const version of versions)
    await stagecraft(dir, ['build', '--push', '-e', 'bench', '--version', version]);
  await stagecraft(dir, ['deploy', '-e', 'bench', '--version', versions[0]]);
}

const deployArgs = (version) => ['deploy', '-e', 'bench', '--version', version, '--skip-build', '--json'];
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const worst = (loads) => ({
  failed: loads.reduce((sum, one) => sum + one.failed, 0),
  requests: loads.reduce((sum, one) => sum + one.requests, 0),
  p99: median(loads.map((one) => one.p99)),
  samples: loads.flatMap((one) => one.samples).slice(0, 3),
});
const loadLine = (label, loads, base) => {
  const all = worst(loads);
  return `  ${label.padEnd(28)} ${String(all.requests).padStart(7)} requests, ${all.failed} failed, p99 ${all.p99.toFixed(1)} ms (${(all.p99 / base.p99).toFixed(2)}x steady)${all.samples.length > 0 ? ` e.g. ${all.samples.join('; ')}` : ''}`;
};

/**
 * Replaces `services` (one name or several, replaced side by side) of app `name` on h1 outside
 * Stagecraft, with `script` (docker-rollout, for one service, or its algorithm) run on the host against
 * a copy of the latest release's compose file at `version`. Returns the time the script took on the
 * host (ms).
 */
async function rolloutOutside(name, services, version, script, override) {
  const names = [services].flat();
  const projectName = `${name}-bench`;
  const base = `.stagecraft/${projectName}/releases`;
  const dir = `${base}/outside-${version}`;
  const aliases = await Promise.all(names.map((service) => upstreamAliasOn('h1', projectName, service)));
  const overrideYaml = `services:
${names
  .map(
    (service, i) => `  ${service}:
    networks:
      default: {}
      ingress: { aliases: [${aliases[i]}] }`,
  )
  .join('\n')}
networks:
  ingress: { external: true, name: ${GATEWAY_NETWORK} }
`;
  const setup = await ssh(
    'h1',
    `set -e; last=$(ls -1d ${base}/rel-* | sort | tail -1); mkdir -p ${dir}; cp -a $last/. ${dir}/; sed -i -E 's#(127.0.0.1:5000/bench/${name}-web):[^"@ ]*(@sha256:[0-9a-f]+)?#\\1:${version}#' ${dir}/compose.yml; cat > ${dir}/override.yml`,
    overrideYaml,
  );
  if (setup.code !== 0) throw new Error(`could not prepare ${dir}: ${setup.stderr}`);
  const files = override ? `-f compose.yml -f override.yml` : '-f compose.yml';
  if (script !== 'docker-rollout') {
    const copy = await ssh('h1', `cat > ${dir}/algorithm.sh`, readFileSync(script, 'utf8'));
    if (copy.code !== 0) throw new Error(`could not copy ${script} to h1: ${copy.stderr}`);
  }
  const one = (service) =>
    script === 'docker-rollout'
      ? `/tmp/docker-rollout rollout -p ${projectName} ${files} ${service}`
      : `bash algorithm.sh ${projectName} ${service} compose.yml ${override ? 'override.yml' : ''}`;
  // Side by side, each in the background; the script fails when any of them does.
  const command = `pids=; ${names.map((service) => `${one(service)} >/tmp/outside-${service}.log 2>&1 & pids="$pids $!"`).join('; ')}; for p in $pids; do wait $p || exit 1; done`;
  const timed = await ssh(
    'h1',
    `cd ${dir} && s=$(date +%s%N) && { ${command}; } && e=$(date +%s%N) && echo $(( (e - s) / 1000000 ))`,
  );
  if (timed.code !== 0) {
    const log = await ssh('h1', 'cat /tmp/outside-*.log');
    throw new Error(`${script} failed on h1:\n${timed.stderr}${log.stdout}`);
  }
  return Number(timed.stdout.trim().split('\n').at(-1));
}

const report = {};

// 1. Per service: Stagecraft against docker-rollout on the same host, under load.
if (parts.includes(1)) {
  await cleanHosts();
  const dir = webApp('solo', 1);
  const versions = Array.from({ length: rounds * 3 + 1 }, (_, i) => `s${i}`);
  await prepare(dir, versions);
  if (dockerRollout) {
    const copy = await ssh(
      'h1',
      'cat > /tmp/docker-rollout && chmod +x /tmp/docker-rollout',
      readFileSync(dockerRollout, 'utf8'),
    );
    if (copy.code !== 0) throw new Error(`could not copy docker-rollout to h1: ${copy.stderr}`);
  }
  const base = await steady('h1');
  const ours = [];
  const oursTotal = [];
  const theirs = [];
  const algorithm = [];
  const loads = { ours: [], theirs: [], algorithm: [] };
  for (let round = 0; round < rounds; round++) {
    const deployed = await underLoad('h1', () => stagecraft(dir, deployArgs(versions[round * 3 + 1])));
    ours.push(stepMs(deployed.value.stdout, 'rollout:h1:web'));
    oursTotal.push(deployed.value.ms);
    loads.ours.push(deployed.load);
    if (dockerRollout) {
      const outside = await underLoad('h1', () =>
        rolloutOutside('solo', 'web', versions[round * 3 + 2], 'docker-rollout', true),
      );
      theirs.push(outside.value);
      loads.theirs.push(outside.load);
    }
    const script = await underLoad('h1', () =>
      rolloutOutside(
        'solo',
        'web',
        versions[round * 3 + 3],
        join(root, 'bench/docker-rollout-algorithm.sh'),
        true,
      ),
    );
    algorithm.push(script.value);
    loads.algorithm.push(script.load);
  }
  report.solo = { total: median(oursTotal), rollout: median(ours), algorithm: median(algorithm) };
  console.log('1. per service on h1 (medians)');
  console.log(
    `  stagecraft rollout step     ${s(median(ours))}  (whole deploy ${s(median(oursTotal))}; rounds ${ours.map(s).join(', ')})`,
  );
  if (dockerRollout)
    console.log(
      `  docker-rollout              ${s(median(theirs))}  -> stagecraft / docker-rollout ${(median(ours) / median(theirs)).toFixed(2)}x (rounds ${theirs.map(s).join(', ')})`,
    );
  console.log(
    `  its algorithm as a script   ${s(median(algorithm))}  -> stagecraft / script ${(median(ours) / median(algorithm)).toFixed(2)}x (rounds ${algorithm.map(s).join(', ')})`,
  );
  console.log(
    `  steady state                ${String(base.requests).padStart(7)} requests, ${base.failed} failed, p99 ${base.p99.toFixed(1)} ms`,
  );
  console.log(loadLine('during stagecraft', loads.ours, base));
  if (dockerRollout) console.log(loadLine('during docker-rollout', loads.theirs, base));
  console.log(loadLine('during the script', loads.algorithm, base));
}

// 2. Ten services on one host against one, each under load, and the same for docker-rollout's
// algorithm (one script per service, side by side): what the host itself costs to start, check and
// stop ten services at once, the floor under any tool's ratio.
if (parts.includes(2)) {
  const algorithmScript = join(root, 'bench/docker-rollout-algorithm.sh');
  if (report.solo?.algorithm === undefined) {
    await cleanHosts();
    const dir = webApp('solo', 1);
    const versions = Array.from({ length: 3 * rounds + 1 }, (_, i) => `s${i}`);
    await prepare(dir, versions);
    const totals = [];
    const beforeTotals = [];
    const algorithm = [];
    for (let round = 0; round < rounds; round++) {
      totals.push(
        (await underLoad('h1', () => stagecraft(dir, deployArgs(versions[3 * round + 1])))).value.ms,
      );
      algorithm.push(
        (
          await underLoad('h1', () =>
            rolloutOutside('solo', 'web', versions[3 * round + 2], algorithmScript, true),
          )
        ).value,
      );
      if (before)
        beforeTotals.push(
          (await underLoad('h1', () => stagecraft(dir, deployArgs(versions[3 * round + 3]), before))).value
            .ms,
        );
    }
    report.solo = {
      total: median(totals),
      algorithm: median(algorithm),
      ...(before ? { before: median(beforeTotals) } : {}),
    };
  }
  await cleanHosts();
  const dir = webApp('ten', 10);
  const services = ['web', ...Array.from({ length: 9 }, (_, i) => `w${i + 2}`)];
  const versions = Array.from({ length: 3 * rounds + 1 }, (_, i) => `t${i}`);
  await prepare(dir, versions);
  const base = await steady('h1');
  const totals = [];
  const loads = [];
  const beforeTotals = [];
  const beforeLoads = [];
  const algorithm = [];
  const algorithmLoads = [];
  for (let round = 0; round < rounds; round++) {
    const deployed = await underLoad('h1', () => stagecraft(dir, deployArgs(versions[3 * round + 1])));
    totals.push(deployed.value.ms);
    loads.push(deployed.load);
    const outside = await underLoad('h1', () =>
      rolloutOutside('ten', services, versions[3 * round + 2], algorithmScript, true),
    );
    algorithm.push(outside.value);
    algorithmLoads.push(outside.load);
    if (before) {
      const old = await underLoad('h1', () => stagecraft(dir, deployArgs(versions[3 * round + 3]), before));
      beforeTotals.push(old.value.ms);
      beforeLoads.push(old.load);
    }
  }
  console.log('2. ten services on h1 against one (whole deploys, medians, all under load)');
  console.log(
    `  stagecraft:                10 services ${s(median(totals))}, 1 service ${s(report.solo.total)} -> ${(median(totals) / report.solo.total).toFixed(2)}x (rounds ${totals.map(s).join(', ')})`,
  );
  console.log(
    `  docker-rollout's algorithm: 10 services ${s(median(algorithm))}, 1 service ${s(report.solo.algorithm)} -> ${(median(algorithm) / report.solo.algorithm).toFixed(2)}x (rounds ${algorithm.map(s).join(', ')})`,
  );
  if (before)
    console.log(
      report.solo.before !== undefined
        ? `  before: 10 services ${s(median(beforeTotals))}, 1 service ${s(report.solo.before)} -> ${(median(beforeTotals) / report.solo.before).toFixed(2)}x (rounds ${beforeTotals.map(s).join(', ')})`
        : `  before: 10 services ${s(median(beforeTotals))} (rounds ${beforeTotals.map(s).join(', ')}; run part 2 alone for its 1-service time)`,
    );
  console.log(loadLine('during the 10-service deploys', loads, base));
  if (before) console.log(loadLine("during before's", beforeLoads, base));
  console.log(loadLine("during the algorithm's", algorithmLoads, base));
  console.log(`  load average now ${loadAverage()}`);
}

// 3. 3 hosts against 1 host (the shop), each against the hand-written baseline.
if (parts.includes(3)) {
  const results = {};
  const beforeResults = {};
  for (const [name, roles, webHosts] of [
    ['one', { web: ['h1'], db: ['h1'] }, ['h1']],
    ['three', { web: ['h1', 'h2'], db: ['h3'] }, ['h1', 'h2']],
  ]) {
    await cleanHosts();
    const dir = shopApp(name, roles);
    const each = before ? 3 : 2;
    const versions = Array.from({ length: rounds * each + 1 }, (_, i) => `b${i}`);
    await prepare(dir, versions);
    const base = await steady('h1');
    const ours = [];
    const theirs = [];
    const olds = [];
    const loads = [];
    for (let round = 0; round < rounds; round++) {
      const deployed = await underLoad('h1', () =>
        stagecraft(dir, [...deployArgs(versions[round * each + 1]), '--skip-migrations']),
      );
      ours.push(deployed.value.ms);
      loads.push(deployed.load);
      if (before) {
        const old = await underLoad('h1', () =>
          stagecraft(dir, [...deployArgs(versions[round * each + 3]), '--skip-migrations'], before),
        );
        olds.push(old.value.ms);
        loads.push(old.load);
      }
      const baseline = await run('bash', [
        join(root, 'bench/baseline-deploy.sh'),
        harness.ssh_config,
        `${name}-bench`,
        `127.0.0.1:5000/bench/${name}`,
        versions[round * each + 2],
        GATEWAY_NETWORK,
        await upstreamAliasOn(webHosts[0], `${name}-bench`, 'api'),
        await upstreamAliasOn(webHosts[0], `${name}-bench`, 'web'),
        ...webHosts,
      ]);
      if (baseline.code !== 0) throw new Error(`baseline failed:\n${baseline.stderr}`);
      theirs.push(baseline.ms);
    }
    results[name] = median(ours);
    console.log(
      `3. ${name === 'one' ? '1 host ' : '3 hosts'}: stagecraft ${s(median(ours))}, hand-written baseline ${s(median(theirs))}, ratio ${(median(ours) / median(theirs)).toFixed(2)}x (rounds ${ours.map(s).join(', ')} / ${theirs.map(s).join(', ')})`,
    );
    if (before) {
      beforeResults[name] = median(olds);
      console.log(
        `   before: ${s(median(olds))}, ratio to the baseline ${(median(olds) / median(theirs)).toFixed(2)}x (rounds ${olds.map(s).join(', ')})`,
      );
    }
    console.log(loadLine(`during stagecraft (${name})`, loads, base));
  }
  console.log(`   3 hosts / 1 host (stagecraft): ${(results.three / results.one).toFixed(2)}x`);
  if (before)
    console.log(`   3 hosts / 1 host (before):     ${(beforeResults.three / beforeResults.one).toFixed(2)}x`);
  console.log(`   load average now ${loadAverage()}`);
}
await cleanHosts();
