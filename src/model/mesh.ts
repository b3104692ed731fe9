// The mesh (network.provider tailscale or headscale) as the rest of Stagecraft sees it: the tailnet's
// MagicDNS domain, how hosts join it and with which tags, and the names hosts are reached by.
import type { Config } from '../config/schema.js';

/** What `network.providers.<tailscale|headscale>` configures, resolved. */
export interface MeshModel {
  provider: 'tailscale' | 'headscale';
  /** MagicDNS suffix without dots at either end, e.g. "acme.ts.net". */
  tailnetDomain: string;
  /** Env var holding the auth key; undefined when setup creates one through the Headscale API. */
  authKeyEnv: string | undefined;
  /** Headscale only: the control server's URL, passed to `tailscale up --login-server`. */
  loginServer: string | undefined;
  /** Headscale only: env var holding an API key to create a pre-auth key for the run. */
  apiKeyEnv: string | undefined;
  /** Headscale only: the user created pre-auth keys belong to. */
  user: string | undefined;
  install: { method: 'auto' | 'skip'; minVersion: string | undefined };
  defaultTags: string[];
  roleTags: Record<string, string[]>;
}

interface MeshProviderConfig {
  auth_key_env?: string;
  api_key_env?: string;
  user?: string;
  tailnet_domain: string;
  login_server?: string;
  default_tags?: string[];
  role_tags?: Record<string, string[]>;
  install?: { method?: 'auto' | 'skip'; min_version?: string };
}

/**
 * The mesh of a validated config, or undefined when `network.provider` is none or unset. The config
 * schema has already checked the tags and the domain, so this cannot fail.
 */
export function meshModel(config: Pick<Config, 'network'>): MeshModel | undefined {
  const network = config.network as
    | { provider?: string; providers?: Record<string, unknown> | undefined }
    | undefined;
  const provider = network?.provider;
  if (provider !== 'tailscale' && provider !== 'headscale') return undefined;
  const settings = network?.providers?.[provider] as MeshProviderConfig | undefined;
  if (settings === undefined) return undefined;
  return {
    provider,
    tailnetDomain: settings.tailnet_domain.replace(/^\.+|\.+$/g, ''),
    authKeyEnv: settings.auth_key_env,
    loginServer: settings.login_server,
    apiKeyEnv: settings.api_key_env,
    user: settings.user,
    install: { method: settings.install?.method ?? 'auto', minVersion: settings.install?.min_version },
    defaultTags: settings.default_tags ?? [],
    roleTags: settings.role_tags ?? {},
  };
}

/** `<host>.<tailnet_domain>`: the MagicDNS name of a Stagecraft host ("h1", "acme.ts.net" → "h1.acme.ts.net"). */
export function magicDnsName(host: string, tailnetDomain: string): string {
  return `${host}.${tailnetDomain}`;
}

/**
 * The tags a host advertises: default_tags, then role_tags of each of its roles in order, each once
 * (["tag:app"], {web: ["tag:web"]}, roles ["web"] → ["tag:app", "tag:web"]).
 */
export function meshTags(mesh: Pick<MeshModel, 'defaultTags' | 'roleTags'>, roles: string[]): string[] {
  return [...new Set([...mesh.defaultTags, ...roles.flatMap((role) => mesh.roleTags[role] ?? [])])];
}

/**
 * What ssh and services use to reach a host: the environment's explicit address when it gives one,
 * else with the mesh the MagicDNS name, else the host name (an ssh_config alias or DNS name).
 */
export function hostTarget(
  host: { name: string; address?: string | undefined },
  mesh: Pick<MeshModel, 'tailnetDomain'> | undefined,
): string {
  if (host.address !== undefined) return host.address;
  return mesh === undefined ? host.name : magicDnsName(host.name, mesh.tailnetDomain);
}
