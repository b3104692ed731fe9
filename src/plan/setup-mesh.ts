// The mesh part of `setup` (network.provider tailscale or headscale), pure: install the Tailscale client
// from the distribution's packages, check its version, and join the host to the tailnet with its tags.
// A joined host is left alone; a host on another tailnet is reported, never re-joined.
import { UserError } from '../util/errors.js';
import { APT_UPDATE_ARGV, aptInstallArgv } from './apt.js';
import { versionBelow } from './host-facts.js';
import type { SetupCheck, SetupModule, SetupStep } from './setup.js';

/** What setup wants for the mesh, from the environment model (model/mesh.ts). */
export interface MeshWanted {
  provider: 'tailscale' | 'headscale';
  /** MagicDNS suffix, e.g. "acme.ts.net". */
  tailnetDomain: string;
  /** Headscale's URL (`tailscale up --login-server`); undefined for Tailscale's own control plane. */
  loginServer: string | undefined;
  install: { method: 'auto' | 'skip'; minVersion: string | undefined };
  /** Host name → the tags it advertises. */
  tags: Record<string, string[]>;
  /** Where the config sets the provider, for errors ("network.providers.tailscale"). */
  configKey: string;
}

/**
 * `sh -c JOIN_SCRIPT sh <tailscale up flags…>` with the auth key on stdin: the key goes to a 0600 file
 * that `tailscale up --auth-key=file:<path>` reads and that is removed however the script ends. The
 * key is never in argv (Tailscale documents the `file:` form of --auth-key).
 */
export const JOIN_SCRIPT =
  "umask 077; f=$(mktemp) || exit 1; trap 'rm -f \"$f\"' EXIT; trap 'exit 129' HUP INT TERM; " +
  'cat > "$f" && tailscale up --auth-key="file:$f" "$@"';

/** The flags of `tailscale up` for one host (the auth key is added by JOIN_SCRIPT). */
export function tailscaleUpFlags(host: string, mesh: MeshWanted): string[] {
  const tags = mesh.tags[host] ?? [];
  return [
    `--hostname=${host}`,
    ...(tags.length > 0 ? [`--advertise-tags=${tags.join(',')}`] : []),
    ...(mesh.loginServer !== undefined ? [`--login-server=${mesh.loginServer}`] : []),
  ];
}

function stripDot(name: string | undefined): string {
  return (name ?? '').replace(/\.+$/, '');
}

/** The setup module for the mesh; no checks and no steps without one. */
export const meshSetup: SetupModule = ({ host, facts, wanted, asRoot, state }) => {
  const mesh = wanted.mesh;
  if (mesh === undefined) return { checks: [], steps: [] };
  const checks: SetupCheck[] = [];
  const steps: Omit<SetupStep, 'host'>[] = [];
  const version = facts.tailscale?.version;
  if (version === undefined) {
    if (mesh.install.method === 'skip' || !facts.apt) {
      throw new UserError(
        `${host}: the Tailscale client is not installed${mesh.install.method === 'skip' ? ` and ${mesh.configKey}.install.method is skip` : ` and ${facts.os.name} has no apt-get`}`,
        { hint: `install tailscale on ${host} (tailscale.com/download), then run setup again` },
      );
    }
    if (!state.aptUpdated) {
      steps.push({
        id: 'mesh-apt-update',
        title: 'refresh the package lists (apt-get update)',
        found: 'no tailscale client',
        action: { kind: 'exec', argv: asRoot([...APT_UPDATE_ARGV]) },
      });
    }
    steps.push({
      id: 'mesh-install',
      title: `install tailscale from ${facts.os.name}'s packages`,
      found: 'no tailscale client',
      action: {
        kind: 'exec',
        argv: asRoot(aptInstallArgv(['tailscale'])),
      },
    });
  } else if (mesh.install.minVersion !== undefined && versionBelow(version, mesh.install.minVersion)) {
    throw new UserError(
      `${host}: tailscale ${version} is older than ${mesh.install.minVersion} (${mesh.configKey}.install.min_version)`,
      { hint: `upgrade tailscale on ${host}, then run setup again` },
    );
  } else {
    checks.push({ name: 'tailscale', found: `tailscale ${version}` });
  }

  const status = facts.tailscale?.status;
  const tags = mesh.tags[host] ?? [];
  if (status?.BackendState === 'Running') {
    const tailnet = stripDot(status.CurrentTailnet?.MagicDNSSuffix ?? status.MagicDNSSuffix);
    const name = status.Self?.HostName ?? '';
    if (tailnet !== mesh.tailnetDomain) {
      throw new UserError(
        `${host} is joined to another tailnet (${tailnet || 'unknown'}, as ${name || 'no name'}), not ${mesh.tailnetDomain}`,
        {
          hint: `setup does not move a host between tailnets: run \`tailscale logout\` on ${host} if it should join ${mesh.tailnetDomain}, or fix ${mesh.configKey}.tailnet_domain`,
        },
      );
    }
    if (name !== host) {
      throw new UserError(`${host} is on ${mesh.tailnetDomain} under another name (${name || 'none'})`, {
        hint: `rename it (\`tailscale set --hostname=${host}\` on ${host}) or run \`tailscale logout\` there, then run setup again`,
      });
    }
    const address = status.Self?.TailscaleIPs?.[0];
    checks.push({
      name: 'mesh',
      found: `joined ${mesh.tailnetDomain} as ${host}${address ? ` (${address})` : ''}${status.Self?.Tags?.length ? `, tags ${status.Self.Tags.join(', ')}` : ''}`,
    });
    return { checks, steps };
  }
  steps.push({
    id: 'mesh-join',
    title: `join ${mesh.tailnetDomain} as ${host}${tags.length > 0 ? ` with ${tags.join(', ')}` : ''} (tailscale up${mesh.loginServer ? ` --login-server ${mesh.loginServer}` : ''})`,
    found: status === undefined ? 'not on a tailnet' : `tailscale is ${status.BackendState}`,
    action: {
      kind: 'exec',
      argv: asRoot(['sh', '-c', JOIN_SCRIPT, 'sh', ...tailscaleUpFlags(host, mesh)]),
      stdinSecret: 'mesh-auth-key',
    },
  });
  return { checks, steps };
};
