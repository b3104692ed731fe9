/**
 * The dev front door's configuration, as Caddy JSON (no adapter, so every key is exact). Caddy runs as
 * a supervised host process: HTTPS with the mkcert certificate on `https_port`, a permanent redirect
 * from `http_port`, one reverse-proxy route per dev domain (WebSocket upgrades pass through, so Vite HMR
 * works), and a 404 that names the host for anything else. Pure: same input, same bytes.
 */

export interface ProxyRoute {
  domain: string;
  /** host:port Caddy dials, e.g. localhost:5173 or 10.0.0.5:5432. */
  upstream: string;
}

export interface ProxyConfigInput {
  routes: readonly ProxyRoute[];
  https: boolean;
  httpPort: number;
  httpsPort: number;
  /** Addresses to listen on, e.g. ['127.0.0.1', '::1']. */
  listen: readonly string[];
  certFile?: string;
  keyFile?: string;
  /** Caddy's storage folder (kept inside .stagecraft/dev, never the user's home). */
  storageDir: string;
  /** Caddy's own log level. */
  logLevel: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';
}

const CERT_TAG = 'stagecraft-dev';

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function proxyRoutes(routes: readonly ProxyRoute[]): unknown[] {
  const sorted = [...routes].sort((a, b) => a.domain.localeCompare(b.domain));
  return [
    ...sorted.map((route) => ({
      match: [{ host: [route.domain] }],
      handle: [
        {
          handler: 'reverse_proxy',
          upstreams: [{ dial: route.upstream }],
          // Stream responses as they come (server-sent events, dev-server streaming).
          flush_interval: -1,
        },
      ],
      terminal: true,
    })),
    {
      handle: [
        {
          handler: 'static_response',
          status_code: 404,
          headers: { 'Content-Type': ['text/plain; charset=utf-8'] },
          body: 'stagecraft dev: no app is served at {http.request.host}\n',
        },
      ],
    },
  ];
}

export function caddyConfig(input: ProxyConfigInput): Record<string, unknown> {
  const servers: Record<string, unknown> = {};
  const listen = (port: number) => input.listen.map((address) => hostPort(address, port));
  if (input.https) {
    if (input.certFile === undefined || input.keyFile === undefined) {
      throw new Error('caddyConfig: https needs certFile and keyFile');
    }
    servers['https'] = {
      listen: listen(input.httpsPort),
      protocols: ['h1', 'h2'],
      automatic_https: { disable: true },
      tls_connection_policies: [{ certificate_selection: { any_tag: [CERT_TAG] } }],
      routes: proxyRoutes(input.routes),
    };
    const port = input.httpsPort === 443 ? '' : `:${input.httpsPort}`;
    servers['http_redirect'] = {
      listen: listen(input.httpPort),
      protocols: ['h1'],
      automatic_https: { disable: true },
      routes: [
        {
          handle: [
            {
              handler: 'static_response',
              status_code: 308,
              headers: { Location: [`https://{http.request.host}${port}{http.request.uri}`] },
            },
          ],
        },
      ],
    };
  } else {
    servers['http'] = {
      listen: listen(input.httpPort),
      protocols: ['h1', 'h2c'],
      automatic_https: { disable: true },
      routes: proxyRoutes(input.routes),
    };
  }
  const apps: Record<string, unknown> = { http: { servers } };
  if (input.https) {
    apps['tls'] = {
      certificates: { load_files: [{ certificate: input.certFile, key: input.keyFile, tags: [CERT_TAG] }] },
    };
  }
  return {
    admin: { disabled: true, config: { persist: false } },
    logging: { logs: { default: { level: input.logLevel } } },
    storage: { module: 'file_system', root: input.storageDir },
    apps,
  };
}

/** The config file's text: 2-space JSON with a final newline. */
export function renderCaddyConfig(input: ProxyConfigInput): string {
  return `${JSON.stringify(caddyConfig(input), null, 2)}\n`;
}

/**
 * Caddy logs JSON lines; without --verbose only errors are shown, as `level: message (error)`.
 * Non-JSON lines pass through.
 */
export function formatCaddyLine(line: string, verbose: boolean): string | undefined {
  if (!line.startsWith('{')) return line;
  let entry: { level?: string; msg?: string; error?: string; logger?: string };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return line;
  }
  const level = entry.level ?? 'info';
  if (!verbose && !['error', 'fatal', 'panic'].includes(level)) return undefined;
  const logger = entry.logger === undefined ? '' : `${entry.logger}: `;
  return `${level}: ${logger}${entry.msg ?? ''}${entry.error === undefined ? '' : ` (${entry.error})`}`;
}
