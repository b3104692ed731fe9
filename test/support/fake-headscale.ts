// A local server for the part of Headscale's REST API (/api/v1, `Authorization: Bearer <API key>`) that
// Stagecraft uses, from Headscale's published API (headscale.v1.HeadscaleService over gRPC-gateway):
// POST /api/v1/preauthkey {user, reusable, ephemeral, expiration, aclTags} → {preAuthKey: {...}},
// GET /api/v1/node → {nodes: [...]}, DELETE /api/v1/node/{id} → {}. Unknown API keys get 401 with
// Headscale's text body. It records every request and every key it created. No Stagecraft code.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeadscalePreAuthKey {
  id: string;
  key: string;
  user: string;
  reusable: boolean;
  ephemeral: boolean;
  used: boolean;
  expiration: string;
  createdAt: string;
  aclTags: string[];
}

export interface HeadscaleNode {
  id: string;
  name: string;
  givenName: string;
  ipAddresses: string[];
  tags: string[];
  online: boolean;
  user?: { id: string; name: string };
}

export interface HeadscaleRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export class FakeHeadscale {
  readonly requests: HeadscaleRequest[] = [];
  readonly keys: HeadscalePreAuthKey[] = [];
  readonly nodes: HeadscaleNode[] = [];
  /** Answers to give instead, by "METHOD path" (e.g. "DELETE /api/v1/node/7"): Headscale's error body. */
  readonly failures = new Map<string, { status: number; message: string }>();
  #server: Server | undefined;
  #next = 1;

  constructor(readonly apiKey: string) {}

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        res.writeHead(500);
        res.end(String(error));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('Unauthorized');
      return;
    }
    const failure = this.failures.get(`${req.method} ${path}`);
    if (failure !== undefined)
      return json(failure.status, { code: 2, message: failure.message, details: [] });
    if (req.method === 'POST' && path === '/api/v1/preauthkey') {
      const key: HeadscalePreAuthKey = {
        id: String(this.#next++),
        key: randomBytes(24).toString('hex'),
        user: String(body?.['user'] ?? ''),
        reusable: body?.['reusable'] === true,
        ephemeral: body?.['ephemeral'] === true,
        used: false,
        expiration: String(body?.['expiration'] ?? ''),
        createdAt: new Date().toISOString(),
        aclTags: (body?.['aclTags'] as string[] | undefined) ?? [],
      };
      this.keys.push(key);
      return json(200, { preAuthKey: key });
    }
    if (req.method === 'GET' && path === '/api/v1/node') return json(200, { nodes: this.nodes });
    const node = /^\/api\/v1\/node\/(\d+)$/.exec(path);
    if (req.method === 'DELETE' && node) {
      const at = this.nodes.findIndex((candidate) => candidate.id === node[1]);
      if (at < 0) return json(404, { code: 5, message: 'node not found', details: [] });
      this.nodes.splice(at, 1);
      return json(200, {});
    }
    json(404, { code: 5, message: 'Not Found', details: [] });
  }
}
