import { ownsNamedVolume } from '../compose/analyze.js';
import { type ComposeLocator, located } from '../compose/locate.js';
import type { ComposeProject, ComposeService } from '../compose/types.js';
import type { HostModel, ServiceModel } from './environment.js';

/**
 * Compose keys that `docker stack deploy` ignores ("Ignoring unsupported options: …", docker/cli's
 * compose loader) or that cannot mean on a swarm what they mean to `docker compose`: a deploy would
 * run something other than the compose file says, so plan refuses them. Key → what to do instead.
 */
export const SWARM_UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  container_name: 'Swarm names each task itself (<stack>_<service>.<slot>); remove container_name',
  network_mode: 'Swarm tasks join overlay networks; use networks: instead of network_mode',
  links: 'services on the same network reach each other by name; remove links',
  external_links: 'attach the service to the other stack’s network (an external network) instead',
  privileged: 'Swarm services cannot run privileged; use cap_add for the capabilities the service needs',
  devices: 'Swarm services cannot map devices',
  ipc: 'Swarm services cannot share an IPC namespace',
  pid: 'Swarm services cannot share a PID namespace',
  userns_mode: 'Swarm services cannot choose a user namespace mode',
  cgroup_parent: 'Swarm services cannot choose a cgroup parent',
  security_opt: 'Swarm services cannot set security_opt',
  volumes_from: 'Swarm services cannot mount another container’s volumes; use a named volume',
  mac_address: 'Swarm services cannot set a MAC address',
};

/**
 * What driver swarm refuses about the services, as problems for the model's report (plan exits 1,
 * nothing changes): compose keys Swarm does not honour (SWARM_UNSUPPORTED_KEYS), and a service that
 * owns a named volume on a role with more than one host (Swarm may start its task on another node,
 * where the volume is a different, empty one). Pure.
 */
export function swarmProblems(
  services: ServiceModel[],
  compose: ComposeProject,
  hosts: HostModel[],
  locate?: ComposeLocator,
): string[] {
  const problems: string[] = [];
  for (const service of services) {
    const spec = compose.services[service.name] as ComposeService;
    for (const [key, instead] of Object.entries(SWARM_UNSUPPORTED_KEYS)) {
      if (spec[key] === undefined) continue;
      problems.push(
        located(
          locate?.key(['services', service.name, key]),
          `service ${service.name}: ${key} is not supported by Docker Swarm: ${instead}`,
        ),
      );
    }
    if (service.basicAuth !== undefined) {
      // The gateway's config is a file of the stack there: the password's hash would be written on the manager.
      problems.push(
        `service ${service.name}: basic_auth is not supported on driver swarm yet (the gateway's config is a stack file); protect it in the app, or deploy with driver ssh`,
      );
    }
    const roleHosts = hosts.filter((host) => host.roles.includes(service.role));
    if (ownsNamedVolume(spec) && roleHosts.length > 1 && spec.deploy?.['mode'] !== 'global') {
      const volumes = (spec.volumes ?? [])
        .filter((mount) => mount.type === 'volume' && typeof mount.source === 'string')
        .map((mount) => mount.source);
      problems.push(
        located(
          locate?.key(['services', service.name, 'volumes']),
          `service ${service.name} keeps data in the named volume ${volumes.join(', ')}, and its role ${service.role} has ${roleHosts.length} hosts (${roleHosts.map((host) => host.name).join(', ')}): Swarm may start it on another node, whose volume is empty; give ${service.name} a role with one host`,
        ),
      );
    }
  }
  return problems;
}
