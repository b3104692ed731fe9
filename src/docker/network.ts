/** argv builders for networks: the ingress joins the networks of the projects it routes to. */

/** `docker network connect [--alias A…] network container` */
export function networkConnectArgs(
  network: string,
  container: string,
  options: { aliases?: string[] } = {},
): string[] {
  const args = ['docker', 'network', 'connect'];
  for (const alias of options.aliases ?? []) args.push('--alias', alias);
  return [...args, network, container];
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

/** `docker network create [--driver D] [--label k=v…] name` (labels sorted) */
export function networkCreateArgs(
  name: string,
  options: { driver?: string; labels?: Record<string, string> } = {},
): string[] {
  const args = ['docker', 'network', 'create'];
  if (options.driver !== undefined) args.push('--driver', options.driver);
  for (const key of Object.keys(options.labels ?? {}).sort())
    args.push('--label', `${key}=${options.labels?.[key]}`);
  return [...args, name];
}

/** Exit 0 when the network exists: `docker network inspect --format {{.Id}} name` */
export function networkExistsArgs(name: string): string[] {
  return ['docker', 'network', 'inspect', '--format', '{{.Id}}', name];
}
