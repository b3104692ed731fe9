// What `setup` reads from a host before it plans: one POSIX sh probe, one round trip, key=value lines.

/** Facts about one host, as the probe found them. Pure data: the planner decides from these alone. */
export interface HostFacts {
  os: { id: string; idLike: string[]; versionId: string; name: string };
  /** The user setup connected as. */
  user: { name: string; uid: number; sudo: boolean };
  /** How services are started: systemd is PID 1, a SysV `service` command, or neither. */
  init: 'systemd' | 'sysv' | 'none';
  apt: boolean;
  docker: {
    /** dockerd's version (e.g. "26.1.5"), undefined when the engine is not installed. */
    version: string | undefined;
    /** The `docker` client is on PATH (Debian 13 packages it apart from the engine). */
    cli: boolean;
    running: boolean;
    enabled: boolean;
  };
  /** `docker compose` (v2 plugin) version, undefined when missing. */
  compose: string | undefined;
  /** /etc/docker/daemon.json as text, undefined when absent. */
  daemonJson: string | undefined;
  deployUser: {
    exists: boolean;
    home: string | undefined;
    groups: string[];
    authorizedKeys: string[];
    /** Folder (relative to home) → owner, for the folders asked about; absent = missing. */
    folders: Record<string, string>;
  };
  firewall: {
    ufw: 'active' | 'inactive' | 'absent';
    /** `ufw status` rule lines, e.g. "80/tcp ALLOW Anywhere". */
    ufwRules: string[];
    /** `nft list ruleset` text ('' when nft is absent or empty). */
    nftRuleset: string;
  };
  /**
   * The Tailscale client: `tailscale version`'s first line as x.y.z (undefined when it is not installed
   * or does not answer) and `tailscale status --json` parsed (undefined when it printed no JSON).
   * Absent when the probe predates the mesh.
   */
  tailscale?: { version: string | undefined; status: TailscaleStatus | undefined };
}

/**
 * The part of `tailscale status --json` (ipnstate.Status) setup reads. Field names are Tailscale's;
 * see tailscale.com/kb/1080/cli#status and ipn/ipnstate in tailscale's source.
 */
export interface TailscaleStatus {
  /** "NoState", "NeedsLogin", "NeedsMachineAuth", "Stopped", "Starting" or "Running". */
  BackendState: string;
  Self?: TailscalePeer;
  /** The other nodes this one sees, by node key ("nodekey:…"); null when it has none. */
  Peer?: Record<string, TailscalePeer> | null;
  /** The tailnet's MagicDNS suffix, e.g. "acme.ts.net". */
  MagicDNSSuffix?: string;
  CurrentTailnet?: { Name?: string; MagicDNSSuffix?: string; MagicDNSEnabled?: boolean } | null;
}

/** A node of a status (ipnstate.PeerStatus): Self, or one of Peer's values. */
export interface TailscalePeer {
  HostName?: string;
  /** The MagicDNS name with a trailing dot, e.g. "h1.acme.ts.net."; "" when MagicDNS gives none. */
  DNSName?: string;
  /** Mesh addresses, IPv4 (100.64.0.0/10) first. */
  TailscaleIPs?: string[] | null;
  Tags?: string[] | null;
  /** Connected to the control plane now. */
  Online?: boolean;
}

/** The MagicDNS suffix a status reports, without the trailing dot ("" when it gives none). */
export function tailnetOf(status: TailscaleStatus): string {
  return (status.CurrentTailnet?.MagicDNSSuffix ?? status.MagicDNSSuffix ?? '').replace(/\.+$/, '');
}

/**
 * The probe: `sh -c PROBE_SCRIPT sh <deploy-user> <folder>...`. Prints `key=value` lines; reads only.
 * Commands that need root run through `sudo -n` when the user is not root.
 */
export const PROBE_SCRIPT = `u="$1"; shift
S=""; if [ "$(id -u)" != 0 ]; then S="sudo -n"; fi
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=\${ID:-}"; echo "os_like=\${ID_LIKE:-}"; echo "os_version=\${VERSION_ID:-}"; echo "os_name=\${PRETTY_NAME:-}"
echo "uid=$(id -u)"; echo "user=$(id -un)"
if [ "$(id -u)" = 0 ] || sudo -n true >/dev/null 2>&1; then echo sudo=yes; else echo sudo=no; fi
if [ -d /run/systemd/system ]; then echo init=systemd; elif command -v service >/dev/null 2>&1; then echo init=sysv; else echo init=none; fi
if command -v apt-get >/dev/null 2>&1; then echo apt=yes; fi
d=$(command -v dockerd || ls /usr/sbin/dockerd /usr/bin/dockerd /usr/local/bin/dockerd 2>/dev/null | head -n 1)
if [ -n "$d" ]; then echo "docker_version=$("$d" --version 2>/dev/null)"; fi
if docker info --format '{{.ServerVersion}}' >/dev/null 2>&1 || $S docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; then echo docker_running=yes; fi
if [ -d /run/systemd/system ]; then
  if systemctl is-enabled docker >/dev/null 2>&1; then echo docker_enabled=yes; fi
elif ls /etc/rc2.d/S*docker >/dev/null 2>&1; then echo docker_enabled=yes; fi
if command -v docker >/dev/null 2>&1; then echo docker_cli=yes; echo "compose_version=$(docker compose version --short 2>/dev/null)"; fi
if [ -f /etc/docker/daemon.json ]; then echo "daemon_json=$($S base64 -w0 /etc/docker/daemon.json)"; fi
line=$(getent passwd "$u" || true)
if [ -n "$line" ]; then
  home=$(echo "$line" | cut -d: -f6)
  echo "deploy_home=$home"; echo "deploy_groups=$(id -nG "$u")"
  $S cat "$home/.ssh/authorized_keys" 2>/dev/null | while IFS= read -r k; do echo "deploy_key=$k"; done
  for f in "$@"; do o=$($S stat -c %U "$home/$f" 2>/dev/null) && echo "folder=$o $f"; done
fi
if command -v ufw >/dev/null 2>&1; then
  st=$($S ufw status 2>/dev/null || true)
  case "$st" in *"Status: active"*) echo ufw=active;; *) echo ufw=inactive;; esac
  echo "$st" | grep -E 'ALLOW' | while IFS= read -r r; do echo "ufw_rule=$r"; done
fi
if command -v nft >/dev/null 2>&1; then echo "nft=$($S nft list ruleset 2>/dev/null | base64 -w0)"; fi
if command -v tailscale >/dev/null 2>&1; then
  echo "tailscale_version=$(tailscale version 2>/dev/null | head -n 1)"
  echo "tailscale_status=$($S tailscale status --json 2>/dev/null | base64 -w0)"
fi
echo probe=done
`;

/**
 * The probe a deploy runs before it touches a host (`sh -c READY_PROBE_SCRIPT`): only what
 * notReadyReason needs — the engine's version as the running server reports it (else dockerd's, to
 * tell "not installed" from "not running"), and compose's. Two docker CLI calls, side by side (each
 * 0.2–1 s on a busy host, and every deploy waits for them), where PROBE_SCRIPT makes a dozen reads;
 * the same `key=value` lines, read by parseHostFacts. Reads only.
 */
export const READY_PROBE_SCRIPT = `S=""; if [ "$(id -u)" != 0 ]; then S="sudo -n"; fi
v=""
if command -v docker >/dev/null 2>&1; then
  echo docker_cli=yes
  f='{{.Server.Version}}'
  c=$(mktemp 2>/dev/null) || c=""
  if [ -n "$c" ]; then docker compose version --short >"$c" 2>/dev/null & p=$!; fi
  v=$(docker version --format "$f" 2>/dev/null || $S docker version --format "$f" 2>/dev/null) || v=""
  if [ -n "$c" ]; then wait "$p"; echo "compose_version=$(cat "$c")"; rm -f "$c"
  else echo "compose_version=$(docker compose version --short 2>/dev/null)"; fi
fi
if [ -n "$v" ]; then echo "docker_version=$v"; echo docker_running=yes
else
  d=$(command -v dockerd || ls /usr/sbin/dockerd /usr/bin/dockerd /usr/local/bin/dockerd 2>/dev/null | head -n 1)
  if [ -n "$d" ]; then echo "docker_version=$("$d" --version 2>/dev/null)"; fi
fi
echo probe=done
`;

function fromBase64(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** The first x.y.z in a version string ("Docker version 26.1.5+dfsg1, build a72d7cd" → "26.1.5"). */
export function versionOf(text: string | undefined): string | undefined {
  const match = text?.match(/(\d+)\.(\d+)(?:\.(\d+))?/);
  if (!match) return undefined;
  return `${match[1]}.${match[2]}.${match[3] ?? '0'}`;
}

/** a < b for x.y.z versions. */
export function versionBelow(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/**
 * Parses the probe's output. Throws an Error naming what is missing when the output is not the
 * probe's (the caller wraps it as an external error).
 */
export function parseHostFacts(stdout: string): HostFacts {
  const values = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at <= 0) continue;
    const key = line.slice(0, at);
    values.set(key, [...(values.get(key) ?? []), line.slice(at + 1)]);
  }
  if (values.get('probe')?.[0] !== 'done') throw new Error('the host probe did not finish');
  const one = (key: string) => values.get(key)?.[0];
  const all = (key: string) => values.get(key) ?? [];
  const folders: Record<string, string> = {};
  for (const entry of all('folder')) {
    const space = entry.indexOf(' ');
    if (space > 0) folders[entry.slice(space + 1)] = entry.slice(0, space);
  }
  const ufw = one('ufw');
  return {
    os: {
      id: one('os_id') ?? '',
      idLike: (one('os_like') ?? '').split(/\s+/).filter(Boolean),
      versionId: one('os_version') ?? '',
      name: one('os_name') || one('os_id') || 'an unknown system',
    },
    user: { name: one('user') ?? '', uid: Number(one('uid') ?? -1), sudo: one('sudo') === 'yes' },
    init: (one('init') as HostFacts['init'] | undefined) ?? 'none',
    apt: one('apt') === 'yes',
    docker: {
      version: versionOf(one('docker_version')),
      cli: one('docker_cli') === 'yes',
      running: one('docker_running') === 'yes',
      enabled: one('docker_enabled') === 'yes',
    },
    compose: versionOf(one('compose_version')),
    daemonJson: fromBase64(one('daemon_json')),
    deployUser: {
      exists: one('deploy_home') !== undefined,
      home: one('deploy_home'),
      groups: (one('deploy_groups') ?? '').split(/\s+/).filter(Boolean),
      authorizedKeys: all('deploy_key').filter((key) => key.trim() !== ''),
      folders,
    },
    firewall: {
      ufw: ufw === 'active' ? 'active' : ufw === 'inactive' ? 'inactive' : 'absent',
      ufwRules: all('ufw_rule').map((rule) => rule.replace(/\s+/g, ' ').trim()),
      nftRuleset: fromBase64(one('nft')) ?? '',
    },
    tailscale: {
      version: versionOf(one('tailscale_version')),
      status: tailscaleStatusOf(fromBase64(one('tailscale_status'))),
    },
  };
}

/** `tailscale status --json` output parsed, or undefined when it is empty or not a status object. */
export function tailscaleStatusOf(text: string | undefined): TailscaleStatus | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const status = parsed as TailscaleStatus;
    return typeof status.BackendState === 'string' ? status : undefined;
  } catch {
    return undefined;
  }
}
