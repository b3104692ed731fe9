import {
  deployedServices,
  isDatabaseService,
  listensEverywhere,
  mountsOf,
  parsePort,
  roleOf,
} from '../compose-facts.js';
import type { RawComposeService, Rule, RuleHit } from '../types.js';

/** True when the compose file gives the service a health check that runs (not disabled, not NONE). */
function composeHealthcheck(service: RawComposeService): boolean | undefined {
  const check = service['healthcheck'];
  if (check === null || typeof check !== 'object') return undefined;
  const { test, disable } = check as { test?: unknown; disable?: unknown };
  if (disable === true) return false;
  if (test === undefined) return undefined;
  const first = Array.isArray(test) ? test[0] : test;
  return first !== 'NONE';
}

/** True when the final stage of a Dockerfile declares a HEALTHCHECK other than NONE. */
export function dockerfileHasHealthcheck(text: string): boolean {
  const instructions = text.split('\n').map((line) => line.trim());
  const lastFrom = instructions.map((line) => /^FROM\s/i.test(line)).lastIndexOf(true);
  return instructions
    .slice(Math.max(lastFrom, 0))
    .some((line) => /^HEALTHCHECK\s+/i.test(line) && !/^HEALTHCHECK\s+NONE\b/i.test(line));
}

export const webHealthcheck: Rule = {
  id: 'web-healthcheck',
  severity: 'error',
  title: 'Every service behind the ingress has a health check',
  why: 'A start-first rollout switches traffic to new containers once Docker calls them healthy. Without a health check Stagecraft can only wait `stable_for` and hope: requests reach a container that is still booting, and a broken release goes live instead of being stopped.',
  fix: 'add a compose `healthcheck` (test, interval, timeout, retries, start_period), a HEALTHCHECK in the Dockerfile, or `health: { path: /health }` under the service in stagecraft.yml',
  check: (project) => {
    const hits: RuleHit[] = [];
    const configServices = project.config.services ?? {};
    for (const [name, service] of deployedServices(project)) {
      const settings = configServices[name];
      const routed =
        settings !== undefined && (settings.port !== undefined || (settings.domains ?? []).length > 0);
      // Only health.path supplies a check (compose/health.ts); timings alone tune an existing one.
      if (!routed || settings.health?.path !== undefined) continue;
      const compose = composeHealthcheck(service);
      if (compose === true) continue;
      if (compose === undefined && service['build'] !== undefined) {
        const dockerfile = project.dockerfile(name);
        if (dockerfile !== undefined && dockerfileHasHealthcheck(dockerfile)) continue;
      }
      hits.push({
        source: 'compose',
        path: ['services', name],
        key: true,
        message:
          compose === false
            ? `service "${name}" is served by the ingress but its health check is disabled`
            : `service "${name}" is served by the ingress but has no health check (compose, Dockerfile or stagecraft.yml)`,
      });
    }
    return hits;
  },
};

export const restartPolicy: Rule = {
  id: 'restart-policy',
  severity: 'warning',
  title: 'Long-running services have a restart policy',
  why: 'Without `restart`, a container that crashes stays down, and after a host reboot (kernel update, provider maintenance) nothing comes back until the next deploy.',
  fix: 'add `restart: unless-stopped` (one-shot jobs: `restart: "no"`)',
  check: (project) =>
    deployedServices(project)
      .filter(([, service]) => {
        const deploy = service['deploy'] as { restart_policy?: unknown } | undefined;
        return service['restart'] === undefined && deploy?.restart_policy === undefined;
      })
      .map(([name]) => ({
        source: 'compose' as const,
        path: ['services', name],
        key: true,
        message: `service "${name}" has no restart policy: after a crash or a host reboot it stays down`,
      })),
};

export const databasePortPublic: Rule = {
  id: 'database-port-public',
  severity: 'error',
  title: 'Databases do not publish ports on every interface',
  why: 'A port published without a host address listens on 0.0.0.0 and ::. Docker writes its own iptables rules, so ufw or firewalld does not protect it: the database answers the whole internet and is brute-forced within hours.',
  fix: 'remove `ports` (services on the compose network reach it by name), or bind to loopback: "127.0.0.1:5432:5432"',
  check: (project) => {
    const hits = new Map<string, RuleHit>();
    for (const env of project.environments) {
      const variables = project.variables(env);
      for (const [name, service] of deployedServices(project)) {
        if (!isDatabaseService(service, roleOf(project, env, name), variables)) continue;
        const ports = Array.isArray(service['ports']) ? service['ports'] : [];
        ports.forEach((entry, index) => {
          const port = parsePort(entry, variables);
          if (port === undefined || !listensEverywhere(port)) return;
          const hostPort = port.published ?? 'a random port';
          hits.set(`${name}:${index}`, {
            source: 'compose',
            path: ['services', name, 'ports', index],
            message: `database service "${name}" publishes ${hostPort === 'a random port' ? 'a random host port' : `port ${hostPort}`} on every interface of the host`,
            fix: `bind it to loopback ("127.0.0.1:${port.published ?? port.target}:${port.target}") or remove it`,
          });
        });
      }
    }
    return [...hits.values()];
  },
};

const DOCKER_SOCKETS = new Set(['/var/run/docker.sock', '/run/docker.sock']);

export const dockerSocket: Rule = {
  id: 'docker-socket',
  severity: 'error',
  title: 'No service mounts the Docker socket',
  why: "The Docker socket is root on the host: whoever controls the container (one vulnerable dependency) can start a privileged container, read every other app's secrets and stop the gateway that serves every app on the host.",
  fix: 'remove the mount; if a tool needs the Docker API, give it a socket proxy that allows only the calls it makes (e.g. read-only container listing)',
  check: (project) =>
    deployedServices(project).flatMap(([name, service]) =>
      mountsOf(service)
        .filter(({ mount }) => mount.source !== undefined && DOCKER_SOCKETS.has(mount.source))
        .map(({ path }) => ({
          source: 'compose' as const,
          path: ['services', name, ...path],
          message: `service "${name}" mounts the Docker socket, which gives it root on the host`,
        })),
    ),
};

export const privileged: Rule = {
  id: 'privileged',
  severity: 'warning',
  title: "Services do not run privileged or in the host's namespaces",
  why: 'privileged, network_mode/pid/ipc host and the SYS_ADMIN or ALL capabilities remove the isolation between the container and the host that every other app on the host relies on; host networking also bypasses the gateway and publishes every port the process opens.',
  fix: 'remove the key; grant the one capability the service needs with cap_add, publish ports explicitly',
  check: (project) =>
    deployedServices(project).flatMap(([name, service]): RuleHit[] => {
      const hits: RuleHit[] = [];
      const at = (key: string, what: string) =>
        hits.push({ source: 'compose', path: ['services', name, key], message: `service "${name}" ${what}` });
      if (service['privileged'] === true)
        at('privileged', 'runs privileged (every device and capability of the host)');
      for (const key of ['network_mode', 'pid', 'ipc'] as const)
        if (service[key] === 'host')
          at(key, `shares the host's ${key === 'network_mode' ? 'network' : key} namespace (${key}: host)`);
      const caps = Array.isArray(service['cap_add']) ? service['cap_add'].map(String) : [];
      const broad = caps.filter((cap) => /^(CAP_)?(ALL|SYS_ADMIN)$/i.test(cap));
      if (broad.length > 0) at('cap_add', `adds the capabilities ${broad.join(', ')}`);
      return hits;
    }),
};
