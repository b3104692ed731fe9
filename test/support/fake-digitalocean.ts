// A local server that speaks the part of the DigitalOcean API v2 that `stagecraft infra` uses, written
// from DigitalOcean's API reference (docs.digitalocean.com/reference/api): bearer-token auth, JSON
// bodies, `{id, message, request_id}` errors, `page`/`per_page` pagination with `links.pages` and
// `meta.total`, the `ratelimit-*` headers on every answer and 429 with `retry-after`, 202 + actions for
// asynchronous work. Droplets go `new` → `active` after a few reads. It knows nothing of Stagecraft's
// code. Tests inject failures (429, 5xx, a hang) and read every request it received.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path with the query string, e.g. `/v2/droplets?tag_name=stagecraft&page=1&per_page=200`. */
  path: string;
  body: unknown;
  authorization: string | undefined;
}

interface Droplet {
  id: number;
  name: string;
  status: 'new' | 'active' | 'off';
  size_slug: string;
  region: { slug: string; name: string };
  image: { slug: string };
  tags: string[];
  volume_ids: string[];
  networks: {
    v4: { ip_address: string; netmask: string; gateway: string; type: 'public' | 'private' }[];
    v6: [];
  };
  created_at: string;
  user_data?: string;
  /** Reads left before `new` turns `active`. */
  readsUntilActive: number;
}

interface Volume {
  id: string;
  name: string;
  size_gigabytes: number;
  region: { slug: string };
  droplet_ids: number[];
  filesystem_type: string;
  tags: string[];
}

interface Firewall {
  id: string;
  name: string;
  status: 'succeeded';
  inbound_rules: unknown[];
  outbound_rules: unknown[];
  droplet_ids: number[];
  tags: string[];
  created_at: string;
  pending_changes: [];
}

export interface FakeDigitalOceanOptions {
  token: string;
  /** Addresses handed out as droplets' public IPv4, in order (e.g. harness hosts). */
  addresses: string[];
  dropletLimit?: number;
  sshKeys?: { id: number; name: string; public_key: string }[];
  regions?: string[];
  sizes?: string[];
  /** Droplets that already exist in the account (other projects): count only. */
  otherDroplets?: number;
  /** Reads of a new droplet before it is active (default 2). */
  readsUntilActive?: number;
}

type Injected = {
  status: number;
  times: number;
  match: (method: string, path: string) => boolean;
  retryAfter?: number;
};

export class FakeDigitalOcean {
  readonly requests: RecordedRequest[] = [];
  readonly droplets = new Map<number, Droplet>();
  readonly volumes = new Map<string, Volume>();
  readonly firewalls = new Map<string, Firewall>();
  readonly tags = new Set<string>();
  readonly #options: Required<FakeDigitalOceanOptions>;
  readonly #injected: Injected[] = [];
  #server: Server | undefined;
  #nextDroplet = 3164000;
  #nextAction = 2000000000;
  #addressIndex = 0;
  #hangMatch: ((method: string, path: string) => boolean) | undefined;
  url = '';

  constructor(options: FakeDigitalOceanOptions) {
    this.#options = {
      dropletLimit: 25,
      sshKeys: [],
      regions: ['ams3', 'fra1', 'nyc1', 'nyc3', 'sfo3'],
      sizes: ['s-1vcpu-1gb', 's-1vcpu-2gb', 's-2vcpu-4gb', 's-4vcpu-8gb'],
      otherDroplets: 0,
      readsUntilActive: 2,
      ...options,
    };
    for (let i = 0; i < this.#options.otherDroplets; i += 1) {
      this.#addDroplet(
        { name: `other-${i}`, region: 'nyc1', size: 's-1vcpu-1gb', image: 'debian-12-x64', tags: [] },
        '203.0.113.200',
      );
      this.droplets.get(this.#nextDroplet - 1)!.status = 'active';
    }
  }

  /** The next `times` requests matching answer `status` (429 carries retry-after/ratelimit-reset). */
  inject(
    status: number,
    times: number,
    match: (method: string, path: string) => boolean = () => true,
    retryAfter = 1,
  ): void {
    this.#injected.push({ status, times, match, retryAfter });
  }

  /** Requests matching never get an answer (to kill a client mid-way). */
  hang(match: ((method: string, path: string) => boolean) | undefined): void {
    this.#hangMatch = match;
  }

  /** Requests other than the reads every run makes: what changed the account. */
  writes(): RecordedRequest[] {
    return this.requests.filter((request) => request.method !== 'GET');
  }

  async start(): Promise<string> {
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.#send(response, 500, { id: 'server_error', message: String(error) });
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #send(
    response: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): void {
    const reset = Math.floor(Date.now() / 1000) + 60;
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'ratelimit-limit': '5000',
      'ratelimit-remaining': status === 429 ? '0' : '4990',
      'ratelimit-reset': String(reset),
      'x-request-id': randomUUID(),
      ...headers,
    });
    response.end(body === undefined ? undefined : JSON.stringify(body));
  }

  #error(response: ServerResponse, status: number, id: string, message: string): void {
    this.#send(response, status, { id, message, request_id: randomUUID() });
  }

  /** A page of `items` under `key`, with DigitalOcean's links and meta. */
  #page(response: ServerResponse, url: URL, key: string, items: unknown[]): void {
    const perPage = Math.min(200, Math.max(1, Number(url.searchParams.get('per_page') ?? 20)));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (n: number) => {
      const next = new URL(url.href);
      next.searchParams.set('page', String(n));
      next.searchParams.set('per_page', String(perPage));
      return `${this.url}${next.pathname}${next.search}`;
    };
    const pages: Record<string, string> = {};
    if (page > 1) Object.assign(pages, { first: link(1), prev: link(page - 1) });
    if (page < last) Object.assign(pages, { next: link(page + 1), last: link(last) });
    this.#send(response, 200, {
      [key]: items.slice((page - 1) * perPage, page * perPage),
      links: { pages },
      meta: { total: items.length },
    });
  }

  #action(type: string, resourceId: number | string, resourceType: string) {
    this.#nextAction += 1;
    return {
      id: this.#nextAction,
      status: 'completed',
      type,
      started_at: new Date().toISOString(),
      completed_at: new Date().toISOString(),
      resource_id: resourceId,
      resource_type: resourceType,
      region_slug: 'nyc1',
    };
  }

  #addDroplet(
    body: { name: string; region: string; size: string; image: string; tags: string[]; user_data?: string },
    address: string,
  ): Droplet {
    const id = this.#nextDroplet;
    this.#nextDroplet += 1;
    const droplet: Droplet = {
      id,
      name: body.name,
      status: 'new',
      size_slug: body.size,
      region: { slug: body.region, name: body.region },
      image: { slug: body.image },
      tags: body.tags,
      volume_ids: [],
      networks: { v4: [], v6: [] },
      created_at: new Date().toISOString(),
      readsUntilActive: this.#options.readsUntilActive,
      ...(body.user_data === undefined ? {} : { user_data: body.user_data }),
    };
    droplet.networks.v4.push({
      ip_address: address,
      netmask: '255.255.255.0',
      gateway: address.replace(/\.\d+$/, '.1'),
      type: 'public',
    });
    this.droplets.set(id, droplet);
    for (const tag of body.tags) this.tags.add(tag);
    return droplet;
  }

  #view(droplet: Droplet) {
    const { readsUntilActive: _, user_data: __, ...rest } = droplet;
    return rest;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      return this.#error(response, 400, 'bad_request', 'The request body is not valid JSON.');
    }
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://fake');
    const path = `${url.pathname}${url.search}`;
    this.requests.push({ method, path, body, authorization: request.headers.authorization });

    if (this.#hangMatch?.(method, path)) return; // never answers
    const injected = this.#injected.find((entry) => entry.times > 0 && entry.match(method, path));
    if (injected !== undefined) {
      injected.times -= 1;
      if (injected.status === 429) {
        const retry = injected.retryAfter ?? 1;
        return this.#send(
          response,
          429,
          { id: 'too_many_requests', message: 'API Rate limit exceeded.' },
          { 'retry-after': String(retry), 'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retry) },
        );
      }
      return this.#error(
        response,
        injected.status,
        'server_error',
        'Server was unable to give you a response.',
      );
    }
    if (request.headers.authorization !== `Bearer ${this.#options.token}`) {
      return this.#error(response, 401, 'Unauthorized', 'Unable to authenticate you');
    }
    const segments = url.pathname.split('/').filter(Boolean);
    if (segments[0] !== 'v2')
      return this.#error(response, 404, 'not_found', 'The resource you requested could not be found.');
    const [, resource, id, sub] = segments;
    const input = (body ?? {}) as Record<string, unknown>;

    if (resource === 'account' && id === undefined && method === 'GET') {
      return this.#send(response, 200, {
        account: {
          droplet_limit: this.#options.dropletLimit,
          floating_ip_limit: 3,
          volume_limit: 100,
          email: 'operator@example.com',
          uuid: 'b6fc48dbf6d9906cace5f9f6ac0a5d1e8f5e1cbd',
          email_verified: true,
          status: 'active',
          status_message: '',
        },
      });
    }
    if (resource === 'account' && id === 'keys' && method === 'GET') {
      return this.#page(
        response,
        url,
        'ssh_keys',
        this.#options.sshKeys.map((key) => ({
          ...key,
          fingerprint: `3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:${String(key.id % 100).padStart(2, '0')}:fa`,
        })),
      );
    }
    if (resource === 'regions' && method === 'GET') {
      return this.#page(
        response,
        url,
        'regions',
        this.#options.regions.map((slug) => ({
          slug,
          name: slug,
          sizes: this.#options.sizes,
          available: true,
          features: ['backups', 'ipv6', 'metadata'],
        })),
      );
    }
    if (resource === 'sizes' && method === 'GET') {
      return this.#page(
        response,
        url,
        'sizes',
        this.#options.sizes.map((slug) => ({
          slug,
          memory: 1024,
          vcpus: 1,
          disk: 25,
          transfer: 1,
          price_monthly: 6,
          price_hourly: 0.00893,
          regions: this.#options.regions,
          available: true,
          description: 'Basic',
        })),
      );
    }
    if (resource === 'droplets') {
      if (id === undefined && method === 'GET') {
        const tag = url.searchParams.get('tag_name');
        const list = [...this.droplets.values()].filter(
          (droplet) => tag === null || droplet.tags.includes(tag),
        );
        return this.#page(
          response,
          url,
          'droplets',
          list.map((droplet) => this.#view(droplet)),
        );
      }
      if (id === undefined && method === 'POST') {
        const name = input['name'];
        const region = input['region'];
        const size = input['size'];
        const image = input['image'];
        if (typeof name !== 'string' || !/^[a-zA-Z0-9.-]+$/.test(name))
          return this.#error(response, 422, 'unprocessable_entity', 'Name is invalid.');
        if (typeof region !== 'string' || !this.#options.regions.includes(region))
          return this.#error(
            response,
            422,
            'unprocessable_entity',
            'You specified an invalid region for Droplet creation.',
          );
        if (typeof size !== 'string' || !this.#options.sizes.includes(size))
          return this.#error(
            response,
            422,
            'unprocessable_entity',
            'You specified an invalid size for Droplet creation.',
          );
        if (typeof image !== 'string')
          return this.#error(
            response,
            422,
            'unprocessable_entity',
            'You specified an invalid image for Droplet creation.',
          );
        if (this.droplets.size + 1 > this.#options.dropletLimit) {
          return this.#error(
            response,
            422,
            'unprocessable_entity',
            'creating this/these droplet(s) will exceed your droplet limit',
          );
        }
        const keys = (input['ssh_keys'] as unknown[] | undefined) ?? [];
        if (
          keys.some(
            (key) => !this.#options.sshKeys.some((known) => known.id === key || known.public_key === key),
          )
        ) {
          return this.#error(response, 422, 'unprocessable_entity', 'SSH Key is invalid.');
        }
        const address =
          this.#options.addresses[this.#addressIndex % Math.max(1, this.#options.addresses.length)] ??
          '203.0.113.10';
        this.#addressIndex += 1;
        const droplet = this.#addDroplet(
          {
            name,
            region,
            size,
            image,
            tags: (input['tags'] as string[] | undefined) ?? [],
            ...(typeof input['user_data'] === 'string' ? { user_data: input['user_data'] } : {}),
          },
          address,
        );
        droplet.networks.v4 = []; // assigned once the droplet is active
        const action = this.#action('create', droplet.id, 'droplet');
        (droplet as Droplet & { pendingAddress?: string }).pendingAddress = address;
        return this.#send(response, 202, {
          droplet: this.#view(droplet),
          links: { actions: [{ id: action.id, rel: 'create', href: `${this.url}/v2/actions/${action.id}` }] },
        });
      }
      const droplet = this.droplets.get(Number(id));
      if (droplet === undefined)
        return this.#error(response, 404, 'not_found', 'The resource you requested could not be found.');
      if (method === 'GET' && sub === undefined) {
        if (droplet.status === 'new') {
          droplet.readsUntilActive -= 1;
          if (droplet.readsUntilActive <= 0) {
            droplet.status = 'active';
            const pending = (droplet as Droplet & { pendingAddress?: string }).pendingAddress;
            if (pending)
              droplet.networks.v4 = [
                {
                  ip_address: pending,
                  netmask: '255.255.255.0',
                  gateway: pending.replace(/\.\d+$/, '.1'),
                  type: 'public',
                },
              ];
          }
        }
        const { pendingAddress: _, ...shown } = this.#view(droplet) as Droplet & { pendingAddress?: string };
        return this.#send(response, 200, { droplet: shown });
      }
      if (method === 'DELETE' && sub === undefined) {
        this.droplets.delete(droplet.id);
        for (const volume of this.volumes.values())
          volume.droplet_ids = volume.droplet_ids.filter((d) => d !== droplet.id);
        for (const firewall of this.firewalls.values())
          firewall.droplet_ids = firewall.droplet_ids.filter((d) => d !== droplet.id);
        return this.#send(response, 204);
      }
    }
    if (resource === 'actions' && id !== undefined && method === 'GET') {
      return this.#send(response, 200, {
        action: { ...this.#action('create', 0, 'droplet'), id: Number(id) },
      });
    }
    if (resource === 'volumes') {
      if (id === undefined && method === 'GET') {
        const name = url.searchParams.get('name');
        const region = url.searchParams.get('region');
        const list = [...this.volumes.values()].filter(
          (volume) =>
            (name === null || volume.name === name) && (region === null || volume.region.slug === region),
        );
        return this.#page(response, url, 'volumes', list);
      }
      if (id === undefined && method === 'POST') {
        const name = input['name'];
        const size = input['size_gigabytes'];
        const region = input['region'];
        if (typeof name !== 'string' || !/^[a-z0-9-]{1,64}$/.test(name))
          return this.#error(
            response,
            422,
            'unprocessable_entity',
            'name must be lowercase letters, digits and dashes',
          );
        if (typeof size !== 'number' || size < 1)
          return this.#error(response, 422, 'unprocessable_entity', 'size_gigabytes is required');
        if (typeof region !== 'string' || !this.#options.regions.includes(region))
          return this.#error(response, 422, 'unprocessable_entity', 'region is invalid');
        if (
          [...this.volumes.values()].some((volume) => volume.name === name && volume.region.slug === region)
        ) {
          return this.#error(
            response,
            409,
            'conflict',
            'a volume with that name already exists in this region',
          );
        }
        const volume: Volume = {
          id: randomUUID(),
          name,
          size_gigabytes: size,
          region: { slug: region },
          droplet_ids: [],
          filesystem_type:
            typeof input['filesystem_type'] === 'string' ? (input['filesystem_type'] as string) : '',
          tags: (input['tags'] as string[] | undefined) ?? [],
        };
        this.volumes.set(volume.id, volume);
        return this.#send(response, 201, { volume });
      }
      const volume = this.volumes.get(id ?? '');
      if (volume === undefined)
        return this.#error(response, 404, 'not_found', 'The resource you requested could not be found.');
      if (sub === 'actions' && method === 'POST') {
        const dropletId = Number(input['droplet_id']);
        const droplet = this.droplets.get(dropletId);
        if (droplet === undefined)
          return this.#error(response, 422, 'unprocessable_entity', 'Droplet not found');
        if (input['type'] === 'attach') {
          if (volume.droplet_ids.length > 0 && !volume.droplet_ids.includes(dropletId)) {
            return this.#error(
              response,
              422,
              'unprocessable_entity',
              'Volume is already attached to another Droplet',
            );
          }
          volume.droplet_ids = [dropletId];
          if (!droplet.volume_ids.includes(volume.id)) droplet.volume_ids.push(volume.id);
        } else if (input['type'] === 'detach') {
          volume.droplet_ids = volume.droplet_ids.filter((d) => d !== dropletId);
          droplet.volume_ids = droplet.volume_ids.filter((v) => v !== volume.id);
        } else {
          return this.#error(response, 422, 'unprocessable_entity', 'unknown action type');
        }
        return this.#send(response, 202, {
          action: this.#action(String(input['type']), volume.id, 'volume'),
        });
      }
      if (method === 'DELETE' && sub === undefined) {
        if (volume.droplet_ids.length > 0)
          return this.#error(response, 409, 'conflict', 'Volume is attached to a Droplet; detach it first');
        this.volumes.delete(volume.id);
        return this.#send(response, 204);
      }
    }
    if (resource === 'firewalls') {
      if (id === undefined && method === 'GET')
        return this.#page(response, url, 'firewalls', [...this.firewalls.values()]);
      if (id === undefined && method === 'POST') {
        if (typeof input['name'] !== 'string')
          return this.#error(response, 422, 'unprocessable_entity', 'name is required');
        const firewall: Firewall = {
          id: randomUUID(),
          name: input['name'],
          status: 'succeeded',
          inbound_rules: (input['inbound_rules'] as unknown[]) ?? [],
          outbound_rules: (input['outbound_rules'] as unknown[]) ?? [],
          droplet_ids: (input['droplet_ids'] as number[]) ?? [],
          tags: (input['tags'] as string[]) ?? [],
          created_at: new Date().toISOString(),
          pending_changes: [],
        };
        this.firewalls.set(firewall.id, firewall);
        return this.#send(response, 202, { firewall });
      }
      const firewall = this.firewalls.get(id ?? '');
      if (firewall === undefined)
        return this.#error(response, 404, 'not_found', 'The resource you requested could not be found.');
      if (method === 'PUT' && sub === undefined) {
        Object.assign(firewall, {
          name: input['name'] ?? firewall.name,
          inbound_rules: input['inbound_rules'] ?? [],
          outbound_rules: input['outbound_rules'] ?? [],
          droplet_ids: input['droplet_ids'] ?? [],
          tags: input['tags'] ?? [],
        });
        return this.#send(response, 200, { firewall });
      }
      if (method === 'DELETE' && sub === undefined) {
        this.firewalls.delete(firewall.id);
        return this.#send(response, 204);
      }
    }
    if (resource === 'tags') {
      if (id === undefined && method === 'POST') {
        if (typeof input['name'] !== 'string')
          return this.#error(response, 422, 'unprocessable_entity', 'name is required');
        this.tags.add(input['name']);
        return this.#send(response, 201, { tag: { name: input['name'], resources: { count: 0 } } });
      }
      if (id !== undefined && method === 'DELETE') {
        if (!this.tags.has(id))
          return this.#error(response, 404, 'not_found', 'The resource you requested could not be found.');
        this.tags.delete(id);
        return this.#send(response, 204);
      }
    }
    return this.#error(response, 404, 'not_found', 'The resource you requested could not be found.');
  }
}
