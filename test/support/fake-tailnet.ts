// A fake tailnet control plane for the e2e tests: the fake `tailscale` CLI (fake-tailscale/tailscale.mjs)
// registers each node here with its auth key, host name, tags, WireGuard public key and endpoint, gets
// an address in 100.64.0.0/10, and reads its peers. Unknown keys are refused as Tailscale's control
// plane refuses them ("invalid key"). It records every join so tests assert on tags and host names.
// It knows nothing of Stagecraft's code.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeNode {
  nodeId: number;
  hostname: string;
  tags: string[];
  publicKey: string;
  endpoint: string;
  ip: string;
}

/** One `tailscale up` the control plane saw, accepted or not. */
export interface RecordedJoin {
  key: string;
  hostname: string;
  tags: string[];
  accepted: boolean;
}

function body(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      text += chunk;
    });
    req.on('end', () => resolve(text === '' ? undefined : JSON.parse(text)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

export class FakeTailnet {
  readonly joins: RecordedJoin[] = [];
  readonly nodes: FakeNode[] = [];
  readonly keys: Set<string>;
  #server: Server | undefined;
  #next = 1;

  /** `domain` is the MagicDNS suffix handed to nodes; `keys` the auth keys it accepts (reusable). */
  constructor(
    readonly domain: string,
    keys: string[],
  ) {
    this.keys = new Set(keys);
  }

  /** Listens on `host` (an address the harness hosts reach, e.g. 10.231.0.1), random port; returns the URL. */
  async start(host: string): Promise<string> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => send(res, 500, { error: String(error) }));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, host, resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://${host}:${port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'POST' && url.pathname === '/fake/register') {
      const input = (await body(req)) as Omit<FakeNode, 'nodeId' | 'ip'> & { authKey: string };
      const accepted = this.keys.has(input.authKey);
      this.joins.push({ key: input.authKey, hostname: input.hostname, tags: input.tags, accepted });
      if (!accepted) return send(res, 401, { error: 'invalid key: unable to validate API key' });
      const existing = this.nodes.findIndex((node) => node.hostname === input.hostname);
      if (existing >= 0) this.nodes.splice(existing, 1);
      const nodeId = this.#next++;
      const node: FakeNode = {
        nodeId,
        hostname: input.hostname,
        tags: input.tags,
        publicKey: input.publicKey,
        endpoint: input.endpoint,
        ip: `100.64.0.${nodeId}`,
      };
      this.nodes.push(node);
      return send(res, 200, { ...node, domain: this.domain, tailnet: this.domain });
    }
    if (req.method === 'GET' && url.pathname === '/fake/peers') {
      const self = Number(url.searchParams.get('node'));
      return send(res, 200, { peers: this.nodes.filter((node) => node.nodeId !== self) });
    }
    if (req.method === 'POST' && url.pathname === '/fake/logout') {
      const { nodeId } = (await body(req)) as { nodeId: number };
      const at = this.nodes.findIndex((node) => node.nodeId === nodeId);
      if (at >= 0) this.nodes.splice(at, 1);
      return send(res, 200, {});
    }
    send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  }
}
