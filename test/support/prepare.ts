import { parse } from 'yaml';
import type { CommandContext } from '../../src/cli/context.js';
import { loadConfig } from '../../src/config/load.js';
import { type DeployOptions, type PreparedDeploy, prepareDeploy } from '../../src/operations/deploy.js';
import { allSteps, type Plan, type Step } from '../../src/plan/types.js';
import { builtinProviders } from '../../src/providers/index.js';
import { Output } from '../../src/util/output.js';
import { Secret } from '../../src/util/secret.js';

/** An Output that keeps warnings (and info) instead of printing them. */
export class CapturingOutput extends Output {
  readonly warnings: string[] = [];
  readonly infos: string[] = [];
  constructor() {
    super({ color: false, quiet: false, verbose: false, json: false });
  }
  override warn(text: string): void {
    this.warnings.push(text);
  }
  override info(text: string): void {
    this.infos.push(text);
  }
}

/**
 * A CommandContext for a project folder, in this process: `stagecraft -e <env>` run in `cwd`, with
 * only PATH and HOME (and `env`) in its environment. Real config loading, real `docker compose`.
 */
export function projectContext(
  cwd: string,
  envName: string,
  env: Record<string, string> = {},
): CommandContext & { output: CapturingOutput } {
  const processEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env };
  const output = new CapturingOutput();
  return {
    globals: {
      config: undefined,
      env: envName,
      verbose: false,
      quiet: false,
      dryRun: false,
      json: false,
      color: false,
      yes: false,
      hosts: undefined,
      roles: undefined,
      services: undefined,
    },
    output,
    cwd,
    env: processEnv,
    async loadConfig(purpose) {
      const loaded = loadConfig({
        cwd,
        envName,
        purpose,
        processEnv,
        catalog: builtinProviders().catalog(),
      });
      for (const warning of loaded.warnings) output.warn(warning);
      return loaded;
    },
  };
}

/** `stagecraft plan` in-process: the prepared deploy of a project folder. */
export async function planProject(
  cwd: string,
  envName: string,
  options: DeployOptions & { env?: Record<string, string> } = {},
): Promise<PreparedDeploy & { output: CapturingOutput }> {
  const context = projectContext(cwd, envName, options.env);
  // A plan reads nothing from hosts (the spec-hash key stays on the lock host), as `stagecraft plan` does.
  const prepared = await prepareDeploy(context, { version: 'v1', planOnly: true, ...options });
  return { ...prepared, output: context.output };
}

/** The upload step of `path` (relative to the release folder) on `host`. */
export function uploadStep(plan: Plan, host: string, path: string): Step & { action: { kind: 'upload' } } {
  const step = allSteps(plan).find(
    (candidate) =>
      candidate.host?.name === host &&
      candidate.action.kind === 'upload' &&
      candidate.action.path.endsWith(`/releases/${plan.releaseId}/${path}`),
  );
  if (step === undefined) throw new Error(`no upload of ${path} to ${host} in the plan`);
  return step as Step & { action: { kind: 'upload' } };
}

/** The text a plan uploads to `path` on `host` (secrets revealed). */
export function uploadedText(plan: Plan, host: string, path: string): string {
  const content = uploadStep(plan, host, path).action.content;
  if (content instanceof Secret) return content.reveal();
  return typeof content === 'string' ? content : Buffer.from(content).toString('utf8');
}

/** The rendered compose document a plan uploads to a host. */
export function uploadedCompose(
  plan: Plan,
  host: string,
): {
  services: Record<string, Record<string, unknown> & { environment?: Record<string, string> }>;
  [key: string]: unknown;
} {
  return parse(uploadedText(plan, host, 'compose.yml'));
}
