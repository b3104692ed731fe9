import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { destructiveChanges } from '../commit/destructive.js';
import { compareStrings } from '../compose/canonical.js';
import type { LoadedConfig } from '../config/load.js';
import { readGovInputs } from '../gov/inputs.js';
import { projectModel } from '../model/project.js';
import { ledgerPath, parseLedger } from '../state/ledger.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserFileError } from '../util/errors.js';
import { looksSecretName, redact, registerSecretValue } from '../util/secret.js';
import { readUserFile } from '../util/user-file.js';
import { describeProject, type MigrationFileFacts } from './describe.js';
import { renderMarkdown } from './markdown.js';

/** The folder `context build` writes, in the project root. */
export const CONTEXT_DIR = '.ai-context';

const README = `# .ai-context

Written by \`stagecraft context build\`: a description of this project for reviewers and coding
assistants (project.md for reading, project.json for tools), built offline from stagecraft.yml, the
compose file, the migrations and .stagecraft/releases.json. Secret values are never included.
manifest.json lists the sha256 of every file here and of the inputs; a rebuild without changes
writes nothing. The folder ignores itself in git (.gitignore: *).
`;

function sha256Hex(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function posixRelative(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

/** Regular files under `folder` (recursively, hidden ones skipped), as paths relative to it, sorted. */
function filesUnder(folder: string): string[] {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) return [];
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) found.push(posixRelative(folder, path));
    }
  };
  walk(folder);
  return found.sort(compareStrings);
}

/** What a build did: the files it wrote and those already current, relative to `.ai-context/`. */
export interface ContextBuildResult {
  dir: string;
  written: string[];
  unchanged: string[];
}

/**
 * Builds `.ai-context/` for the project: renders project.md, project.json, README.md, .gitignore and
 * manifest.json (sha256 of each file and of each input), redacts every secret value known from the
 * environments' variables, and writes only the files whose bytes changed (atomically). Reads files,
 * runs nothing, no network. Throws UserError when the compose file is missing or invalid YAML.
 */
/** Largest generated file compared before it is rewritten. */
const MAX_CONTEXT_FILE_BYTES = 16 * 1024 * 1024;

export async function buildContext(
  loaded: LoadedConfig,
  processEnv: Record<string, string | undefined>,
  options: { releasesPerEnvironment: number; dryRun?: boolean },
): Promise<ContextBuildResult> {
  const root = loaded.root;
  const { project } = readGovInputs(loaded, undefined, processEnv);

  const model = projectModel(loaded);
  const secretKeys = new Set((model.secrets?.keys ?? []).map((key) => key.name));
  for (const env of project.environments) {
    for (const [name, value] of Object.entries(project.variables(env))) {
      if (looksSecretName(name) || secretKeys.has(name)) registerSecretValue(value);
    }
  }

  const inputs: Record<string, string> = {};
  const addInput = (path: string) => {
    if (existsSync(path) && statSync(path).isFile())
      inputs[posixRelative(root, path)] = sha256Hex(readFileSync(path));
  };
  addInput(loaded.file);
  if (project.compose !== undefined) addInput(join(root, project.compose.file));

  const migrationFiles: Record<string, MigrationFileFacts[]> = {};
  for (const { name, migrationsPath } of model.databases) {
    if (migrationsPath === undefined) continue;
    const folder = join(root, migrationsPath);
    migrationFiles[name] = filesUnder(folder).map((file) => {
      const bytes = readFileSync(join(folder, file));
      addInput(join(folder, file));
      const lines = bytes.toString('utf8').split('\n');
      return {
        name: file,
        sha256: sha256Hex(bytes),
        drops_or_renames: destructiveChanges([{ status: 'A', path: file, added: lines, removed: [] }]).map(
          (change) => change.statement,
        ),
      };
    });
  }

  const ledger = ledgerPath({ projectRoot: root, env: processEnv });
  const releases = existsSync(ledger) ? parseLedger(readFileSync(ledger, 'utf8'), ledger) : [];
  addInput(ledger);

  const description = describeProject({
    project,
    migrationFiles,
    releases,
    releasesPerEnvironment: options.releasesPerEnvironment,
  });
  const files: Record<string, string> = {
    '.gitignore': '*\n',
    'README.md': README,
    'project.json': redact(`${JSON.stringify(description, null, 2)}\n`),
    'project.md': redact(renderMarkdown(description)),
  };
  const manifest = {
    format: 1,
    generator: 'stagecraft context build',
    files: Object.fromEntries(
      Object.keys(files)
        .sort(compareStrings)
        .map((name) => [name, sha256Hex(files[name] ?? '')]),
    ),
    inputs: Object.fromEntries(Object.entries(inputs).sort(([a], [b]) => compareStrings(a, b))),
  };
  files['manifest.json'] = `${JSON.stringify(manifest, null, 2)}\n`;

  const dir = join(root, CONTEXT_DIR);
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() === false) {
    throw new UserFileError(dir, `${dir} is not a folder: context build writes its files there`, {
      hint: `move it away (${CONTEXT_DIR} is Stagecraft's folder)`,
    });
  }
  const written: string[] = [];
  const unchanged: string[] = [];
  for (const name of Object.keys(files).sort(compareStrings)) {
    const path = join(dir, name);
    const content = files[name] ?? '';
    if (readUserFile(path, { maxBytes: MAX_CONTEXT_FILE_BYTES }) === content) {
      unchanged.push(name);
      continue;
    }
    if (options.dryRun !== true) await writeFileAtomic(path, content);
    written.push(name);
  }
  return { dir, written, unchanged };
}
