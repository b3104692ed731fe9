import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import { runComposeConfig } from '../compose/read.js';
import { composeConfigCheckArgs } from '../docker/compose.js';
import { allSteps, type Plan } from '../plan/types.js';
import { runLocalViaCliPlugin } from '../runners/cli-plugin.js';
import { UserError } from '../util/errors.js';

/**
 * Every compose file the plan uploads passes `docker compose -p <project> -f compose.yml config -q`
 * on its exact bytes, beside empty stand-ins of the files uploaded with it (secret env files and
 * secret files hold no value here), in a scratch folder of this machine that is removed at once; a
 * file rendered alike for several hosts is checked once (50 hosts of two roles: two compose calls), and
 * the distinct files side by side (one compose process per core at a time).
 * Throws a UserError naming the host and compose's message, before anything changes anywhere.
 */
export async function validateRenderedCompose(plan: Plan, project: string): Promise<void> {
  const hosts = new Map<string, { compose: string; others: string[] }>();
  const prefix = `/releases/${plan.releaseId}/`;
  for (const step of allSteps(plan)) {
    const { action } = step;
    if (action.kind !== 'upload' || step.host === undefined) continue;
    const at = action.path.indexOf(prefix);
    if (at === -1) continue;
    const relative = action.path.slice(at + prefix.length);
    const entry = hosts.get(step.host.name) ?? { compose: '', others: [] };
    if (relative === 'compose.yml' && typeof action.content === 'string') entry.compose = action.content;
    else entry.others.push(relative);
    hosts.set(step.host.name, entry);
  }
  // Hosts of one role usually get the same bytes: each distinct file (with the same files beside it)
  // is checked once, for the first host that has it, so the error names the first failing host.
  const distinct = new Map<string, { host: string; compose: string; others: string[] }>();
  for (const [host, files] of hosts) {
    if (files.compose === '') continue;
    const key = JSON.stringify([files.compose, [...files.others].sort()]);
    if (!distinct.has(key)) distinct.set(key, { host, ...files });
  }
  // Each check is its own compose process (0.2–1 s, mostly compose starting): side by side, as many
  // at a time as this machine has cores. The first failing file in host order is the one reported.
  const limit = pLimit(Math.max(1, availableParallelism()));
  const failures = await Promise.all(
    [...distinct.values()].map((files) => limit(() => checkComposeFile(project, files))),
  );
  const failed = failures.findIndex((message) => message !== undefined);
  if (failed === -1) return;
  const host = [...distinct.values()][failed]!.host;
  throw new UserError(
    `the compose file rendered for ${host} does not pass docker compose config: ${failures[failed]}`,
    {
      hint: 'fix the compose file or stagecraft.yml as the message says; nothing was changed on the hosts',
    },
  );
}

/**
 * Runs `docker compose config -q` on one rendered file in a scratch folder (removed before it
 * returns), beside empty stand-ins of `others`. Returns compose's last line of output when the file
 * fails, undefined when it passes.
 */
async function checkComposeFile(
  project: string,
  files: { compose: string; others: string[] },
): Promise<string | undefined> {
  const scratch = mkdtempSync(join(tmpdir(), 'stagecraft-validate-'));
  try {
    writeFileSync(join(scratch, 'compose.yml'), files.compose);
    for (const other of files.others) {
      mkdirSync(dirname(join(scratch, other)), { recursive: true });
      writeFileSync(join(scratch, other), '', { mode: 0o600 });
    }
    const argv = composeConfigCheckArgs(project, join(scratch, 'compose.yml'));
    const result = await runComposeConfig(
      (args, options) => runLocalViaCliPlugin(args, 'compose', { ...options, cwd: scratch }),
      argv,
      {},
    );
    if (result.exitCode === 0) return undefined;
    return `${result.stderr}${result.stdout}`.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
