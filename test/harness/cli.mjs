#!/usr/bin/env node
// The e2e harness entry point: `npm run harness -- <up|env|down> [--hosts N] [--purge]`.
// Plain Node (no build step, builtins only). The work is done by the bash scripts next to this file.
// stdout carries exactly one JSON object (for `up` and `env`); every log line goes to stderr.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const RUN_DIR = '/run/stagecraft-harness';
const ENV_FILE = join(RUN_DIR, 'env.json');
const LOCK_FILE = '/run/stagecraft-harness.lock';
const DEFAULT_HOSTS = 3;

const USAGE = `usage: npm run harness -- <command> [options]

  up [--hosts N]   install what is missing, start the registry, the build engine and hosts h1..hN
                   (default ${DEFAULT_HOSTS}), build the base images; prints the harness JSON
  env              print the harness JSON of the running harness (exit 1 if it is not running)
  down [--purge]   stop everything the harness started; --purge also removes its state
                   (keys, registry data, image cache)
  bare up [N]      optional bare hosts bare1..bareN (default 1) for \`setup\` tests: Debian 13 with sshd
                   and no Docker, apt from a package source on this machine; needs \`up\` first;
                   prints their JSON (also in /run/stagecraft-harness/bare.json)
  bare swarm       install Docker on the bare hosts and form a Docker Swarm (bare1 the manager, the
                   others workers) without Stagecraft, for trying things by hand (the swarm e2e forms it
                   with \`stagecraft setup\`); needs \`bare up\` first; prints their JSON
  bare down        stop the bare hosts (down stops them too)`;

const NOT_ROOT =
  'the e2e harness needs root on Linux (network namespaces, dockerd); run the unit tests with `npm run test:unit`';

function fail(message) {
  process.stderr.write(`harness: ${message}\n`);
  process.exit(1);
}

function log(message) {
  process.stderr.write(`[harness] ${message}\n`);
}

function requireRoot() {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) fail(NOT_ROOT);
}

/** Runs one of the harness scripts; its output goes to stderr. Returns the exit status. */
function script(name, args = [], { quiet = false } = {}) {
  const result = spawnSync('bash', [join(HERE, name), ...args], {
    stdio: ['ignore', quiet ? 'ignore' : 2, quiet ? 'ignore' : 2],
    env: { ...process.env, SC_NODE_BIN: process.execPath },
  });
  if (result.error) fail(`cannot run ${name}: ${result.error.message}`);
  return result.status ?? 1;
}

function mustRun(name, args = []) {
  const started = Date.now();
  const status = script(name, args);
  if (status !== 0) fail(`${name} failed (exit ${status}); see the messages above`);
  log(`${name} ${args.join(' ')}`.trim() + ` done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function readEnv() {
  return JSON.parse(readFileSync(ENV_FILE, 'utf8'));
}

/** Re-runs this command under an exclusive lock, so two `up`/`down` never interleave. */
function withLock(argv) {
  if (process.env.STAGECRAFT_HARNESS_LOCKED === '1') return false;
  const result = spawnSync(
    'flock',
    [
      '-w',
      argv[0] === 'bare' ? '1500' : '600',
      LOCK_FILE,
      process.execPath,
      fileURLToPath(import.meta.url),
      ...argv,
    ],
    {
      stdio: 'inherit',
      env: { ...process.env, STAGECRAFT_HARNESS_LOCKED: '1' },
    },
  );
  if (result.error) fail(`cannot take the harness lock with flock: ${result.error.message}`);
  process.exit(result.status ?? 1);
}

function parseHosts(args) {
  const i = args.indexOf('--hosts');
  if (i === -1) return DEFAULT_HOSTS;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 50) fail('--hosts takes a whole number from 1 to 50');
  return n;
}

function up(args) {
  const hosts = parseHosts(args);
  requireRoot();
  withLock(['up', ...args]);
  const started = Date.now();
  mustRun('install.sh');
  let reuse = false;
  if (script('status.sh', [], { quiet: true }) === 0) {
    const current = readEnv().hosts.length;
    if (current === hosts) reuse = true;
    else log(`running with ${current} hosts; restarting with ${hosts}`);
  }
  if (reuse) {
    log('already running; reusing it');
  } else {
    mustRun('down.sh'); // clears what a killed run left behind
    mustRun('up.sh', [String(hosts)]);
  }
  mustRun('images.sh');
  process.env.DOCKER_HOST = readEnv().build_docker_host;
  mustRun('postgres-image.sh'); // PostgreSQL from this machine's Debian binaries, for deploy and migration tests
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(`${JSON.stringify(readEnv())}\n`);
}

function env() {
  if (process.platform !== 'linux') fail(NOT_ROOT);
  const result = spawnSync('bash', [join(HERE, 'status.sh')], { encoding: 'utf8' });
  if (result.status !== 0) {
    let why = (result.stderr || '').trim() || 'unknown reason';
    if (process.getuid?.() !== 0) why += '; checking it needs root';
    fail(`the e2e harness is not running (${why}); start it with \`sudo npm run harness -- up\``);
  }
  process.stdout.write(`${JSON.stringify(readEnv())}\n`);
}

function down(args) {
  const purge = args.includes('--purge');
  requireRoot();
  withLock(['down', ...args]);
  mustRun('down.sh', purge ? ['--purge'] : []);
}

function bare(args) {
  const [verb, count] = args;
  requireRoot();
  if (verb !== 'up' && verb !== 'down' && verb !== 'swarm')
    fail('usage: harness bare up [N] | bare swarm | bare down');
  withLock(['bare', ...args]);
  if (verb === 'down') return mustRun('bare.sh', ['down']);
  const started = Date.now();
  const result = spawnSync('bash', [join(HERE, 'bare.sh'), verb, ...(verb === 'up' ? [count ?? '1'] : [])], {
    stdio: ['ignore', 'pipe', 2],
    env: { ...process.env, SC_NODE_BIN: process.execPath },
    encoding: 'utf8',
  });
  if (result.status !== 0) fail(`bare.sh ${verb} failed (exit ${result.status}); see the messages above`);
  log(`bare ${verb === 'up' ? 'hosts' : 'swarm'} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(result.stdout);
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'up':
    up(rest);
    break;
  case 'env':
    env();
    break;
  case 'down':
    down(rest);
    break;
  case 'bare':
    bare(rest);
    break;
  case undefined:
  case '-h':
  case '--help':
    process.stdout.write(`${USAGE}\n`);
    break;
  default:
    process.stderr.write(`${USAGE}\n`);
    fail(`unknown command: ${command}`);
}
