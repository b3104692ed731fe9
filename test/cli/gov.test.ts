import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Validator } from '@cfworker/json-schema';
import { describe, expect, it } from 'vitest';
import { withGovRules } from '../../scripts/gov-docs.mjs';
import { stagecraft } from '../support/cli.js';
import { projectWith } from '../support/config.js';
import { expectGolden } from '../support/golden.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/gov/', import.meta.url));
const ACME = fileURLToPath(new URL('../fixtures/projects/acme/', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../fixtures/golden/gov/', import.meta.url));
const require = createRequire(import.meta.url);
/** The OASIS SARIF 2.1.0 schema (rtm.5, the final 2.1.0), as shipped by Microsoft's @microsoft/jest-sarif. */
const SARIF_SCHEMA = JSON.parse(
  readFileSync(
    join(require.resolve('@microsoft/jest-sarif/package.json'), '..', 'lib/schemas/sarif-2.1.0-rtm.5.json'),
    'utf8',
  ),
);

const CLEAN_CONFIG = `project:
  name: app
services:
  web: { role: web, port: 8080, domains: [app.example.com] }
ingress:
  provider: caddy
  tls: { mode: acme, email_env: ACME_EMAIL }
environments:
  staging:
    driver: ssh
    hosts: { web: [staging-1] }
  production:
    driver: ssh
    require_confirmation: true
    hosts: { web: [web-1] }
`;
const CLEAN_COMPOSE = `services:
  web:
    image: ghcr.io/acme/web:1.4.2
    restart: unless-stopped
    healthcheck: { test: ["CMD", "true"] }
`;

describe('stagecraft gov', () => {
  it('prints each finding with file:line:column, severity, rule and fix; exit 1 on errors', () => {
    const result = stagecraft(['gov'], { cwd: join(FIXTURES, 'database-port-public', 'fail') });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      [
        'docker-compose.yml:12:9 error database-port-public: database service "db" publishes port 5432 on every interface of the host',
        '  fix: bind it to loopback ("127.0.0.1:5432:5432") or remove it',
        'docker-compose.yml:17:9 error database-port-public: database service "cache" publishes port 6379 on every interface of the host',
        '  fix: bind it to loopback ("127.0.0.1:6379:6379") or remove it',
        // db and cache have no role: they run on the first role's single host.
        'stagecraft.yml:18:12 warning stateful-backup: role "web" of environment "production" keeps data of cache, db on one host (web-1) and no pre-deploy hook backs it up',
        '  fix: add an executable .stagecraft/hooks/pre-deploy that backs the data up (e.g. `stagecraft exec db -- pg_dump …`), or a second host for the role with replication',
        '2 errors, 1 warning (15 rules checked)',
        '',
      ].join('\n'),
    );
  });

  it('exits 0 on a clean project and with warnings only', () => {
    const clean = stagecraft(['gov'], {
      cwd: projectWith({ 'stagecraft.yml': CLEAN_CONFIG, 'docker-compose.yml': CLEAN_COMPOSE }),
    });
    expect(clean).toMatchObject({ code: 0, stdout: 'no findings (15 rules checked)\n' });
    const warnings = stagecraft(['gov'], { cwd: join(FIXTURES, 'restart-policy', 'fail') });
    expect(warnings.code).toBe(0);
    expect(warnings.stdout).toContain('0 errors, 2 warnings (15 rules checked)');
  });

  it('skips rules listed in gov.disable and says so', () => {
    const root = projectWith({
      'stagecraft.yml': `${CLEAN_CONFIG.replace('    require_confirmation: true\n', '')}gov:\n  disable: [production-confirmation]\n`,
      'docker-compose.yml': CLEAN_COMPOSE,
    });
    const result = stagecraft(['gov'], { cwd: root });
    expect(result).toMatchObject({
      code: 0,
      stdout: 'no findings (14 rules checked; disabled: production-confirmation)\n',
    });
  });

  it('rejects an unknown rule id in gov.disable with its position and a suggestion', () => {
    const root = projectWith({
      'stagecraft.yml': `${CLEAN_CONFIG}gov:\n  disable:\n    - image-lastest\n`,
      'docker-compose.yml': CLEAN_COMPOSE,
    });
    const result = stagecraft(['gov'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        'error: gov.disable names a rule that does not exist',
        '  stagecraft.yml:18:7 gov.disable[0]: unknown rule "image-lastest" (did you mean "image-latest"?)',
        'hint: `stagecraft gov --list` prints every rule id',
        '',
      ].join('\n'),
    );
    expect(result.stdout).toBe('');
  });

  it('--env limits environment rules to one environment', () => {
    const root = projectWith({
      'stagecraft.yml': CLEAN_CONFIG.replace('    require_confirmation: true\n', ''),
      'docker-compose.yml': CLEAN_COMPOSE,
    });
    expect(stagecraft(['gov', '--env', 'production'], { cwd: root }).code).toBe(1);
    const staging = stagecraft(['gov', '--env', 'staging'], { cwd: root });
    expect(staging).toMatchObject({ code: 0, stdout: 'no findings (15 rules checked)\n' });
    expect(stagecraft(['gov', '--env', 'prod'], { cwd: root }).stderr).toContain(
      'unknown environment "prod"',
    );
  });

  it('--json prints findings and counts; never the value of an inline secret', () => {
    const result = stagecraft(['gov', '--json'], { cwd: join(FIXTURES, 'inline-secret', 'fail') });
    expect(result.code).toBe(1);
    const document = JSON.parse(result.stdout);
    expect(document.summary).toEqual({ errors: 3, warnings: 1, notes: 0 });
    expect(document.findings[0]).toEqual({
      rule: 'inline-secret',
      severity: 'error',
      file: 'docker-compose.yml',
      line: 9,
      column: 21,
      message: 'DATABASE_URL of service "web" is written in docker-compose.yml (value not shown)',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax in the expected text
      fix: "write DATABASE_URL: ${DATABASE_URL:?set DATABASE_URL}, keep the value in the environment's env_file (gitignored), list DATABASE_URL under secrets.keys, and rotate it: it is in the git history",
    });
    expect(document.rules).toHaveLength(15);
    for (const planted of [
      'planted-url-password-9c2e',
      'planted-db-password-7f3a',
      'planted-session-secret-4b1d',
    ]) {
      expect(result.stdout).not.toContain(planted);
      expect(stagecraft(['gov'], { cwd: join(FIXTURES, 'inline-secret', 'fail') }).stdout).not.toContain(
        planted,
      );
    }
  });

  it('--format sarif writes a SARIF 2.1.0 log that validates against the OASIS schema', () => {
    const result = stagecraft(['gov', '--format', 'sarif'], {
      cwd: join(FIXTURES, 'web-healthcheck', 'fail'),
    });
    expect(result.code).toBe(1);
    const log = JSON.parse(result.stdout);
    const validation = new Validator(SARIF_SCHEMA, '4', false).validate(log);
    expect(validation.errors).toEqual([]);
    expect(validation.valid).toBe(true);
    const run = log.runs[0];
    expect(run.tool.driver.rules.map((rule: { id: string }) => rule.id)).toContain('web-healthcheck');
    const result0 = run.results.find((result: { ruleId: string }) => result.ruleId === 'web-healthcheck');
    expect(result0).toMatchObject({
      level: 'error',
      locations: [
        {
          physicalLocation: {
            artifactLocation: {
              uri: 'test/fixtures/gov/web-healthcheck/fail/docker-compose.yml',
              uriBaseId: '%SRCROOT%',
            },
            region: { startLine: 2, startColumn: 3 },
          },
        },
      ],
    });
    expect(run.tool.driver.rules[result0.ruleIndex].id).toBe('web-healthcheck');
  });

  it('the schema check would catch a broken log (the validator is not vacuous)', () => {
    const validator = new Validator(SARIF_SCHEMA, '4', false);
    expect(validator.validate({ version: '2.1.0', runs: [{ tool: {} }] }).valid).toBe(false);
    expect(validator.validate({ version: '2.0.0', runs: [] }).valid).toBe(false);
  });

  it('prints the same bytes on every run', () => {
    const cwd = join(FIXTURES, 'image-floating-tag', 'fail');
    const first = stagecraft(['gov', '--format', 'sarif'], { cwd });
    const second = stagecraft(['gov', '--format', 'sarif'], { cwd });
    expect(first.stdout).toBe(second.stdout);
    expect(first.stdout.length).toBeGreaterThan(1000);
  });

  it('matches the golden text and SARIF for the acme fixture project', () => {
    const text = stagecraft(['gov'], { cwd: ACME });
    expect(text.code).toBe(1);
    expectGolden(join(GOLDEN, 'acme.txt'), text.stdout);
    const sarif = stagecraft(['gov', '--format', 'sarif'], { cwd: ACME });
    expect(sarif.code).toBe(1);
    expectGolden(
      join(GOLDEN, 'acme.sarif.golden'),
      sarif.stdout.replace(/"semanticVersion": "[^"]+"/, '"semanticVersion": "<version>"'),
    );
  });

  it('--list prints every rule with its severity', () => {
    const result = stagecraft(['gov', '--list']);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toContain(
      'database-port-public     error    Databases do not publish ports on every interface',
    );
    expect(result.stdout.trim().split('\n')).toHaveLength(15);
  });

  it('docs/gov.md lists every rule as `gov --list` does (run `node scripts/gov-docs.mjs` after changing a rule)', () => {
    const rules = JSON.parse(stagecraft(['gov', '--list', '--json']).stdout);
    const page = readFileSync(new URL('../../docs/gov.md', import.meta.url), 'utf8');
    expect(page).toBe(withGovRules(page, rules));
    expect(page).toContain(
      '| [`docker-socket`](#docker-socket) | error | No service mounts the Docker socket |',
    );
  });
});
