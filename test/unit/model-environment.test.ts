import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ComposeProject } from '../../src/compose/types.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import { load } from '../support/config.js';

const compose = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

const config = (ingress: string) => `project:
  name: shop
  registry: registry.example/shop
services:
  api: { role: web, secrets: [API_TOKEN] }
  web: { role: web }
  db: { role: web }
${ingress}environments:
  production:
    driver: ssh
    require_confirmation: true
    ssh: { user: deploy, port: 2222 }
    services:
      web: { secrets: [SESSION_KEY] }
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }]
`;

describe('buildEnvironmentModel: what later layers need from the config', () => {
  it('carries the connection, the gateway names and TLS, confirmation and each service’s secret names', () => {
    const model = buildEnvironmentModel(
      load(config('ingress:\n  tls: { mode: custom, cert_file: certs/a.pem, key_file: certs/a.key }\n'), {
        envName: 'production',
      }),
      compose,
    );
    expect(model.connection).toMatchObject({ driver: 'ssh', ssh: { user: 'deploy', port: 2222 } });
    expect(model.ingress).toMatchObject({
      // One gateway per host on the default ports, shared by every app there.
      container: 'stagecraft-gateway',
      network: 'stagecraft-gateway',
      legacy: { container: 'shop-production-ingress', network: 'shop-production_ingress' },
      tls: { mode: 'custom', certFile: 'certs/a.pem', keyFile: 'certs/a.key' },
    });
    expect(model.requireConfirmation).toBe(true);
    expect(Object.fromEntries(model.services.map((service) => [service.name, service.secrets]))).toEqual({
      api: ['API_TOKEN'],
      web: ['SESSION_KEY'],
      db: [],
    });
  });

  it('names the gateway by its ports: apps on the same ports share it', () => {
    const other = buildEnvironmentModel(
      load(config('ingress:\n  http_port: 8080\n  https_port: 8443\n'), { envName: 'production' }),
      compose,
    );
    expect([other.ingress.container, other.ingress.network]).toEqual([
      'stagecraft-gateway-8080-8443',
      'stagecraft-gateway-8080-8443',
    ]);
  });

  it('TLS off without ingress.tls; acme keeps the name of the e-mail variable', () => {
    const off = buildEnvironmentModel(load(config(''), { envName: 'production' }), compose);
    expect(off.ingress.tls).toEqual({ mode: 'off' });
    const acme = buildEnvironmentModel(
      load(config('ingress:\n  tls: { mode: acme, email_env: ACME_EMAIL }\n'), { envName: 'production' }),
      compose,
    );
    expect(acme.ingress.tls).toEqual({ mode: 'acme', emailEnv: 'ACME_EMAIL' });
    const privateCa = buildEnvironmentModel(
      load(
        config(
          'ingress:\n  tls: { mode: acme, acme_ca: "https://ca.internal/acme/directory", acme_ca_root: tls/ca.pem }\n',
        ),
        { envName: 'production' },
      ),
      compose,
    );
    expect(privateCa.ingress.tls).toStrictEqual({
      mode: 'acme',
      emailEnv: undefined,
      ca: 'https://ca.internal/acme/directory',
      caRootFile: 'tls/ca.pem',
    });
  });
});
