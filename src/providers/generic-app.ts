// What the `generic` backend and frontend providers do: run `dev.command` on the host, build
// `build.context` with docker for deploys. Both providers share it; each is its own registry entry.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as z from 'zod';
import { UserError } from '../util/errors.js';
import { resolvePath } from '../util/paths.js';
import {
  type AppProvider,
  colourEnv,
  type DevProcessPlan,
  type DevProcessSettings,
  type DevProcessSpec,
} from './app.js';
import type { devProcessSchema, dockerBuildSchema } from './process-schema.js';

type GenericConfig = {
  dev?: z.output<typeof devProcessSchema>;
  build?: z.output<typeof dockerBuildSchema>;
};

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

function envPort(env: Record<string, string> | undefined): number | undefined {
  const value = env?.['PORT'];
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

function spec(plan: DevProcessPlan, settings: DevProcessSettings): DevProcessSpec {
  if (!existsSync(plan.workdir)) {
    throw new UserError(`the ${plan.name} workdir ${plan.workdir} does not exist`, {
      hint: `fix ${plan.name}.providers.${plan.provider}.dev.workdir`,
    });
  }
  const dev = (plan.config as GenericConfig).dev!;
  return {
    name: plan.name,
    argv: [...dev.command],
    cwd: plan.workdir,
    env: { ...settings.baseEnv, ...colourEnv(settings), ...dev.env },
    readyPattern: dev.ready_pattern === undefined ? undefined : new RegExp(dev.ready_pattern),
    readyPort: dev.ready_pattern === undefined ? plan.port : undefined,
    readyTimeoutMs: settings.readyTimeoutMs ?? READY_TIMEOUT_MS,
    required: dev.required ?? false,
    stopSignal: dev.shutdown?.signal ?? (plan.name === 'frontend' ? 'SIGINT' : 'SIGTERM'),
    stopTimeoutMs: dev.shutdown?.timeout_ms ?? STOP_TIMEOUT_MS,
    hint: `check ${plan.name}.providers.${plan.provider}.dev.command (it runs in ${plan.workdir})`,
  };
}

/** The hooks of a generic app provider (backend or frontend). */
export const genericAppHooks: Pick<AppProvider, 'dev' | 'build'> = {
  dev: {
    plan: ({ kind, config, root }) => {
      const generic = (config ?? {}) as GenericConfig;
      if (generic.dev === undefined)
        return { note: `${kind}.providers.generic.dev is not set, so no ${kind} process is started` };
      return {
        workdir: resolve(root, generic.dev.workdir ?? '.'),
        port: generic.dev.port ?? envPort(generic.dev.env),
        service: generic.build?.service,
      };
    },
    tools: [],
    spec,
  },
  build: (config, root) => {
    const build = ((config ?? {}) as GenericConfig).build;
    if (build?.service === undefined || build.context === undefined) return undefined;
    return {
      service: build.service,
      context: resolvePath(root, build.context),
      dockerfile: build.dockerfile === undefined ? undefined : resolvePath(root, build.dockerfile),
      target: build.target,
      args: build.args ?? {},
    };
  },
};
