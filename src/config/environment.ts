import { didYouMean } from '../util/did-you-mean.js';
import { UserError } from '../util/errors.js';

/** What a command needs an environment for; it decides the default when --env is not given. */
/**
 * What the environment is loaded for: `plan` is a deploy's preview (the same environment is chosen,
 * but a missing env file is a warning, not an error).
 */
export type EnvironmentPurpose = 'dev' | 'deploy' | 'plan' | 'any';

/**
 * Picks the environment: the requested one (which must exist); for `dev`, `dev`; for deploy-type
 * commands, the only non-dev environment; otherwise `dev` or the only one.
 */
export function chooseEnvironment(
  names: readonly string[],
  requested: string | undefined,
  purpose: EnvironmentPurpose,
): string | undefined {
  if (requested !== undefined && requested !== '') {
    if (names.includes(requested)) return requested;
    const suggestion = didYouMean(requested, names);
    throw new UserError(
      `unknown environment "${requested}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; available environments: ${names.join(', ') || 'none'}`,
      { hint: 'pass --env with one of the environments defined under `environments:` in stagecraft.yml' },
    );
  }
  if (purpose === 'dev') return names.includes('dev') ? 'dev' : names.length === 1 ? names[0] : undefined;
  if (purpose === 'deploy' || purpose === 'plan') {
    const candidates = names.filter((name) => name !== 'dev');
    if (candidates.length === 1) return candidates[0];
    throw new UserError(
      candidates.length === 0
        ? 'no environment to deploy to: stagecraft.yml defines only dev'
        : `choose an environment with --env: ${candidates.join(', ')}`,
      {
        hint: 'deploy-type commands need --env (or STAGECRAFT_ENV) unless there is exactly one non-dev environment',
      },
    );
  }
  if (names.includes('dev')) return 'dev';
  return names.length === 1 ? names[0] : undefined;
}
