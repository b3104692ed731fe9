// `stagecraft new <dir> --template NAME` and `stagecraft attach`: files for a new project from an
// embedded template, or Stagecraft added to an existing repository. Both check every file they would
// write first and refuse to overwrite any without `force`; the config they write always validates.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { COMPOSE_FILE_NAMES } from '../compose/read.js';
import { interpolate } from '../config/interpolate.js';
import { configJsonSchema } from '../config/json-schema.js';
import { buildConfigSchema } from '../config/schema.js';
import { builtinProviders } from '../providers/index.js';
import { runLocal } from '../runners/local.js';
import { proposeServices, renderProposedCompose } from '../scaffold/compose-proposal.js';
import { detectProject, sanitizeProjectName } from '../scaffold/detect.js';
import { missingGitignoreLines, withGitignoreLines } from '../scaffold/gitignore.js';
import { renderConfig, SCHEMA_PATH } from '../scaffold/render-config.js';
import { checkWriteTarget } from '../scaffold/target.js';
import { hookSamples } from '../scaffold/templates/common.js';
import {
  isTemplateName,
  type ScaffoldFile,
  TEMPLATE_NAMES,
  templateDevUrls,
  templateFiles,
} from '../scaffold/templates.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { didYouMean } from '../util/did-you-mean.js';
import { ExternalError, InternalError, UserError } from '../util/errors.js';
import { fileSystemError } from '../util/fs-errors.js';
import { makeDirectory } from '../util/make-dir.js';
import { readUserFile } from '../util/user-file.js';

const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function checkConfig(text: string, what: string): void {
  const check = buildConfigSchema(builtinProviders().catalog()).safeParse(
    interpolate(parse(text), () => ({})).value,
  );
  if (!check.success) {
    throw new InternalError(
      `${what} produced a config that does not validate: ${check.error.issues[0]?.message ?? ''}`,
    );
  }
}

function schemaFile(): ScaffoldFile {
  return {
    path: SCHEMA_PATH,
    content: `${JSON.stringify(configJsonSchema(builtinProviders().catalog()), null, 2)}\n`,
  };
}

/** Refuses when any file exists (unless force); lists them all. */
function refuseExisting(root: string, files: ScaffoldFile[], force: boolean, command: string): string[] {
  const existing = files.filter((file) => existsSync(join(root, file.path))).map((file) => file.path);
  if (existing.length > 0 && !force) {
    throw new UserError(`${command} would overwrite ${existing.join(', ')} in ${root}`, {
      hint: 'pass --force to overwrite them, or choose another folder',
    });
  }
  return existing;
}

interface Written {
  path: string;
  /** What was there before (a file replaced with --force). */
  previous: { content: Buffer; mode: number } | undefined;
}

function previousFile(path: string): Written['previous'] {
  if (!existsSync(path)) return undefined;
  return { content: readFileSync(path), mode: statSync(path).mode & 0o7777 };
}

/** Puts back what `writeFiles` changed before it failed; best effort, the failure is what is reported. */
async function undoWrites(written: Written[], created: string[]): Promise<void> {
  for (const file of written.reverse()) {
    await (file.previous === undefined
      ? rm(file.path, { force: true })
      : writeFileAtomic(file.path, file.previous.content, file.previous.mode)
    ).catch(() => undefined);
  }
  for (const directory of created.reverse()) await rmdir(directory).catch(() => undefined);
}

/**
 * Writes `files` under `root` (checked with checkWriteTarget first). When a write fails anyway, the
 * files written are removed (or restored) and the folders created removed, and the failure is a
 * UserError or ExternalError naming the path.
 */
export async function writeFiles(root: string, files: ScaffoldFile[]): Promise<void> {
  const written: Written[] = [];
  const created: string[] = [];
  let current = root;
  try {
    for (const file of files) {
      current = join(root, file.path);
      created.push(...(await makeDirectory(dirname(current))));
      const previous = previousFile(current);
      await writeFileAtomic(current, file.content, file.mode ?? 0o644);
      written.push({ path: current, previous });
    }
  } catch (error) {
    await undoWrites(written, created);
    throw fileSystemError(error, current, 'write');
  }
}

export interface NewProjectOptions {
  dir: string;
  template: string;
  projectName?: string;
  force: boolean;
  /** Run `npm install` where the template has a frontend (Vite). */
  install: boolean;
  dryRun: boolean;
}

export interface ScaffoldResult {
  root: string;
  projectName: string;
  files: { path: string; overwritten: boolean }[];
  installed: string[];
  nextSteps: string[];
}

/** `stagecraft new`: the template's files in `dir` (created when missing), then `npm install` for Vite. */
export async function newProject(
  cwd: string,
  options: NewProjectOptions,
  log: (line: string) => void,
): Promise<ScaffoldResult> {
  if (!isTemplateName(options.template)) {
    const suggestion = didYouMean(options.template, TEMPLATE_NAMES);
    throw new UserError(
      `unknown template "${options.template}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
      { hint: `templates: ${TEMPLATE_NAMES.join(', ')}` },
    );
  }
  if (options.dir.trim() === '') {
    throw new UserError('a directory name is required: stagecraft new <dir> --template <name>', {
      hint: 'e.g. `stagecraft new my-app --template node-api`, or `stagecraft new . --template node-api` for this folder',
    });
  }
  const root = resolve(cwd, options.dir);
  const projectName = options.projectName ?? sanitizeProjectName(basename(root));
  if (!PROJECT_NAME.test(projectName)) {
    throw new UserError(
      `invalid project name "${projectName}": expected lowercase letters, digits, "-" and "_", at most 63 characters`,
      {
        hint: `pass --name ${sanitizeProjectName(projectName)}`,
      },
    );
  }
  const files = [
    ...templateFiles(options.template, { projectName, password: () => randomBytes(18).toString('hex') }),
    schemaFile(),
  ];
  checkConfig(files.find((file) => file.path === 'stagecraft.yml')!.content, `template ${options.template}`);
  checkWriteTarget(
    root,
    files.map((file) => file.path),
  );
  const existing = refuseExisting(root, files, options.force, 'stagecraft new');
  const packages = files.filter((file) => file.path === 'web/package.json').map((file) => dirname(file.path));
  const result: ScaffoldResult = {
    root,
    projectName,
    files: files.map((file) => ({ path: file.path, overwritten: existing.includes(file.path) })),
    installed: [],
    nextSteps: [
      `cd ${relative(cwd, root) || '.'}`,
      ...(options.install || packages.length === 0
        ? []
        : packages.map((dir) => `npm install --prefix ${dir}`)),
      `stagecraft dev                 # ${templateDevUrls(options.template)}`,
      'stagecraft deploy -e local     # a release on this machine’s Docker engine',
      'edit environments.production in stagecraft.yml and put its values in .env.production (see .env.example), then `stagecraft plan -e production`',
      'stagecraft ci init             # GitHub Actions workflows',
    ],
  };
  if (options.dryRun) return result;
  await writeFiles(root, files);
  if (options.install) {
    for (const dir of packages) {
      log(`installing the ${dir} dependencies (npm install)…`);
      const outcome = await runLocal(['npm', 'install', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: join(root, dir),
        allowFailure: true,
        timeoutMs: 600_000,
      });
      if (outcome.exitCode !== 0) {
        throw new ExternalError(`npm install in ${dir} failed (exit code ${outcome.exitCode})`, {
          hint: `the project is written; run \`npm install\` in ${join(root, dir)} once the registry is reachable`,
        });
      }
      result.installed.push(dir);
    }
  }
  return result;
}

export interface AttachOptions {
  /** Folder of the repository (where stagecraft.yml goes). */
  root: string;
  projectName?: string;
  force: boolean;
  dryRun: boolean;
}

export interface AttachResult extends ScaffoldResult {
  /** The compose file proposed from Dockerfiles, when the repository had none. */
  proposedCompose: string | undefined;
  gitignore: string[];
}

/**
 * `stagecraft attach`: what `init` writes (stagecraft.yml, the schema, .gitignore lines), the hooks
 * folder with commented samples, and — when there is no compose file — one proposed from the
 * Dockerfiles. Errors: UserError when a file exists (without force) or nothing can be run.
 */
export async function attachProject(options: AttachOptions): Promise<AttachResult> {
  const { root } = options;
  if (!existsSync(root)) throw new UserError(`${root} does not exist`);
  const projectName = options.projectName ?? sanitizeProjectName(basename(root));
  if (!PROJECT_NAME.test(projectName)) {
    throw new UserError(
      `invalid project name "${projectName}": expected lowercase letters, digits, "-" and "_"`,
      {
        hint: `pass --project-name ${sanitizeProjectName(projectName)}`,
      },
    );
  }
  const files: ScaffoldFile[] = [];
  let detection = detectProject(root);
  let proposedCompose: string | undefined;
  if (detection.composeFile === undefined) {
    if (detection.dockerfiles.length === 0) {
      throw new UserError(`${root} has neither a compose file nor a Dockerfile`, {
        hint: `add a ${COMPOSE_FILE_NAMES[0]} (or a Dockerfile), or start from a template: stagecraft new <dir> --template platform`,
      });
    }
    const services = proposeServices(
      detection.dockerfiles.map((path) => ({
        path: path.split('\\').join('/'),
        content: readUserFile(join(root, path)) ?? '',
      })),
      projectName,
    );
    proposedCompose = renderProposedCompose(services, projectName);
    files.push({ path: COMPOSE_FILE_NAMES[0]!, content: proposedCompose });
    // Detect again as if the proposal were written, so stagecraft.yml names its services.
    detection = {
      ...detection,
      composeFile: COMPOSE_FILE_NAMES[0],
      services: services.map((service) => ({
        name: service.name,
        image: undefined,
        hasBuild: true,
        role: 'app',
        ...(service.port === undefined ? {} : { port: service.port }),
        // A rollout needs to know when a new container is ready; `/` is a guess the next steps name.
        ...(service.port === undefined || service.hasHealthcheck ? {} : { healthPath: '/' }),
      })),
    };
  }
  const config = renderConfig(detection, projectName);
  checkConfig(config, 'attach');
  const guessedHealth = detection.services
    .filter((service) => service.healthPath !== undefined)
    .map((service) => service.name);
  files.push({ path: 'stagecraft.yml', content: config }, schemaFile(), ...hookSamples());
  const gitignore = missingGitignoreLines(root);
  checkWriteTarget(root, [
    ...files.map((file) => file.path),
    ...(gitignore.length > 0 ? ['.gitignore'] : []),
  ]);
  const existing = refuseExisting(root, files, options.force, 'stagecraft attach');
  const result: AttachResult = {
    root,
    projectName,
    files: files.map((file) => ({ path: file.path, overwritten: existing.includes(file.path) })),
    installed: [],
    proposedCompose,
    gitignore,
    nextSteps: [
      ...(proposedCompose === undefined
        ? []
        : [`review ${COMPOSE_FILE_NAMES[0]} (proposed from your Dockerfiles)`]),
      ...guessedHealth.map(
        (name) =>
          `check services.${name}.health.path in stagecraft.yml: a path ${name} answers 2xx on (/ is a guess)`,
      ),
      ...detection.services
        .filter((service) => service.unroutedPort !== undefined)
        .map(
          (service) =>
            `${service.name} listens on ${service.unroutedPort}: to route it, set services.${service.name}.port and health.path in stagecraft.yml`,
        ),
      'stagecraft config              # check stagecraft.yml',
      'stagecraft plan -e production  # what a deploy would do',
      'give environments.production hosts (driver: ssh) and project.registry to deploy to servers',
      'stagecraft ci init             # GitHub Actions workflows',
    ],
  };
  if (options.dryRun) return result;
  const ignore = join(root, '.gitignore');
  await writeFiles(root, [
    ...files,
    ...(gitignore.length > 0
      ? [
          {
            path: '.gitignore',
            content: withGitignoreLines(readUserFile(ignore) ?? '', gitignore),
          },
        ]
      : []),
  ]);
  return result;
}

/** True when a folder has no entries (or does not exist). */
export function isEmptyFolder(path: string): boolean {
  return !existsSync(path) || readdirSync(path).length === 0;
}
