import { describe, expect, it } from 'vitest';
import {
  caddyConfig,
  formatCaddyLine,
  type ProxyConfigInput,
  renderCaddyConfig,
} from '../../src/dev/caddy-config.js';

const base: ProxyConfigInput = {
  routes: [
    { domain: 'app.localhost', upstream: 'localhost:5173' },
    { domain: 'api.shop.test', upstream: 'localhost:3000' },
    { domain: 'adminer.localhost', upstream: '10.0.0.5:8080' },
  ],
  https: true,
  httpPort: 80,
  httpsPort: 443,
  listen: ['127.0.0.1', '::1'],
  certFile: '/p/.stagecraft/dev/certs/dev-local.pem',
  keyFile: '/p/.stagecraft/dev/certs/dev-local-key.pem',
  storageDir: '/p/.stagecraft/dev/caddy/data',
  logLevel: 'ERROR',
};

// biome-ignore lint/suspicious/noExplicitAny: the assertions walk arbitrary JSON.
type Json = Record<string, any>;

function servers(input: ProxyConfigInput): Json {
  return (caddyConfig(input) as Json)['apps']['http']['servers'];
}

describe('dev proxy (Caddy JSON) config', () => {
  it('routes each domain to its upstream, sorted by domain, then a 404 naming the host', () => {
    const routes = servers(base)['https']['routes'] as Json[];
    expect(routes.map((route) => route['match']?.[0]?.['host'])).toEqual([
      ['adminer.localhost'],
      ['api.shop.test'],
      ['app.localhost'],
      undefined,
    ]);
    expect(routes[2]).toEqual({
      match: [{ host: ['app.localhost'] }],
      handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: 'localhost:5173' }], flush_interval: -1 }],
      terminal: true,
    });
    expect(routes[3]?.['handle'][0]).toMatchObject({ handler: 'static_response', status_code: 404 });
    expect(routes[3]?.['handle'][0]['body']).toContain('{http.request.host}');
  });

  it('serves HTTPS with the mkcert certificate only, and no automatic HTTPS of its own', () => {
    const config = caddyConfig(base) as Json;
    const https = config['apps']['http']['servers']['https'];
    expect(https['listen']).toEqual(['127.0.0.1:443', '[::1]:443']);
    expect(https['automatic_https']).toEqual({ disable: true });
    expect(https['tls_connection_policies']).toEqual([
      { certificate_selection: { any_tag: ['stagecraft-dev'] } },
    ]);
    expect(config['apps']['tls']).toEqual({
      certificates: {
        load_files: [{ certificate: base.certFile, key: base.keyFile, tags: ['stagecraft-dev'] }],
      },
    });
  });

  it('redirects HTTP to HTTPS, keeping host, path and query, with the port when it is not 443', () => {
    const redirect = (input: ProxyConfigInput) => servers(input)['http_redirect'];
    expect(redirect(base)['listen']).toEqual(['127.0.0.1:80', '[::1]:80']);
    expect(redirect(base)['routes'][0]['handle'][0]).toEqual({
      handler: 'static_response',
      status_code: 308,
      headers: { Location: ['https://{http.request.host}{http.request.uri}'] },
    });
    const high = { ...base, httpPort: 8080, httpsPort: 8443, listen: ['127.0.0.1'] };
    expect(redirect(high)['listen']).toEqual(['127.0.0.1:8080']);
    expect(redirect(high)['routes'][0]['handle'][0]['headers']['Location']).toEqual([
      'https://{http.request.host}:8443{http.request.uri}',
    ]);
  });

  it('without HTTPS serves the routes on the HTTP port, with no TLS app and no redirect', () => {
    const input = { ...base, https: false, certFile: undefined, keyFile: undefined, httpPort: 8080 };
    const config = caddyConfig(input) as Json;
    expect(Object.keys(config['apps']['http']['servers'])).toEqual(['http']);
    expect(config['apps']['http']['servers']['http']['listen']).toEqual(['127.0.0.1:8080', '[::1]:8080']);
    expect(config['apps']['http']['servers']['http']['routes']).toHaveLength(4);
    expect(config['apps']['tls']).toBeUndefined();
  });

  it('keeps Caddy away from the network and the home folder: no admin API, storage in .stagecraft', () => {
    const config = caddyConfig(base) as Json;
    expect(config['admin']).toEqual({ disabled: true, config: { persist: false } });
    expect(config['storage']).toEqual({ module: 'file_system', root: base.storageDir });
    expect(config['logging']).toEqual({ logs: { default: { level: 'ERROR' } } });
  });

  it('is deterministic: the same routes in any order give the same bytes', () => {
    const shuffled = { ...base, routes: [...base.routes].reverse() };
    expect(renderCaddyConfig(shuffled)).toBe(renderCaddyConfig(base));
    expect(renderCaddyConfig(base).endsWith('}\n')).toBe(true);
  });

  it('refuses HTTPS without a certificate', () => {
    expect(() => caddyConfig({ ...base, certFile: undefined })).toThrow(/certFile/);
  });

  it('shows only Caddy’s errors unless verbose', () => {
    const info = '{"level":"info","ts":1,"msg":"using provided configuration"}';
    const error =
      '{"level":"error","ts":1,"logger":"http.log.error","msg":"dial tcp","error":"connection refused"}';
    expect(formatCaddyLine(info, false)).toBeUndefined();
    expect(formatCaddyLine(info, true)).toBe('info: using provided configuration');
    expect(formatCaddyLine(error, false)).toBe('error: http.log.error: dial tcp (connection refused)');
    expect(formatCaddyLine('plain text', false)).toBe('plain text');
  });
});
