import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseDotenv } from '../config/dotenv.js';
import { ExternalError, UserError } from '../util/errors.js';
import { registerSecretValue } from '../util/secret.js';
import type { ProcessSpec } from './supervisor/managed-process.js';
import { runCommand, SpawnError } from './supervisor/run.js';
import type { DevProcessPlan } from './topology.js';

/**
 * How the backend and frontend providers run in dev: `generic` runs its command; `encore-ts` syncs
 * secrets with `encore secret set` (value on stdin) and runs `encore run --watch --listen …`.
 */

export interface ProcessSettings {
  /** The environment's variables: its env_file(s) overlaid by the process environment. */
  baseEnv: Record<string, string>;
  /** STAGECRAFT_DEV_READY_TIMEOUT, when set. */
  readyTimeoutMs: number | undefined;
  /** mkcert's root CA, when HTTPS is on (NODE_EXTRA_CA_CERTS for Encore). */
  caFile: string | undefined;
  /** Whether children may print colour (Stagecraft's own output is coloured). */
  color: boolean;
  /** The encore binary, when the backend is encore-ts. */
  encore: string | undefined;
  warn: (message: string) => void;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_ENCORE_READY_TIMEOUT_MS = 180_000;
const DEFAULT_STOP_TIMEOUT_MS = 5_000;
export const DEFAULT_SECRET_TYPES = ['dev', 'preview', 'local'] as const;

function colourEnv(settings: ProcessSettings): Record<string, string> {
  const env = settings.baseEnv;
  if (!settings.color || env['NO_COLOR'] !== undefined || env['FORCE_COLOR'] !== undefined) return {};
  return { FORCE_COLOR: '1' };
}

function checkWorkdir(plan: DevProcessPlan, key: string): void {
  if (!existsSync(plan.workdir)) {
    throw new UserError(`the ${plan.name} workdir ${plan.workdir} does not exist`, {
      hint: `fix ${plan.name}.providers.${plan.provider}.${key}`,
    });
  }
}

/** The environment an encore-ts backend runs with (env_file, telemetry, CA). */
export function encoreEnv(
  plan: Extract<DevProcessPlan, { provider: 'encore-ts' }>,
  settings: ProcessSettings,
): Record<string, string> {
  const dev = plan.config.dev;
  const env: Record<string, string> = { ...settings.baseEnv };
  if (dev?.env_file !== undefined) {
    const file = resolve(plan.workdir, dev.env_file);
    if (existsSync(file)) Object.assign(env, parseDotenv(readFileSync(file, 'utf8')));
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
export function encoreRunArgv(
  encore: string,
  plan: Extract<DevProcessPlan, { provider: 'encore-ts' }>,
): string[] {
  const dev = plan.config.dev;
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

/** The supervised process for a backend or frontend plan. */
export function processSpec(plan: DevProcessPlan, settings: ProcessSettings): ProcessSpec {
  if (plan.provider === 'encore-ts') {
    checkWorkdir(plan, 'dev.workdir');
    if (settings.encore === undefined) throw new Error('processSpec: encore binary not resolved');
    return {
      name: plan.name,
      argv: encoreRunArgv(settings.encore, plan),
      cwd: plan.workdir,
      env: { ...encoreEnv(plan, settings), ...colourEnv(settings) },
      readyPort: plan.port,
      readyTimeoutMs: settings.readyTimeoutMs ?? DEFAULT_ENCORE_READY_TIMEOUT_MS,
      required: false,
      stopSignal: 'SIGINT',
      stopTimeoutMs: DEFAULT_STOP_TIMEOUT_MS,
      hint: `check that \`encore run\` works in ${plan.workdir}`,
    };
  }
  checkWorkdir(plan, 'dev.workdir');
  const dev = plan.config;
  return {
    name: plan.name,
    argv: [...dev.command],
    cwd: plan.workdir,
    env: { ...settings.baseEnv, ...colourEnv(settings), ...dev.env },
    readyPattern: dev.ready_pattern === undefined ? undefined : new RegExp(dev.ready_pattern),
    readyPort: dev.ready_pattern === undefined ? plan.port : undefined,
    readyTimeoutMs: settings.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    required: dev.required ?? false,
    stopSignal: dev.shutdown?.signal ?? (plan.name === 'frontend' ? 'SIGINT' : 'SIGTERM'),
    stopTimeoutMs: dev.shutdown?.timeout_ms ?? DEFAULT_STOP_TIMEOUT_MS,
    hint: `check ${plan.name}.providers.generic.dev.command (it runs in ${plan.workdir})`,
  };
}

/**
 * `encore secret set --type <types> <NAME>` for every name in `encore_secrets.from_env` that has a
 * value; the value goes on stdin, never in argv or output. Returns the names set.
 */
export async function syncEncoreSecrets(
  plan: Extract<DevProcessPlan, { provider: 'encore-ts' }>,
  settings: ProcessSettings,
  signal?: AbortSignal,
): Promise<string[]> {
  const secrets = plan.config.dev?.encore_secrets;
  if (secrets === undefined || secrets.from_env.length === 0) return [];
  if (settings.encore === undefined) throw new Error('syncEncoreSecrets: encore binary not resolved');
  const env = encoreEnv(plan, settings);
  const types = (secrets.types ?? DEFAULT_SECRET_TYPES).join(',');
  const set: string[] = [];
  for (const name of secrets.from_env) {
    const value = env[name];
    if (value === undefined || value === '') {
      settings.warn(`encore secret ${name}: no value in the environment or env_file; not set`);
      continue;
    }
    registerSecretValue(value);
    const argv = [settings.encore, 'secret', 'set', '--type', types, name];
    let result: Awaited<ReturnType<typeof runCommand>>;
    try {
      result = await runCommand(argv, { cwd: plan.workdir, env, input: value, signal });
    } catch (error) {
      if (error instanceof SpawnError)
        throw new ExternalError(`cannot run encore: ${error.message}`, { cause: error });
      throw error;
    }
    if (result.code !== 0) {
      const output = `${result.stderr}${result.stdout}`.trim();
      throw new ExternalError(
        `encore secret set ${name} (types ${types}) failed with exit code ${result.code ?? result.signal}`,
        {
          details: output === '' ? [] : [output.length > 500 ? `${output.slice(0, 500)}…` : output],
          command: argv.join(' '),
          hint: 'check that `encore secret set` works in the backend folder (are you logged in with `encore auth login`?)',
        },
      );
    }
    set.push(name);
  }
  return set;
}
