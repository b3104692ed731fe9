import { compareStrings } from '../../compose/canonical.js';
import type { PathSegment } from '../../config/issues.js';
import { looksSecretName } from '../../util/secret.js';
import {
  deployedServices,
  type EnvironmentEntry,
  hasLiteralUrlPassword,
  isLiteral,
  keyValueEntries,
  variableReferences,
} from '../compose-facts.js';
import type { GovProject, Rule, RuleHit, SourceName } from '../types.js';

/** Every `environment` entry of the compose services and of stagecraft.yml's services. */
function environmentEntries(
  project: GovProject,
): { source: SourceName; service: string; entry: EnvironmentEntry }[] {
  const entries: { source: SourceName; service: string; entry: EnvironmentEntry }[] = [];
  for (const [name, service] of deployedServices(project)) {
    for (const entry of keyValueEntries(service['environment'], ['services', name, 'environment']))
      entries.push({ source: 'compose', service: name, entry });
  }
  const configServices = (path: PathSegment[], services: unknown) => {
    if (services === null || typeof services !== 'object') return;
    for (const [name, service] of Object.entries(services as Record<string, { environment?: unknown }>).sort(
      ([a], [b]) => compareStrings(a, b),
    )) {
      for (const entry of keyValueEntries(service?.environment, [...path, name, 'environment']))
        entries.push({ source: 'config', service: name, entry });
    }
  };
  configServices(['services'], project.configRaw['services']);
  const environments = (project.configRaw['environments'] ?? {}) as Record<string, { services?: unknown }>;
  for (const env of Object.keys(environments).sort(compareStrings))
    configServices(['environments', env, 'services'], environments[env]?.services);
  return entries;
}

function fileOf(project: GovProject, source: SourceName): string {
  return source === 'compose' ? (project.compose?.file ?? 'the compose file') : project.configFile;
}

export const inlineSecret: Rule = {
  id: 'inline-secret',
  severity: 'error',
  title: 'No secret values written in the compose file or stagecraft.yml',
  why: 'Both files are committed: a password written in them is in the git history for good, readable by everyone with the repository, and the same in every environment. Stagecraft moves to 0600 env files on the hosts the environment values that come from secret variables or are named like secrets (…_PASSWORD, …_TOKEN), but the committed file keeps the value.',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax, shown to the user
  fix: "reference a variable (`POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}`), keep the value in the environment's env_file (gitignored) and list the name under secrets.keys; rotate the value, it is in the git history",
  check: (project) =>
    environmentEntries(project).flatMap(({ source, service, entry }): RuleHit[] => {
      const secretName = looksSecretName(entry.name) && isLiteral(entry.value);
      const urlPassword = entry.value !== undefined && hasLiteralUrlPassword(entry.value);
      if (!secretName && !urlPassword) return [];
      return [
        {
          source,
          path: entry.path,
          fix: secretName
            ? `write ${entry.name}: \${${entry.name}${source === 'compose' ? `:?set ${entry.name}` : ''}}, keep the value in the environment's env_file (gitignored), list ${entry.name} under secrets.keys, and rotate it: it is in the git history`
            : `write the password as a variable (scheme://user:\${DB_PASSWORD:?set DB_PASSWORD}@host/…), keep its value in the environment's env_file (gitignored), and rotate it: it is in the git history`,
          message: secretName
            ? `${entry.name} of service "${service}" is written in ${fileOf(project, source)} (value not shown)`
            : `${entry.name} of service "${service}" holds a URL with a password written in ${fileOf(project, source)} (value not shown)`,
        },
      ];
    }),
};

export const secretDefault: Rule = {
  id: 'secret-default',
  severity: 'warning',
  title: 'Secret variables have no default value in the file',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax, shown to the user
  why: '`${POSTGRES_PASSWORD:-shop}` falls back to a password written in the file whenever the variable is missing (a forgotten env_file, a new CI job): the deploy succeeds with a known password instead of failing.',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax, shown to the user
  fix: 'make the variable required: `${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}`',
  check: (project) =>
    environmentEntries(project).flatMap(({ source, service, entry }): RuleHit[] => {
      if (entry.value === undefined) return [];
      const defaults = variableReferences(entry.value).filter(
        (reference) =>
          (reference.operator === '-' || reference.operator === ':-') &&
          (reference.argument ?? '') !== '' &&
          (looksSecretName(reference.name) || looksSecretName(entry.name)),
      );
      return defaults.map((reference) => ({
        source,
        path: entry.path,
        message: `${entry.name} of service "${service}" falls back to a value written in the file when \${${reference.name}} is unset (value not shown)`,
        fix: `write \${${reference.name}:?set ${reference.name}} so that a missing value stops the deploy`,
      }));
    }),
};

export const buildArgSecret: Rule = {
  id: 'build-arg-secret',
  severity: 'error',
  title: 'Secrets are not passed to builds as build args',
  why: 'Build args are recorded in the image (`docker history` shows them) and the image is pushed to the registry and every host: a token passed as a build arg is readable by anyone who can pull the image.',
  fix: 'use a build secret: compose `build.secrets` and `RUN --mount=type=secret,id=…` in the Dockerfile',
  check: (project) =>
    deployedServices(project).flatMap(([name, service]): RuleHit[] => {
      const build = service['build'];
      if (build === null || typeof build !== 'object') return [];
      return keyValueEntries((build as { args?: unknown }).args, ['services', name, 'build', 'args'])
        .filter((entry) => looksSecretName(entry.name))
        .map((entry) => ({
          source: 'compose' as const,
          path: entry.path,
          message: `build arg ${entry.name} of service "${name}" ends up in the image's history`,
        }));
    }),
};
