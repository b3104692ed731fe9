// The part of Headscale's REST API (`<server>/api/v1/…`, API key as `Authorization: Bearer`) that setup
// uses: creating a pre-auth key. Source: Headscale's gRPC-gateway API (headscale.v1.HeadscaleService,
// CreatePreAuthKey: POST /api/v1/preauthkey {user, reusable, ephemeral, expiration, aclTags} →
// {preAuthKey: {key, …}}).
import { ExternalError } from '../../util/errors.js';
import { Secret } from '../../util/secret.js';

export interface PreAuthKeyRequest {
  /** The server's base URL, e.g. "https://hs.example.com" (login_server). */
  server: string;
  apiKey: Secret;
  /** The Headscale user the key belongs to (id or name, as the server version expects). */
  user: string;
  /** Tags nodes joining with the key get (Headscale's aclTags). */
  tags: string[];
  /** When the key expires (single use, not reusable, not ephemeral). */
  expiresAt: Date;
}

/**
 * Creates a single-use, expiring pre-auth key through Headscale's API and returns it as a Secret
 * (registered for redaction). Throws an ExternalError with the HTTP status (401/403: the API key is
 * refused) or when the server cannot be reached or answers without a key; never includes a key.
 */
export async function createPreAuthKey(request: PreAuthKeyRequest): Promise<Secret> {
  const url = new URL('/api/v1/preauthkey', request.server);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${request.apiKey.reveal()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        user: request.user,
        reusable: false,
        ephemeral: false,
        expiration: request.expiresAt.toISOString(),
        aclTags: request.tags,
      }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new ExternalError(`could not reach Headscale at ${url.origin} to create a pre-auth key`, {
      hint: 'check network.providers.headscale.login_server and that the server is up',
      cause: error,
    });
  }
  const text = await response.text();
  if (response.status === 401 || response.status === 403) {
    throw new ExternalError(
      `Headscale refused the API key (HTTP ${response.status}) creating a pre-auth key`,
      {
        hint: 'check the key in network.providers.headscale.api_key_env (`headscale apikeys create`)',
      },
    );
  }
  if (!response.ok) {
    throw new ExternalError(
      `Headscale answered HTTP ${response.status} creating a pre-auth key: ${text.slice(0, 200).trim()}`,
      { hint: 'check network.providers.headscale.user names a user of the server' },
    );
  }
  let key: unknown;
  try {
    key = (JSON.parse(text) as { preAuthKey?: { key?: unknown } }).preAuthKey?.key;
  } catch {
    key = undefined;
  }
  if (typeof key !== 'string' || key === '')
    throw new ExternalError(
      'Headscale answered without a pre-auth key (expected {"preAuthKey": {"key": …}})',
    );
  return new Secret(key);
}
