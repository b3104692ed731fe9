// The plan pipeline in this process, as `stagecraft plan` runs it (config, `docker compose config`,
// model, planner, text), timed per run. Bundled and imported by bench/plan.mjs.
import { createContext } from '../../src/cli/context.js';
import { resolveGlobals } from '../../src/cli/globals.js';
import { prepareDeploy } from '../../src/operations/deploy.js';
import { planToText } from '../../src/render/plan.js';

export interface PlanTiming {
  /** The whole pipeline, in ms. */
  totalMs: number;
  /** planToText alone, in ms. */
  renderMs: number;
  steps: number;
}

/** Plans environment `env` of the project at `config` once; nothing is printed or changed. */
export async function planOnce(config: string, env: string): Promise<PlanTiming> {
  const started = performance.now();
  const context = createContext(resolveGlobals({ config, env, quiet: true, color: false }, {}));
  const prepared = await prepareDeploy(context, { version: 'bench1', skipMigrations: true, planOnly: true });
  const rendering = performance.now();
  const text = planToText(prepared.plan, context.output.colors);
  const done = performance.now();
  if (!text.includes('Nothing has been changed')) throw new Error('unexpected plan text');
  const steps = prepared.plan.phases.reduce((sum, phase) => sum + phase.steps.length, 0);
  return { totalMs: done - started, renderMs: done - rendering, steps };
}
