// The embedded templates of `stagecraft new`: name → the files of a new project. Pure: the caller
// gives the project name and the password source, and writes the files.
import { GITIGNORE_LINES, hookSamples, type ScaffoldFile, type TemplateInput } from './templates/common.js';
import { nodeApiTemplate } from './templates/node-api.js';
import { platformTemplate } from './templates/platform.js';

export type { ScaffoldFile, TemplateInput };

const TEMPLATES = {
  platform: {
    description: 'Node API + Vite frontend + PostgreSQL with raw SQL migrations',
    devUrls: 'https://app.localhost and https://api.localhost',
    files: platformTemplate,
  },
  'node-api': { description: 'a minimal Node API', devUrls: 'https://api.localhost', files: nodeApiTemplate },
} as const;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

export function isTemplateName(name: string): name is TemplateName {
  return Object.hasOwn(TEMPLATES, name);
}

export function templateDescription(name: TemplateName): string {
  return TEMPLATES[name].description;
}

/** Where `stagecraft dev` serves a new project of template `name` (e.g. `https://api.localhost`). */
export function templateDevUrls(name: TemplateName): string {
  return TEMPLATES[name].devUrls;
}

/**
 * Every file of a new project from template `name`: its own files, the hook samples and .gitignore,
 * sorted by path. `password` defaults to a fixed value only tests should use.
 */
export function templateFiles(
  name: TemplateName,
  input: { projectName: string; password?: () => string },
): ScaffoldFile[] {
  const files = TEMPLATES[name].files({
    projectName: input.projectName,
    password: input.password ?? (() => 'template-password'),
  });
  files.push(...hookSamples(), {
    path: '.gitignore',
    content: `node_modules/\n# Stagecraft\n${GITIGNORE_LINES.join('\n')}\n`,
  });
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
