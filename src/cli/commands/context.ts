import { dirname, relative } from 'node:path';
import { locateConfig } from '../../config/locate.js';
import { buildContext, CONTEXT_DIR } from '../../context/build.js';
import { renderXray, xray as scan } from '../../context/xray/scan.js';
import { UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

/** `stagecraft context build`: writes .ai-context/, only the files that changed. */
export async function build(context: CommandContext, options: { releases?: string }): Promise<number> {
  const releases = options.releases === undefined ? 5 : Number(options.releases);
  if (!Number.isInteger(releases) || releases < 0) {
    throw new UserError(`--releases ${options.releases} is not a whole number`, {
      hint: 'pass --releases 5 (0 leaves releases out)',
    });
  }
  const loaded = await context.loadConfig('any');
  const result = await buildContext(loaded, context.env, {
    releasesPerEnvironment: releases,
    dryRun: context.globals.dryRun === true,
  });
  const dir = relative(context.cwd, result.dir) || CONTEXT_DIR;
  if (context.globals.json) {
    context.output.json({ dir, written: result.written, unchanged: result.unchanged });
  } else if (result.written.length === 0) {
    context.output.result(`${dir}/ is up to date (${result.unchanged.length} files unchanged)`);
  } else {
    const files = result.written.map((name) => `${dir}/${name}`).join(', ');
    context.output.result(
      context.globals.dryRun === true
        ? `would write ${files}; nothing written (--dry-run)`
        : `wrote ${files}`,
    );
  }
  return 0;
}

/** `stagecraft context xray`: scans the project folder; summary or --json; cache in .xraycache/. */
export async function xray(context: CommandContext): Promise<number> {
  let root = context.cwd;
  try {
    root = dirname(locateConfig(context.cwd, context.globals.config));
  } catch (error) {
    if (!(error instanceof UserError) || context.globals.config !== undefined) throw error;
  }
  const { report, cache, git } = await scan(root);
  context.output.info(
    `scanned ${relative(context.cwd, root) || '.'} (${git ? 'files git tracks or does not ignore' : 'every file but build and dependency folders'}); .xraycache/: ${cache.hits} files from the cache, ${cache.misses} read (key: path, size, mtime)`,
  );
  if (context.globals.json) context.output.json(report);
  else context.output.result(renderXray(report));
  return 0;
}
