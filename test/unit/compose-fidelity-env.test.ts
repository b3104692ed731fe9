// biome-ignore-all lint/suspicious/noTemplateCurlyInString: literal ${…} in env files and compose files is what is under test
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/util/errors.js';
import { COMPOSE_FIDELITY_CASES, caseCopies, composeCliAvailable } from '../support/compose-fixtures.js';
import { planProject, uploadedCompose, uploadedText } from '../support/prepare.js';

// Kinds 1 and 2 of issue 11 on the inputs of test/fixtures/compose-fidelity (real docker compose):
// env files read with compose v2's rules, the environment's files passed as --env-file, warnings shown.

const cases = COMPOSE_FIDELITY_CASES;
/** A copy of a case folder, so a test can change files. */
const copyCase = caseCopies('stagecraft-fidelity-');
const composeAvailable = composeCliAvailable();

describe.skipIf(!composeAvailable)('compose fidelity: env files and variables', { timeout: 60_000 }, () => {
  it('01: a # inside an unquoted value is kept, in the compose file and the secret env file', async () => {
    const { plan, env } = await planProject(join(cases, '01-envfile-hash-in-value'), 'production');
    expect(env.loaded.config.services?.['web']?.environment).toEqual({ SHOP_TAGLINE: 'bread#1' });
    expect(uploadedCompose(plan, 'web-1').services['web']?.environment).toEqual({ SHOP_TAGLINE: 'bread#1' });
    expect(uploadedText(plan, 'web-1', 'secrets/web.env')).toBe('SMTP_PASSWORD="rye#Flour42"\n');
  });

  it('02: a multi-line double-quoted value arrives whole', async () => {
    const { plan } = await planProject(join(cases, '02-envfile-multiline-value'), 'production');
    expect(uploadedCompose(plan, 'web-1').services['web']?.environment).toEqual({
      UPSTREAM_CA_CERT:
        '-----BEGIN CERTIFICATE-----\nMIIBfakefakefakefakefakefakefake\n-----END CERTIFICATE-----',
    });
  });

  it('03: ${VAR} expands from earlier lines and \\$ is a literal $', async () => {
    const { plan, env } = await planProject(join(cases, '03-envfile-variable-reference'), 'production');
    expect(env.loaded.variables['PUBLIC_URL']).toBe('https://bakery.example.test/shop');
    expect(env.loaded.variables['PRICE_NOTE']).toBe('loaf $4');
    // The rendered file escapes a literal $ as compose's $$.
    expect(uploadedCompose(plan, 'web-1').services['web']?.environment).toEqual({
      PUBLIC_URL: 'https://bakery.example.test/shop',
      PRICE_NOTE: 'loaf $$4',
    });
  });

  it('04: the dev .env does not leak into production; compose defaults apply', async () => {
    const { plan } = await planProject(join(cases, '04-dotenv-leaks-into-production'), 'production');
    expect(uploadedCompose(plan, 'web-1').services['web']?.environment).toEqual({
      API_BASE_URL: 'https://api.bakery.example.test',
      PAYMENTS_MODE: 'live',
    });
  });

  it('04: without any env_file, .env is not read either', async () => {
    const dir = copyCase('04-dotenv-leaks-into-production');
    writeFileSync(
      join(dir, 'stagecraft.yml'),
      'project: { name: bakery }\nservices:\n  web: { port: 8080, domains: [bakery.example.test] }\nenvironments:\n  production:\n    driver: ssh\n    hosts: { web: [{ name: web-1, address: 192.0.2.10 }] }\n',
    );
    const { plan, output } = await planProject(dir, 'production');
    expect(uploadedCompose(plan, 'web-1').services['web']?.environment?.['PAYMENTS_MODE']).toBe('live');
    // …and plan says so: plain `docker compose` would have read it.
    expect(output.warnings).toContain(
      '.env is here, but environment production has no env_file, so its values are not used (plain `docker compose` would read it): list it under environments.production.env_file to use it',
    );
  });

  it('05: a configured env_file that does not exist: deploy refuses it naming it, plan warns', async () => {
    const { output } = await planProject(join(cases, '05-env-file-missing-silently'), 'production');
    expect(output.warnings).toContain(
      'env file .env.prodution (environments.production.env_file) does not exist; going on without it',
    );
    const error = await planProject(join(cases, '05-env-file-missing-silently'), 'production', {
      planOnly: false,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      `env file .env.prodution does not exist (${join(cases, '05-env-file-missing-silently', '.env.prodution')})`,
    );
    expect((error as UserError).hint).toBe(
      'create it, or fix environments.production.env_file in stagecraft.yml (docker compose refuses a missing env file too)',
    );
  });

  it("05: compose's warning about an unset variable reaches the user; compose.strict makes it an error", async () => {
    const dir = copyCase('05-env-file-missing-silently');
    writeFileSync(join(dir, '.env.prodution'), 'OTHER=1\n');
    const { output } = await planProject(dir, 'production');
    expect(output.warnings).toEqual([
      'docker-compose.yml: The "SESSION_SECRET" variable is not set. Defaulting to a blank string.',
    ]);
    writeFileSync(
      join(dir, 'stagecraft.yml'),
      `compose: { strict: true }\n${(await import('node:fs')).readFileSync(join(dir, 'stagecraft.yml'), 'utf8')}`,
    );
    const error = (await planProject(dir, 'production').catch((caught: unknown) => caught)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe('compose.strict: docker-compose.yml resolves with warnings');
    expect(error.details).toEqual([
      'docker-compose.yml: The "SESSION_SECRET" variable is not set. Defaulting to a blank string.',
    ]);
  });

  it('an unset ${VAR} inside an env file is a warning with its file and line', async () => {
    const dir = copyCase('03-envfile-variable-reference');
    writeFileSync(join(dir, '.env.production'), 'PUBLIC_URL="https://${NOWHERE_HOST}/"\nPRICE_NOTE=1\n');
    const { output } = await planProject(dir, 'production');
    expect(output.warnings).toEqual([
      '.env.production:1: the "NOWHERE_HOST" variable is not set. Defaulting to a blank string.',
    ]);
  });
});
