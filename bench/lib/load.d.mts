export interface LoadOptions {
  host: string;
  port: number;
  path: string;
  hostHeader: string;
  connections: number;
  durationMs: number;
  maxRequests?: number;
  /** Checked between requests: true stops the loop early. */
  stopWhen?: () => boolean;
}

export interface LoadResult {
  requests: number;
  failures: number;
  failureSamples: string[];
  bodies: Record<string, number>;
  latenciesMs: number[];
  /** When the first and the last failed request ended (Date.now()); absent without failures. */
  failureSpan?: { first: number; last: number };
}

export function load(options: LoadOptions): Promise<LoadResult>;
export function percentile(values: number[], p: number): number;
