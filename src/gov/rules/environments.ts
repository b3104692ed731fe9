import { splitRouteDomain } from '../../config/schema.js';
import { deployedServices, isDatabaseService, mountsOf, ownsNamedVolume, roleOf } from '../compose-facts.js';
import type { Rule, RuleHit } from '../types.js';

/** Environment names that mean production. */
export const PRODUCTION_NAME = /^(prod|production|prd|live)([-_].*)?$/i;

export const productionConfirmation: Rule = {
  id: 'production-confirmation',
  severity: 'error',
  title: 'Production environments ask before deploying',
  why: 'With shell history and STAGECRAFT_ENV, `stagecraft deploy` reaches production as easily as staging; `require_confirmation: true` makes a person (or `--yes` in CI) say so each time. Environments named prod, production, prd or live (also prod-eu, production_2…) count as production.',
  fix: 'add `require_confirmation: true` under the environment',
  check: (project) =>
    project.environments
      .filter(
        (env) => PRODUCTION_NAME.test(env) && project.config.environments[env]?.require_confirmation !== true,
      )
      .map((env) => {
        const explicit = project.config.environments[env]?.require_confirmation === false;
        return {
          source: 'config' as const,
          path: explicit ? ['environments', env, 'require_confirmation'] : ['environments', env],
          key: !explicit,
          message: `environment "${env}" deploys without asking for confirmation`,
          fix: `set require_confirmation: true under environments.${env}`,
        };
      }),
};

export const statefulBackup: Rule = {
  id: 'stateful-backup',
  severity: 'warning',
  title: 'Data on a single host is backed up before each deploy',
  why: 'A role whose services keep data (a database, a named volume) on one host has no second copy: a migration that drops the wrong column or a lost disk loses the data. A pre-deploy hook runs after the lock is taken and before migrations, the moment to take a backup. Checked for driver ssh environments; a service without a role counts for the first role.',
  fix: 'add an executable .stagecraft/hooks/pre-deploy that backs the data up (e.g. `stagecraft exec db -- pg_dump …`), or a second host for the role with replication',
  check: (project) => {
    if (project.hooks.includes('pre-deploy')) return [];
    const hits: RuleHit[] = [];
    for (const env of project.environments) {
      const environment = project.config.environments[env];
      if (environment?.driver !== 'ssh') continue;
      const variables = project.variables(env);
      for (const [role, hosts] of Object.entries(environment.hosts ?? {})) {
        if (hosts.length !== 1) continue;
        const stateful = deployedServices(project)
          .filter(([name]) => roleOf(project, env, name) === role)
          .filter(([, service]) => ownsNamedVolume(service) || isDatabaseService(service, role, variables))
          .map(([name, service]) => {
            const volumes = mountsOf(service)
              .filter(({ mount }) => mount.type === 'volume' && mount.source !== undefined)
              .map(({ mount }) => mount.source);
            return volumes.length > 0 ? `${name} (volume ${volumes.join(', ')})` : name;
          });
        if (stateful.length === 0) continue;
        const host = hosts[0];
        const hostName = typeof host === 'string' ? host : host?.name;
        hits.push({
          source: 'config',
          path: ['environments', env, 'hosts', role],
          message: `role "${role}" of environment "${env}" keeps data of ${stateful.join(', ')} on one host (${hostName}) and no pre-deploy hook backs it up`,
        });
      }
    }
    return hits;
  },
};

/** Domains that never get a public certificate: localhost names, the catch-all, IP addresses. */
function isPublicDomain(entry: string): boolean {
  // A route domain may carry a path prefix (example.com/api): the host decides.
  const domain = splitRouteDomain(entry).host;
  return !(
    domain === '*' ||
    domain === 'localhost' ||
    domain.endsWith('.localhost') ||
    domain.endsWith('.local') ||
    domain.endsWith('.internal') ||
    /^[\d.]+$/.test(domain) ||
    domain.includes(':')
  );
}

export const tlsOff: Rule = {
  id: 'tls-off',
  severity: 'warning',
  title: 'Public domains are served over HTTPS',
  why: 'With `ingress.tls.mode: off` the gateway serves public domains over plain HTTP: passwords, cookies and tokens cross the internet in clear text, and browsers mark the site "not secure". Checked when a driver ssh environment is in scope; localhost names, `*` and IP addresses do not count.',
  fix: "set ingress.tls.mode: acme (certificates from Let's Encrypt, contact from email_env) or custom (your cert_file and key_file)",
  check: (project) => {
    const mode = project.config.ingress?.tls?.mode ?? 'off';
    if (mode !== 'off') return [];
    const remote = project.environments.filter((env) => project.config.environments[env]?.driver === 'ssh');
    if (remote.length === 0) return [];
    const services = Object.entries(project.config.services ?? {}).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    for (const [name, service] of services) {
      const index = (service.domains ?? []).findIndex(isPublicDomain);
      if (index === -1) continue;
      const hasTls = project.config.ingress?.tls !== undefined;
      return [
        {
          source: 'config',
          path: hasTls ? ['ingress', 'tls', 'mode'] : ['services', name, 'domains', index],
          message: `${service.domains?.[index]} (service "${name}") is served over plain HTTP in ${remote.map((env) => `"${env}"`).join(', ')}: ingress.tls.mode is off`,
        },
      ];
    }
    return [];
  },
};
