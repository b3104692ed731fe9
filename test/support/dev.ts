// Helpers for the `stagecraft dev` end-to-end tests: run the built CLI as a subprocess, talk HTTPS and
// WebSocket to the dev proxy with *.localhost (and any test domain) resolved to 127.0.0.1, and look at
// process groups in /proc independently of the code under test.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';

/** The CLI under test: bin/stagecraft.js after `npm run build` (STAGECRAFT_TEST_CLI overrides it). */
export const CLI =
  process.env['STAGECRAFT_TEST_CLI'] ?? fileURLToPath(new URL('../../bin/stagecraft.js', import.meta.url));

export function requireBuiltCli(): void {
  if (
    process.env['STAGECRAFT_TEST_CLI'] === undefined &&
    !existsSync(new URL('../../dist/cli.js', import.meta.url))
  ) {
    throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does)');
  }
}

/** The minimal environment the CLI runs with in tests (no colour), plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/root',
    NO_COLOR: '1',
    ...extra,
  };
}

export interface DevRun {
  child: ChildProcess;
  /** stdout and stderr interleaved as they arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves when the combined output matches; rejects on exit or timeout with the output so far. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const started: DevRun[] = [];

/** Stops every CLI a test started and left running: SIGINT (a clean stop), SIGKILL after 15 s. */
export async function stopStartedClis(): Promise<void> {
  await Promise.all(
    started.splice(0).map(async (run) => {
      if (run.child.exitCode !== null || run.child.signalCode !== null) return;
      run.child.kill('SIGINT');
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 15_000);
      await run.exited;
      clearTimeout(timer);
    }),
  );
}

/** Starts `stagecraft <args>` and keeps it running. */
export function startCli(args: string[], options: { cwd: string; env: Record<string, string> }): DevRun {
  requireBuiltCli();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    all += chunk;
    out += chunk;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    all += chunk;
    err += chunk;
    notify();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => {
      child.once('close', (code, signal) => {
        done = true;
        notify();
        resolve({ code, signal, at: Date.now() });
      });
    },
  );
  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = all.match(pattern);
        if (match !== null) {
          cleanup();
          resolve(match);
        } else if (done) {
          cleanup();
          reject(new Error(`stagecraft exited (code ${child.exitCode}) before ${pattern}; output:\n${all}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${all}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  const run = { child, output: () => all, stdout: () => out, stderr: () => err, waitFor, exited };
  started.push(run);
  return run;
}

/** Runs `stagecraft <args>` to completion. */
export async function runCli(
  args: string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const run = startCli(args, options);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
  const { code } = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr(), ms: Date.now() - started };
}

const toLoopback: LookupFunction = (_hostname, options, callback) => {
  if ((options as { all?: boolean }).all === true) {
    (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [
      { address: '127.0.0.1', family: 4 },
    ]);
  } else {
    callback(null, '127.0.0.1', 4);
  }
};

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** For HTTPS: whether the certificate verified against the given CA, and the names it carries. */
  authorized?: boolean;
  subjectAltName?: string;
}

/** GET a URL with its host resolved to 127.0.0.1; HTTPS verifies against `ca` only. */
export function get(
  url: string,
  options: { ca?: Buffer; timeoutMs?: number; hostHeader?: string } = {},
): Promise<HttpAnswer> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(
      {
        hostname: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: 'GET',
        agent: false,
        lookup: toLoopback,
        ...(secure ? { ca: options.ca, servername: target.hostname } : {}),
        timeout: options.timeoutMs ?? 10_000,
        ...(options.hostHeader === undefined ? {} : { headers: { Host: options.hostHeader } }),
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => {
          const socket = response.socket as TLSSocket;
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            ...(secure
              ? {
                  authorized: socket.authorized,
                  subjectAltName: socket.getPeerCertificate?.()?.subjectaltname,
                }
              : {}),
          });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

export interface WebSocketClient {
  protocol: string | undefined;
  messages: string[];
  next(test: (message: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

/** A minimal WebSocket client (RFC 6455 text frames from the server) over HTTPS, for Vite's HMR socket. */
export function openWebSocket(
  url: string,
  options: { ca?: Buffer; protocol: string },
): Promise<WebSocketClient> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = httpsRequest({
      hostname: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      agent: false,
      lookup: toLoopback,
      ca: options.ca,
      servername: target.hostname,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Protocol': options.protocol,
        Origin: `${target.protocol}//${target.host}`,
      },
    });
    request.on('response', (response) => reject(new Error(`no upgrade: HTTP ${response.statusCode}`)));
    request.on('error', reject);
    request.on('upgrade', (response, socket: Duplex, head: Buffer) => {
      const messages: string[] = [];
      const waiters = new Set<() => void>();
      let buffer = Buffer.from(head);
      const parse = () => {
        for (;;) {
          if (buffer.length < 2) return;
          const opcode = (buffer[0] ?? 0) & 0x0f;
          let length = (buffer[1] ?? 0) & 0x7f;
          let offset = 2;
          if (length === 126) {
            if (buffer.length < 4) return;
            length = buffer.readUInt16BE(2);
            offset = 4;
          } else if (length === 127) {
            if (buffer.length < 10) return;
            length = Number(buffer.readBigUInt64BE(2));
            offset = 10;
          }
          if (((buffer[1] ?? 0) & 0x80) !== 0) offset += 4;
          if (buffer.length < offset + length) return;
          if (opcode === 1) messages.push(buffer.subarray(offset, offset + length).toString('utf8'));
          buffer = buffer.subarray(offset + length);
        }
      };
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        parse();
        for (const waiter of [...waiters]) waiter();
      });
      socket.on('error', () => undefined);
      parse();
      resolve({
        protocol: response.headers['sec-websocket-protocol'],
        messages,
        next: (test, timeoutMs = 10_000) =>
          new Promise((resolveMessage, rejectMessage) => {
            const check = () => {
              const found = messages.find(test);
              if (found !== undefined) {
                waiters.delete(check);
                clearTimeout(timer);
                resolveMessage(found);
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rejectMessage(
                new Error(
                  `no matching WebSocket message in ${timeoutMs} ms; got ${JSON.stringify(messages)}`,
                ),
              );
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
        close: () => socket.destroy(),
      });
    });
    request.end();
  });
}

/** Live (non-zombie) members of a process group, read from /proc. */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') members.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return members;
}

/** Live processes whose command line contains `token`. */
export function processesWith(token: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (cmdline.includes(token) && !/\) [ZX] /.test(state)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** The full path of a binary on this machine's PATH. */
export function which(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Folders made by binDirWith, for the test's cleanup. */
export const binDirs: string[] = [];

/** A folder to use as PATH holding only `names` (symlinks to the real binaries) and node. */
export function binDirWith(names: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'stagecraft-bin-'));
  binDirs.push(dir);
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const name of names) {
    const path = which(name);
    if (path === undefined)
      throw new Error(`${name} is not installed on this machine; the dev e2e tests need it`);
    symlinkSync(path, join(dir, name));
  }
  return dir;
}

/**
 * A free TCP port on 127.0.0.1, drawn below the kernel's ephemeral range (32768–60999 on Linux): a port
 * the kernel hands out for `listen(0)` or an outgoing connection could be taken by a test running beside
 * this one between this check and the listener the port is for.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port found in 20000–31999 after 50 tries');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; false on timeout. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
