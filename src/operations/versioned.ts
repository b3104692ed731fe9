// The environment of a command loaded for one version (STAGECRAFT_VERSION in compose's environment).
// Apart from operations/deploy.ts so that `plan` can start it (and compose's read of the project)
// before the rest of the deploy code is loaded.

import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { configuredEnvFiles, type LoadedConfig } from '../config/load.js';
import { type LoadedEnvironment, loadEnvironment, secretNames } from './environment.js';
import { envFilesSent, type IgnoredBuildInput } from './ignored-build-inputs.js';
import type { Session } from './session.js';
import { buildContextsOf, checkVersionTag, type ResolvedVersion, resolveVersion } from './version.js';

export interface Versioned {
  env: LoadedEnvironment;
  version: string;
  commit: string;
  immutable: boolean;
}

/**
 * Loads the environment for a version: `--version`, else resolved from git (or given, for a rollback);
 * compose sees it as STAGECRAFT_VERSION. `purpose` plan (a preview) warns of a missing env file where
 * deploy refuses it. Throws what loadEnvironment and resolveVersion throw.
 */
export async function loadVersioned(
  session: Session,
  version: string | undefined | { version: string; commit: string },
  purpose: 'deploy' | 'plan' = 'deploy',
): Promise<Versioned> {
  if (typeof version === 'string' && version !== '') checkVersionTag(version);
  let resolved = { version: 'unknown', commit: '', immutable: false };
  // A version given as is needs git only for the commit: asked while compose reads the project.
  let commitOfGiven: Promise<ResolvedVersion> | undefined;
  const env = await loadEnvironment(session, purpose, async (loaded) => {
    if (typeof version === 'string' && version !== '') {
      commitOfGiven = resolveVersion(loaded.root, version);
      return { STAGECRAFT_VERSION: version };
    }
    resolved =
      typeof version === 'object'
        ? { ...version, immutable: true }
        : await resolveVersion(loaded.root, version, [], configuredEnvFiles(loaded.root, loaded.config));
    return { STAGECRAFT_VERSION: resolved.version };
  });
  if (commitOfGiven !== undefined) resolved = await commitOfGiven;
  // The build contexts (known once compose has read the file) are part of the version: changes in one
  // outside the project folder, and files git ignores that one sends to the builder, make it dirty.
  // Compose reads the file again with that version.
  // Variables a build section interpolates (a build arg from the env file) are not in the commit
  // either: their values name the build too, so each environment's build gets its own tag.
  // The env and secret files the compose file names are left out as well (known once it is read): a
  // version must not move with a secret's value.
  if (version === undefined || version === '') {
    const contexts = buildContextsOf(env.compose.services);
    const named = [...env.composeEnvFiles, ...env.composeSecretFiles];
    const envFiles = [
      ...new Set([...configuredEnvFiles(env.loaded.root, env.loaded.config), ...named]),
    ].sort();
    if (contexts.length > 0 || (!resolved.immutable && named.length > 0)) {
      const widened = await resolveVersion(env.loaded.root, undefined, contexts, envFiles);
      for (const input of widened.ignoredBuildInputs ?? [])
        session.output.warn(ignoredInputsWarning(input, env.loaded.root));
      const secretFiles = new Set(env.composeSecretFiles);
      for (const { context, file } of envFilesSent(contexts, envFiles)) {
        const shown = relative(env.loaded.root, context) || '.';
        session.output.warn(
          `the build context ${shown} sends the ${secretFiles.has(join(context, file)) ? 'secret' : 'env'} file ${file} to the builder: its values (secrets among them) go into the image with a \`COPY .\`; add ${file} to ${shown === '.' ? '' : `${shown}/`}.dockerignore`,
        );
      }
      const withInputs = { ...widened, version: widened.version + buildVariablesSuffix(env) };
      if (withInputs.version !== resolved.version) {
        resolved = withInputs;
        return {
          // The config is the one loaded already, and its warnings were shown by the first load.
          env: await loadEnvironment(withoutWarnings(session, env.loaded), purpose, async () => ({
            STAGECRAFT_VERSION: withInputs.version,
          })),
          ...resolved,
        };
      }
    }
  }
  return { env, ...resolved };
}

/**
 * `-args-<8 hex>` over the names and values of the variables the compose file's build sections
 * interpolate, or '' when they interpolate none. Left out: STAGECRAFT_VERSION (the version itself)
 * and secrets (a published tag must not change with a secret's value; a secret build arg is refused).
 */
function buildVariablesSuffix(env: LoadedEnvironment): string {
  const secret = new Set(secretNames(env.loaded));
  // A value that holds a secret of any length is left out too: the tag is published, and a short
  // password behind an alias (`TOK=${NPM_TOKEN}`) would be checkable against its hash.
  const secretValues = [...secret]
    .map((name) => env.loaded.variables[name])
    .filter((value): value is string => value !== undefined && value !== '');
  const names = env.locateCompose
    .buildVariables()
    .filter(
      (name) =>
        name !== 'STAGECRAFT_VERSION' &&
        !secret.has(name) &&
        !secretValues.some((value) => (env.loaded.variables[name] ?? '').includes(value)),
    );
  if (names.length === 0) return '';
  const values = names.map((name) => `${name}=${env.loaded.variables[name] ?? ''}`);
  return `-args-${createHash('sha256').update(values.join('\0')).digest('hex').slice(0, 8)}`;
}

function ignoredInputsWarning(input: IgnoredBuildInput, root: string): string {
  const context = relative(root, input.context) || '.';
  const files = input.files === 1 ? '1 file' : `${input.files} files`;
  return `the build context ${context} sends ${files} that git ignores (${input.example}, …): the commit does not name them, so the version is marked dirty and the image is always rebuilt; list them in ${context === '.' ? '' : `${context}/`}.dockerignore if the image does not need them`;
}

/** `session` with `loaded` as its config and an output that drops warnings (the rest goes to the real one). */
function withoutWarnings(session: Session, loaded: LoadedConfig): Session {
  const output = new Proxy(session.output, {
    get(target, key) {
      if (key === 'warn') return () => undefined;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { ...session, output, loadConfig: async () => loaded };
}
