import { describe, expect, it } from 'vitest';
import { httpProbe, withConfiguredHealthchecks } from '../../src/compose/health.js';
import type { ComposeProject } from '../../src/compose/types.js';

const compose: ComposeProject = {
  name: 'shop',
  services: {
    api: {
      image: 'api:1',
      healthcheck: { test: ['CMD', 'true'], interval: '30s', timeout: '10s', retries: 5 },
    },
    web: { image: 'web:1' },
    db: { image: 'postgres:16' },
  },
} as ComposeProject;

describe('withConfiguredHealthchecks (services.<name>.health)', () => {
  it('health.path supplies an HTTP probe on the service port with Stagecraft timings', () => {
    const result = withConfiguredHealthchecks(compose, (name) =>
      name === 'web' ? { port: 3000, health: { path: '/up' } } : {},
    );
    expect(result.services['web']!.healthcheck).toEqual({
      test: httpProbe(3000, '/up'),
      interval: '2s',
      timeout: '5s',
      retries: 3,
    });
    expect(result.services['api']).toBe(compose.services['api']);
    expect(compose.services['web']!.healthcheck).toBeUndefined();
  });

  it('health.path replaces the compose check; health.port and timings win', () => {
    const result = withConfiguredHealthchecks(compose, (name) =>
      name === 'api'
        ? { port: 3000, health: { path: '/health?deep=1', port: 9000, interval: '1s', start_period: '20s' } }
        : {},
    );
    expect(result.services['api']!.healthcheck).toEqual({
      test: httpProbe(9000, '/health?deep=1'),
      interval: '1s',
      timeout: '5s',
      retries: 3,
      start_period: '20s',
    });
  });

  it('timings without a path tune the compose check and keep its test', () => {
    const result = withConfiguredHealthchecks(compose, (name) =>
      name === 'api' ? { health: { interval: '3s', retries: 2 } } : {},
    );
    expect(result.services['api']!.healthcheck).toEqual({
      test: ['CMD', 'true'],
      interval: '3s',
      timeout: '10s',
      retries: 2,
    });
  });

  it('stable_for alone changes nothing', () => {
    const result = withConfiguredHealthchecks(compose, () => ({ health: {} }));
    expect(result.services).toEqual(compose.services);
  });

  it('the probe tries wget, then curl, then node, on 127.0.0.1', () => {
    expect(httpProbe(8080, '/index.html')).toEqual([
      'CMD-SHELL',
      "wget -q -O /dev/null 'http://127.0.0.1:8080/index.html' 2>/dev/null || curl -fsS -o /dev/null 'http://127.0.0.1:8080/index.html' 2>/dev/null || node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' 'http://127.0.0.1:8080/index.html'",
    ]);
  });

  it('refuses a path without a port, naming both keys', () => {
    expect(() => withConfiguredHealthchecks(compose, () => ({ health: { path: '/up' } }))).toThrow(
      'services.api.health.path needs a port to probe',
    );
  });

  it.each(["/it's", '/a b', '/$HOME', '/x`id`'])(
    'refuses the path %s, which a shell or compose would read',
    (path) => {
      expect(() =>
        withConfiguredHealthchecks(compose, (name) => (name === 'web' ? { port: 80, health: { path } } : {})),
      ).toThrow(`services.web.health.path: "${path}" is not a URL path Stagecraft can probe`);
    },
  );
});
