import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parse } from 'yaml';
import { configJsonSchema } from '../../config/json-schema.js';
import { CONFIG_FILE_NAME } from '../../config/locate.js';
import { buildConfigSchema, SERVICE_NAME } from '../../config/schema.js';
import { FORBIDDEN_KEYS } from '../../config/yaml-guard.js';
import { builtinProviders } from '../../providers/index.js';
import { detectProject, sanitizeProjectName } from '../../scaffold/detect.js';
import { missingGitignoreLines, withGitignoreLines } from '../../scaffold/gitignore.js';
import { renderConfig, SCHEMA_PATH } from '../../scaffold/render-config.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { InternalError, UserError } from '../../util/errors.js';
import { makeDirectory } from '../../util/make-dir.js';
import { readUserFile } from '../../util/user-file.js';
import type { CommandContext } from '../context.js';

interface InitOptions {
  nonInteractive?: boolean;
  projectName?: string;
  force?: boolean;
}

async function askProjectName(fallback: string): Promise<string> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await prompt.question(`Project name [${fallback}]: `)).trim();
    return answer === '' ? fallback : answer;
  } finally {
    prompt.close();
  }
}

export async function run(context: CommandContext, options: InitOptions): Promise<number> {
  const target = resolve(context.cwd, context.globals.config ?? CONFIG_FILE_NAME);
  const root = dirname(target);
  if (existsSync(target) && options.force !== true) {
    throw new UserError(`a Stagecraft config already exists at ${target}`, {
      hint: 'run `stagecraft config` to check it, pass --force to overwrite it, or --config <path> to write elsewhere',
    });
  }

  const detection = detectProject(root);
  const interactive = options.nonInteractive !== true && !context.globals.yes && process.stdin.isTTY === true;
  let projectName = options.projectName ?? detection.projectName;
  if (options.projectName === undefined && interactive) projectName = await askProjectName(projectName);
  if (sanitizeProjectName(projectName) !== projectName) {
    throw new UserError(
      `invalid project name "${projectName}": expected lowercase letters, digits, "-" and "_"`,
      {
        hint: `pass --project-name ${sanitizeProjectName(projectName)}`,
      },
    );
  }

  // A compose service stagecraft.yml cannot name (`_worker`, `constructor`) is the user's to rename.
  const unnamable = detection.services.find(
    (service) => !SERVICE_NAME.test(service.name) || FORBIDDEN_KEYS.has(service.name),
  );
  if (unnamable !== undefined) {
    throw new UserError(
      `compose service "${unnamable.name}" cannot be named in stagecraft.yml: expected a letter or digit first, then letters, digits, _ . - (and not an object internal such as constructor)`,
      { hint: `rename the service in ${detection.composeFile ?? 'the compose file'}, then run init again` },
    );
  }
  const catalog = builtinProviders().catalog();
  const text = renderConfig(detection, projectName);
  const check = buildConfigSchema(catalog).safeParse(parse(text));
  if (!check.success) {
    throw new InternalError(
      `init produced a config that does not validate: ${check.error.issues[0]?.message ?? ''}`,
    );
  }
  const gitignoreAdditions = missingGitignoreLines(root);
  const schemaFile = join(root, SCHEMA_PATH);
  const files = [target, schemaFile, ...(gitignoreAdditions.length > 0 ? [join(root, '.gitignore')] : [])];

  if (context.globals.dryRun) {
    if (context.globals.json) {
      context.output.json({
        dryRun: true,
        files,
        config: text,
        gitignore: gitignoreAdditions,
        detected: detection,
      });
      return 0;
    }
    context.output.result(`Would write ${relative(context.cwd, target) || target}:\n\n${text}`);
    context.output.result(`Would write ${relative(context.cwd, schemaFile)} (JSON Schema for editors)`);
    if (gitignoreAdditions.length > 0)
      context.output.result(`Would add to .gitignore: ${gitignoreAdditions.join(' ')}`);
    return 0;
  }

  await makeDirectory(join(root, '.stagecraft', 'hooks'));
  await writeFileAtomic(schemaFile, `${JSON.stringify(configJsonSchema(catalog), null, 2)}\n`);
  await writeFileAtomic(target, text);
  if (gitignoreAdditions.length > 0) {
    const path = join(root, '.gitignore');
    const current = readUserFile(path) ?? '';
    await writeFileAtomic(path, withGitignoreLines(current, gitignoreAdditions));
  }

  if (context.globals.json) {
    context.output.json({ dryRun: false, files, detected: detection });
    return 0;
  }
  const found = [
    detection.composeFile
      ? `compose file ${detection.composeFile} (${detection.services.length} services)`
      : 'no compose file',
    ...detection.packages.map((pkg) => `${pkg.kind} package in ${pkg.dir}`),
    ...(detection.migrations
      ? [`${detection.migrations.engine} migrations in ${detection.migrations.path}`]
      : []),
  ];
  context.output.result(`✓ Created Stagecraft config at ${relative(context.cwd, target) || target}`);
  context.output.info(`  detected: ${found.join('; ')}`);
  context.output.info('  next: `stagecraft config` to review it, `stagecraft plan` to see a deploy');
  return 0;
}
