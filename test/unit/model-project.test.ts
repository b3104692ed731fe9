import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { environmentSettings, projectModel } from '../../src/model/project.js';
import { InternalError } from '../../src/util/errors.js';
import { load } from '../support/config.js';

const minimal = `project:
  name: shop
environments:
  dev:
    driver: local
  production:
    driver: ssh
    hosts:
      web: [h1, { name: h2, address: 10.0.0.2, port: 2200 }]
`;

const full = `project:
  name: shop
compose:
  file: compose.prod.yml
  profiles: [web, jobs]
  strict: true
secrets:
  provider: envfile
  providers:
    envfile: { source_file: .secrets.env, target_file: /etc/shop/secrets.env }
  keys:
    - API_TOKEN
    - { name: DB_PASSWORD, from_env: PROD_DB_PASSWORD }
    - { name: SIGNING_KEY, command: [op, read, "op://shop/signing"] }
ci:
  provider: github
  providers:
    github: { repository: acme/shop }
cloud:
  provider: digitalocean
  providers:
    digitalocean:
      token_env: DO_TOKEN
      ssh_key_name: ops
      default_region: fra1
      default_size: s-1vcpu-1gb
      hosts:
        staging:
          h9: { role: web }
network:
  provider: headscale
  providers:
    headscale:
      auth_key_env: HS_KEY
      tailnet_domain: mesh.example.com
      login_server: https://hs.example.com
infra:
  bootstrap:
    ssh_user: admin
    deploy_user: shipper
    public_key_file: keys/ops.pub
    log_max_size: 50m
    log_max_file: 7
ingress:
  http_port: 8080
  https_port: 8443
  tls: { mode: acme, email_env: ACME_EMAIL }
backend:
  provider: generic
  providers:
    generic: {}
databases:
  main:
    connection_env: DATABASE_URL
    migrations: { engine: raw, path: db/migrations }
  cache:
    connection_env: CACHE_URL
environments:
  staging:
    driver: ssh
    env_file: .env.staging
  production:
    driver: ssh
    env_file: [.env, .env.production]
    ssh: { user: ops, port: 2222, identity_file: keys/deploy, proxy_jump: bastion }
    hosts:
      web: [h1]
`;

describe('projectModel: what commands without a compose file need from stagecraft.yml', () => {
  it('a minimal config: every default, no sections', () => {
    const loaded = load(minimal);
    const model = projectModel(loaded);
    expect(model).toEqual({
      project: 'shop',
      root: loaded.root,
      compose: { file: undefined, profiles: undefined, strict: false },
      environments: {
        dev: {
          name: 'dev',
          driver: 'local',
          hosts: undefined,
          ssh: undefined,
          envFile: undefined,
          deployUser: 'deploy',
        },
        production: {
          name: 'production',
          driver: 'ssh',
          hosts: { web: ['h1', { name: 'h2', address: '10.0.0.2', port: 2200 }] },
          ssh: undefined,
          envFile: undefined,
          deployUser: 'deploy',
        },
      },
      secrets: undefined,
      ci: { provider: undefined, providers: {} },
      cloud: undefined,
      mesh: undefined,
      bootstrap: { sshUser: 'root', publicKeyFile: undefined, logMaxSize: '10m', logMaxFile: '3' },
      ingress: { httpPort: 80, httpsPort: 443, tls: { mode: 'off' } },
      providers: {},
      databases: [],
    });
  });

  it('a config with every section: values as configured, paths resolved where the model says so', () => {
    const loaded = load(full, {
      files: { 'compose.prod.yml': 'services: {}\n', '.env': '', '.env.production': '', '.env.staging': '' },
    });
    const model = projectModel(loaded);
    expect(model.compose).toEqual({ file: 'compose.prod.yml', profiles: ['web', 'jobs'], strict: true });
    expect(model.environments['production']).toEqual({
      name: 'production',
      driver: 'ssh',
      hosts: { web: ['h1'] },
      ssh: { user: 'ops', port: 2222, identity_file: 'keys/deploy', proxy_jump: 'bastion' },
      envFile: ['.env', '.env.production'],
      deployUser: 'shipper',
    });
    expect(model.environments['staging']).toMatchObject({
      hosts: undefined,
      envFile: '.env.staging',
      deployUser: 'shipper',
    });
    expect(model.secrets).toEqual({
      provider: 'envfile',
      providerConfig: { source_file: '.secrets.env', target_file: '/etc/shop/secrets.env' },
      keys: [
        { name: 'API_TOKEN', fromEnv: undefined, command: undefined },
        { name: 'DB_PASSWORD', fromEnv: 'PROD_DB_PASSWORD', command: undefined },
        { name: 'SIGNING_KEY', fromEnv: undefined, command: ['op', 'read', 'op://shop/signing'] },
      ],
      sourceFile: '.secrets.env',
      targetFile: '/etc/shop/secrets.env',
    });
    expect(model.ci).toEqual({ provider: 'github', providers: { github: { repository: 'acme/shop' } } });
    expect(model.cloud).toEqual({
      provider: 'digitalocean',
      config: {
        token_env: 'DO_TOKEN',
        ssh_key_name: 'ops',
        default_region: 'fra1',
        default_size: 's-1vcpu-1gb',
        hosts: { staging: { h9: { role: 'web' } } },
      },
      configPath: 'cloud.providers.digitalocean',
    });
    expect(model.mesh).toMatchObject({
      provider: 'headscale',
      tailnetDomain: 'mesh.example.com',
      loginServer: 'https://hs.example.com',
      authKeyEnv: 'HS_KEY',
    });
    expect(model.bootstrap).toEqual({
      sshUser: 'admin',
      publicKeyFile: join(loaded.root, 'keys/ops.pub'),
      logMaxSize: '50m',
      logMaxFile: '7',
    });
    expect(model.ingress).toEqual({
      httpPort: 8080,
      httpsPort: 8443,
      tls: { mode: 'acme', emailEnv: 'ACME_EMAIL', ca: undefined, caRootFile: undefined },
    });
    expect(Object.keys(model.providers).sort()).toEqual([
      'backend',
      'ci',
      'cloud',
      'ingress',
      'network',
      'secrets',
    ]);
    // Only the selection: the ingress section's own keys (ports, tls) are in model.ingress.
    expect(model.providers.ingress).toEqual({ provider: 'caddy' });
    expect(model.providers.backend).toEqual({ provider: 'generic', providers: { generic: {} } });
    expect(model.databases).toEqual([
      { name: 'main', migrationsPath: 'db/migrations' },
      { name: 'cache', migrationsPath: undefined },
    ]);
  });

  it('deploy user: deploy_user, else a non-root ssh.user, else "deploy"', () => {
    const envs = `environments:
  a: { driver: ssh, ssh: { user: ops }, hosts: { web: [h1] } }
  b: { driver: ssh, ssh: { user: root }, hosts: { web: [h1] } }
  c: { driver: ssh, hosts: { web: [h1] } }
`;
    const plain = projectModel(load(`project:\n  name: shop\n${envs}`));
    expect(Object.values(plain.environments).map((env) => env.deployUser)).toEqual([
      'ops',
      'deploy',
      'deploy',
    ]);
    const configured = projectModel(
      load(`project:\n  name: shop\ninfra:\n  bootstrap: { deploy_user: shipper }\n${envs}`),
    );
    expect(Object.values(configured.environments).map((env) => env.deployUser)).toEqual([
      'shipper',
      'shipper',
      'shipper',
    ]);
  });

  it('secrets: source_file counts for provider envfile only; target_file as given; {} without provider settings', () => {
    const encore = projectModel(
      load(
        minimal.replace('environments:', 'secrets:\n  provider: encore\n  keys: [API_TOKEN]\nenvironments:'),
      ),
    );
    expect(encore.secrets).toEqual({
      provider: 'encore',
      providerConfig: {},
      keys: [{ name: 'API_TOKEN', fromEnv: undefined, command: undefined }],
      sourceFile: undefined,
      targetFile: undefined,
    });
  });

  it('ingress: custom TLS keeps its files; https_port defaults to 443', () => {
    const model = projectModel(
      load(
        minimal.replace(
          'environments:',
          'ingress:\n  tls: { mode: custom, cert_file: certs/a.pem, key_file: certs/a.key }\nenvironments:',
        ),
      ),
    );
    expect(model.ingress).toEqual({
      httpPort: 80,
      httpsPort: 443,
      tls: { mode: 'custom', certFile: 'certs/a.pem', keyFile: 'certs/a.key' },
    });
  });

  it('network tailscale: the mesh with its tailnet domain; provider none: no mesh', () => {
    const tailscale = projectModel(
      load(
        minimal.replace(
          'environments:',
          'network:\n  provider: tailscale\n  providers:\n    tailscale: { auth_key_env: TS_KEY, tailnet_domain: .acme.ts.net. }\nenvironments:',
        ),
      ),
    );
    expect(tailscale.mesh).toMatchObject({
      provider: 'tailscale',
      tailnetDomain: 'acme.ts.net',
      authKeyEnv: 'TS_KEY',
    });
    const none = projectModel(
      load(minimal.replace('environments:', 'network:\n  provider: none\nenvironments:')),
    );
    expect(none.mesh).toBeUndefined();
    expect(none.providers.network).toEqual({ provider: 'none' });
  });

  it('environmentSettings: an environment of the model; an unknown name is our bug (InternalError)', () => {
    const model = projectModel(load(minimal));
    expect(environmentSettings(model, 'dev').driver).toBe('local');
    expect(() => environmentSettings(model, 'nowhere')).toThrow(InternalError);
  });
});
