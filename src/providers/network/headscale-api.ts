// The part of Headscale's REST API (`<server>/api/v1/…`, API key as `Authorization: Bearer`) that
// Stagecraft uses: setup creates pre-auth keys, `infra down` deletes the nodes of the hosts it destroys.
// Source: Headscale's gRPC-gateway API (headscale.v1.HeadscaleService): CreatePreAuthKey
// POST /api/v1/preauthkey {user, reusable, ephemeral, expiration, aclTags} → {preAuthKey: {key, …}};
// ListNodes GET /api/v1/node → {nodes: [{id, name, givenName, ipAddresses, user, …}]};
// DeleteNode DELETE /api/v1/node/{nodeId} → {}. Errors are {code, message, details}.
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

/** A node as Headscale's ListNodes gives it (the fields Stagecraft reads). */
export interface HeadscaleNode {
  /** Headscale's node id (a uint64, a string in JSON). */
  id: string;
  /** The host name the node registered with (`tailscale up --hostname`). */
  name: string;
  /** Its MagicDNS label (the name unless it collided with another node's). */
  givenName: string;
  ipAddresses: string[];
  /** The user the node belongs to. */
  user: { id: string; name: string } | undefined;
}

interface ApiRequest {
  server: string;
  apiKey: Secret;
  method: 'GET' | 'DELETE';
  path: string;
  /** What the request does, for errors: "listing nodes". */
  doing: string;
}

/**
 * One request to Headscale's API; resolves with the HTTP status and the parsed JSON body (undefined
 * when it is not JSON). Throws an ExternalError when the server cannot be reached or refuses the API
 * key (401/403). Never puts the API key in a message.
 */
async function apiRequest(request: ApiRequest): Promise<{ status: number; body: unknown; text: string }> {
  const url = new URL(request.path, request.server);
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers: { authorization: `Bearer ${request.apiKey.reveal()}`, accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new ExternalError(`could not reach Headscale at ${url.origin} ${request.doing}`, {
      hint: 'check network.providers.headscale.login_server and that the server is up',
      cause: error,
    });
  }
  const text = await response.text();
  if (response.status === 401 || response.status === 403) {
    throw new ExternalError(`Headscale refused the API key (HTTP ${response.status}) ${request.doing}`, {
      hint: 'check the key in network.providers.headscale.api_key_env (`headscale apikeys create`)',
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

/** The error message a Headscale answer carries ({code, message}), else its text, one line, at most 200 characters. */
function apiMessage(body: unknown, text: string): string {
  const message = (body as { message?: unknown } | undefined)?.message;
  return (typeof message === 'string' && message !== '' ? message : text)
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/**
 * Every node of the Headscale server (GET /api/v1/node). Throws an ExternalError with the HTTP status
 * and the API's message when it answers anything but 200 with a node list.
 */
export async function listNodes(options: { server: string; apiKey: Secret }): Promise<HeadscaleNode[]> {
  const { status, body, text } = await apiRequest({
    ...options,
    method: 'GET',
    path: '/api/v1/node',
    doing: 'listing nodes',
  });
  const nodes = (body as { nodes?: unknown } | undefined)?.nodes;
  if (status !== 200 || !Array.isArray(nodes)) {
    throw new ExternalError(
      status !== 200
        ? `Headscale answered HTTP ${status} listing nodes: ${apiMessage(body, text)}`
        : 'Headscale answered without a node list (expected {"nodes": […]})',
    );
  }
  return nodes.map((node: Record<string, unknown>) => {
    const user = node['user'] as { id?: unknown; name?: unknown } | undefined;
    return {
      id: String(node['id'] ?? ''),
      name: String(node['name'] ?? ''),
      givenName: String(node['givenName'] ?? node['name'] ?? ''),
      ipAddresses: Array.isArray(node['ipAddresses']) ? node['ipAddresses'].map(String) : [],
      user: user === undefined ? undefined : { id: String(user.id ?? ''), name: String(user.name ?? '') },
    };
  });
}

/**
 * Deletes a node (DELETE /api/v1/node/{id}). Resolves "deleted", or "gone" when Headscale answers 404
 * (already deleted: the step is idempotent). Throws an ExternalError with the HTTP status and the
 * API's message otherwise.
 */
export async function deleteNode(options: {
  server: string;
  apiKey: Secret;
  id: string;
  name: string;
}): Promise<'deleted' | 'gone'> {
  const doing = `deleting node ${options.id} (${options.name})`;
  const { status, body, text } = await apiRequest({
    server: options.server,
    apiKey: options.apiKey,
    method: 'DELETE',
    path: `/api/v1/node/${encodeURIComponent(options.id)}`,
    doing,
  });
  if (status === 404) return 'gone';
  if (status !== 200)
    throw new ExternalError(`Headscale answered HTTP ${status} ${doing}: ${apiMessage(body, text)}`);
  return 'deleted';
}
