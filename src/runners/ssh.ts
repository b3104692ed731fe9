// Runs commands on a host through the OpenSSH client, one multiplexed (ControlMaster) connection per
// runner: the user's ssh config, agent, known_hosts and ProxyJump all work as they do for `ssh`.
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import { ExternalError, UserError } from '../util/errors.js';
import { makeDirectory } from '../util/make-dir.js';
import type { Secret } from '../util/secret.js';
import { quoteArgv } from '../util/shell-quote.js';
import {
  contentPayload,
  displayArgv,
  exitError,
  lastLine,
  octalMode,
  stdinPayload,
  stripHomePrefix,
} from './common.js';
import { type SpawnOutcome, settle, spawnProcess } from './local.js';
import type { ExecOptions, ExecResult, Runner } from './types.js';

export interface SshRunnerOptions {
  /** Host name for messages, e.g. "h1". */
  name: string;
  /** What ssh connects to: an address or an alias of the ssh config. */
  host: string;
  user?: string;
  port?: number;
  identityFile?: string;
  knownHostsFile?: string;
  /** An ssh config file used instead of ~/.ssh/config (`ssh -F`). */
  configFile?: string;
  proxyJump?: string;
  /** Seconds to wait for the TCP connection (default 10). */
  connectTimeoutSeconds?: number;
  /**
   * Folder of the ControlMaster socket (at most 45 characters: Unix socket paths are short). By
   * default a private folder is created under /tmp on first use and removed by close(); a given
   * folder is created 0700 and kept.
   */
  controlDir?: string;
  /** Seconds the master connection stays up after its last command (default 60). */
  controlPersistSeconds?: number;
  /**
   * Commands running at once over the connection (default SSH_SESSIONS); more wait their turn. Each
   * is one session of the master connection, and sshd refuses sessions past its MaxSessions (10).
   */
  maxSessions?: number;
}

/** Commands run at once over one master connection by default: below sshd's MaxSessions (10). */
export const SSH_SESSIONS = 8;

/** Longest control folder: folder + "/" + %C (40) + the 17-character suffix ssh adds while binding < 104. */
export const MAX_CONTROL_DIR_LENGTH = 45;

/** Exit code of our remote `read` script when the file does not exist. */
const READ_MISSING = 44;

/** Writes stdin to $1 through a temp file beside it (umask 077, then chmod $2, then rename). */
export const UPLOAD_SCRIPT =
  'umask 077; t="$1.tmp.$$"; ' +
  'mkdir -p "$(dirname "$1")" && cat > "$t" && chmod "$2" "$t" && mv -f "$t" "$1" || { s=$?; rm -f "$t"; exit "$s"; }';

/** Prints $1, or exits 44 when it does not exist. */
export const READ_SCRIPT = `if [ -e "$1" ]; then exec cat "$1"; else exit ${READ_MISSING}; fi`;

/** The kinds of ssh's own failures (exit 255) that get their own message. */
export type SshFailureKind =
  | 'host-key'
  | 'auth'
  | 'resolve'
  | 'unreachable'
  | 'disconnected'
  | 'control-path';

/** Per kind, the lines that identify it, most telling first (that line is quoted in the message). */
const FAILURE_PATTERNS: [SshFailureKind, RegExp[]][] = [
  [
    'host-key',
    [
      /Host key for .* has changed|No \S+ host key is known for/i,
      /Host key verification failed/i,
      /REMOTE HOST IDENTIFICATION HAS CHANGED/i,
    ],
  ],
  ['auth', [/Permission denied \(|Too many authentication failures|Authentication failed/i]],
  ['resolve', [/Could not resolve hostname/i]],
  ['control-path', [/too long for Unix domain socket|ControlPath too long|unix_listener: path .* too long/i]],
  [
    'unreachable',
    [
      /connect to host .* port \d+/i,
      /Connection refused|Connection timed out|No route to host|Network is unreachable|kex_exchange_identification|Connection reset by|Connection closed by .* port \d+|Operation timed out/i,
    ],
  ],
  [
    'disconnected',
    [
      /Connection to .* closed by remote host|client_loop: send disconnect|Broken pipe|Timeout, server .* not responding/i,
    ],
  ],
];

/** ssh's stderr as lines, without the `@@@@` frame of its warnings. */
function stderrLines(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .map((line) => line.replace(/^@+|@+$/g, '').trim())
    .filter((line) => line !== '');
}

/**
 * Recognises a failure of ssh itself from its stderr; undefined means the remote command failed (a
 * remote command may exit 255 too).
 */
export function classifySshFailure(stderr: string): { kind: SshFailureKind; line: string } | undefined {
  const lines = stderrLines(stderr);
  for (const [kind, patterns] of FAILURE_PATTERNS) {
    for (const pattern of patterns) {
      const line = lines.find((candidate) => pattern.test(candidate));
      if (line !== undefined) return { kind, line };
    }
  }
  return undefined;
}

/** `%` is a token in ssh paths; a literal one is written `%%`. */
function sshPath(path: string): string {
  return path.replaceAll('%', '%%');
}

/** A value of `-o Key=value` with spaces is quoted (ssh splits option values on whitespace). */
function optionValue(value: string): string {
  return /[\s"]/.test(value) ? `"${value.replaceAll('"', '\\"')}"` : value;
}

/**
 * The ssh options of a target, without host and command: config file, multiplexing, host key
 * checking (always strict), identity, port, jump hosts (a ProxyCommand with the same checks: see
 * jumpProxyCommand), user, keep-alive and connect timeout.
 */
export function buildSshOptions(options: SshRunnerOptions, controlDir: string): string[] {
  const args: string[] = [];
  if (options.configFile !== undefined) args.push('-F', options.configFile);
  args.push(
    '-o',
    'ControlMaster=auto',
    '-o',
    `ControlPath=${optionValue(`${sshPath(controlDir)}/%C`)}`,
    '-o',
    `ControlPersist=${options.controlPersistSeconds ?? 60}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
  );
  if (options.knownHostsFile !== undefined) {
    args.push('-o', `UserKnownHostsFile=${optionValue(sshPath(options.knownHostsFile))}`);
  }
  if (options.identityFile !== undefined) {
    args.push('-i', sshPath(options.identityFile), '-o', 'IdentitiesOnly=yes');
  }
  if (options.port !== undefined) args.push('-p', String(options.port));
  if (options.proxyJump !== undefined) {
    args.push('-o', `ProxyCommand=${jumpProxyCommand(options, options.proxyJump.split(','))}`);
  }
  if (options.user !== undefined) args.push('-l', options.user);
  args.push('-o', 'ServerAliveInterval=15', '-o', `ConnectTimeout=${options.connectTimeoutSeconds ?? 10}`);
  return args;
}

/** One jump of `proxy_jump`: `[user@]host[:port]`, the host possibly a bracketed IPv6 address. */
export function parseJump(hop: string): { user?: string; host: string; port?: number } {
  const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop);
  if (match === null || match[2]!.startsWith('-') || /\s/.test(hop)) {
    throw new UserError(`invalid proxy_jump host "${hop}"`, {
      hint: 'write [user@]host[:port], comma-separated for several jumps (no spaces, not starting with "-")',
    });
  }
  return {
    ...(match[1] !== undefined ? { user: match[1] } : {}),
    host: match[2]!.replace(/^\[(.*)\]$/, '$1'),
    ...(match[3] !== undefined ? { port: Number(match[3]) } : {}),
  };
}

/**
 * The ProxyCommand that reaches the target through the last of `hops` (the ones before it reached
 * the same way, nested): an ssh with the target's own config file, known_hosts, identity, strict host
 * key checking and BatchMode, forwarding stdin/stdout to `%h:%p`. `ssh -J` would not do this: the
 * jump's ssh gets only -l/-p/-F, so it would ask or accept keys by the user's defaults. ssh expands
 * `%` tokens in a ProxyCommand once, so every literal `%` is doubled at each level of nesting.
 */
function jumpProxyCommand(options: SshRunnerOptions, hops: string[]): string {
  const hop = parseJump(hops.at(-1)!);
  const literal = (value: string) => value.replaceAll('%', '%%');
  const argv = ['ssh'];
  if (options.configFile !== undefined) argv.push('-F', literal(options.configFile));
  argv.push('-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes');
  if (options.knownHostsFile !== undefined) {
    argv.push('-o', literal(`UserKnownHostsFile=${optionValue(sshPath(options.knownHostsFile))}`));
  }
  if (options.identityFile !== undefined) {
    argv.push('-i', literal(sshPath(options.identityFile)), '-o', 'IdentitiesOnly=yes');
  }
  if (hop.port !== undefined) argv.push('-p', String(hop.port));
  if (hop.user !== undefined) argv.push('-l', literal(hop.user));
  argv.push('-o', `ConnectTimeout=${options.connectTimeoutSeconds ?? 10}`);
  if (hops.length > 1) {
    argv.push('-o', literal(`ProxyCommand=${jumpProxyCommand(options, hops.slice(0, -1))}`));
  }
  argv.push('-W', '[%h]:%p', '--', literal(hop.host));
  return quoteArgv(argv);
}

/** The whole ssh argv for one remote command: `ssh <options> host -- '<quoted argv>'`. */
export function buildSshArgv(
  options: SshRunnerOptions,
  controlDir: string,
  remote: readonly string[],
): string[] {
  return ['ssh', ...buildSshOptions(options, controlDir), options.host, '--', quoteArgv(remote)];
}

function validate(options: SshRunnerOptions): void {
  if (options.host === '' || options.host.startsWith('-') || /\s/.test(options.host)) {
    throw new UserError(`invalid ssh host for ${options.name}: "${options.host}"`, {
      hint: 'give the host an address or an ssh config alias (no spaces, not starting with "-")',
    });
  }
  if (options.user?.startsWith('-') === true) {
    throw new UserError(`invalid ssh user for ${options.name}: "${options.user}"`, {
      hint: 'check the user name',
    });
  }
  if (options.controlDir !== undefined && options.controlDir.length > MAX_CONTROL_DIR_LENGTH) {
    throw new UserError(
      `ssh control folder is too long for a Unix socket (${options.controlDir.length} > ${MAX_CONTROL_DIR_LENGTH} characters): ${options.controlDir}`,
      { hint: 'use a shorter folder, or leave it unset to use a private folder under /tmp' },
    );
  }
}

/** A base folder short enough for control sockets: $TMPDIR when short, else /tmp. */
function shortTempBase(): string {
  const base = tmpdir();
  return base.length <= 24 ? base : '/tmp';
}

/**
 * Runs commands on one host with the OpenSSH client. The first command opens a master connection
 * (ControlMaster, kept ControlPersist seconds); every later command reuses it (~10 ms instead of a
 * full handshake). Host keys are always verified (StrictHostKeyChecking=yes); BatchMode means ssh
 * never prompts. The remote command is the argv quoted once by quoteArgv and run by the remote
 * user's login shell, in their home folder. `ExecOptions.env` is ignored (put secrets in 0600 files
 * or on stdin). A timeout or cancellation stops the local ssh client; the remote command may keep
 * running until it next writes to the closed connection.
 */
export class SshRunner implements Runner {
  readonly name: string;
  readonly options: Readonly<SshRunnerOptions>;
  #controlDir: string | undefined;
  #ownsControlDir = false;
  #connecting: Promise<void> | undefined;
  #connected = false;
  readonly #sessions: LimitFunction;

  constructor(options: SshRunnerOptions) {
    validate(options);
    this.name = options.name;
    this.options = { ...options };
    this.#controlDir = options.controlDir;
    this.#sessions = pLimit(Math.max(1, options.maxSessions ?? SSH_SESSIONS));
  }

  /** Opens the master connection (once; concurrent callers share the attempt, a failure is retried next time). */
  connect(): Promise<void> {
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const controlDir = await this.#ensureControlDir();
    const argv = buildSshArgv(this.options, controlDir, ['true']);
    const timeoutMs = ((this.options.connectTimeoutSeconds ?? 10) + 20) * 1000;
    const outcome = await this.#spawn(argv, { timeoutMs });
    if (outcome.exitCode !== 0) {
      throw (
        this.#sshError(outcome, argv) ??
        exitError(['true'], outcome, { host: this.name, command: displayArgv(argv) })
      );
    }
    this.#connected = true;
  }

  async #ensureControlDir(): Promise<string> {
    if (this.#controlDir === undefined) {
      this.#controlDir = await mkdtemp(join(shortTempBase(), 'sc-'));
      this.#ownsControlDir = true;
    } else {
      await makeDirectory(this.#controlDir, 0o700);
    }
    return this.#controlDir;
  }

  /** The ssh argv that runs `argv` on this host (after connect(): it needs the control folder). */
  commandArgv(argv: readonly string[]): string[] {
    if (this.#controlDir === undefined) throw new Error('SshRunner.commandArgv needs connect() first');
    return buildSshArgv(this.options, this.#controlDir, argv);
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.#run(argv, options, stdinPayload(options.stdin));
  }

  async #run(
    argv: readonly string[],
    options: ExecOptions,
    input: string | Buffer | undefined,
  ): Promise<ExecResult> {
    if (argv.length === 0 || argv[0] === '') throw new RangeError('SshRunner.exec needs a non-empty argv');
    await this.connect();
    const sshArgv = this.commandArgv(argv);
    const outcome = await this.#sessions(() => this.#spawn(sshArgv, options, input));
    if (
      outcome.exitCode === 255 &&
      !outcome.timedOut &&
      !outcome.canceled &&
      outcome.spawnError === undefined
    ) {
      const error = this.#sshError(outcome, sshArgv);
      if (error !== undefined) throw error;
    }
    return settle(argv, outcome, {
      cwd: homedir(),
      host: this.name,
      command: displayArgv(sshArgv),
      allowFailure: options.allowFailure,
      timeoutMs: options.timeoutMs,
    });
  }

  async upload(path: string, content: string | Buffer | Secret, mode: number): Promise<void> {
    const argv = ['sh', '-c', UPLOAD_SCRIPT, 'sh', remotePath(path), octalMode(mode)];
    await this.#run(argv, {}, contentPayload(content));
  }

  async read(path: string): Promise<string | undefined> {
    const argv = ['sh', '-c', READ_SCRIPT, 'sh', remotePath(path)];
    const result = await this.exec(argv, { allowFailure: true });
    if (result.exitCode === READ_MISSING) return undefined;
    if (result.exitCode !== 0) {
      throw exitError(['cat', remotePath(path)], result, { host: this.name, command: displayArgv(argv) });
    }
    return result.stdout;
  }

  /** Stops the master connection (`ssh -O exit`, errors ignored) and removes a private control folder. */
  async close(): Promise<void> {
    const connecting = this.#connecting;
    this.#connecting = undefined;
    await connecting?.catch(() => undefined);
    if (this.#connected && this.#controlDir !== undefined) {
      this.#connected = false;
      const argv = [
        'ssh',
        ...buildSshOptions(this.options, this.#controlDir),
        '-O',
        'exit',
        this.options.host,
      ];
      await this.#spawn(argv, { timeoutMs: 10_000 }).catch(() => undefined);
    }
    if (this.#ownsControlDir && this.#controlDir !== undefined) {
      await rm(this.#controlDir, { recursive: true, force: true }).catch(() => undefined);
      this.#controlDir = undefined;
      this.#ownsControlDir = false;
    }
  }

  async #spawn(
    sshArgv: readonly string[],
    options: ExecOptions,
    input?: string | Buffer,
  ): Promise<SpawnOutcome> {
    const [file, ...args] = sshArgv;
    const outcome = await spawnProcess({
      file: file ?? 'ssh',
      args,
      cwd: homedir(),
      input,
      ...(options.stdinStream === undefined ? {} : { inputStream: options.stdinStream }),
      timeoutMs: options.timeoutMs,
      onLine: options.onLine,
      signal: options.signal,
    });
    // A missing ssh binary is reported as such, not as a failure of the remote command.
    if (outcome.spawnError !== undefined) settle(sshArgv, outcome, { cwd: homedir() });
    return outcome;
  }

  /** The ExternalError for one of ssh's own failures, or undefined when stderr does not look like one. */
  #sshError(outcome: SpawnOutcome, sshArgv: readonly string[]): ExternalError | undefined {
    if (outcome.timedOut) {
      return new ExternalError(`ssh to ${this.#where()} did not answer in time`, {
        command: displayArgv(sshArgv),
        hint: 'check that the host is up and that SSH works from this machine: ssh -v <host> true',
      });
    }
    const failure = classifySshFailure(outcome.stderr);
    if (failure === undefined) return undefined;
    const command = displayArgv(sshArgv);
    const where = this.#where(failure.line);
    switch (failure.kind) {
      case 'host-key':
        return new ExternalError(`host key verification failed for ${where}: ${lastLine(failure.line)}`, {
          command,
          details: stderrLines(outcome.stderr),
          hint:
            `add the host's key to ${this.options.knownHostsFile ?? '~/.ssh/known_hosts'} after checking its fingerprint ` +
            `(or set ssh.known_hosts_file); if the key changed unexpectedly, someone may be intercepting the connection (MITM)`,
        });
      case 'auth':
        return new ExternalError(
          `permission denied logging in to ${where}${this.options.user === undefined ? '' : ` as ${this.options.user}`}: ${failure.line}`,
          {
            command,
            hint: "set ssh.identity_file or add your key to ssh-agent (ssh-add), check the user (hosts[].user or ssh.user), and that the public key is in the host's ~/.ssh/authorized_keys",
          },
        );
      case 'resolve':
        return new ExternalError(`could not resolve ${where}: ${failure.line}`, {
          command,
          hint: 'check the host address, or add a Host entry for it to your ssh config',
        });
      case 'unreachable':
        return new ExternalError(`could not reach ${where}: ${failure.line}`, {
          command,
          hint:
            this.options.proxyJump === undefined
              ? 'check that the host is up and that its address, port and firewall allow SSH from this machine'
              : `check the jump host (proxy_jump ${this.options.proxyJump}): its key must be in ${this.options.knownHostsFile ?? '~/.ssh/known_hosts'} and it must accept the same identity (ssh does not show the jump's own error); then that the host is up and reachable from it`,
        });
      case 'disconnected':
        return new ExternalError(`lost the ssh connection to ${where}: ${failure.line}`, {
          command,
          hint: 'check the host and the network, then run the command again',
        });
      case 'control-path':
        return new ExternalError(
          `ssh could not create its control socket for ${this.name}: ${failure.line}`,
          {
            command,
            hint: 'use a shorter ssh control folder (Unix socket paths are limited to about 100 characters)',
          },
        );
    }
  }

  /** "h1 (10.0.0.1:22)": the name, and the address ssh reported or the one it was given. */
  #where(sshLine = ''): string {
    const match = /connect to host (\S+) port (\d+)/.exec(sshLine);
    const address = match ? `${match[1]}:${match[2]}` : `${this.options.host}:${this.options.port ?? 22}`;
    return `${this.name} (${address})`;
  }
}

/** A path for the remote shell: `~/x` → `x` (ssh starts in the home folder), `-x` → `./-x`. */
function remotePath(path: string): string {
  const stripped = stripHomePrefix(path);
  return stripped.startsWith('-') ? `./${stripped}` : stripped;
}
