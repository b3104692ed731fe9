#!/usr/bin/env node
// `npm run demo`: Stagecraft's main job on the bundled example. Builds the CLI, finds a Docker engine
// (or, as root on Debian/Ubuntu without one, starts the test harness's engine and registry), deploys
// examples/shop with `driver: local`, deploys a second version under load with zero downtime, and
// prints the URL and the release history.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { load } from '../bench/lib/load.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const example = fileURLToPath(new URL('../examples/shop', import.meta.url));
const cli = fileURLToPath(new URL('../bin/stagecraft.js', import.meta.url));
// Bold headings only on a terminal that wants colour (https://no-color.org).
const bold = process.stderr.isTTY === true && !process.env.NO_COLOR;
const say = (text) => process.stderr.write(bold ? `\n\u001b[1m== ${text}\u001b[0m\n` : `\n== ${text}\n`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    stdio: options.capture ? 'pipe' : 'inherit',
    encoding: 'utf8',
    ...options,
  });
  if (result.error && options.allowFailure !== true) throw result.error;
  return result;
}

function dockerWorks(env) {
  return (
    run('docker', ['info', '--format', '{{.ServerVersion}}'], { capture: true, env, allowFailure: true })
      .status === 0
  );
}

/** The environment for the deploy: a reachable engine, and image names that exist for it. */
function engineEnvironment() {
  const env = { ...process.env };
  if (dockerWorks(env)) {
    say('using the Docker engine at ' + (env.DOCKER_HOST ?? 'the default socket'));
    return {
      env,
      host: env.DOCKER_HOST?.startsWith('tcp://') ? new URL(env.DOCKER_HOST).hostname : 'localhost',
    };
  }
  const isRoot = process.getuid?.() === 0;
  if (process.platform !== 'linux' || !isRoot) {
    console.error(
      'No Docker engine is reachable. Install Docker Engine with the compose v2 plugin (https://docs.docker.com/engine/install/),\n' +
        'start it, and run `npm run demo` again. On a Debian machine as root, the demo can start one for you.',
    );
    process.exit(1);
  }
  const harnessCli = fileURLToPath(new URL('../test/harness/cli.mjs', import.meta.url));
  let harness = run(process.execPath, [harnessCli, 'env'], { capture: true, allowFailure: true });
  if (harness.status !== 0) {
    say('no Docker engine running: starting one (and a local registry) the way the test harness does');
    harness = run(process.execPath, [harnessCli, 'up'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    if (harness.status !== 0) process.exit(harness.status ?? 1);
  } else {
    say('using the Docker engine of the running test harness');
  }
  const facts = JSON.parse(harness.stdout);
  // This machine has no access to Docker Hub: use the harness's offline images.
  return {
    env: {
      ...env,
      DOCKER_HOST: facts.build_docker_host,
      NODE_IMAGE: `${facts.registry}/stagecraft-test/node:20`,
      POSTGRES_IMAGE: `${facts.registry}/stagecraft-test/postgres:15`,
      INGRESS_IMAGE: `${facts.registry}/stagecraft-test/caddy:2`,
    },
    host: '10.231.0.10',
  };
}

say('building Stagecraft');
if (run('npm', ['run', '-s', 'build'], { cwd: root }).status !== 0) process.exit(1);

const { env, host } = engineEnvironment();
const stagecraft = (args, extra = {}) =>
  run(process.execPath, [cli, ...args], { cwd: example, env: { ...env, ...extra } });

say('stagecraft plan -e local --version demo-1');
stagecraft(['plan', '-e', 'local', '--version', 'demo-1']);

say('stagecraft deploy -e local --version demo-1');
if (stagecraft(['deploy', '-e', 'local', '--version', 'demo-1']).status !== 0) process.exit(2);

say('stagecraft deploy -e local --version demo-2, with 8 clients sending requests the whole time');
const traffic = { stop: false };
const measured = load({
  host: host === 'localhost' ? '127.0.0.1' : host,
  port: 8080,
  path: '/version',
  hostHeader: 'shop.localhost',
  connections: 8,
  // Until the deploy has ended (stopWhen); the bound only ends a loop whose deploy hangs.
  durationMs: 900_000,
  maxRequests: 10_000_000,
  stopWhen: () => traffic.stop,
});
const loadStarted = performance.now();
const loadEnded = measured.then(() => performance.now());
// Not spawnSync: the load loop runs in this process and must keep running during the deploy.
const second = await new Promise((resolve) => {
  setTimeout(() => {
    const child = spawn(process.execPath, [cli, 'deploy', '-e', 'local', '--version', 'demo-2'], {
      cwd: example,
      env,
      stdio: 'inherit',
    });
    child.on('close', (status) => resolve({ status, endedMs: performance.now() }));
  }, 1000);
});
await new Promise((resolve) => setTimeout(resolve, 1000));
traffic.stop = true;
const result = await measured;
const loadEndedMs = await loadEnded;
if (second.status !== 0) process.exit(2);
if (loadEndedMs < second.endedMs) {
  console.error('The load stopped before the deploy ended: the result does not cover the whole rollout.');
  process.exit(2);
}

say('stagecraft releases list -e local');
stagecraft(['releases', 'list', '-e', 'local']);

// What the demo set for itself (the harness's engine and offline images), for the commands it prints.
const set = (names) =>
  names
    .filter((name) => env[name] !== process.env[name])
    .map((name) => `${name}=${env[name]} `)
    .join('');
const command = `${set(['DOCKER_HOST', 'NODE_IMAGE', 'POSTGRES_IMAGE', 'INGRESS_IMAGE'])}node ../../bin/stagecraft.js`;
const rollbackCommand = `${command} rollback -e local --to-previous`;
const stopCommand = `${command} remove -e local --yes`;
const versions = Object.entries(result.bodies)
  .map(([version, count]) => `${count} from ${version}`)
  .join(', ');
console.log(`
During the second deploy (load for ${((loadEndedMs - loadStarted) / 1000).toFixed(0)} s, from before it started until after it ended): ${result.requests} requests, ${result.failures} failed (${versions}).

The shop is running:
  http://${host}:8080/                                  the frontend (any host name)
  curl -H 'Host: api.shop.localhost' http://${host}:8080/api/status   the API
Try: cd examples/shop && ${rollbackCommand}
Stop it: cd examples/shop && ${stopCommand}`);
process.exit(result.failures === 0 ? 0 : 2);
