// Backend provider `encore-ts`: `encore run --watch --listen …` in dev (secrets set first with
// `encore secret set`, values on stdin), `encore build docker` for deploys.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { readDotenvFiles } from '../../config/dotenv.js';
import { UserError } from '../../util/errors.js';
import { resolvePath } from '../../util/paths.js';
import { registerSecretValue } from '../../util/secret.js';
import {
  type AppProvider,
  colourEnv,
  type DevProcessPlan,
  type DevProcessSettings,
  type DevProcessSpec,
} from '../app.js';
import { defaultSecretTypes, ENCORE_SECRET_TYPES, setEncoreSecret } from '../encore-cli.js';

const schema = z.strictObject({
  dev: z
    .strictObject({
      listen: z.string().regex(/^[^:]*:\d+$/, { message: 'expected host:port, e.g. "0.0.0.0:4000"' }),
      env_file: z.string().optional(),
      workdir: z.string().optional(),
      entrypoint: z.string().optional(),
      disable_telemetry: z.boolean().optional(),
      node_extra_ca_certs: z.string().optional(),
      encore_secrets: z
        .strictObject({
          types: z.array(z.enum(ENCORE_SECRET_TYPES)).optional(),
          from_env: z.array(z.string().min(1)),
        })
        .optional(),
    })
    .optional(),
  build: z
    .strictObject({
      service: z.string().optional(),
      workdir: z.string().optional(),
      image_name: z.string().optional(),
      docker_tag_suffix: z.string().optional(),
    })
    .optional(),
});

export type EncoreConfig = z.output<typeof schema>;

const DEFAULT_LISTEN = '127.0.0.1:4000';
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 5_000;
const WHY = 'the backend provider encore-ts runs `encore run`';

function configOf(plan: { config: unknown }): EncoreConfig {
  return (plan.config ?? {}) as EncoreConfig;
}

/** The environment an encore-ts backend runs with (env_file, telemetry, CA). */
export function encoreEnv(plan: DevProcessPlan, settings: DevProcessSettings): Record<string, string> {
  const dev = configOf(plan).dev;
  const env: Record<string, string> = { ...settings.baseEnv };
  if (dev?.env_file !== undefined) {
    const file = resolve(plan.workdir, dev.env_file);
    if (existsSync(file))
      Object.assign(
        env,
        readDotenvFiles([{ path: file, display: dev.env_file }], process.env, () => undefined),
      );
    else
      settings.warn(`backend env_file ${dev.env_file} not found in ${plan.workdir}; continuing without it`);
  }
  if (dev?.disable_telemetry === true) env['DISABLE_ENCORE_TELEMETRY'] = '1';
  if (dev?.node_extra_ca_certs !== undefined) {
    env['NODE_EXTRA_CA_CERTS'] = isAbsolute(dev.node_extra_ca_certs)
      ? dev.node_extra_ca_certs
      : resolve(plan.workdir, dev.node_extra_ca_certs);
  } else if (settings.caFile !== undefined && env['NODE_EXTRA_CA_CERTS'] === undefined) {
    env['NODE_EXTRA_CA_CERTS'] = settings.caFile;
  }
  return env;
}

/** The argv of `encore run` for a plan. */
export function encoreRunArgv(encore: string, plan: DevProcessPlan): string[] {
  const dev = configOf(plan).dev;
  const listen = dev?.listen ?? `127.0.0.1:${plan.port}`;
  return [
    encore,
    'run',
    '--watch',
    '--listen',
    listen,
    ...(dev?.entrypoint ? ['--entrypoint', dev.entrypoint] : []),
  ];
}

function encoreBinary(settings: DevProcessSettings): string {
  const encore = settings.tools.encore;
  if (encore === undefined) throw new Error('encore-ts: the encore binary was not resolved');
  return encore;
}

function spec(plan: DevProcessPlan, settings: DevProcessSettings): DevProcessSpec {
  if (!existsSync(plan.workdir)) {
    throw new UserError(`the ${plan.name} workdir ${plan.workdir} does not exist`, {
      hint: `fix ${plan.name}.providers.${plan.provider}.dev.workdir`,
    });
  }
  return {
    name: plan.name,
    argv: encoreRunArgv(encoreBinary(settings), plan),
    cwd: plan.workdir,
    env: { ...encoreEnv(plan, settings), ...colourEnv(settings) },
    readyPort: plan.port,
    readyTimeoutMs: settings.readyTimeoutMs ?? READY_TIMEOUT_MS,
    required: false,
    stopSignal: 'SIGINT',
    stopTimeoutMs: STOP_TIMEOUT_MS,
    hint: `check that \`encore run\` works in ${plan.workdir}`,
  };
}

/**
 * `encore secret set` for every name in `encore_secrets.from_env` that has a value (value on stdin,
 * never in argv or output). Returns the line to print, naming the secrets set.
 */
async function prepare(
  plan: DevProcessPlan,
  settings: DevProcessSettings,
  runner: Parameters<NonNullable<NonNullable<AppProvider['dev']>['prepare']>>[2],
  signal?: AbortSignal,
): Promise<string[]> {
  const secrets = configOf(plan).dev?.encore_secrets;
  if (secrets === undefined || secrets.from_env.length === 0) return [];
  const env = encoreEnv(plan, settings);
  const types = secrets.types ?? defaultSecretTypes();
  const set: string[] = [];
  for (const name of secrets.from_env) {
    const value = env[name];
    if (value === undefined || value === '') {
      settings.warn(`encore secret ${name}: no value in the environment or env_file; not set`);
      continue;
    }
    registerSecretValue(value);
    await setEncoreSecret(runner, {
      name,
      value,
      types,
      cwd: plan.workdir,
      encore: encoreBinary(settings),
      env,
      alreadySet: set,
      signal,
      hint: 'check that `encore secret set` works in the backend folder (are you logged in with `encore auth login`?)',
    });
    set.push(name);
  }
  return set.length > 0 ? [`▸ encore secrets set: ${set.join(', ')}`] : [];
}

export const encoreTsBackend: AppProvider = {
  id: 'encore-ts',
  description: 'Encore.ts: `encore run` in dev, `encore build docker` for deploys.',
  schema,
  dev: {
    plan: ({ config, root }) => {
      const encore = (config ?? {}) as EncoreConfig;
      const listen = encore.dev?.listen ?? DEFAULT_LISTEN;
      return {
        workdir: resolve(root, encore.dev?.workdir ?? encore.build?.workdir ?? '.'),
        port: Number(listen.slice(listen.lastIndexOf(':') + 1)),
        service: encore.build?.service,
      };
    },
    tools: [{ tool: 'encore', why: WHY }],
    prepare,
    spec,
  },
  doctorTools: [{ tool: 'encore', why: 'this project uses Encore (backend encore-ts or secrets encore)' }],
  appDir: (config, root) => {
    const encore = (config ?? {}) as EncoreConfig;
    const workdir = encore.build?.workdir ?? encore.dev?.workdir;
    return workdir === undefined ? undefined : resolvePath(root, workdir);
  },
};
