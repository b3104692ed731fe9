// The GitHub Actions workflows `stagecraft ci init` writes, rendered from the project's CI facts by
// pure code: same facts, same bytes. Secrets reach a step only as `${{ secrets.NAME }}` references in
// that step's `env`, never as values; actions are pinned to full commit SHAs.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { quoteArg } from '../../util/shell-quote.js';
import type { CiEnvironment, CiFacts, CiFile, RequiredSecret } from './types.js';

/**
 * Third-party code the workflows run, pinned to the full commit SHA of a release tag (a tag can be
 * moved, a commit cannot). Only GitHub's own actions: registry login, SSH and the summary are shell.
 */
export const PINNED_ACTIONS = {
  checkout: { uses: 'actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1', tag: 'v7.0.1' },
  setupNode: { uses: 'actions/setup-node@820762786026740c76f36085b0efc47a31fe5020', tag: 'v7.0.0' },
} as const;

/** The Node.js major the workflows run Stagecraft on. */
export const CI_NODE_VERSION = '24';

export const SSH_KEY_SECRET = 'STAGECRAFT_SSH_PRIVATE_KEY';
export const KNOWN_HOSTS_SECRET = 'STAGECRAFT_SSH_KNOWN_HOSTS';
export const REGISTRY_USERNAME_SECRET = 'REGISTRY_USERNAME';
export const REGISTRY_PASSWORD_SECRET = 'REGISTRY_PASSWORD';

export const PLAN_WORKFLOW = 'stagecraft-plan.yml';
/** The value of every declared secret in the plan job: plans are made without secrets. */
export const PLAN_PLACEHOLDER = 'placeholder-not-a-secret';

/** The line that records the sha256 of what `ci init` wrote below the header, to tell edits apart. */
export const HASH_MARKER = '# stagecraft-ci-sha256: ';

type Step = Record<string, unknown>;

/** A GitHub Actions expression, `${{ … }}`. */
export function expr(expression: string): string {
  return `\${{ ${expression} }}`;
}

function checkout(): Step {
  return { name: 'Check out', uses: PINNED_ACTIONS.checkout.uses, with: { 'persist-credentials': false } };
}

function setupNode(): Step {
  return {
    name: 'Set up Node.js',
    uses: PINNED_ACTIONS.setupNode.uses,
    with: { 'node-version': CI_NODE_VERSION },
  };
}

function install(facts: CiFacts): Step {
  return {
    name: 'Install Stagecraft',
    run: `npm install --global --no-audit --no-fund stagecraft@${facts.stagecraftVersion}`,
  };
}

/** Registry login by the GitHub token (ghcr.io) or by repository secrets; undefined when none is used. */
function registryLogin(facts: CiFacts): Step | undefined {
  const registry = facts.registry;
  if (registry === undefined || registry.loopback) return undefined;
  if (registry.host === 'ghcr.io') {
    return {
      name: 'Log in to ghcr.io',
      env: { REGISTRY_PASSWORD: expr('secrets.GITHUB_TOKEN'), REGISTRY_USERNAME: expr('github.actor') },
      run: 'printf \'%s\\n\' "$REGISTRY_PASSWORD" | docker login ghcr.io --username "$REGISTRY_USERNAME" --password-stdin',
    };
  }
  return {
    name: `Log in to ${registry.host}`,
    env: {
      REGISTRY_PASSWORD: expr(`secrets.${REGISTRY_PASSWORD_SECRET}`),
      REGISTRY_USERNAME: expr(`secrets.${REGISTRY_USERNAME_SECRET}`),
    },
    run: `printf '%s\\n' "$REGISTRY_PASSWORD" | docker login ${quoteArg(registry.host)} --username "$REGISTRY_USERNAME" --password-stdin`,
  };
}

function knownHostsPath(env: CiEnvironment): string {
  const file = env.knownHostsFile;
  if (file === undefined) return '$HOME/.ssh/known_hosts';
  if (file.startsWith('~/')) return `$HOME/${quoteArg(file.slice(2))}`;
  return quoteArg(file);
}

/** The key into an SSH agent and the pinned known_hosts, refusing a host whose key is not pinned. */
function sshSetup(env: CiEnvironment): Step {
  const lookups = env.hosts.map((host) => (host.port === 22 ? host.target : `[${host.target}]:${host.port}`));
  const knownHosts = knownHostsPath(env);
  const script = [
    `[ -n "$SSH_PRIVATE_KEY" ] || { echo "::error::secret ${SSH_KEY_SECRET} is not set (stagecraft ci secrets sets it)"; exit 1; }`,
    `[ -n "$SSH_KNOWN_HOSTS" ] || { echo "::error::secret ${KNOWN_HOSTS_SECRET} is not set (stagecraft ci secrets sets it)"; exit 1; }`,
    'install -d -m 700 "$HOME/.ssh"',
    `known_hosts=${knownHosts}`,
    'install -d -m 700 "$(dirname "$known_hosts")"',
    'printf \'%s\\n\' "$SSH_KNOWN_HOSTS" > "$known_hosts"',
    'chmod 600 "$known_hosts"',
    '# Host keys are pinned: every host must be in the known_hosts secret (ssh checks them strictly).',
    `for host in ${lookups.map(quoteArg).join(' ')}; do`,
    '  ssh-keygen -F "$host" -f "$known_hosts" > /dev/null || { echo "::error::no pinned host key for $host in ' +
      `${KNOWN_HOSTS_SECRET}"; exit 1; }`,
    'done',
    'eval "$(ssh-agent -s)" > /dev/null',
    'printf \'%s\\n\' "$SSH_PRIVATE_KEY" | ssh-add - > /dev/null 2>&1 || { echo "::error::' +
      `${SSH_KEY_SECRET} is not a valid private key"; exit 1; }`,
    '{ echo "SSH_AUTH_SOCK=$SSH_AUTH_SOCK"; echo "SSH_AGENT_PID=$SSH_AGENT_PID"; } >> "$GITHUB_ENV"',
  ];
  return {
    name: 'SSH key and pinned host keys',
    env: {
      SSH_KNOWN_HOSTS: expr(`secrets.${KNOWN_HOSTS_SECRET}`),
      SSH_PRIVATE_KEY: expr(`secrets.${SSH_KEY_SECRET}`),
    },
    run: `${script.join('\n')}\n`,
  };
}

function header(lines: string[]): string {
  return lines.map((line) => `# ${line}`.trimEnd()).join('\n');
}

/** Header + hash marker + body; the hash covers the body, so `ci init` can tell whether a file was edited. */
function withHeader(headerText: string, body: string): string {
  const hash = createHash('sha256').update(body, 'utf8').digest('hex');
  return `${headerText}\n${HASH_MARKER}${hash}\n${body}`;
}

/**
 * Splits a workflow file into the hash it records and the sha256 of its body; undefined when the
 * file has no marker (not written by `ci init`).
 */
export function recordedHash(content: string): { recorded: string; actual: string } | undefined {
  const index = content.indexOf(`\n${HASH_MARKER}`);
  if (index === -1) return undefined;
  const lineEnd = content.indexOf('\n', index + 1);
  if (lineEnd === -1) return undefined;
  const recorded = content.slice(index + 1 + HASH_MARKER.length, lineEnd).trim();
  const body = content.slice(lineEnd + 1);
  return { recorded, actual: createHash('sha256').update(body, 'utf8').digest('hex') };
}

function render(workflow: Record<string, unknown>): string {
  let text = stringify(workflow, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false });
  for (const action of Object.values(PINNED_ACTIONS)) {
    text = text.replaceAll(`uses: ${action.uses}\n`, `uses: ${action.uses} # ${action.tag}\n`);
  }
  return text;
}

function defaults(facts: CiFacts): Record<string, unknown> {
  return facts.workingDirectory === '.'
    ? {}
    : { defaults: { run: { 'working-directory': facts.workingDirectory } } };
}

function configFlag(facts: CiFacts): string {
  return facts.configFile === 'stagecraft.yml' ? '' : ` --config ${quoteArg(facts.configFile)}`;
}

/** The pull-request workflow: the config loads and the plan builds for every deploy environment. */
export function planWorkflow(facts: CiFacts): string {
  const environments = facts.environments.map((env) => env.name);
  // A plan needs no secret value, but Stagecraft resolves the declared ones: pull requests (forks
  // included) get placeholders, never the repository's secrets.
  const placeholders = Object.fromEntries(facts.secrets.map((secret) => [secret.variable, PLAN_PLACEHOLDER]));
  const config = configFlag(facts);
  const summary = [
    `stagecraft plan${config} --env "$ENVIRONMENT" --format json > "$RUNNER_TEMP/plan-$ENVIRONMENT.json"`,
    '{',
    '  echo "## Deploy plan: $ENVIRONMENT"',
    "  echo '```text'",
    `  stagecraft plan${config} --env "$ENVIRONMENT" --format text`,
    "  echo '```'",
    "  echo '<details><summary>plan --format json</summary>'",
    '  echo',
    "  echo '```json'",
    '  cat "$RUNNER_TEMP/plan-$ENVIRONMENT.json"',
    "  echo '```'",
    "  echo '</details>'",
    '} >> "$GITHUB_STEP_SUMMARY"',
  ];
  const workflow = {
    name: 'Stagecraft plan',
    on: { pull_request: { branches: [facts.branch] } },
    permissions: { contents: 'read' },
    concurrency: { group: `stagecraft-plan-${expr('github.ref')}`, 'cancel-in-progress': true },
    jobs: {
      plan: {
        name: `plan (${expr('matrix.environment')})`,
        'runs-on': 'ubuntu-latest',
        'timeout-minutes': 10,
        strategy: { 'fail-fast': false, matrix: { environment: environments } },
        ...defaults(facts),
        steps: [
          checkout(),
          setupNode(),
          install(facts),
          {
            name: 'Check stagecraft.yml',
            env: { ENVIRONMENT: expr('matrix.environment') },
            run: `stagecraft config${config} --env "$ENVIRONMENT" > /dev/null`,
          },
          {
            // Deploy-policy lint: errors fail the check, warnings are shown.
            name: 'Deploy policy (stagecraft gov)',
            run: `stagecraft gov${config}`,
          },
          {
            name: 'Plan',
            env: { ENVIRONMENT: expr('matrix.environment'), ...placeholders },
            run: `${summary.join('\n')}\n`,
          },
        ],
      },
    },
  };
  const head = header([
    `Generated by \`stagecraft ci init\` from ${facts.configFile} (Stagecraft ${facts.stagecraftVersion}).`,
    'On every pull request: stagecraft.yml must load and the deploy plan must build for each deploy',
    `environment (${environments.join(', ')}); the plan is shown in the job summary. No secret is read:`,
    'declared secrets get placeholder values.',
    'Deploy-policy lint: `stagecraft gov` runs first; its errors fail the check (docs/gov.md).',
    'Commit this file unchanged; `stagecraft ci init` rewrites it when stagecraft.yml changes and',
    'refuses to overwrite it once edited (unless --force).',
  ]);
  return withHeader(head, render(workflow));
}

/**
 * The environment's env files (git-ignored, so not in the checkout) written from their secrets, 0600,
 * before the deploy reads them; a secret that is not set stops the job naming it.
 */
function envFilesSetup(env: CiEnvironment): Step[] {
  if (env.envFiles.length === 0) return [];
  const script = ['umask 077'];
  const variables: Record<string, string> = {};
  for (const [index, file] of env.envFiles.entries()) {
    const variable = `ENV_FILE_${index + 1}`;
    variables[variable] = expr(`secrets.${file.secretName}`);
    script.push(
      `[ -n "$${variable}" ] || { echo "::error::secret ${file.secretName} is not set (stagecraft ci secrets -e ${env.name} sets it from ${file.path})"; exit 1; }`,
      `mkdir -p "$(dirname ${quoteArg(file.path)})"`,
      `printf '%s\\n' "$${variable}" > ${quoteArg(file.path)}`,
    );
  }
  return [{ name: 'Environment files', env: variables, run: `${script.join('\n')}\n` }];
}

function deployJob(facts: CiFacts, env: CiEnvironment): Record<string, unknown> {
  const config = configFlag(facts);
  const secretEnv = Object.fromEntries(
    facts.secrets.map((secret) => [secret.variable, expr(`secrets.${secret.secretName}`)]),
  );
  const login = registryLogin(facts);
  return {
    name: `deploy (${env.name})`,
    if: `github.event_name == 'push' || inputs.environment == '${env.name}'`,
    'runs-on': 'ubuntu-latest',
    'timeout-minutes': 30,
    environment: { name: env.name },
    concurrency: { group: `stagecraft-deploy-${facts.project}-${env.name}`, 'cancel-in-progress': false },
    ...defaults(facts),
    steps: [
      checkout(),
      setupNode(),
      install(facts),
      sshSetup(env),
      ...envFilesSetup(env),
      ...(login === undefined ? [] : [login]),
      {
        name: `Deploy to ${env.name}`,
        env: {
          ...secretEnv,
          DEPLOY_MESSAGE: `${expr('github.workflow')} run ${expr('github.run_id')} (${expr('github.event_name')}) by ${expr('github.actor')}`,
        },
        run: `stagecraft deploy${config} --env ${quoteArg(env.name)} --lock-wait 10m --yes --message "$DEPLOY_MESSAGE"`,
      },
      {
        name: 'Stop the SSH agent',
        if: 'always()',
        run: 'ssh-agent -k > /dev/null 2>&1 || true',
      },
    ],
  };
}

/** The deploy workflow: pushes to the default branch and manual runs, one job per environment. */
export function deployWorkflow(facts: CiFacts): string {
  const environments = facts.environments.map((env) => env.name);
  const permissions: Record<string, string> = { contents: 'read' };
  if (facts.registry?.host === 'ghcr.io' && !facts.registry.loopback) permissions['packages'] = 'write';
  const workflow = {
    name: 'Stagecraft deploy',
    on: {
      push: { branches: [facts.branch] },
      workflow_dispatch: {
        inputs: {
          environment: {
            description: 'Environment to deploy to',
            type: 'choice',
            required: true,
            options: environments,
          },
        },
      },
    },
    permissions,
    jobs: Object.fromEntries(facts.environments.map((env) => [`deploy-${env.name}`, deployJob(facts, env)])),
  };
  const migrations =
    facts.migrations.length === 0
      ? 'Migrations: none configured.'
      : `Migrations run inside the deploy, on the lock host: ${facts.migrations
          .map((migration) => `${migration.database} (${migration.engine}, ${migration.strategy})`)
          .join(', ')}.`;
  const head = header([
    `Generated by \`stagecraft ci init\` from ${facts.configFile} (Stagecraft ${facts.stagecraftVersion}).`,
    `Deploys ${environments.join(', ')} on every push to ${facts.branch}, or one of them by hand`,
    '(Actions tab, or `stagecraft ci run --env NAME`). One deploy per environment at a time: a',
    'concurrency group here, and the deploy lock on the hosts (`--lock-wait`) against laptops.',
    'Protection rules (reviewers, branches) go on the GitHub environment of the same name.',
    `Host keys are pinned by the ${KNOWN_HOSTS_SECRET} secret; ssh checks them strictly.`,
    migrations,
    'Secrets reach only the step that needs them; `stagecraft ci secrets` stores them.',
    'Commit this file unchanged; `stagecraft ci init` rewrites it when stagecraft.yml changes and',
    'refuses to overwrite it once edited (unless --force).',
  ]);
  return withHeader(head, render(workflow));
}

/** The secrets the workflows read, in the order a person creates them. */
export function requiredSecrets(facts: CiFacts): RequiredSecret[] {
  const list: RequiredSecret[] = [
    {
      name: SSH_KEY_SECRET,
      description: 'private key of the deploy user on every host (from identity_file)',
    },
    {
      name: KNOWN_HOSTS_SECRET,
      description: `known_hosts lines of ${[...new Set(facts.environments.flatMap((env) => env.hosts.map((host) => host.target)))].join(', ')}`,
    },
  ];
  if (facts.registry !== undefined && !facts.registry.loopback && facts.registry.host !== 'ghcr.io') {
    list.push(
      { name: REGISTRY_USERNAME_SECRET, description: `user for ${facts.registry.host}` },
      { name: REGISTRY_PASSWORD_SECRET, description: `password or token for ${facts.registry.host}` },
    );
  }
  for (const secret of facts.secrets) {
    list.push({ name: secret.secretName, description: `${secret.variable} (${secret.source})` });
  }
  for (const env of facts.environments) {
    for (const file of env.envFiles) {
      list.push({
        name: file.secretName,
        description: `content of ${file.path} (environments.${env.name}.env_file; git-ignored)`,
      });
    }
  }
  return list;
}

/** Both workflow files, under `.github/workflows/`. */
export function githubWorkflowFiles(facts: CiFacts, deployFile: string): CiFile[] {
  return [
    {
      path: `.github/workflows/${PLAN_WORKFLOW}`,
      content: planWorkflow(facts),
      description: 'pull requests: config check and deploy plan per environment',
    },
    {
      path: `.github/workflows/${deployFile}`,
      content: deployWorkflow(facts),
      description: `pushes to ${facts.branch} and manual runs: deploy with the lock`,
    },
  ];
}
