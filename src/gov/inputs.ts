import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { composeFileFor } from '../compose/read.js';
import { readDotenvFiles } from '../config/dotenv.js';
import { formatIssue } from '../config/issues.js';
import { environmentVariables, type LoadedConfig } from '../config/load.js';
import { MAX_YAML_BYTES } from '../config/yaml-guard.js';
import { YamlSource } from '../config/yaml-source.js';
import { UserError } from '../util/errors.js';
import { readUserFile, readUserYamlText } from '../util/user-file.js';
import { interpolateCompose } from './compose-facts.js';
import type { GovProject, RawComposeService } from './types.js';

/** Folders that hold migrations by convention (raw SQL, prisma, drizzle, knex, goose, dbmate…). */
const MIGRATION_FOLDERS = [
  'migrations',
  'db/migrations',
  'db/migrate',
  'database/migrations',
  'sql/migrations',
  'prisma/migrations',
  'drizzle',
];

/** The YAML sources the runner resolves positions in, beside the project the rules read. */
export interface GovInputs {
  project: GovProject;
  sources: { config: YamlSource; compose: YamlSource | undefined };
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

function parseYaml(root: string, path: string): YamlSource {
  const display = toPosix(relative(root, path));
  const source = YamlSource.parse(
    display,
    readUserYamlText(path, {
      display,
      maxBytes: MAX_YAML_BYTES,
      hint: `point ${display} at a regular file`,
    }) ?? '',
  );
  const issues = source.syntaxIssues();
  if (issues.length > 0) {
    throw new UserError(`${display} is not valid YAML`, {
      details: issues.map(formatIssue),
      hint: `fix ${display}; \`stagecraft gov\` reads it as written`,
    });
  }
  return source;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasFiles(path: string): boolean {
  try {
    return readdirSync(path, { withFileTypes: true }).some((entry) => !entry.name.startsWith('.'));
  } catch {
    return false;
  }
}

/** Text after the last FROM line's stage start, i.e. the whole file (the rule finds the final stage). */
function readDockerfile(
  root: string,
  service: RawComposeService,
  variables: Record<string, string>,
): string | undefined {
  const build = service['build'];
  if (build === undefined || build === null) return undefined;
  const spec = typeof build === 'string' ? { context: build } : (build as Record<string, unknown>);
  if (typeof spec['dockerfile_inline'] === 'string') return spec['dockerfile_inline'];
  const context = interpolateCompose(String(spec['context'] ?? '.'), variables);
  const dockerfile = interpolateCompose(String(spec['dockerfile'] ?? 'Dockerfile'), variables);
  if (context === undefined || dockerfile === undefined || /^[a-z]+:\/\//i.test(context)) return undefined;
  const path = join(root, context, dockerfile);
  try {
    return readUserFile(path);
  } catch {
    return undefined;
  }
}

/**
 * Reads what the rules look at: stagecraft.yml and the compose file as written (for positions and
 * literal values), the Dockerfiles of built services, `.stagecraft/hooks/`, conventional migration
 * folders. Environments in scope: `only`, else every environment. Reads files, never runs anything.
 * Throws UserError when the compose file is missing or is not valid YAML.
 */
export function readGovInputs(
  loaded: LoadedConfig,
  only: string | undefined,
  processEnv: Record<string, string | undefined>,
): GovInputs {
  const root = loaded.root;
  const config = parseYaml(root, loaded.file);
  const composePath = composeFileFor(root, loaded.config, loaded.locate?.(['compose', 'file']));
  const compose = parseYaml(root, composePath);
  const composeData = compose.toJS() as { services?: unknown } | null;
  const services =
    composeData !== null &&
    typeof composeData === 'object' &&
    composeData.services !== null &&
    typeof composeData.services === 'object'
      ? (composeData.services as Record<string, RawComposeService>)
      : {};

  const dotenvPath = join(dirname(composePath), '.env');
  const dotenv = existsSync(dotenvPath)
    ? readDotenvFiles([{ path: dotenvPath, display: '.env' }], {}, () => undefined)
    : {};
  const cache = new Map<string, Record<string, string>>();
  const variables = (env: string): Record<string, string> => {
    let found = cache.get(env);
    if (found === undefined) {
      found = {
        ...dotenv,
        ...environmentVariables(root, loaded.config.environments[env]?.env_file, processEnv),
      };
      cache.set(env, found);
    }
    return found;
  };
  const environments = only === undefined ? Object.keys(loaded.config.environments).sort() : [only];
  const firstEnv = environments[0] ?? '';

  const hooksDir = join(root, '.stagecraft', 'hooks');
  const hooks = existsSync(hooksDir)
    ? readdirSync(hooksDir)
        .filter((name) => isExecutableFile(join(hooksDir, name)))
        .sort()
    : [];

  const configRaw = config.toJS();
  return {
    sources: { config, compose },
    project: {
      configFile: config.file,
      config: loaded.config,
      configRaw:
        configRaw !== null && typeof configRaw === 'object' ? (configRaw as Record<string, unknown>) : {},
      compose: { file: compose.file, services },
      environments,
      variables,
      dockerfile: (name) => {
        const service = services[name];
        return service === undefined ? undefined : readDockerfile(root, service, variables(firstEnv));
      },
      hooks,
      migrationFolders: MIGRATION_FOLDERS.filter((folder) => hasFiles(join(root, folder))),
    },
  };
}
