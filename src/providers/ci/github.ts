// Provider `github`: GitHub Actions. Workflows rendered by github-workflows.ts, the REST API reached
// through github-api.ts (Octokit), secret values sealed by sealed-box.ts (libsodium), both loaded only
// when a command needs them. The config schema is github-schema.ts (the registry's entry, loaded by
// every command); this module is loaded by the `ci` commands through the entry's ci().
import { UserError } from '../../util/errors.js';
import { DEFAULT_DEPLOY_WORKFLOW, type GithubConfig, githubCiEntry } from './github-schema.js';
import { githubWorkflowFiles, requiredSecrets } from './github-workflows.js';
import type { CiConnection, CiProvider } from './types.js';

declare const __STAGECRAFT_VERSION__: string;
const USER_AGENT = `stagecraft/${typeof __STAGECRAFT_VERSION__ === 'string' ? __STAGECRAFT_VERSION__ : '0.0.0-dev'}`;

export const PUBLIC_API = 'https://api.github.com';

const API_URL_FORMS = 'expected https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server';
const API_URL_HINT = 'fix GITHUB_API_URL, or unset it to use https://api.github.com';

/**
 * The REST API base: GITHUB_API_URL (as GitHub Actions and GitHub Enterprise Server set it), else the
 * public API; trailing slashes dropped. Errors: UserError when it is not an http(s) URL, or carries
 * credentials, a query or a fragment.
 */
export function githubApiBaseUrl(env: Record<string, string | undefined>): string {
  const raw = env['GITHUB_API_URL']?.trim();
  if (raw === undefined || raw === '') return PUBLIC_API;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserError(`GITHUB_API_URL ${JSON.stringify(raw)} is not a URL: ${API_URL_FORMS}`, {
      hint: API_URL_HINT,
    });
  }
  if (url.username !== '' || url.password !== '') {
    // Not echoed: what is in it may be a password.
    throw new UserError(`GITHUB_API_URL holds a user name or password: ${API_URL_FORMS}`, {
      hint: 'the token goes in GITHUB_TOKEN or GH_TOKEN, never in the URL',
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UserError(`GITHUB_API_URL ${raw} is not an http(s) URL: ${API_URL_FORMS}`, {
      hint: API_URL_HINT,
    });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UserError(`GITHUB_API_URL ${raw} has a query or fragment: ${API_URL_FORMS}`, {
      hint: API_URL_HINT,
    });
  }
  return raw.replace(/\/+$/, '');
}

/**
 * owner/name from a GitHub remote URL (https, ssh or scp-like, any host: GitHub Enterprise too);
 * undefined when the URL has no owner/name path.
 */
export function repositoryFromRemote(url: string): string | undefined {
  const match =
    /^(?:https?:\/\/|ssh:\/\/|git:\/\/)(?:[^@/]+@)?[^/]+\/([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(
      url.trim(),
    ) ?? /^(?:[^@/\s]+@)?[^:/\s]+:([^/\s]+)\/([^/\s]+?)(?:\.git)?\/?$/.exec(url.trim());
  return match === null ? undefined : `${match[1]}/${match[2]}`;
}

async function client(connection: CiConnection) {
  const { githubClient } = await import('./github-api.js');
  return githubClient(connection, USER_AGENT);
}

export const githubCi: CiProvider = {
  id: githubCiEntry.id,
  description: githubCiEntry.description,
  schema: githubCiEntry.schema,
  workflows: (facts, config) =>
    githubWorkflowFiles(facts, (config as GithubConfig).workflow_file ?? DEFAULT_DEPLOY_WORKFLOW),
  requiredSecrets,
  deployWorkflowFile: (config) => (config as GithubConfig).workflow_file ?? DEFAULT_DEPLOY_WORKFLOW,
  tokenVariables: (config) => {
    const named = (config as GithubConfig).token_env;
    return named === undefined ? ['GITHUB_TOKEN', 'GH_TOKEN'] : [named];
  },
  tokenCommand: ['gh', 'auth', 'token'],
  apiBaseUrl: githubApiBaseUrl,
  repositoryFromRemote,
  async run(connection, request) {
    const { runWorkflow } = await import('./github-api.js');
    return runWorkflow(await client(connection), connection, request);
  },
  async setSecrets(connection, secrets) {
    const [{ putSecrets }, { sealForGitHub }] = await Promise.all([
      import('./github-api.js'),
      import('./sealed-box.js'),
    ]);
    return putSecrets(await client(connection), connection, secrets, sealForGitHub);
  },
};
