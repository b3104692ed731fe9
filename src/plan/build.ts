// The `build` planner: the images a deploy would use, built (and with --push pushed) on this machine.
// Pure: the same steps as a deploy's build and push phases, and nothing else — no lock, no release.
import type { ComposeProject } from '../compose/types.js';
import type { EnvironmentModel } from '../model/environment.js';
import { PHASES } from '../state/types.js';
import { UserError } from '../util/errors.js';
import { buildSteps, type HookName, hookSteps, imageRefs, phase, pushSteps } from './deploy.js';
import type { PhasePlan, Plan } from './types.js';

export interface BuildPlanInput {
  model: EnvironmentModel;
  version: string;
  /** The version names one state of the code: builds whose tag exists are skipped (see ResolvedVersion). */
  immutable?: boolean;
  /** The normalised compose model: compose `build:` sections are built from it. */
  compose: ComposeProject;
  /** The environment's variables: build secrets with `environment:` read them. */
  variables?: Record<string, string>;
  /** Push the images too (`build --push`), whatever the driver. */
  push: boolean;
  /** Limit to these services (`--services`). */
  onlyServices?: string[];
  /** Executable hooks found in `.stagecraft/hooks/`; `pre-build` runs before the builds. */
  hooks?: Partial<Record<HookName, string>>;
}

/**
 * The steps of `stagecraft build`: the pre-build hook and a build per built service, then with `push`
 * a push per image; every other phase is skipped ("not part of build"). The plan's `releaseId` is
 * empty: a build records no release. Throws UserError when `--services` leaves nothing to build, or
 * when `push` is asked for without `project.registry`.
 */
export function planBuild(input: BuildPlanInput): Plan {
  const { model } = input;
  const images = imageRefs(model, input.version);
  const builds = buildSteps(
    model,
    images,
    input.immutable === true,
    input.onlyServices,
    input.compose,
    input.variables,
  );
  if (builds.length === 0 && input.onlyServices !== undefined) {
    throw new UserError(`no buildable service among ${input.onlyServices.join(', ')}`, {
      hint: 'services build when they have build: in the compose file',
    });
  }
  if (input.push && model.registry === undefined) {
    throw new UserError('nothing to push to: project.registry is not set', {
      hint: 'set project.registry in stagecraft.yml',
    });
  }
  const hook = hookSteps(
    { model, hooks: input.hooks, kind: 'build', version: input.version, releaseId: undefined },
    'pre-build',
    'build',
    [],
  );
  const byPhase: Partial<Record<(typeof PHASES)[number], PhasePlan>> = {
    build: phase('build', builds.length > 0 ? [...hook, ...builds] : []),
    push: input.push ? phase('push', pushSteps(builds)) : phase('push', [], 'pass --push to push'),
  };
  return {
    kind: 'build',
    project: model.project,
    environment: model.environment,
    version: input.version,
    releaseId: '',
    hosts: model.hosts.map((host) => ({ name: host.name, roles: host.roles })),
    phases: PHASES.map((name) => byPhase[name] ?? { name, skipped: 'not part of build', steps: [] }),
  };
}
