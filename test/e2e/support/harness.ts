// Access to the e2e harness (real Docker engines, SSH hosts and a registry; see test/harness/).
// E2e tests call requireHarness() first: a missing harness is an error, never a skip.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface HarnessHost {
  /** h1..hN: resolves on every host and through ssh_config. */
  name: string;
  address: string;
  user: string;
  port: number;
  /** The host's Docker engine, reachable from the operator (for test assertions), e.g. unix:///run/…/h1/docker.sock. */
  docker_host: string;
}

export interface HarnessEnv {
  /** 127.0.0.1:5000: the same image reference works for push (build engine) and pull (every host). */
  registry: string;
  /** The build engine; it shares the operator's filesystem, so it builds from the checkout. */
  build_docker_host: string;
  ssh_config: string;
  identity_file: string;
  known_hosts: string;
  hosts: HarnessHost[];
}

const CLI = fileURLToPath(new URL('../../harness/cli.mjs', import.meta.url));

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; rejects with its exit code and stderr in the message. */
export function run(
  file: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, env: options.env ?? process.env },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim() || stdout.trim() || error.message;
          reject(new Error(`${file} ${args.join(' ')} failed (${error.code ?? error.signal}): ${detail}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

let cached: Promise<HarnessEnv> | undefined;

/** The running harness, or an error that says how to start it (in CI and locally alike). */
export function requireHarness(): Promise<HarnessEnv> {
  cached ??= loadHarness();
  return cached;
}

async function loadHarness(): Promise<HarnessEnv> {
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [CLI, 'env'], { timeoutMs: 30_000 }));
  } catch (error) {
    cached = undefined;
    const why = error instanceof Error ? error.message : String(error);
    if (process.env.CI === 'true') {
      throw new Error(
        `CI=true and the e2e harness is not running: .ci/run must start it with \`npm run harness -- up\` before the e2e tests.\n${why}`,
      );
    }
    throw new Error(
      'The e2e tests need the Stagecraft harness (Docker engines, SSH hosts and a registry in network namespaces).\n' +
        'Start it with `sudo npm run harness -- up` (root on Linux), or run only the unit tests with `npm run test:unit`.\n' +
        why,
    );
  }
  return JSON.parse(stdout) as HarnessEnv;
}

/** The OpenSSH argv prefix for a host: `[...sshArgs(env, 'h1'), 'docker', 'ps']`. */
export function sshArgs(env: HarnessEnv, host: string): string[] {
  return ['ssh', '-F', env.ssh_config, host];
}

/** Runs a shell command on a host over ssh and returns its stdout. */
export async function sshRun(
  env: HarnessEnv,
  host: string,
  command: string,
  timeoutMs?: number,
): Promise<string> {
  const [file, ...args] = sshArgs(env, host);
  const { stdout } = await run(file!, [...args, command], { timeoutMs });
  return stdout;
}

/** The Docker engine address of a host by name; `local` is the build engine. */
export function dockerHostOf(env: HarnessEnv, hostName: string): string {
  if (hostName === 'local') return env.build_docker_host;
  const host = env.hosts.find((h) => h.name === hostName);
  if (!host)
    throw new Error(`no harness host named ${hostName} (hosts: ${env.hosts.map((h) => h.name).join(', ')})`);
  return host.docker_host;
}

/** Runs docker against a host's engine from the operator (`local` = the build engine) and returns stdout. */
export async function dockerOn(
  env: HarnessEnv,
  hostName: string,
  args: readonly string[],
  timeoutMs?: number,
): Promise<string> {
  const { stdout } = await run('docker', ['-H', dockerHostOf(env, hostName), ...args], { timeoutMs });
  return stdout;
}

/**
 * The harness registry's `image` under another name too (`tag`, e.g. `…/caddy:2-next`): pulled, tagged
 * and pushed on the build engine. The same image, so a test changes an image reference cheaply.
 */
export async function pushRetagged(env: HarnessEnv, image: string, tag: string): Promise<void> {
  await dockerOn(env, 'local', ['pull', '-q', image]);
  await dockerOn(env, 'local', ['tag', image, tag]);
  await dockerOn(env, 'local', ['push', '-q', tag]);
}

/** The optional bare hosts (test/harness/bare.sh): Debian 13 with sshd and no Docker until `setup`. */
export interface BareEnv {
  identity_file: string;
  /** known_hosts with the bare hosts' keys (by name and address). */
  known_hosts: string;
  /** The apt source the bare hosts install from (a repository on this machine). */
  package_source: string;
  hosts: HarnessHost[];
}

/**
 * Starts fresh bare hosts (each test file that needs one gets it as it comes from debootstrap) and
 * returns them. Needs root and the running harness; ~5 s with the rootfs and packages cached.
 */
export async function freshBareHosts(count = 1): Promise<BareEnv> {
  const { stdout } = await run(process.execPath, [CLI, 'bare', 'up', String(count)], {
    timeoutMs: 1_500_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as BareEnv;
}

/**
 * argv of `ssh` to a bare host as `user` at `address` with the operator's key (IdentitiesOnly, strict
 * host keys from the bare hosts' known_hosts, BatchMode), running `command`.
 */
export function bareSshArgs(bare: BareEnv, user: string, address: string, command: string): string[] {
  return [
    '-i',
    bare.identity_file,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${bare.known_hosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    `${user}@${address}`,
    command,
  ];
}

/**
 * The `ssh:` block of a stagecraft.yml environment that reaches the harness hosts as root with the
 * harness's key and known_hosts, each line indented by `indent` (the environment's own indent).
 */
export function harnessSshYaml(env: HarnessEnv, indent = '    '): string {
  return [
    'ssh:',
    '  user: root',
    `  identity_file: ${env.identity_file}`,
    `  known_hosts_file: ${env.known_hosts}`,
  ]
    .map((line) => `${indent}${line}\n`)
    .join('');
}

/**
 * The environment the built CLI runs with in an e2e project at `root`: PATH and HOME of this process,
 * NO_COLOR, the harness's build engine as DOCKER_HOST and the release history kept in the project.
 */
export function projectEnv(env: HarnessEnv, root: string): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '/root',
    NO_COLOR: '1',
    DOCKER_HOST: env.build_docker_host,
    STAGECRAFT_STATE_FILE: `${root}/.stagecraft/releases.json`,
  };
}
