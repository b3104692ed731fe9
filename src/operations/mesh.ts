// The mesh for operations: what setup wants from the environment model, and the auth key a join needs
// (from the environment variable named by auth_key_env; never stored, never in argv).
import type { EnvironmentModel, HostModel } from '../model/environment.js';
import type { MeshModel } from '../model/mesh.js';
import { type TailscaleStatus, tailnetOf, tailscaleStatusOf, versionOf } from '../plan/host-facts.js';
import { type LocalMeshStatus, type MeshHost, reachedOverMesh } from '../plan/mesh-ssh.js';
import type { MeshWanted } from '../plan/setup-mesh.js';
import { createPreAuthKey } from '../providers/network/headscale-api.js';
import { LocalRunner } from '../runners/local.js';
import type { Runner } from '../runners/types.js';
import { ExternalError, UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';

/** What setup wants for the mesh of `model`, or undefined without one. Tags per host from the model. */
export function meshWantedOf(model: EnvironmentModel): MeshWanted | undefined {
  const mesh = model.mesh;
  if (mesh === undefined) return undefined;
  return {
    provider: mesh.provider,
    tailnetDomain: mesh.tailnetDomain,
    loginServer: mesh.loginServer,
    install: mesh.install,
    tags: Object.fromEntries(model.hosts.map((host) => [host.name, host.mesh?.tags ?? []])),
    configKey: `network.providers.${mesh.provider}`,
  };
}

/**
 * The auth key hosts join with, as a Secret (registered for redaction the moment it is read), from the
 * variable `auth_key_env` names in `env` (the process environment). Throws a UserError naming the
 * variable when it is not set or empty, before any host is changed.
 */
export async function meshAuthKey(
  model: EnvironmentModel,
  env: Record<string, string | undefined>,
): Promise<Secret> {
  const mesh = model.mesh;
  if (mesh === undefined) throw new UserError('this environment has no mesh (network.provider is none)');
  const key = `network.providers.${mesh.provider}.auth_key_env`;
  if (mesh.authKeyEnv === undefined) {
    throw new UserError(`${key} is not set: setup has no auth key to join hosts with`, {
      hint: `set ${key} to the name of an environment variable holding an auth key${mesh.provider === 'headscale' ? ', or api_key_env and user' : ''}`,
    });
  }
  const value = env[mesh.authKeyEnv]?.trim();
  if (value === undefined || value === '') {
    throw new UserError(
      `${mesh.authKeyEnv} is not set: setup needs an auth key to join hosts to ${mesh.tailnetDomain}`,
      {
        hint: `export ${mesh.authKeyEnv}=<auth key> (${key}); create one in the ${mesh.provider === 'headscale' ? 'Headscale server (`headscale preauthkeys create`)' : 'Tailscale admin console (Settings → Keys)'}`,
      },
    );
  }
  return new Secret(value);
}

/** 100.64.0.0/10, the CGNAT range Tailscale and Headscale give nodes their IPv4 addresses from. */
export function isMeshAddress(address: string): boolean {
  const parts = address.split('.').map(Number);
  return parts.length === 4 && parts[0] === 100 && (parts[1] ?? 0) >= 64 && (parts[1] ?? 0) <= 127;
}

/**
 * The mesh address of a host, from `tailscale ip -4` run on it (one round trip): its first line, which
 * must be in 100.64.0.0/10. Throws an ExternalError naming the host when tailscale is missing, the host
 * has not joined, or the answer is not a mesh address.
 */
export async function meshAddressOf(runner: Runner): Promise<string> {
  const result = await runner.exec(['tailscale', 'ip', '-4'], { allowFailure: true, timeoutMs: 30_000 });
  const address = result.stdout.trim().split('\n')[0]?.trim() ?? '';
  if (result.exitCode !== 0 || !isMeshAddress(address)) {
    const why =
      result.exitCode !== 0 ? result.stderr.trim() || `exit ${result.exitCode}` : `answered "${address}"`;
    throw new ExternalError(`${runner.name} has no mesh address (tailscale ip -4: ${why})`, {
      hint: `join it with \`stagecraft setup\` (network.provider is set), then deploy again`,
    });
  }
  return address;
}

/** What a host's Tailscale client answers: its version and `tailscale status --json`. */
export interface TailscaleAnswer {
  /** `tailscale version`'s first line as x.y.z; undefined when tailscale is not installed. */
  version: string | undefined;
  /** `tailscale status --json` parsed; undefined when it printed no status. */
  status: TailscaleStatus | undefined;
}

/**
 * Reads `tailscale version` and `tailscale status --json` on a host in one round trip (read-only, no
 * root needed). Throws only what the runner throws when the host cannot be reached.
 */
export async function readTailscale(runner: Runner): Promise<TailscaleAnswer> {
  const result = await runner.exec(
    ['sh', '-c', 'tailscale version 2>/dev/null | head -n 1; echo ---; tailscale status --json 2>/dev/null'],
    { allowFailure: true, timeoutMs: 30_000 },
  );
  const lines = result.stdout.split('\n');
  const at = lines.indexOf('---');
  const versionText = at < 0 ? '' : lines.slice(0, at).join('\n');
  const statusText = at < 0 ? '' : lines.slice(at + 1).join('\n');
  return { version: versionOf(versionText), status: tailscaleStatusOf(statusText) };
}

/** One host's mesh state as `doctor` shows it. */
export interface MeshState {
  /** True when the host runs on `tailnetDomain` under its own name. */
  joined: boolean;
  /** e.g. "joined acme.ts.net as h1 (100.64.0.1), tags tag:web, tailscale 1.76.1" or "tailscale is NeedsLogin". */
  detail: string;
}

/**
 * Reads a host's mesh state (`tailscale version` and `tailscale status --json`, one round trip) and
 * says whether it is online on `tailnetDomain` as `host`. Never throws for what the host answers.
 */
export async function meshStateOf(runner: Runner, host: string, tailnetDomain: string): Promise<MeshState> {
  const { version, status } = await readTailscale(runner);
  if (version === undefined) return { joined: false, detail: 'tailscale is not installed' };
  if (status?.BackendState !== 'Running')
    return { joined: false, detail: `tailscale ${version} is ${status?.BackendState ?? 'not answering'}` };
  const tailnet = tailnetOf(status);
  const name = status.Self?.HostName ?? '';
  const address = status.Self?.TailscaleIPs?.[0];
  const tags = status.Self?.Tags ?? [];
  const where = `${tailnet || 'an unknown tailnet'} as ${name || 'no name'}${address ? ` (${address})` : ''}${tags.length > 0 ? `, tags ${tags.join(', ')}` : ''}, tailscale ${version}`;
  const joined = tailnet === tailnetDomain && name === host;
  return { joined, detail: joined ? `joined ${where}` : `on ${where}, not ${tailnetDomain} as ${host}` };
}

/** How long a pre-auth key created for one setup run stays valid. */
export const RUN_KEY_LIFETIME_MS = 15 * 60_000;

/**
 * The auth key each of `hosts` joins with: the one from auth_key_env for all of them, or (headscale
 * without auth_key_env) a single-use pre-auth key per host with its tags, created through Headscale's
 * API with the API key from api_key_env, expiring RUN_KEY_LIFETIME_MS after `now`. Throws UserError
 * for a missing variable, ExternalError when Headscale refuses.
 */
export async function meshAuthKeys(
  model: EnvironmentModel,
  env: Record<string, string | undefined>,
  hosts: string[],
  now: Date = new Date(),
): Promise<Map<string, Secret>> {
  const mesh = model.mesh;
  const keys = new Map<string, Secret>();
  if (mesh === undefined || hosts.length === 0) return keys;
  if (mesh.provider !== 'headscale' || mesh.authKeyEnv !== undefined || mesh.apiKeyEnv === undefined) {
    const key = await meshAuthKey(model, env);
    for (const host of hosts) keys.set(host, key);
    return keys;
  }
  const apiValue = env[mesh.apiKeyEnv]?.trim();
  if (apiValue === undefined || apiValue === '') {
    throw new UserError(
      `${mesh.apiKeyEnv} is not set: setup needs a Headscale API key to create pre-auth keys`,
      {
        hint: `export ${mesh.apiKeyEnv}=<API key> (network.providers.headscale.api_key_env; \`headscale apikeys create\`)`,
      },
    );
  }
  const apiKey = new Secret(apiValue);
  for (const host of hosts) {
    keys.set(
      host,
      await createPreAuthKey({
        server: mesh.loginServer!,
        apiKey,
        user: mesh.user!,
        tags: model.hosts.find((candidate) => candidate.name === host)?.mesh?.tags ?? [],
        expiresAt: new Date(now.getTime() + RUN_KEY_LIFETIME_MS),
      }),
    );
  }
  return keys;
}

/**
 * This machine's (the operator's) `tailscale status --json`, run without a shell through `runner`
 * (default: a LocalRunner; 10 s), or why there is none: tailscale not on PATH, a timeout, or no status
 * JSON (e.g. tailscaled not running). Never throws.
 */
export async function localMeshStatus(runner: Runner = new LocalRunner()): Promise<LocalMeshStatus> {
  try {
    const result = await runner.exec(['tailscale', 'status', '--json'], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    const status = tailscaleStatusOf(result.stdout);
    if (status !== undefined) return { status };
    const said = result.stderr.trim().split('\n')[0]?.trim();
    return {
      status: undefined,
      problem: `\`tailscale status --json\` printed no status${said ? `: ${said}` : ` (exit ${result.exitCode})`}`,
    };
  } catch (error) {
    return { status: undefined, problem: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The hosts among `hosts` this machine reaches over the mesh (online peers under their MagicDNS name,
 * with their tags; plan/mesh-ssh.ts), read from this machine's `tailscale status --json` only when one
 * of them has a setupTarget (a way in besides the mesh name). Empty without a mesh. Never throws.
 */
export async function hostsReachedOverMesh(
  mesh: Pick<MeshModel, 'tailnetDomain'> | undefined,
  hosts: HostModel[],
  runner?: Runner,
): Promise<Set<string>> {
  if (mesh === undefined || !hosts.some((host) => host.setupTarget !== undefined)) return new Set();
  const named: MeshHost[] = hosts.flatMap((host) =>
    host.mesh === undefined ? [] : [{ name: host.name, dnsName: host.mesh.name, tags: host.mesh.tags }],
  );
  const { routes } = reachedOverMesh(await localMeshStatus(runner), mesh.tailnetDomain, named);
  return new Set(routes.keys());
}
