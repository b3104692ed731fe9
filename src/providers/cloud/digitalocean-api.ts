// The DigitalOcean API v2 over plain fetch: bearer token, JSON, 429 (retry-after / ratelimit-reset) and
// 5xx retried with backoff, list endpoints followed page by page (links.pages.next, same origin only).
//
// Why not a client library: dots-wrapper (3.12.12, typed, current) runs on axios, whose errors carry the
// request config including the Authorization header into whatever logs or cause chains them, and it
// neither retries nor pages; DigitalOcean's own @digitalocean/dots (1.19.0) pulls in Kiota and Azure
// HTTP preview packages. Eleven documented endpoints over fetch keep the token in exactly one place.
import { ExternalError, UserError } from '../../util/errors.js';
import type { Secret } from '../../util/secret.js';
import { sleep } from '../../util/sleep.js';

export interface ApiOptions {
  /** API base, e.g. https://api.digitalocean.com (no trailing /v2). */
  baseUrl: string;
  token: Secret;
  /** Waits between retries (tests pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
  /** Told before each retry: why and how long. */
  onRetry?: (message: string) => void;
  /** Attempts per request (default 6). */
  attempts?: number;
  /** First 5xx backoff in ms, doubled each time (default 1000). */
  backoffMs?: number;
}

/** An answer of the API that is an error: status, DigitalOcean's error id and message. */
export class ApiError extends ExternalError {
  constructor(
    readonly status: number,
    readonly errorId: string,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`DigitalOcean API ${method} ${path.split('?')[0]}: ${status} ${errorId}: ${message}`, {
      hint:
        status === 401 || status === 403
          ? 'check the API token in the variable cloud.providers.digitalocean.token_env names (it needs read and write scope)'
          : 'see the message from DigitalOcean above; nothing after the failed request was changed',
    });
  }
}

const MAX_WAIT_MS = 60_000;

function retryDelay(response: Response, attempt: number, backoffMs: number): number {
  if (response.status === 429) {
    const after = Number(response.headers.get('retry-after'));
    if (Number.isFinite(after) && after > 0) return Math.min(MAX_WAIT_MS, after * 1000);
    const reset = Number(response.headers.get('ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0)
      return Math.min(MAX_WAIT_MS, Math.max(0, reset * 1000 - Date.now()) + 250);
    return Math.min(MAX_WAIT_MS, backoffMs * 2 ** attempt);
  }
  return Math.min(MAX_WAIT_MS, backoffMs * 2 ** attempt);
}

export class DigitalOceanApi {
  readonly #options: Required<Omit<ApiOptions, 'onRetry'>> & Pick<ApiOptions, 'onRetry'>;
  readonly #origin: string;

  constructor(options: ApiOptions) {
    this.#options = {
      sleep: (ms) => sleep(ms),
      attempts: 6,
      backoffMs: 1000,
      ...options,
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
    };
    try {
      this.#origin = new URL(this.#options.baseUrl).origin;
    } catch {
      throw new UserError(`cloud.providers.digitalocean.api_url "${options.baseUrl}" is not a URL`, {
        hint: 'use https://api.digitalocean.com or the base URL of a DigitalOcean-compatible API',
      });
    }
  }

  /**
   * One request: `path` starts with /v2. Returns the parsed JSON body (undefined for 204). Retries 429
   * and 5xx (and network errors on GET) with backoff; throws ApiError for other answers.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { attempts, backoffMs, sleep, onRetry } = this.#options;
    for (let attempt = 0; ; attempt += 1) {
      let response: Response;
      try {
        response = await fetch(`${this.#options.baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.#options.token.reveal()}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(60_000),
        });
      } catch (error) {
        if (method === 'GET' && attempt + 1 < attempts) {
          const wait = Math.min(MAX_WAIT_MS, backoffMs * 2 ** attempt);
          onRetry?.(
            `${method} ${path.split('?')[0]} did not answer; retrying in ${(wait / 1000).toFixed(1)}s`,
          );
          await sleep(wait);
          continue;
        }
        throw new ExternalError(
          `DigitalOcean API ${method} ${path.split('?')[0]} did not answer: ${(error as Error).message}`,
          {
            hint: `check the network and cloud.providers.digitalocean.api_url (${this.#options.baseUrl})`,
          },
        );
      }
      if ((response.status === 429 || response.status >= 500) && attempt + 1 < attempts) {
        const wait = retryDelay(response, attempt, backoffMs);
        await response.body?.cancel();
        onRetry?.(
          `${method} ${path.split('?')[0]} answered ${response.status}${response.status === 429 ? ' (rate limit)' : ''}; retrying in ${(wait / 1000).toFixed(1)}s`,
        );
        await sleep(wait);
        continue;
      }
      const text = await response.text();
      if (!response.ok) {
        let id = 'error';
        let message = text.slice(0, 300);
        try {
          const parsed = JSON.parse(text) as { id?: string; message?: string };
          id = parsed.id ?? id;
          message = parsed.message ?? message;
        } catch {
          // not JSON: keep the text
        }
        throw new ApiError(response.status, id, message, method, path);
      }
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }
  }

  /** Every item of a list endpoint under `key`, following `links.pages.next` (200 per page). */
  async list<T>(path: string, key: string): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = `${path}${path.includes('?') ? '&' : '?'}page=1&per_page=200`;
    for (let pages = 0; next !== undefined && pages < 1000; pages += 1) {
      const answer: { links?: { pages?: { next?: string } } } & Record<string, unknown> = await this.request(
        'GET',
        next,
      );
      items.push(...((answer[key] as T[] | undefined) ?? []));
      const link = answer.links?.pages?.next;
      next = undefined;
      if (link !== undefined) {
        const url = new URL(link, this.#options.baseUrl);
        // The token goes only to the configured API: a next link elsewhere is a broken answer.
        if (url.origin !== this.#origin) {
          throw new ExternalError(
            `DigitalOcean API ${path.split('?')[0]}: the next page points to another site (${url.origin})`,
          );
        }
        next = `${url.pathname}${url.search}`;
      }
    }
    return items;
  }
}
