import type { ComposeProject } from '../compose/types.js';
import type { PathSegment } from '../config/issues.js';
import type { EnvironmentModel } from '../model/environment.js';
import { UserError } from '../util/errors.js';

/** A build arg whose value is secret: named as a secret, or holding a secret value. */
export interface SecretBuildArg {
  service: string;
  name: string;
}

/**
 * The build args that carry a secret (SPEC §7): their values would sit in the `docker build` argv,
 * in plan output and in the image's history. `secretNames` are the declared and secret-looking
 * variable names, `secretValues` the values known to be secret (values under 4 characters are only
 * matched whole).
 */
export function secretBuildArgs(
  model: EnvironmentModel,
  secretNames: readonly string[],
  secretValues: readonly string[],
): SecretBuildArg[] {
  const names = new Set(secretNames);
  const found: SecretBuildArg[] = [];
  for (const service of model.services) {
    for (const [name, value] of Object.entries(service.build?.args ?? {})) {
      if (value === null || value === undefined || value === '') continue;
      const text = String(value);
      const holdsSecret = secretValues.some(
        (secret) => secret !== '' && (secret.length >= 4 ? text.includes(secret) : text === secret),
      );
      if (names.has(name) || holdsSecret) found.push({ service: service.name, name });
    }
  }
  return found;
}

/** A build label that holds a secret: `path` is its key path in the compose file (a list entry: its index). */
export interface SecretBuildLabel {
  service: string;
  label: string;
  path: PathSegment[];
}

/**
 * The compose `build.labels` (a map or a `KEY=value` list) of the services Stagecraft builds that hold
 * a secret value (values under 4 characters only matched whole): a label is stored in the image,
 * pushed to the registry and shown by `docker inspect` on every host.
 */
export function secretBuildLabels(
  model: EnvironmentModel,
  compose: ComposeProject,
  secretValues: readonly string[],
): SecretBuildLabel[] {
  const found: SecretBuildLabel[] = [];
  for (const service of model.services) {
    if (service.build === undefined) continue;
    const build = compose.services[service.name]?.['build'] as { labels?: unknown } | undefined;
    const labels = build?.labels;
    const entries: [string, string, PathSegment][] = Array.isArray(labels)
      ? labels.map((item, index) => {
          const text = String(item);
          const at = text.indexOf('=');
          return at === -1 ? [text, '', index] : [text.slice(0, at), text.slice(at + 1), index];
        })
      : labels !== null && typeof labels === 'object'
        ? Object.entries(labels as Record<string, unknown>).map(([key, value]) => [
            key,
            String(value ?? ''),
            key,
          ])
        : [];
    for (const [label, value, segment] of entries) {
      const holdsSecret = secretValues.some(
        (secret) => secret !== '' && (secret.length >= 4 ? value.includes(secret) : value === secret),
      );
      if (holdsSecret)
        found.push({
          service: service.name,
          label,
          path: ['services', service.name, 'build', 'labels', segment],
        });
    }
  }
  return found;
}

/**
 * The services Stagecraft builds whose `build.dockerfile_inline` holds a secret value (4 characters
 * or more): the Dockerfile's instructions are stored in the image (`docker history`), which is pushed
 * to the registry and pulled by every host. Returns their names and the key path, in model order.
 */
export function secretInlineDockerfiles(
  model: EnvironmentModel,
  compose: ComposeProject,
  secretValues: readonly string[],
): { service: string; path: PathSegment[] }[] {
  const found: { service: string; path: PathSegment[] }[] = [];
  for (const service of model.services) {
    if (service.build === undefined) continue;
    const inline = (compose.services[service.name]?.['build'] as { dockerfile_inline?: unknown } | undefined)
      ?.dockerfile_inline;
    if (typeof inline !== 'string') continue;
    // compose prints a literal `$` as `$$`.
    const text = inline.replaceAll('$$', '$');
    if (secretValues.some((secret) => secret.length >= 4 && text.includes(secret)))
      found.push({ service: service.name, path: ['services', service.name, 'build', 'dockerfile_inline'] });
  }
  return found;
}

/** How to pass a secret to a build instead: BuildKit build secrets (compose `build.secrets`). */
export function buildSecretHint(arg: SecretBuildArg): string {
  return (
    `pass it as a BuildKit build secret instead of a build arg: in the compose file, under services.${arg.service}.build, ` +
    `"secrets: [${arg.name.toLowerCase()}]" with a top-level "secrets: {${arg.name.toLowerCase()}: {environment: ${arg.name}}}", ` +
    `and in the Dockerfile "RUN --mount=type=secret,id=${arg.name.toLowerCase()},env=${arg.name} …"`
  );
}

/** The refusal of a deploy that would build with a secret build arg. */
export function secretBuildArgError(args: readonly SecretBuildArg[]): UserError {
  const list = args.map((arg) => `${arg.service}: ${arg.name}`).join(', ');
  return new UserError(
    `build arg${args.length === 1 ? '' : 's'} ${list} would put a secret into the docker build command line and the image history`,
    { hint: buildSecretHint(args[0]!) },
  );
}
