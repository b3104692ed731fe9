/** argv builders for networks: the ingress joins the networks of the projects it routes to. */

/**
 * Connects `containers` to `network` under `alias`, in order, in one command, then prints the host's
 * `/proc/uptime` (seconds since boot, two decimals, then idle time): the moment they joined, on the
 * clock every container of the host reads too (see parseUptimeCs; nothing, and exit 0, where there is
 * no /proc/uptime). Stops at the first connect that fails, with its exit code.
 */
export function connectAllArgs(network: string, alias: string, containers: string[]): string[] {
  return [
    'sh',
    '-c',
    'n=$1 a=$2; shift 2; for c do docker network connect --alias "$a" "$n" "$c" || exit; done; cat /proc/uptime 2>/dev/null || :',
    'sh',
    network,
    alias,
    ...containers,
  ];
}

/** `/proc/uptime`'s first field in centiseconds ("123.45 99.00" → 12345), undefined when unreadable. */
export function parseUptimeCs(text: string): number | undefined {
  const match = /^(\d+)\.(\d\d)\s/.exec(`${text.trim().split('\n').at(-1) ?? ''} `);
  return match ? Number(match[1]) * 100 + Number(match[2]) : undefined;
}

/** `docker network disconnect [-f] network container` */
export function networkDisconnectArgs(
  network: string,
  container: string,
  options: { force?: boolean } = {},
): string[] {
  return options.force === true
    ? ['docker', 'network', 'disconnect', '-f', network, container]
    : ['docker', 'network', 'disconnect', network, container];
}

/** What `docker network create` is told, mirroring a compose network definition where one is given. */
export interface NetworkCreateOptions {
  driver?: string;
  labels?: Record<string, string>;
  /** `driver_opts`: `--opt k=v` (sorted). */
  opts?: Record<string, string>;
  internal?: boolean;
  attachable?: boolean;
  ipv6?: boolean;
  /** `ipam.driver`. */
  ipamDriver?: string;
  /** `ipam.config` entries: `--subnet`, `--gateway`, `--ip-range` each. */
  subnets?: { subnet?: string; gateway?: string; ipRange?: string }[];
}

/**
 * `docker network create [--driver D] [--internal] [--attachable] [--ipv6] [--opt k=v…]
 * [--ipam-driver D] [--subnet S --gateway G --ip-range R…] [--label k=v…] name` (opts and labels
 * sorted). https://docs.docker.com/reference/cli/docker/network/create/
 */
export function networkCreateArgs(name: string, options: NetworkCreateOptions = {}): string[] {
  const args = ['docker', 'network', 'create'];
  if (options.driver !== undefined) args.push('--driver', options.driver);
  if (options.internal === true) args.push('--internal');
  if (options.attachable === true) args.push('--attachable');
  if (options.ipv6 === true) args.push('--ipv6');
  for (const key of Object.keys(options.opts ?? {}).sort())
    args.push('--opt', `${key}=${options.opts?.[key]}`);
  if (options.ipamDriver !== undefined) args.push('--ipam-driver', options.ipamDriver);
  for (const subnet of options.subnets ?? []) {
    if (subnet.subnet !== undefined) args.push('--subnet', subnet.subnet);
    if (subnet.gateway !== undefined) args.push('--gateway', subnet.gateway);
    if (subnet.ipRange !== undefined) args.push('--ip-range', subnet.ipRange);
  }
  for (const key of Object.keys(options.labels ?? {}).sort())
    args.push('--label', `${key}=${options.labels?.[key]}`);
  return [...args, name];
}

/** Exit 0 when the network exists: `docker network inspect --format {{.Id}} name` */
export function networkExistsArgs(name: string): string[] {
  return ['docker', 'network', 'inspect', '--format', '{{.Id}}', name];
}
