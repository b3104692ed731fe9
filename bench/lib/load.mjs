// A bounded keep-alive HTTP load loop, shared by the benchmarks and the e2e tests. Only loopback and
// harness addresses may be targeted; every loop stops by itself (time and request count).
import { Agent, request } from 'node:http';

const ALLOWED = /^(127\.|10\.231\.0\.)/;

/**
 * @param {{host: string, port: number, path: string, hostHeader: string, connections: number,
 *   durationMs: number, maxRequests?: number, stopWhen?: () => boolean}} options
 * @returns {Promise<{requests: number, failures: number, failureSamples: string[],
 *   bodies: Record<string, number>, latenciesMs: number[], failureSpan?: {first: number, last: number}}>}
 */
export async function load(options) {
  if (!ALLOWED.test(options.host))
    throw new Error(`refusing to load ${options.host}: loopback and harness addresses only`);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const result = { requests: 0, failures: 0, failureSamples: [], bodies: {}, latenciesMs: [] };
  const deadline = Date.now() + Math.min(options.durationMs, 900_000);
  const max = options.maxRequests ?? 500_000;
  const fail = (why) => {
    result.failures++;
    // When the first and the last failure came (Date.now()): a refusal gap's length.
    const now = Date.now();
    result.failureSpan = { first: result.failureSpan?.first ?? now, last: now };
    if (result.failureSamples.length < 5) result.failureSamples.push(why);
  };
  const one = () =>
    new Promise((resolve) => {
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
            if (res.statusCode === 200) {
              const key = body.trim();
              result.bodies[key] = (result.bodies[key] ?? 0) + 1;
            } else {
              fail(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
            }
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => {
        fail(error.message);
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (Date.now() < deadline && result.requests < max && !options.stopWhen?.()) {
      result.requests++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  agent.destroy();
  return result;
}

/** @param {number[]} values @param {number} p */
export function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `node bench/lib/load.mjs HOST PORT HOSTHEADER PATH DURATION_MS`: one run, a JSON summary on stdout. */
if (import.meta.url === `file://${process.argv[1]}`) {
  const [host, port, hostHeader, path, duration] = process.argv.slice(2);
  const r = await load({
    host,
    port: Number(port),
    hostHeader,
    path,
    connections: 8,
    durationMs: Number(duration ?? 10000),
  });
  console.log(
    JSON.stringify({
      requests: r.requests,
      failures: r.failures,
      samples: r.failureSamples,
      bodies: r.bodies,
      p50_ms: Number(percentile(r.latenciesMs, 50).toFixed(1)),
      p99_ms: Number(percentile(r.latenciesMs, 99).toFixed(1)),
    }),
  );
}
