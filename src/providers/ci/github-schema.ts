// GitHub's entry in the provider registry: the config schema of ci.providers.github, and its
// behaviour (github.ts: workflows, API, sealed secrets) loaded on first use by the `ci` commands only.
import * as z from 'zod';
import type { CiProviderEntry } from './types.js';

export const DEFAULT_DEPLOY_WORKFLOW = 'stagecraft-deploy.yml';

const schema = z.strictObject({
  workflow_file: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+\.ya?ml$/, { message: 'expected a file name such as deploy.yml' })
    .optional()
    .describe(`File name of the deploy workflow in .github/workflows (default ${DEFAULT_DEPLOY_WORKFLOW}).`),
  token_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional()
    .describe(
      'Variable holding the GitHub token (default GITHUB_TOKEN, then GH_TOKEN, then `gh auth token`).',
    ),
  repository: z
    .string()
    .regex(/^[^/\s]+\/[^/\s]+$/, { message: 'expected owner/name' })
    .optional()
    .describe('owner/name of the repository (default: from the origin remote).'),
});

export type GithubConfig = z.output<typeof schema>;

export const githubCiEntry: CiProviderEntry = {
  id: 'github',
  description: 'GitHub Actions workflows.',
  schema,
  ci: async () => (await import('./github.js')).githubCi,
};
