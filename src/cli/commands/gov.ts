import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { runGov } from '../../gov/check.js';
import { readGovInputs } from '../../gov/inputs.js';
import { renderJson, renderSarif, renderText, summarize } from '../../gov/render.js';
import { RULES } from '../../gov/rules/index.js';
import { UserError } from '../../util/errors.js';
import { VERSION } from '../../version.js';
import type { CommandContext } from '../context.js';

/** The project folder's path from the repository root (`apps/shop/`), or '' at the root or outside git. */
function repositoryPrefix(root: string): string {
  let folder = root;
  for (;;) {
    if (existsSync(join(folder, '.git'))) {
      const prefix = relative(folder, root).split(sep).join('/');
      return prefix === '' ? '' : `${prefix}/`;
    }
    const parent = dirname(folder);
    if (parent === folder) return '';
    folder = parent;
  }
}

/** `stagecraft gov`: deploy-policy checks; exit 1 when a finding is an error. */
export async function run(
  context: CommandContext,
  options: { format?: string; list?: boolean },
): Promise<number> {
  const format = options.format ?? (context.globals.json ? 'json' : 'text');
  if (!['text', 'json', 'sarif'].includes(format)) {
    throw new UserError(`invalid format: ${format} (must be text, json or sarif)`, {
      hint: 'pass --format text, --format json or --format sarif',
    });
  }
  if (options.list === true) {
    if (format === 'json') {
      context.output.json(
        RULES.map(({ id, severity, title, why, fix }) => ({ id, severity, title, why, fix })),
      );
    } else {
      context.output.result(
        RULES.map((rule) => `${rule.id.padEnd(24)} ${rule.severity.padEnd(8)} ${rule.title}`).join('\n'),
      );
    }
    return 0;
  }
  const loaded = await context.loadConfig('any');
  const inputs = readGovInputs(
    loaded,
    context.globals.env === undefined ? undefined : loaded.envName,
    context.env,
  );
  const report = runGov(inputs);
  const displayPath = (file: string) => {
    const path = relative(context.cwd, join(loaded.root, file)).split(sep).join('/');
    return path === '' ? file : path;
  };
  if (format === 'sarif') {
    context.output.json(renderSarif(report, { version: VERSION, uriPrefix: repositoryPrefix(loaded.root) }));
  } else if (format === 'json') {
    context.output.json(renderJson(report, displayPath));
  } else {
    const colors = context.output.colors;
    context.output.result(renderText(report, colors, displayPath));
  }
  return summarize(report.findings).errors > 0 ? 1 : 0;
}
