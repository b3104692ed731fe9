import { composeFileFor, readCompose } from '../compose/read.js';
import type { ComposeProject } from '../compose/types.js';
import type { EnvironmentPurpose } from '../config/environment.js';
import type { LoadedConfig } from '../config/load.js';
import { buildEnvironmentModel, type EnvironmentModel } from '../model/environment.js';
import { runLocal } from '../runners/local.js';
import { readInfraState } from '../state/infra.js';
import { looksSecretName } from '../util/secret.js';
import type { Session } from './session.js';

export interface LoadedEnvironment {
  loaded: LoadedConfig;
  compose: ComposeProject;
  model: EnvironmentModel;
  /** Values of the environment's secret variables (declared in `secrets.keys`, or secret by name). */
  secretValues: string[];
}

/** Names of the variables that hold secrets: `secrets.keys`, plus any whose name says so. */
export function secretNames(loaded: LoadedConfig): string[] {
  const declared = (loaded.config.secrets?.keys ?? []).flatMap((key) =>
    typeof key === 'string' ? [key] : key.from_env === undefined ? [key.name] : [key.name, key.from_env],
  );
  return [...new Set([...declared, ...Object.keys(loaded.variables).filter(looksSecretName)])].sort();
}

/**
 * Loads stagecraft.yml and the compose file, and resolves the environment's model. Compose sees the
 * environment's variables plus STAGECRAFT_ENV and whatever `extraVariables` adds (STAGECRAFT_VERSION).
 */
export async function loadEnvironment(
  context: Session,
  purpose: EnvironmentPurpose,
  extraVariables: (loaded: LoadedConfig) => Promise<Record<string, string>> = async () => ({}),
): Promise<LoadedEnvironment> {
  const loaded = await context.loadConfig(purpose);
  const file = composeFileFor(loaded.root, loaded.config);
  const compose = await readCompose({
    file,
    projectDir: loaded.root,
    variables: {
      ...loaded.variables,
      STAGECRAFT_ENV: loaded.envName ?? '',
      ...(await extraVariables(loaded)),
    },
    exec: (argv, options) =>
      runLocal(argv, { ...options, cwd: loaded.root, allowFailure: true, ownProcessGroup: true }),
  });
  const envConfig = loaded.envName === undefined ? undefined : loaded.config.environments[loaded.envName];
  const cloudHosts =
    envConfig?.driver === 'ssh' && envConfig.hosts === undefined && loaded.envName !== undefined
      ? readInfraState(loaded.root, loaded.envName)?.hosts
      : undefined;
  const model = buildEnvironmentModel(loaded, compose, cloudHosts);
  const secretValues = secretNames(loaded)
    .map((name) => loaded.variables[name])
    .filter((value): value is string => value !== undefined && value.length >= 4);
  return { loaded, compose, model, secretValues };
}
