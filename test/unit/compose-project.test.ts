import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeLocator } from '../../src/compose/locate.js';
import {
  type HostComposeInput,
  projectHostCompose,
  renderCompose,
  renderEnvFile,
  SPEC_HASH_LABEL,
} from '../../src/compose/project.js';
import type { ComposeProject, ComposeService } from '../../src/compose/types.js';
import { FILES_HASH_LABEL } from '../../src/docker/labels.js';
import { UserError } from '../../src/util/errors.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/compose/${name}`, import.meta.url), 'utf8')) as ComposeProject;

/** What `docker compose config --format json` printed for examples/shop with POSTGRES_PASSWORD=pg-S3cret$value. */
const shop = fixture('shop.config.json');
const rich = fixture('rich.config.json');
const PASSWORD = 'pg-S3cret$value';

function shopInput(overrides: Partial<HostComposeInput> = {}): HostComposeInput {
  return {
    compose: shop,
    composeProjectName: 'shop-production',
    services: ['api', 'web'],
    images: {
      api: '127.0.0.1:5000/shop/shop-api@sha256:aaaa',
      web: '127.0.0.1:5000/shop/shop-web@sha256:bbbb',
    },
    secretValues: [PASSWORD],
    secretNames: ['POSTGRES_PASSWORD'],
    remoteServices: { db: '10.231.0.13' },
    releaseLabels: { 'stagecraft.release': 'rel-20250101-000000000', 'stagecraft.version': 'v1' },
    stagecraftServices: {},
    ...overrides,
  };
}

const service = (document: ComposeProject, name: string) => document.services[name] as ComposeService;

describe('projectHostCompose: the shop on a web host', () => {
  const result = projectHostCompose(shopInput());
  const { document } = result;

  it('keeps only the host’s services, names the project, drops build and extensions', () => {
    expect(document.name).toBe('shop-production');
    expect(Object.keys(document.services).sort()).toEqual(['api', 'web']);
    expect(service(document, 'api').build).toBeUndefined();
    expect(service(document, 'web').build).toBeUndefined();
    expect(document['x-node-build']).toBeUndefined();
  });

  it('pins the built images', () => {
    expect(service(document, 'api').image).toBe('127.0.0.1:5000/shop/shop-api@sha256:aaaa');
    expect(service(document, 'web').image).toBe('127.0.0.1:5000/shop/shop-web@sha256:bbbb');
  });

  it('moves an environment value that holds a secret into the env file, as the literal value', () => {
    expect(result.secretEnv).toEqual({ api: { DATABASE_URL: `postgres://shop:${PASSWORD}@db:5432/shop` } });
    expect(service(document, 'api').environment).toEqual({ APP_VERSION: 'dev', FAIL_HEALTH: '' });
    expect(service(document, 'api').env_file).toEqual(['secrets/api.env']);
    expect(service(document, 'web').env_file).toBeUndefined();
  });

  it('points a service at another host’s service through extra_hosts and drops the cross-host depends_on', () => {
    expect(service(document, 'api').extra_hosts).toEqual(['db:10.231.0.13']);
    expect(service(document, 'api').depends_on).toBeUndefined();
    expect(service(document, 'web').extra_hosts).toBeUndefined();
  });

  it('keeps only the networks and volumes in use, with names derived from the host’s project', () => {
    expect(document.networks).toEqual({ default: { ipam: {} } });
    expect(document.volumes).toBeUndefined();
  });

  it('labels each service with its spec hash and the release', () => {
    const labels = service(document, 'api').labels;
    expect(labels).toEqual({
      'stagecraft.release': 'rel-20250101-000000000',
      'stagecraft.spec-hash': result.specHashes['api'],
      'stagecraft.version': 'v1',
    });
    expect(result.specHashes['api']).toMatch(/^[0-9a-f]{64}$/);
    expect(result.specHashes['web']).not.toBe(result.specHashes['api']);
  });

  it('leaves nothing secret in the rendered file', () => {
    const { text } = renderCompose(document);
    expect(text).not.toContain('S3cret');
    expect(text).not.toContain('DATABASE_URL');
    expect(renderEnvFile(result.secretEnv['api'] ?? {})).toBe(
      'DATABASE_URL="postgres://shop:pg-S3cret\\$value@db:5432/shop"\n',
    );
  });
});

describe('projectHostCompose: the shop’s database host', () => {
  const result = projectHostCompose(
    shopInput({ services: ['db'], remoteServices: { api: '10.231.0.11', web: '10.231.0.11' } }),
  );

  it('renders exactly this file', () => {
    const hash = result.specHashes['db'];
    expect(renderCompose(result.document).text).toBe(
      [
        '# Rendered by Stagecraft. Do not edit: the next deploy replaces this file.',
        'name: "shop-production"',
        'networks:',
        '  default:',
        '    ipam: {}',
        'services:',
        '  db:',
        '    command: null',
        '    entrypoint: null',
        '    env_file:',
        '      - "secrets/db.env"',
        '    environment:',
        '      POSTGRES_DB: "shop"',
        '      POSTGRES_USER: "shop"',
        '    healthcheck:',
        '      interval: "2s"',
        '      retries: 15',
        '      start_period: "5s"',
        '      test:',
        '        - "CMD"',
        '        - "pg_isready"',
        '        - "-U"',
        '        - "shop"',
        '        - "-d"',
        '        - "shop"',
        '      timeout: "2s"',
        '    image: "127.0.0.1:5000/stagecraft-test/postgres:16-alpine"',
        '    labels:',
        '      stagecraft.release: "rel-20250101-000000000"',
        `      stagecraft.spec-hash: "${hash}"`,
        '      stagecraft.version: "v1"',
        '    networks:',
        '      default: null',
        '    ports:',
        '      - mode: "ingress"',
        '        protocol: "tcp"',
        '        published: "5432"',
        '        target: 5432',
        '    volumes:',
        '      - source: "db-data"',
        '        target: "/var/lib/postgresql/data"',
        '        type: "volume"',
        '        volume: {}',
        'volumes:',
        '  db-data: {}',
        '',
      ].join('\n'),
    );
  });

  it('moves the secret (by name and by value) and keeps the rest', () => {
    expect(result.secretEnv).toEqual({ db: { POSTGRES_PASSWORD: PASSWORD } });
  });

  it('a service that uses no remote service gets no extra_hosts', () => {
    expect(service(result.document, 'db').extra_hosts).toBeUndefined();
  });
});

describe('determinism', () => {
  it('same input, same bytes', () => {
    const a = renderCompose(projectHostCompose(shopInput()).document);
    const b = renderCompose(projectHostCompose(shopInput()).document);
    expect(a.text).toBe(b.text);
    expect(a.sha256).toBe(b.sha256);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reordered keys and service lists give the same bytes and hashes', () => {
    const reversed = reverseKeys(shop) as ComposeProject;
    expect(Object.keys(reversed.services)).toEqual(['web', 'db', 'api']);
    const a = projectHostCompose(shopInput());
    const b = projectHostCompose(
      shopInput({
        compose: reversed,
        services: ['web', 'api', 'web'],
        images: {
          web: '127.0.0.1:5000/shop/shop-web@sha256:bbbb',
          api: '127.0.0.1:5000/shop/shop-api@sha256:aaaa',
        },
        releaseLabels: { 'stagecraft.version': 'v1', 'stagecraft.release': 'rel-20250101-000000000' },
      }),
    );
    expect(renderCompose(b.document).text).toBe(renderCompose(a.document).text);
    expect(b.specHashes).toEqual(a.specHashes);
  });

  it('does not modify its input', () => {
    const before = JSON.stringify(shop);
    projectHostCompose(shopInput({ stagecraftServices: { api: { replicas: 3, environment: { X: '1' } } } }));
    expect(JSON.stringify(shop)).toBe(before);
  });
});

describe('spec hash', () => {
  const base = projectHostCompose(shopInput()).specHashes;

  it('does not change when only the release labels change', () => {
    const next = projectHostCompose(
      shopInput({
        releaseLabels: { 'stagecraft.release': 'rel-20250102-000000000', 'stagecraft.version': 'v2' },
      }),
    ).specHashes;
    expect(next).toEqual(base);
    expect(projectHostCompose(shopInput({ releaseLabels: {} })).specHashes).toEqual(base);
  });

  it('changes for the service whose image changed, and only for it', () => {
    const next = projectHostCompose(
      shopInput({
        images: {
          api: '127.0.0.1:5000/shop/shop-api@sha256:cccc',
          web: '127.0.0.1:5000/shop/shop-web@sha256:bbbb',
        },
      }),
    ).specHashes;
    expect(next['api']).not.toBe(base['api']);
    expect(next['web']).toBe(base['web']);
  });

  it('changes when a secret value changes (through the keyed digest), although the document does not show it', () => {
    const rotated = JSON.parse(
      JSON.stringify(shop).replaceAll('pg-S3cret$$value', 'rotated-Passw0rd'),
    ) as ComposeProject;
    const specHashKey = '0f'.repeat(32);
    const before = projectHostCompose(shopInput({ specHashKey }));
    const after = projectHostCompose(
      shopInput({ compose: rotated, secretValues: ['rotated-Passw0rd'], specHashKey }),
    );
    expect(after.specHashes['api']).not.toBe(before.specHashes['api']);
    expect(after.specHashes['web']).toBe(before.specHashes['web']);
    expect(after.secretEnv['api']?.['DATABASE_URL']).toBe('postgres://shop:rotated-Passw0rd@db:5432/shop');
    // The documents differ only by the hash label.
    const strip = (doc: ComposeProject) => renderCompose(doc).text.replace(/spec-hash: "[0-9a-f]+"/g, '');
    expect(strip(after.document)).toBe(strip(before.document));
  });

  it('changes when a remote service moves to another address', () => {
    const next = projectHostCompose(shopInput({ remoteServices: { db: '10.231.0.14' } })).specHashes;
    expect(next['api']).not.toBe(base['api']);
    expect(next['web']).toBe(base['web']);
  });

  it('does not change with the replica count (scaling is not a new spec)', () => {
    const scaled = projectHostCompose(shopInput({ stagecraftServices: { web: { replicas: 3 } } }));
    expect(service(scaled.document, 'web').deploy).toEqual({ replicas: 3 });
    expect(scaled.specHashes).toEqual(base);
  });

  it('changes with stop_timeout and environment overrides', () => {
    expect(
      projectHostCompose(shopInput({ stagecraftServices: { web: { stop_timeout: '30s' } } })).specHashes[
        'web'
      ],
    ).not.toBe(base['web']);
    expect(
      projectHostCompose(shopInput({ stagecraftServices: { web: { environment: { A: '1' } } } })).specHashes[
        'web'
      ],
    ).not.toBe(base['web']);
  });

  it('changes when a bind-mounted file or a compose secret file changes, through a keyed files hash', () => {
    const mounted = structuredClone(shop);
    (mounted.services['web'] as ComposeService).volumes = [
      { type: 'bind', source: '/p/conf/nginx.conf', target: '/etc/nginx/nginx.conf', read_only: true },
    ];
    (mounted.services['api'] as ComposeService).secrets = [{ source: 'db_password' }];
    mounted.secrets = { db_password: { file: '/p/db_password.txt' } };
    const specHashKey = '0f'.repeat(32);
    const contents: Record<string, string> = { 'conf/nginx.conf': 'a', 'db_password.txt': 'hunter2' };
    const project = () =>
      projectHostCompose(
        shopInput({
          compose: mounted,
          projectDir: '/p',
          specHashKey,
          projectFileDigest: (path) =>
            contents[path] && createHash('sha256').update(contents[path]).digest('hex'),
        }),
      );
    const before = project();
    const label = service(before.document, 'web').labels?.[FILES_HASH_LABEL];
    expect(label).toMatch(/^[0-9a-f]{64}$/);
    // Keyed: not the plain hash of the file, so a published label cannot be checked against a guess.
    expect(label).not.toBe(createHash('sha256').update('a').digest('hex'));
    contents['conf/nginx.conf'] = 'b';
    const edited = project();
    expect(edited.specHashes['web']).not.toBe(before.specHashes['web']);
    expect(edited.specHashes['api']).toBe(before.specHashes['api']);
    contents['db_password.txt'] = 'rotated';
    const rotated = project();
    expect(rotated.specHashes['api']).not.toBe(edited.specHashes['api']);
    expect(rotated.specHashes['web']).toBe(edited.specHashes['web']);
    // A plan has no key: the label says so, and says nothing of the contents.
    const planned = projectHostCompose(
      shopInput({ compose: mounted, projectDir: '/p', projectFileDigest: () => 'x' }),
    );
    expect(service(planned.document, 'web').labels?.[FILES_HASH_LABEL]).toBe('(keyed at deploy)');
    // A plan's stand-in for a secret from a command is "(resolved at deploy)": the label is not it,
    // so the leak check does not find a secret there.
    expect(() =>
      projectHostCompose(
        shopInput({
          compose: mounted,
          projectDir: '/p',
          projectFileDigest: () => 'x',
          secretValues: [PASSWORD, '(resolved at deploy)'],
        }),
      ),
    ).not.toThrow();
  });

  it('ignores a spec-hash label that is already in the compose file', () => {
    const labelled = structuredClone(shop);
    (labelled.services['web'] as ComposeService).labels = { [SPEC_HASH_LABEL]: 'stale' };
    expect(projectHostCompose(shopInput({ compose: labelled })).specHashes['web']).toBe(base['web']);
  });
});

describe('stagecraft.yml overrides', () => {
  it('replicas, stop_timeout and environment; a secret injected through environment goes to the env file', () => {
    const result = projectHostCompose(
      shopInput({
        stagecraftServices: {
          web: {
            replicas: 3,
            stop_timeout: '30s',
            environment: { PUBLIC_URL: 'https://shop.example', COST: '$5' },
          },
          api: { environment: { POSTGRES_PASSWORD: PASSWORD } },
        },
      }),
    );
    const web = service(result.document, 'web');
    expect(web.deploy).toEqual({ replicas: 3 });
    expect(web.stop_grace_period).toBe('30s');
    // A literal `$` from stagecraft.yml is escaped for compose.
    expect(web.environment).toEqual({ APP_VERSION: 'dev', COST: '$$5', PUBLIC_URL: 'https://shop.example' });
    expect(result.secretEnv['api']).toEqual({
      DATABASE_URL: `postgres://shop:${PASSWORD}@db:5432/shop`,
      POSTGRES_PASSWORD: PASSWORD,
    });
  });
});

describe('projectHostCompose: a richer project', () => {
  const input: HostComposeInput = {
    compose: rich,
    composeProjectName: 'rich-staging',
    services: ['gateway', 'api'],
    images: { api: 'registry.example/rich-api:v7' },
    secretValues: ['db-pa55word-XYZ', 'tok_live_ABCDEF123456'],
    remoteServices: { db: '10.0.0.3', cache: '10.0.0.4', worker: '10.0.0.3' },
    releaseLabels: {},
    stagecraftServices: {},
    projectDir: '/path/to/rich',
  };
  const result = projectHostCompose(input);
  const api = service(result.document, 'api');
  const gateway = service(result.document, 'gateway');

  it('secrets by value, with `$$` escapes kept for the rest', () => {
    expect(result.secretEnv['api']).toEqual({
      API_TOKEN: 'tok_live_ABCDEF123456',
      DATABASE_URL: 'postgres://app:db-pa55word-XYZ@db:5432/app',
    });
    expect(api.environment).toEqual({ CACHE_URL: 'redis://cache:6379', LOG_LEVEL: 'info', PRICE: '5$$' });
  });

  it('extra_hosts for every remote service used, sorted; local depends_on kept', () => {
    expect(api.extra_hosts).toEqual(['cache:10.0.0.4', 'db:10.0.0.3']);
    expect(api.depends_on).toBeUndefined();
    expect(gateway.depends_on).toEqual({ api: { condition: 'service_started', required: true } });
    expect(gateway.extra_hosts).toBeUndefined();
  });

  it('keeps used networks and secrets, drops unused volumes, localises project files', () => {
    expect(result.document.networks).toEqual({ back: { ipam: {} }, front: { ipam: {} } });
    expect(result.document.volumes).toBeUndefined();
    expect(result.document['secrets']).toEqual({ tls_key: { file: './tls.key' } });
    expect(api.volumes?.[0]?.source).toBe('./config');
    expect(result.projectFiles).toEqual(['config', 'tls.key']);
  });

  it('keeps the image of a service Stagecraft did not build', () => {
    expect(gateway.image).toBe('caddy:2');
    expect(gateway.restart).toBe('unless-stopped');
  });

  it('without projectDir, paths stay as compose printed them', () => {
    const plain = projectHostCompose({ ...input, projectDir: undefined });
    expect(service(plain.document, 'api').volumes?.[0]?.source).toBe('/path/to/rich/config');
    expect(plain.projectFiles).toEqual([]);
  });

  it('appends to existing extra_hosts without duplicating a host', () => {
    const custom = structuredClone(rich);
    (custom.services['api'] as ComposeService).extra_hosts = ['metrics=10.9.9.9', 'db=10.1.1.1'];
    const projected = projectHostCompose({ ...input, compose: custom });
    expect(service(projected.document, 'api').extra_hosts).toEqual([
      'metrics=10.9.9.9',
      'db=10.1.1.1',
      'cache:10.0.0.4',
    ]);
  });
});

describe('errors', () => {
  it('an unknown service', () => {
    expect(() => projectHostCompose(shopInput({ services: ['api', 'nope'] }))).toThrow(UserError);
    expect(() => projectHostCompose(shopInput({ services: ['nope'] }))).toThrow(
      /service "nope" is not in the compose file/,
    );
  });

  it('a built service without an image', () => {
    expect(() => projectHostCompose(shopInput({ images: {} }))).toThrow(/service "api" has no image to run/);
  });

  it('a secret anywhere but the environment is refused, naming the place', () => {
    const leaky = structuredClone(shop);
    (leaky.services['web'] as ComposeService)['command'] = ['serve', '--password', 'pg-S3cret$$value'];
    expect(() => projectHostCompose(shopInput({ compose: leaky }))).toThrow(
      'a secret value appears in the compose file at services.web.command[2]',
    );
  });

  it('moves a value named like a secret wherever compose took it from (the file, a service env_file), not only declared ones', () => {
    const compose = structuredClone(shop);
    (compose.services['web'] as ComposeService).environment = {
      MYSQL_PASSWORD: 'literal-in-the-file',
      STRIPE_API_KEY: 'sk_from_env_file',
      PASSWORD_FILE: '/run/secrets/pw',
      LOG_LEVEL: 'info',
    };
    const result = projectHostCompose(
      shopInput({ compose, services: ['web'], secretValues: [], secretNames: [] }),
    );
    expect(result.secretEnv).toEqual({
      web: { MYSQL_PASSWORD: 'literal-in-the-file', STRIPE_API_KEY: 'sk_from_env_file' },
    });
    expect(service(result.document, 'web').environment).toEqual({
      LOG_LEVEL: 'info',
      PASSWORD_FILE: '/run/secrets/pw',
    });
    expect(service(result.document, 'web').env_file).toEqual(['secrets/web.env']);
    const text = JSON.stringify(result.document);
    expect(text).not.toContain('literal-in-the-file');
    expect(text).not.toContain('sk_from_env_file');
  });

  it('depends_on restart: true makes a new dependency a new spec of the dependent (compose restarts it), on its host only', () => {
    const render = (dbImage: string, restart: boolean) => {
      const compose = structuredClone(shop);
      (compose.services['db'] as ComposeService).image = dbImage;
      (compose.services['api'] as ComposeService).depends_on = {
        db: { condition: 'service_healthy', required: true, ...(restart ? { restart: true } : {}) },
      };
      return projectHostCompose(
        shopInput({ compose, services: ['api', 'web', 'db'], remoteServices: {}, specHashKey: 'k' }),
      );
    };
    const before = render('postgres:16.3', true);
    const after = render('postgres:16.4', true);
    expect(after.specHashes['db']).not.toBe(before.specHashes['db']);
    expect(after.specHashes['api']).not.toBe(before.specHashes['api']);
    expect(after.specHashes['web']).toBe(before.specHashes['web']);
    expect(Object.keys(after.document.services)).toEqual(['api', 'db', 'web']);
    // Without restart: true (compose's default), a new db leaves api alone.
    expect(render('postgres:16.4', false).specHashes['api']).toBe(
      render('postgres:16.3', false).specHashes['api'],
    );
    // A dependency on another host is not restarted with it (compose restarts within one engine).
    const compose = structuredClone(shop);
    (compose.services['api'] as ComposeService).depends_on = {
      db: { condition: 'service_started', restart: true },
    };
    const remote = (dbImage: string) => {
      (compose.services['db'] as ComposeService).image = dbImage;
      return projectHostCompose(shopInput({ compose, specHashKey: 'k' })).specHashes['api'];
    };
    expect(remote('postgres:16.4')).toBe(remote('postgres:16.3'));
  });

  it("an inline config's content is part of the spec hash of the services that use it (a changed content redeploys them)", () => {
    const withContent = (content: string) => {
      const compose = structuredClone(shop);
      (compose.services['web'] as ComposeService).configs = [{ source: 'site', target: '/etc/site.conf' }];
      compose['configs'] = { site: { name: 'shop_site', content } };
      return projectHostCompose(shopInput({ compose, services: ['web', 'api'], specHashKey: 'k' }));
    };
    const first = withContent('listen 80;\n');
    expect(first.document['configs']).toEqual({ site: { content: 'listen 80;\n' } });
    const second = withContent('listen 8080;\n');
    expect(second.specHashes['web']).not.toBe(first.specHashes['web']);
    expect(second.specHashes['api']).toBe(first.specHashes['api']);
    expect(withContent('listen 80;\n').specHashes['web']).toBe(first.specHashes['web']);
  });

  it('writes a config from a variable (configs.<name>.environment) to a 0600 file the host compose reads, and hashes it', () => {
    const compose = structuredClone(shop);
    (compose.services['web'] as ComposeService).configs = ['envcfg'];
    compose['configs'] = { envcfg: { name: 'shop_envcfg', environment: 'PAYMENT_KEY' } };
    const input = (value: string) =>
      shopInput({ compose, services: ['web'], variables: { PAYMENT_KEY: value }, specHashKey: 'k' });
    const result = projectHostCompose(input('pay-Value-1'));
    expect(result.document['configs']).toEqual({ envcfg: { file: './secrets/envcfg.config' } });
    expect(result.secretFiles).toEqual({ 'secrets/envcfg.config': 'pay-Value-1' });
    expect(result.specHashes['web']).not.toBe(projectHostCompose(input('pay-Value-2')).specHashes['web']);
    expect(() => projectHostCompose(shopInput({ compose, services: ['web'], variables: {} }))).toThrow(
      'compose config envcfg reads the variable PAYMENT_KEY, which is not set',
    );
    const written = join(mkdtempSync(join(tmpdir(), 'stagecraft-configs-')), 'compose.yml');
    writeFileSync(
      written,
      'services:\n  web: { image: nginx, configs: [envcfg] }\nconfigs:\n  envcfg:\n    environment: PAYMENT_KEY\n',
    );
    const locate = composeLocator(written, 'compose.yml');
    expect(() =>
      projectHostCompose(shopInput({ compose, services: ['web'], variables: {}, locate })),
    ).toThrow('compose.yml:5:5 compose config envcfg reads the variable PAYMENT_KEY, which is not set');
  });

  it('a secret that is a plain lowercase word (postgres) is not searched for: it is also the image and the user', () => {
    const result = projectHostCompose(shopInput({ services: ['db'], secretValues: ['postgres'] }));
    expect(service(result.document, 'db').image).toBe('127.0.0.1:5000/stagecraft-test/postgres:16-alpine');
    expect(Object.keys(result.secretEnv['db'] ?? {})).toContain('POSTGRES_PASSWORD');
    // A value that is no plain word is still searched for everywhere.
    const compose = structuredClone(shop);
    (compose.services['db'] as ComposeService).command = ['postgres', '-c', 'password=Pg-s3cret'];
    expect(() =>
      projectHostCompose(shopInput({ compose, services: ['db'], secretValues: ['Pg-s3cret'] })),
    ).toThrow('a secret value appears in the compose file at services.db.command[2]');
  });

  it('a short secret value is moved out of environments but not searched for elsewhere', () => {
    const result = projectHostCompose(shopInput({ services: ['db'], secretValues: ['shop'] }));
    expect(Object.keys(result.secretEnv['db'] ?? {}).sort()).toEqual([
      'POSTGRES_DB',
      'POSTGRES_PASSWORD',
      'POSTGRES_USER',
    ]);
  });
});

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((key) => [key, reverseKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}
