#!/usr/bin/env node
// A `tailscale` CLI for the e2e harness hosts: the surface Stagecraft uses (`up` with --auth-key,
// --hostname, --advertise-tags, --login-server; `status --json` in ipnstate.Status's shape; `ip`;
// `logout`; `version`), backed by a fake control plane (test/support/fake-tailnet.ts) and a real
// userspace WireGuard interface (wireguard-go + wg) with an address in 100.64.0.0/10, so traffic between
// hosts really goes over the mesh. State lives in the host's private /run; the control plane's URL is
// read from /opt/stagecraft-fake-tailscale/control-url (written by the test). Never prints the key.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

const VERSION = '1.76.1';
const DIR = '/run/stagecraft-fake-tailscale';
const STATE = `${DIR}/state.json`;
const IFACE = 'tailscale0';
const PORT = 41641;
const CONTROL_FILE = '/opt/stagecraft-fake-tailscale/control-url';

function fail(message, code = 1) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function readState() {
  return existsSync(STATE) ? JSON.parse(readFileSync(STATE, 'utf8')) : undefined;
}

async function call(control, path, body) {
  const response = await fetch(`${control}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await response.json();
  return { status: response.status, json };
}

function flags(args) {
  const known = new Set(['auth-key', 'authkey', 'hostname', 'advertise-tags', 'login-server']);
  const out = {};
  for (const arg of args) {
    const match = /^--?([a-z-]+)=(.*)$/s.exec(arg);
    if (!match || !known.has(match[1])) fail(`flag provided but not defined: ${arg.split('=')[0]}`, 2);
    out[match[1] === 'authkey' ? 'auth-key' : match[1]] = match[2];
  }
  return out;
}

function sh(file, args, input) {
  return execFileSync(file, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
}

/** Adds the peers the control plane knows to the WireGuard interface (idempotent). */
async function syncPeers(state) {
  const { json } = await call(state.control, `/fake/peers?node=${state.nodeId}`);
  for (const peer of json.peers) {
    sh('wg', [
      'set',
      IFACE,
      'peer',
      peer.publicKey,
      'allowed-ips',
      `${peer.ip}/32`,
      'endpoint',
      peer.endpoint,
    ]);
  }
  // The sync loop rewrites this every 200 ms while `status` reads it: replace it whole, never half-written.
  writeFileSync(`${DIR}/peers.json.tmp`, JSON.stringify(json.peers));
  renameSync(`${DIR}/peers.json.tmp`, `${DIR}/peers.json`);
  return json.peers;
}

async function up(args) {
  const f = flags(args);
  const state = readState();
  if (state?.BackendState === 'Running') return;
  const control = f['login-server'] ?? readFileSync(CONTROL_FILE, 'utf8').trim();
  let key = f['auth-key'] ?? '';
  if (key.startsWith('file:')) key = readFileSync(key.slice(5), 'utf8').trim();
  if (key === '') fail('tailscale up: no auth key (interactive login is not available here)');
  mkdirSync(DIR, { recursive: true, mode: 0o700 });
  const privateKey = sh('wg', ['genkey']);
  const publicKey = sh('wg', ['pubkey'], `${privateKey}\n`);
  const eth0 = networkInterfaces().eth0?.find((a) => a.family === 'IPv4')?.address;
  const { status, json } = await call(control, '/fake/register', {
    authKey: key,
    hostname: f.hostname ?? sh('hostname', []),
    tags: (f['advertise-tags'] ?? '').split(',').filter(Boolean),
    publicKey,
    endpoint: `${eth0}:${PORT}`,
  });
  if (status !== 200) fail(`backend error: ${json.error}`);
  writeFileSync(`${DIR}/private.key`, `${privateKey}\n`, { mode: 0o600 });
  execFileSync('wireguard-go', [IFACE], {
    env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' },
    stdio: 'ignore',
  });
  sh('wg', ['set', IFACE, 'private-key', `${DIR}/private.key`, 'listen-port', String(PORT)]);
  sh('ip', ['address', 'add', `${json.ip}/10`, 'dev', IFACE]);
  sh('ip', ['link', 'set', IFACE, 'up']);
  const next = {
    BackendState: 'Running',
    control,
    nodeId: json.nodeId,
    hostname: json.hostname,
    domain: json.domain,
    tailnet: json.tailnet,
    ip: json.ip,
    tags: json.tags,
    publicKey,
  };
  writeFileSync(STATE, JSON.stringify(next), { mode: 0o600 });
  await syncPeers(next);
  // tailscaled's part: keep the peers current while the node is up (stops at logout).
  const daemon = spawn(process.execPath, [process.argv[1], '__sync'], { detached: true, stdio: 'ignore' });
  writeFileSync(`${DIR}/sync.pid`, String(daemon.pid));
  daemon.unref();
}

async function syncLoop() {
  for (;;) {
    const state = readState();
    if (state === undefined) return;
    try {
      await syncPeers(state);
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function statusJson() {
  const state = readState();
  const peers = existsSync(`${DIR}/peers.json`) ? JSON.parse(readFileSync(`${DIR}/peers.json`, 'utf8')) : [];
  if (state === undefined) {
    return {
      Version: VERSION,
      BackendState: 'NeedsLogin',
      TailscaleIPs: null,
      Self: { HostName: sh('hostname', []), DNSName: '', TailscaleIPs: null, Online: false },
      Peer: null,
      MagicDNSSuffix: '',
      CurrentTailnet: null,
    };
  }
  const node = (n) => ({
    HostName: n.hostname,
    DNSName: `${n.hostname}.${state.domain}.`,
    TailscaleIPs: [n.ip],
    Tags: n.tags,
    Online: true,
    OS: 'linux',
    PublicKey: `nodekey:${n.publicKey}`,
  });
  return {
    Version: VERSION,
    BackendState: state.BackendState,
    TailscaleIPs: [state.ip],
    Self: node(state),
    Peer: Object.fromEntries(peers.map((p) => [`nodekey:${p.publicKey}`, node(p)])),
    MagicDNSSuffix: state.domain,
    CurrentTailnet: { Name: state.tailnet, MagicDNSSuffix: state.domain, MagicDNSEnabled: true },
  };
}

async function logout() {
  const state = readState();
  if (state === undefined) return;
  await call(state.control, '/fake/logout', { nodeId: state.nodeId }).catch(() => undefined);
  rmSync(STATE, { force: true });
  try {
    process.kill(Number(readFileSync(`${DIR}/sync.pid`, 'utf8')));
  } catch {}
  try {
    sh('ip', ['link', 'del', IFACE]);
  } catch {}
  rmSync(DIR, { recursive: true, force: true });
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'version') process.stdout.write(`${VERSION}\n  tailscale commit: stagecraft-fake\n`);
else if (command === 'up') await up(rest);
else if (command === 'status' && rest.includes('--json'))
  process.stdout.write(`${JSON.stringify(statusJson(), null, 2)}\n`);
else if (command === 'ip') {
  const state = readState();
  if (state === undefined) fail('no current Tailscale IPs; state: NeedsLogin');
  if (!rest.includes('-6')) process.stdout.write(`${state.ip}\n`);
} else if (command === 'logout') await logout();
else if (command === '__sync') await syncLoop();
else fail(`tailscale (stagecraft fake): unknown command ${command ?? '(none)'}`, 2);
