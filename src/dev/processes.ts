// The backend and frontend processes of `stagecraft dev`: each app provider says how its process runs
// (providers/app.ts `dev` hooks); this module only hands the plan back to the provider that made it.

import type { DevProcessPlan } from '../plan/dev.js';
import type { DevProcessSettings } from '../providers/app.js';
import type { ProcessSpec } from './supervisor/managed-process.js';

/** What a dev process is started with (the environment, timeouts, tool paths, CA, colour). */
export type ProcessSettings = DevProcessSettings;

/**
 * The supervised process for a backend or frontend plan, from its provider. Throws UserError when
 * the provider finds the config cannot run (e.g. its workdir does not exist).
 */
export function processSpec(plan: DevProcessPlan, settings: ProcessSettings): ProcessSpec {
  return plan.hooks.spec(plan, settings);
}
