import type { EnvironmentPurpose } from '../../config/environment.js';
import type { CiSession } from '../../operations/ci.js';
import { parseDuration } from '../../util/duration.js';
import { ExternalError, UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';
import { VERSION } from '../program.js';

function session(context: CommandContext): CiSession {
  return {
    cwd: context.cwd,
    env: context.env,
    log: (line) => context.output.info(line),
    async loadConfig(purpose: EnvironmentPurpose, envName?: string) {
      const [{ loadConfig }, { builtinProviders }] = await Promise.all([
        import('../../config/load.js'),
        import('../../providers/index.js'),
      ]);
      return loadConfig({
        cwd: context.cwd,
        path: context.globals.config,
        envName: envName ?? context.globals.env,
        purpose,
        processEnv: context.env,
        catalog: builtinProviders().catalog(),
      });
    },
  };
}

function interval(text: string | undefined): number {
  if (text === undefined) return 5000;
  try {
    return parseDuration(text);
  } catch {
    throw new UserError(`--interval ${text}: expected a duration such as 5s or 500ms`);
  }
}

interface InitOptions {
  provider?: string;
  branch?: string;
  force?: boolean;
}

/** `stagecraft ci init`: writes the workflows and lists the secrets to create. */
export async function init(context: CommandContext, options: InitOptions): Promise<number> {
  const { ciInit } = await import('../../operations/ci.js');
  const result = await ciInit(session(context), {
    provider: options.provider,
    branch: options.branch,
    force: options.force,
    dryRun: context.globals.dryRun,
    stagecraftVersion: VERSION,
  });
  if (context.globals.json) {
    context.output.json({ dryRun: context.globals.dryRun, ...result });
    return 0;
  }
  const dryRun = context.globals.dryRun;
  const verb = dryRun ? 'would be ' : '';
  for (const file of result.files) {
    if (file.action === 'refused') {
      context.output.result(
        `✗ ${file.path} would be refused (${file.reason}): pass --force to replace it with the diff below`,
      );
    } else {
      const lines = file.lines === undefined ? '' : ` (${file.lines} lines)`;
      context.output.result(
        `${file.action === 'unchanged' ? '=' : '✓'} ${file.path} ${verb}${file.action}${lines}: ${file.description}`,
      );
    }
    if (file.diff !== undefined) context.output.result(file.diff.trimEnd());
  }
  for (const warning of result.warnings) context.output.warn(warning);
  context.output.result(
    `\nRepository secrets the workflows read (create them in Settings → Secrets and variables → Actions,\nor with \`stagecraft ci secrets\` from this machine's sources):`,
  );
  const width = Math.max(...result.secrets.map((secret) => secret.name.length));
  for (const secret of result.secrets)
    context.output.result(`  ${secret.name.padEnd(width)}  ${secret.description}`);
  const refused = result.files.some((file) => file.action === 'refused');
  context.output.info(
    dryRun
      ? `\nnothing was written (--dry-run); run it without --dry-run to write the files${refused ? ', with --force to replace the refused ones' : ''}`
      : '\nnext: commit .github/workflows, push, and protect the GitHub environments (Settings → Environments)',
  );
  return 0;
}

interface RunOptions {
  ref?: string;
  watch?: boolean;
  repo?: string;
  provider?: string;
  interval?: string;
}

/** `stagecraft ci run`: dispatches the deploy workflow; with --watch, exits with the run's result. */
export async function run(context: CommandContext, options: RunOptions): Promise<number> {
  const { ciRun } = await import('../../operations/ci.js');
  const outcome = await ciRun(session(context), {
    env: context.globals.env,
    ref: options.ref,
    watch: options.watch === true,
    repo: options.repo,
    pollIntervalMs: interval(options.interval),
    progress: (line) => context.output.info(`  ${line}`),
  });
  if (context.globals.json) context.output.json(outcome);
  if (!options.watch) {
    if (!context.globals.json) {
      context.output.result(`✓ Started run ${outcome.runId}: ${outcome.url}`);
      context.output.info('  follow it with `stagecraft ci run --watch` next time, or in the Actions tab');
    }
    return 0;
  }
  if (outcome.conclusion === 'success') {
    if (!context.globals.json) context.output.result(`✓ Run ${outcome.runId} succeeded: ${outcome.url}`);
    return 0;
  }
  throw new ExternalError(`run ${outcome.runId} of the deploy workflow finished: ${outcome.conclusion}`, {
    hint: `its logs: ${outcome.url}`,
  });
}

interface SecretsOptions {
  sshKey?: string;
  repo?: string;
}

/** `stagecraft ci secrets`: stores the workflows' secrets from this machine's sources (values never shown). */
export async function secrets(context: CommandContext, options: SecretsOptions): Promise<number> {
  const { ciSecrets } = await import('../../operations/ci.js');
  const result = await ciSecrets(session(context), {
    env: context.globals.env,
    sshKey: options.sshKey,
    repo: options.repo,
    dryRun: context.globals.dryRun,
    stagecraftVersion: VERSION,
    pollIntervalMs: 5000,
    progress: () => undefined,
  });
  if (context.globals.json) {
    context.output.json(result);
    return 0;
  }
  const width = Math.max(...result.secrets.map((secret) => secret.name.length));
  for (const secret of result.secrets) {
    const action = result.dryRun
      ? 'would set'
      : (result.created as string[]).includes(secret.name)
        ? 'created'
        : 'updated';
    context.output.result(`✓ ${secret.name.padEnd(width)}  ${action}  from ${secret.source}`);
  }
  if (!result.dryRun) {
    context.output.info(
      `  ${result.secrets.length} secrets stored in ${result.repository} (values of ${result.environment})`,
    );
  }
  return 0;
}
