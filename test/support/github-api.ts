// A local HTTP server that speaks the part of the GitHub REST API that `stagecraft ci run` and
// `ci secrets` use, written from GitHub's REST reference (docs.github.com/rest/actions):
//   POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches   204, or 200 with run details
//   GET  /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs          paginated (Link header)
//   GET  /repos/{owner}/{repo}/actions/runs/{run_id}
//   GET  /repos/{owner}/{repo}/actions/runs/{run_id}/jobs                    paginated (Link header)
//   GET  /repos/{owner}/{repo}/actions/secrets/public-key
//   PUT  /repos/{owner}/{repo}/actions/secrets/{secret_name}                 201 created, 204 updated
// Authentication (`Authorization: token|Bearer`), 401/404/422 bodies, the x-ratelimit-* headers and
// rate-limited answers (403/429 with retry-after or x-ratelimit-remaining: 0) are as documented.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sodium from 'libsodium-wrappers';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  authorization: string | undefined;
  accept: string | undefined;
  body: unknown;
}

export interface InjectedFailure {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface FakeRun {
  id: number;
  workflow: string;
  branch: string;
  event: string;
  created_at: string;
  /** How many GETs of the run it takes to go queued → in_progress → completed. */
  conclusion: 'success' | 'failure' | 'cancelled';
  polls: number;
}

export interface FakeGitHubOptions {
  token: string;
  repository: string;
  workflows: string[];
  /** Answer return_run_details with 200 and the run id (GitHub since 2026-02); false: reject it with 422 like an older GHES. */
  runDetails: boolean;
  /** Page size the server uses at most (GitHub: per_page up to 100). */
  maxPerPage: number;
  conclusion: 'success' | 'failure' | 'cancelled';
  /** Runs that exist before the test (for the run to be found among them). */
  existingRuns?: number;
  /** Jobs of a dispatched run. */
  jobs: string[];
}

const DOCS = 'https://docs.github.com/rest';

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly secrets = new Map<string, string>();
  readonly failures: InjectedFailure[] = [];
  readonly runs: FakeRun[] = [];
  readonly keyPair: { publicKey: Uint8Array; privateKey: Uint8Array };
  readonly #server: Server;
  readonly #options: FakeGitHubOptions;
  #nextRunId = 5000;
  #runPolls = new Map<number, number>();

  private constructor(
    options: FakeGitHubOptions,
    keyPair: { publicKey: Uint8Array; privateKey: Uint8Array },
  ) {
    this.#options = options;
    this.keyPair = keyPair;
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    const old = new Date(Date.now() - 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (let index = 0; index < (options.existingRuns ?? 0); index++) {
      this.runs.push({
        id: this.#nextRunId++,
        workflow: options.workflows[options.workflows.length - 1]!,
        branch: 'main',
        event: 'workflow_dispatch',
        created_at: old,
        conclusion: 'success',
        polls: 0,
      });
    }
  }

  static async start(options: FakeGitHubOptions): Promise<FakeGitHub> {
    await sodium.ready;
    const fake = new FakeGitHub(options, sodium.crypto_box_keypair());
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The value a PUT stored, opened with the repository's private key. */
  decrypted(name: string): string | undefined {
    const sealed = this.secrets.get(name);
    if (sealed === undefined) return undefined;
    const bytes = sodium.crypto_box_seal_open(
      sodium.from_base64(sealed, sodium.base64_variants.ORIGINAL),
      this.keyPair.publicKey,
      this.keyPair.privateKey,
    );
    return sodium.to_string(bytes);
  }

  #send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const reset = String(Math.floor(Date.now() / 1000) + 3600);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': reset,
      'x-ratelimit-used': '1',
      'x-ratelimit-resource': 'core',
      'x-github-api-version-selected': '2022-11-28',
      ...headers,
    });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }

  #run(run: FakeRun) {
    const base = `${this.url}/repos/${this.#options.repository}`;
    const polls = this.#runPolls.get(run.id) ?? 0;
    // GETs of the run so far: the first sees it queued, then in progress, completed from `polls` on.
    const status =
      run.polls === 0 || polls >= run.polls ? 'completed' : polls <= 1 ? 'queued' : 'in_progress';
    return {
      id: run.id,
      name: 'Stagecraft deploy',
      head_branch: run.branch,
      event: run.event,
      status,
      conclusion: status === 'completed' ? run.conclusion : null,
      workflow_id: 161335,
      path: `.github/workflows/${run.workflow}`,
      run_number: run.id - 4000,
      created_at: run.created_at,
      url: `${base}/actions/runs/${run.id}`,
      html_url: `https://github.com/${this.#options.repository}/actions/runs/${run.id}`,
      jobs_url: `${base}/actions/runs/${run.id}/jobs`,
    };
  }

  /** Link header as GitHub writes it: next/last (and prev/first past page 1). */
  #page<T>(req: URL, items: T[]): { slice: T[]; link: string | undefined } {
    const perPage = Math.min(Number(req.searchParams.get('per_page') ?? 30), this.#options.maxPerPage);
    const page = Number(req.searchParams.get('page') ?? 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const at = (n: number) => {
      const url = new URL(req);
      url.searchParams.set('page', String(n));
      return `<${url.toString()}>`;
    };
    const links = [
      ...(page < last ? [`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`] : []),
      ...(page > 1 ? [`${at(page - 1)}; rel="prev"`, `${at(1)}; rel="first"`] : []),
    ];
    return {
      slice: items.slice((page - 1) * perPage, page * perPage),
      link: links.length > 0 ? links.join(', ') : undefined,
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw === '' ? undefined : JSON.parse(raw);
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      accept: req.headers.accept,
      body,
    });
    const failure = this.failures.shift();
    if (failure !== undefined) return this.#send(res, failure.status, failure.body, failure.headers);

    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${this.#options.token}` && auth !== `Bearer ${this.#options.token}`) {
      return this.#send(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
    }
    const url = new URL(req.url ?? '/', this.url);
    const notFound = () =>
      this.#send(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
    const prefix = `/repos/${this.#options.repository}/actions/`;
    if (!url.pathname.startsWith(prefix)) return notFound();
    const rest = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent);

    if (req.method === 'POST' && rest[0] === 'workflows' && rest[2] === 'dispatches' && rest.length === 3) {
      const workflow = rest[1]!;
      if (!this.#options.workflows.includes(workflow)) return notFound();
      const request = body as { ref?: string; inputs?: Record<string, string>; return_run_details?: boolean };
      if (request.return_run_details !== undefined && !this.#options.runDetails) {
        return this.#send(res, 422, {
          message: 'Invalid request.\n\n"return_run_details" is not a permitted key.',
          documentation_url: DOCS,
          status: '422',
        });
      }
      if (request.ref !== 'main') {
        return this.#send(res, 422, {
          message: `No ref found for: ${request.ref}`,
          documentation_url: DOCS,
          status: '422',
        });
      }
      const run: FakeRun = {
        id: this.#nextRunId++,
        workflow,
        branch: request.ref,
        event: 'workflow_dispatch',
        created_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        conclusion: this.#options.conclusion,
        polls: 3,
      };
      this.runs.push(run);
      if (request.return_run_details === true) {
        const details = this.#run(run);
        return this.#send(res, 200, {
          workflow_run_id: run.id,
          run_url: details.url,
          html_url: details.html_url,
        });
      }
      res.writeHead(204, { 'x-ratelimit-remaining': '4998' });
      return void res.end();
    }

    if (req.method === 'GET' && rest[0] === 'workflows' && rest[2] === 'runs' && rest.length === 3) {
      const workflow = rest[1]!;
      if (!this.#options.workflows.includes(workflow)) return notFound();
      const created = url.searchParams.get('created');
      const since = created?.startsWith('>=') ? created.slice(2) : undefined;
      const matching = this.runs
        .filter((run) => run.workflow === workflow)
        .filter(
          (run) => url.searchParams.get('event') === null || run.event === url.searchParams.get('event'),
        )
        .filter(
          (run) => url.searchParams.get('branch') === null || run.branch === url.searchParams.get('branch'),
        )
        .filter((run) => since === undefined || run.created_at >= since)
        .sort((a, b) => b.id - a.id)
        .map((run) => this.#run(run));
      const { slice, link } = this.#page(url, matching);
      return this.#send(
        res,
        200,
        { total_count: matching.length, workflow_runs: slice },
        link ? { link } : {},
      );
    }

    if (
      req.method === 'GET' &&
      rest[0] === 'runs' &&
      (rest.length === 2 || (rest.length === 3 && rest[2] === 'jobs'))
    ) {
      const run = this.runs.find((candidate) => String(candidate.id) === rest[1]);
      if (run === undefined) return notFound();
      if (rest.length === 2) {
        this.#runPolls.set(run.id, (this.#runPolls.get(run.id) ?? 0) + 1);
        return this.#send(res, 200, this.#run(run));
      }
      const status = this.#run(run).status;
      const jobs = this.#options.jobs.map((name, index) => ({
        id: run.id * 10 + index,
        run_id: run.id,
        name,
        status,
        conclusion: status === 'completed' ? run.conclusion : null,
        html_url: `https://github.com/${this.#options.repository}/actions/runs/${run.id}/job/${run.id * 10 + index}`,
      }));
      const { slice, link } = this.#page(url, jobs);
      return this.#send(res, 200, { total_count: jobs.length, jobs: slice }, link ? { link } : {});
    }

    if (req.method === 'GET' && rest.join('/') === 'secrets/public-key') {
      return this.#send(res, 200, {
        key_id: '568250167242549743',
        key: sodium.to_base64(this.keyPair.publicKey, sodium.base64_variants.ORIGINAL),
      });
    }

    if (req.method === 'PUT' && rest[0] === 'secrets' && rest.length === 2) {
      const request = body as { encrypted_value?: string; key_id?: string };
      if (request.key_id !== '568250167242549743' || typeof request.encrypted_value !== 'string') {
        return this.#send(res, 422, { message: 'Invalid request.', documentation_url: DOCS, status: '422' });
      }
      const existed = this.secrets.has(rest[1]!);
      this.secrets.set(rest[1]!, request.encrypted_value);
      res.writeHead(existed ? 204 : 201, { 'content-type': 'application/json; charset=utf-8' });
      return void res.end(existed ? '' : '{}');
    }
    return notFound();
  }
}
