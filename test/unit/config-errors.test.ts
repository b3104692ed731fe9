import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { builtinProviders } from '../../src/providers/index.js';
import { redact } from '../../src/util/secret.js';
import { load, problems } from '../support/config.js';

const minimal = 'project:\n  name: shop\nenvironments:\n  dev:\n    driver: local\n';

describe('config errors name file:line:column, key path, expected and found', () => {
  it('reports a YAML syntax error with its position', () => {
    expect(problems('project:\n  name: [shop\nenvironments:\n  dev: {driver: local}\n')).toEqual([
      'stagecraft.yml:3:1 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('reads a UTF-16 file with its byte order mark (YAML 1.2 §5.2), positions in characters', () => {
    const text = `${minimal}  prod:\n    driver: ssh\n    hostz: {}\n`;
    for (const bytes of [
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]),
    ]) {
      const root = mkdtempSync(join(tmpdir(), 'stagecraft-utf16-'));
      writeFileSync(join(root, 'stagecraft.yml'), bytes);
      let caught: unknown;
      try {
        loadConfig({ cwd: root, purpose: 'any', processEnv: {}, catalog: builtinProviders().catalog() });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).details).toContain(
        'stagecraft.yml:8:5 environments.prod.hostz: unknown key "hostz" (did you mean "hosts"?)',
      );
    }
  });

  it('refuses bytes that are not UTF-8, in stagecraft.yml and in an env file, at their line and column', () => {
    const root = mkdtempSync(join(tmpdir(), 'stagecraft-latin1-'));
    const load = () =>
      loadConfig({
        cwd: root,
        envName: 'dev',
        purpose: 'any',
        processEnv: {},
        catalog: builtinProviders().catalog(),
      });
    writeFileSync(
      join(root, 'stagecraft.yml'),
      Buffer.from(`${minimal.replace('name: shop', 'name: café')}`, 'latin1'),
    );
    expect(load).toThrow('stagecraft.yml:2:12 is not UTF-8 (byte 0xe9)');
    writeFileSync(join(root, 'stagecraft.yml'), `${minimal}    env_file: dev.env\n`);
    writeFileSync(join(root, 'dev.env'), Buffer.from('A=1\nPASSWORD=s\xf6cret\n', 'latin1'));
    expect(load).toThrow('env file dev.env:2:11 is not UTF-8 (byte 0xf6)');
  });

  it('says what a second document, a bare `---` and an infinite number are', () => {
    expect(problems(`${minimal}---\nx: 1\n`)).toEqual([
      'stagecraft.yml:6:1 a second YAML document starts here: the file holds one document, so remove this `---` and what follows it (or merge it into the first)',
    ]);
    expect(problems('---\n...\n')[0]).toMatch(/^stagecraft\.yml:1:1 the file is empty/);
    expect(problems(`${minimal}ingress:\n  http_port: 1e400\n`)).toEqual([
      'stagecraft.yml:7:14 ingress.http_port: expected a number, found infinity (too large a number)',
    ]);
  });

  it('refuses a secret variable where its value would travel in clear (a host address, ssh user, domain)', () => {
    const config = `project:\n  name: shop\nservices:\n  web:\n    domains: ["\${DB_PASSWORD}.example.com"]\nenvironments:\n  prod:\n    driver: ssh\n    ssh: { user: "\${DB_PASSWORD}" }\n    hosts:\n      web: [{ name: h1, address: "\${DB_PASSWORD}.example.com" }]\n`;
    const message =
      "takes a secret variable, and this value travels in clear (ssh arguments, DNS, the gateway's routes): give it a value that is not a secret";
    expect(
      problems(config, { env: { DB_PASSWORD: 'Hunter2Secret' } }).filter((line) =>
        line.includes('secret variable'),
      ),
    ).toEqual([
      `stagecraft.yml:5:15 services.web.domains[0]: ${message}`,
      `stagecraft.yml:9:18 environments.prod.ssh.user: ${message}`,
      `stagecraft.yml:11:34 environments.prod.hosts.web[0].address: ${message}`,
    ]);
    // A file's path is not what the file holds: a key file named by a *_KEY variable is fine.
    const keyFile = `${minimal}  prod:\n    driver: ssh\n    ssh: { identity_file: "\${DEPLOY_KEY}" }\n    hosts:\n      web: [{ name: h1, address: 192.0.2.1 }]\n`;
    expect(
      load(keyFile, { env: { DEPLOY_KEY: '/root/.ssh/deploy_ed25519' } }).config.environments['prod'],
    ).toBeDefined();
  });

  it("another environment's secret in an error is redacted like the selected one's", () => {
    const config = `project:\n  name: shop\nenvironments:\n  production:\n    driver: local\n  staging:\n    driver: local\n    env_file: .env.staging\n    rollout: { parallel_hosts: "\${STAGING_DB_PASSWORD}" }\n`;
    const found = problems(config, {
      envName: 'production',
      files: { '.env.staging': 'STAGING_DB_PASSWORD=StagingPw9876zz\n' },
    });
    expect(found.map(redact)).toEqual([
      'stagecraft.yml:9:32 environments.staging.rollout.parallel_hosts: expected a number, found "[redacted]"',
    ]);
  });

  it("refuses a secret variable in a command's argv (ps and docker inspect show it), not a plain one", () => {
    const config = `project:\n  name: shop\ndatabases:\n  main:\n    connection_env: DATABASE_URL\n    migrations:\n      engine: command\n      path: ./migrations\n      service: api\n      command: ["sh", "-c", "migrate -url postgres://shop:\${DB_PASSWORD}@db/shop -dir \${MIGRATIONS_DIR} up"]\nservices:\n  api: {}\nenvironments:\n  dev:\n    driver: local\n`;
    const env = { DB_PASSWORD: 'Hunter2Secret', MIGRATIONS_DIR: '/migrations' };
    expect(problems(config, { env }).filter((line) => line.includes('secret variable'))).toEqual([
      'stagecraft.yml:10:29 databases.main.migrations.command[2]: takes a secret variable into a command line, where ps and `docker inspect` show it: read it from the environment instead (`$$NAME` in `sh -c`)',
    ]);
    const plain = config.replace('shop:${DB_PASSWORD}@', '');
    expect(load(plain, { env }).config.databases?.['main']?.migrations?.command).toEqual([
      'sh',
      '-c',
      'migrate -url postgres://db/shop -dir /migrations up',
    ]);
  });

  it('bounds waits to what a timer can hold (24.8 days); an age such as build_cache may be longer', () => {
    expect(problems(`${minimal}    rollout: { health_timeout: 99999999999h }\n`)).toEqual([
      'stagecraft.yml:6:32 environments.dev.rollout.health_timeout: expected at most 596h (24.8 days): a longer wait cannot be timed',
    ]);
    expect(load(`${minimal}    releases: { build_cache: 2160h }\n`).config.environments['dev']).toBeDefined();
  });

  it('reports a duplicate key at the second occurrence', () => {
    expect(problems('project:\n  name: a\n  name: b\nenvironments:\n  dev:\n    driver: local\n')).toEqual([
      'stagecraft.yml:3:3 duplicate key "name": each key may appear once in a mapping',
    ]);
  });

  it('reports duplicates as compose-style YAML has them: 1 and "1" differ, flow maps and merge keys count', () => {
    expect(
      problems(
        'project:\n  name: a\n  x-a: { 1: a, "1": b, k: c, k: d }\n  x-b: { ? [a] : 1, ? [a] : 2, .nan: 3, .NaN: 4 }\nenvironments:\n  dev:\n    driver: local\n    driver: local\n',
      ),
    ).toEqual([
      'stagecraft.yml:3:30 duplicate key "k": each key may appear once in a mapping',
      'stagecraft.yml:8:5 duplicate key "driver": each key may appear once in a mapping',
    ]);
  });

  it('an alias used as a key repeats the key it names: a second environment does not silently replace the first', () => {
    expect(
      problems(
        'project:\n  name: a\nenvironments:\n  &p production:\n    driver: local\n  *p :\n    driver: local\n',
      ),
    ).toEqual(['stagecraft.yml:6:3 duplicate key "*p": each key may appear once in a mapping']);
    // The anchor the alias names is the last one before it: `two`, no duplicate of `one`.
    const loaded = load(
      'project:\n  name: a\nx-a: { &p one: 1, &p two: 2 }\nenvironments:\n  one:\n    driver: local\n  *p :\n    driver: local\n',
    );
    expect(Object.keys(loaded.config.environments)).toEqual(['one', 'two']);
  });

  it('a second merge key in one mapping is a duplicate, as compose has it; one merge of a list is not', () => {
    expect(
      problems(
        'project:\n  name: a\nx-a: &a { driver: local }\nx-b: &b { driver: local }\nenvironments:\n  dev:\n    <<: *a\n    <<: *b\n',
      ),
    ).toEqual(['stagecraft.yml:8:5 duplicate key "<<": each key may appear once in a mapping']);
    const merged = load(
      'project:\n  name: a\nx-a: &a { driver: local }\nx-b: &b { driver: local }\nenvironments:\n  dev:\n    <<: [*a, *b]\n',
    );
    expect(merged.config.environments['dev']?.driver).toBe('local');
  });

  it('checks a mapping of 40,000 keys for duplicates in linear time (the quadratic check took 15 s)', () => {
    const keys = Array.from({ length: 40_000 }, (_, index) => `    k${index}: 1\n`).join('');
    const started = performance.now();
    expect(
      problems(`project:\n  name: a\n  x-big:\n${keys}    k7: 2\nenvironments:\n  dev:\n    driver: local\n`),
    ).toEqual(['stagecraft.yml:40004:5 duplicate key "k7": each key may appear once in a mapping']);
    expect(performance.now() - started).toBeLessThan(8000);
  });

  it('a file of more than 100,000 nodes without an alias is refused as large, not as an alias bomb', () => {
    const keys = Array.from({ length: 100_000 }, (_, index) => `    k${index}: 1\n`).join('');
    expect(
      problems(`project:\n  name: a\n  x-big:\n${keys}environments:\n  dev:\n    driver: local\n`),
    ).toEqual([
      'stagecraft.yml:1:1 the YAML document has more than 100000 nodes (keys, values and list items): refused (a stagecraft.yml or compose file is far smaller)',
    ]);
  });

  it('lists the first 100 problems and counts the rest', () => {
    const keys = Array.from({ length: 150 }, () => '    k: 1\n').join('');
    const listed = problems(
      `project:\n  name: a\n  x-dup:\n${keys}environments:\n  dev:\n    driver: local\n`,
    );
    expect(listed).toHaveLength(101);
    expect(listed[0]).toBe('stagecraft.yml:5:5 duplicate key "k": each key may appear once in a mapping');
    expect(listed[100]).toBe('… and 49 more');
  });

  it('a misspelt `environments:` is named as such, even with --env given (not "unknown environment")', () => {
    expect(
      problems('project:\n  name: shop\nenviroments:\n  production:\n    driver: local\n', {
        envName: 'production',
      }),
    ).toEqual([
      'stagecraft.yml:1:1 environments: is required: expected a mapping',
      'stagecraft.yml:3:1 enviroments: unknown key "enviroments" (did you mean "environments"?)',
    ]);
  });

  it('rejects an unknown key with a suggestion, at the key itself', () => {
    expect(problems(`${minimal}  prod:\n    driver: ssh\n    hostz:\n      app: [h1]\n`)).toEqual([
      'stagecraft.yml:7:5 environments.prod.hosts: driver ssh needs at least one host role',
      'stagecraft.yml:8:5 environments.prod.hostz: unknown key "hostz" (did you mean "hosts"?)',
    ]);
  });

  it('refuses nesting the YAML parser runs out of stack on, at its place, before parsing', () => {
    expect(problems(`${minimal}x-deep: ${'['.repeat(900)}${']'.repeat(900)}\n`)).toEqual([
      'stagecraft.yml:6:73 nests more than 64 flow collections ([ or {)',
    ]);
  });

  it('lists the allowed keys when nothing is close', () => {
    expect(problems(`${minimal}zzzzzz: 1\n`)[0]).toMatch(
      /^stagecraft\.yml:6:1 zzzzzz: unknown key "zzzzzz"; allowed keys: \$schema, minimum_version, project, compose, backend/,
    );
  });

  it('names an ACME setting given to another TLS mode, and a directory that is not https', () => {
    expect(
      problems(
        `${minimal}ingress:\n  tls:\n    mode: custom\n    cert_file: c.pem\n    key_file: k.pem\n    acme_ca_root: ca.pem\n`,
      ),
    ).toEqual([
      'stagecraft.yml:11:19 ingress.tls.acme_ca_root: acme_ca_root applies only to mode acme (this tls block has mode custom)',
    ]);
    expect(
      problems(`${minimal}ingress:\n  tls: { mode: acme, acme_ca: "http://ca.internal/dir" }\n`),
    ).toEqual([
      'stagecraft.yml:7:31 ingress.tls.acme_ca: expected the https:// URL of an ACME directory, found "http://ca.internal/dir"',
    ]);
  });

  it('allows x- keys anywhere for YAML anchors', () => {
    const loaded = load(
      `x-ssh: &ssh\n  user: deploy\n${minimal}  prod:\n    driver: ssh\n    x-note: anything\n    ssh: *ssh\n    hosts:\n      app: [h1]\n`,
    );
    expect(loaded.config.environments['prod']?.ssh?.user).toBe('deploy');
  });

  it('reports a wrong type with what was found', () => {
    expect(
      problems(
        `${minimal}  prod:\n    driver: ssh\n    hosts:\n      app:\n        - name: h1\n          port: "22"\n`,
      ),
    ).toEqual(['stagecraft.yml:11:17 environments.prod.hosts.app[0].port: expected a number, found "22"']);
  });

  it('reports a bad enum value with the allowed values and a suggestion', () => {
    expect(problems(`${minimal}services:\n  web:\n    rollout: start-frist\n`)).toEqual([
      'stagecraft.yml:8:14 services.web.rollout: expected one of "start-first", "stop-first", "recreate", found "start-frist" (did you mean "start-first"?)',
    ]);
  });

  it('reports a missing required key at its parent', () => {
    expect(problems('project: {}\nenvironments:\n  dev:\n    driver: local\n')).toEqual([
      'stagecraft.yml:1:10 project.name: is required: expected a string',
    ]);
  });

  it('requires environments', () => {
    expect(problems('project:\n  name: shop\n')).toEqual([
      'stagecraft.yml:1:1 environments: is required: expected a mapping',
    ]);
  });

  it('validates provider config with the provider schema', () => {
    expect(
      problems(
        `${minimal}network:\n  provider: tailscale\n  providers:\n    tailscale:\n      auth_key_env: TS_AUTHKEY\n      tailnet_domain: nodot\n      default_tags: [stagecraft]\n`,
      ),
    ).toEqual([
      'stagecraft.yml:11:23 network.providers.tailscale.tailnet_domain: expected a MagicDNS domain such as acme.ts.net, found "nodot"',
      'stagecraft.yml:12:22 network.providers.tailscale.default_tags[0]: a tag must start with "tag:", found "stagecraft"',
    ]);
  });

  it('requires the selected provider config when the provider needs one', () => {
    expect(problems(`${minimal}cloud:\n  provider: digitalocean\n`)).toEqual([
      'stagecraft.yml:7:3 cloud.providers.digitalocean: cloud.providers.digitalocean is missing; provider-specific config is required',
    ]);
  });

  it('rejects an unknown provider with the available ones', () => {
    expect(problems(`${minimal}backend:\n  provider: genric\n`)).toEqual([
      'stagecraft.yml:7:13 backend.provider: expected one of "encore-ts", "generic", found "genric" (did you mean "generic"?)',
    ]);
  });

  it('rejects traefik as an ingress provider: Caddy is the gateway', () => {
    expect(problems(`${minimal}ingress:\n  provider: traefik\n  providers:\n    traefik: {}\n`)).toEqual([
      'stagecraft.yml:7:13 ingress.provider: expected one of "caddy", found "traefik" (did you mean "caddy"?); Caddy is the supported gateway (and the dev proxy): remove ingress.provider or set it to caddy',
      'stagecraft.yml:9:5 ingress.providers.traefik: unknown key "traefik"; allowed keys: caddy',
    ]);
  });

  it('reports an unset variable at the key that uses it', () => {
    expect(problems(`${minimal}    ssh:\n      user: \${DEPLOY_USER}\n`)).toEqual([
      "stagecraft.yml:7:13 environments.dev.ssh.user: variable ${DEPLOY_USER} is not set: set it in the environment's env_file or the shell, or write ${DEPLOY_USER:-default}",
    ]);
  });

  it('reports every problem at once, sorted by position', () => {
    const found = problems(
      'project:\n  name: Shop\n  registy: x\nenvironments:\n  dev:\n    driver: lokal\n',
    );
    expect(found).toEqual([
      'stagecraft.yml:2:9 project.name: expected lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters, found "Shop"',
      'stagecraft.yml:3:3 project.registy: unknown key "registy" (did you mean "registry"?)',
      'stagecraft.yml:6:13 environments.dev.driver: expected one of "local", "ssh", "swarm", found "lokal" (did you mean "local"?)',
    ]);
  });

  it('is a user error (exit 1) with a hint', () => {
    try {
      load('project: 1\nenvironments: {}\n');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).exitCode).toBe(1);
      expect((error as ConfigError).hint).toContain('stagecraft schema');
    }
  });
});

describe('interpolation and environments', () => {
  it('uses env_file values, overridden by the process environment, and defaults', () => {
    const yaml = `project:\n  name: shop\n  registry: \${REGISTRY:-ghcr.io/acme}/shop\nenvironments:\n  prod:\n    driver: ssh\n    env_file: .env.prod\n    ssh:\n      user: \${DEPLOY_USER}\n      port: 22\n    hosts:\n      app: ["\${APP_HOST}"]\n`;
    const files = { '.env.prod': 'export DEPLOY_USER=deploy\nAPP_HOST="web-1" # comment\n' };
    const fromFile = load(yaml, { envName: 'prod', files });
    expect(fromFile.config.project.registry).toBe('ghcr.io/acme/shop');
    expect(fromFile.config.environments['prod']?.ssh?.user).toBe('deploy');
    expect(fromFile.config.environments['prod']?.hosts?.['app']).toEqual(['web-1']);
    const overridden = load(yaml, {
      envName: 'prod',
      files,
      env: { DEPLOY_USER: 'ops', REGISTRY: 'r.example' },
    });
    expect(overridden.config.environments['prod']?.ssh?.user).toBe('ops');
    expect(overridden.config.project.registry).toBe('r.example/shop');
  });

  it('keeps $$ as a literal dollar', () => {
    expect(
      load(`${minimal}services:\n  web:\n    environment:\n      PRICE: "$$5"\n`).config.services?.['web']
        ?.environment,
    ).toEqual({
      PRICE: '$5',
    });
  });

  it('interpolates each environment with its own env_file', () => {
    const yaml = `project:\n  name: shop\nenvironments:\n  a:\n    driver: ssh\n    env_file: .env.a\n    hosts:\n      app: ["\${HOST}"]\n  b:\n    driver: ssh\n    env_file: .env.b\n    hosts:\n      app: ["\${HOST}"]\n`;
    const loaded = load(yaml, { envName: 'a', files: { '.env.a': 'HOST=a-1\n', '.env.b': 'HOST=b-1\n' } });
    expect(loaded.config.environments['a']?.hosts?.['app']).toEqual(['a-1']);
    expect(loaded.config.environments['b']?.hosts?.['app']).toEqual(['b-1']);
  });

  it('rejects an unknown environment with a suggestion', () => {
    expect(() => load(minimal, { envName: 'deve' })).toThrow(
      'unknown environment "deve" (did you mean "dev"?); available environments: dev',
    );
  });

  it('records paths whose values came from secret variables', () => {
    const loaded = load(`${minimal}services:\n  api:\n    environment:\n      DB: \${DATABASE_PASSWORD}\n`, {
      env: { DATABASE_PASSWORD: 'hunter22' },
    });
    expect(loaded.secretPaths).toEqual([['services', 'api', 'environment', 'DB']]);
  });
});
