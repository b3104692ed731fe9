// `stagecraft build`: plans the images a deploy would use (plan/build.ts) and runs that plan through
// the engine with the same step handlers as a deploy, on this machine. No lock, no release.
import { stepHandler } from '../engine/handlers.js';
import { runPlan } from '../engine/run.js';
import { planBuild } from '../plan/build.js';
import type { Plan } from '../plan/types.js';
import { progressRenderer } from '../render/progress.js';
import { LocalRunner } from '../runners/local.js';
import { ExternalError } from '../util/errors.js';
import { findHooks } from './deploy.js';
import type { LoadedEnvironment } from './environment.js';
import { serviceNamesInScope } from './fleet.js';
import type { Session } from './session.js';
import { loadVersioned } from './versioned.js';

export interface PreparedBuild {
  env: LoadedEnvironment;
  plan: Plan;
}

/** Loads the environment and plans the build (`--services` scoped; with `push`, the pushes). */
export async function prepareBuild(
  session: Session,
  options: { push?: boolean; version?: string },
): Promise<PreparedBuild> {
  const { env, version, immutable } = await loadVersioned(session, options.version);
  const plan = planBuild({
    model: env.model,
    compose: env.compose,
    variables: env.loaded.variables,
    version,
    immutable,
    push: options.push === true,
    ...(session.globals.services
      ? { onlyServices: serviceNamesInScope(env.model, session.globals.services) }
      : {}),
    hooks: findHooks(session, env.loaded.root),
  });
  return { env, plan };
}

/**
 * Runs a build plan; returns service → image as built (or pushed: pinned by digest when the
 * registry gave one). Throws the failing step's error (ExternalError for a failed docker command).
 */
export async function executeBuild(
  session: Session,
  prepared: PreparedBuild,
): Promise<Record<string, string>> {
  const { env, plan } = prepared;
  const local = new LocalRunner({ cwd: env.loaded.root });
  const pushed: Record<string, string> = {};
  const result = await runPlan(plan, {
    handle: stepHandler({ model: env.model, runner: () => local, pushed }),
    emit: progressRenderer(session.output),
    onPhase: async () => undefined,
    parallelHosts: 1,
    canary: false,
    signal: new AbortController().signal,
  });
  if (!result.ok) {
    throw result.error instanceof ExternalError
      ? result.error
      : new ExternalError(`build failed: ${String(result.error)}`);
  }
  const images: Record<string, string> = {};
  for (const step of plan.phases.flatMap((phase) => phase.steps)) {
    if (step.action.kind === 'build')
      images[step.action.service] = pushed[step.action.service] ?? step.action.image;
  }
  return images;
}
