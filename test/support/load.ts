import { Agent, request } from 'node:http';

export interface LoadResult {
  requests: number;
  failures: number;
  failureSamples: string[];
  /** Response body (trimmed) → count. */
  bodies: Record<string, number>;
  latenciesMs: number[];
}

/**
 * A bounded keep-alive load loop: `connections` clients send GET requests back to back until
 * `durationMs` passes (and never more than `maxRequests`). Only for loopback or harness addresses.
 */
export async function load(options: {
  host: string;
  port: number;
  path: string;
  hostHeader: string;
  connections: number;
  durationMs: number;
  maxRequests?: number;
  signal?: AbortSignal;
}): Promise<LoadResult> {
  if (!/^(127\.|10\.231\.0\.)/.test(options.host))
    throw new Error(`refusing to load ${options.host}: loopback and harness addresses only`);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const result: LoadResult = { requests: 0, failures: 0, failureSamples: [], bodies: {}, latenciesMs: [] };
  const deadline = Date.now() + Math.min(options.durationMs, 60_000);
  const max = options.maxRequests ?? 500_000;
  const one = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request(
        {
          host: options.host,
          port: options.port,
          path: options.path,
          agent,
          headers: { host: options.hostHeader },
          timeout: 5000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => {
            result.latenciesMs.push(performance.now() - started);
            if (res.statusCode !== 200) {
              result.failures++;
              if (result.failureSamples.length < 5)
                result.failureSamples.push(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
            } else {
              const key = body.trim();
              result.bodies[key] = (result.bodies[key] ?? 0) + 1;
            }
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => {
        result.failures++;
        if (result.failureSamples.length < 5) result.failureSamples.push(error.message);
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (Date.now() < deadline && result.requests < max && !options.signal?.aborted) {
      result.requests++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  agent.destroy();
  return result;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
