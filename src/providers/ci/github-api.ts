// The GitHub REST API calls of `ci run` and `ci secrets`, through Octokit (@octokit/core with the
// pagination plugin): workflow dispatch, workflow runs, jobs, the repository's public key and its
// secrets. Rate limits are waited out as GitHub documents them (retry-after, else
// x-ratelimit-remaining: 0 until x-ratelimit-reset); other failures become errors with a kind.
import { Octokit } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { ExternalError, UserError } from '../../util/errors.js';
import { PUBLIC_API } from './github.js';
import type { CiConnection, CiRunOutcome, CiRunRequest, CiSecretValue } from './types.js';

const GitHub = Octokit.plugin(paginateRest);
type GitHubClient = InstanceType<typeof GitHub>;

/** How many times one request is retried after a rate limit, and the longest wait we accept. */
const RATE_LIMIT_RETRIES = 3;
const MAX_RATE_LIMIT_WAIT_MS = 15 * 60_000;
/** Without retry-after or an exhausted quota, GitHub asks to wait at least a minute (secondary limits). */
const SECONDARY_LIMIT_WAIT_MS = 60_000;
/** How long `ci run` looks for the run it started when the API does not say which one it is. */
const FIND_RUN_TIMEOUT_MS = 60_000;

interface HttpFailure {
  status: number;
  headers: Record<string, string | number | undefined>;
  message: string;
  /** False when no answer came back (Octokit reports a failed fetch as status 500 without a response). */
  responded?: boolean;
}

function failureOf(error: unknown): HttpFailure | undefined {
  const candidate = error as {
    status?: unknown;
    response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
    message?: string;
  };
  if (typeof candidate?.status !== 'number') return undefined;
  const data = candidate.response?.data as { message?: unknown } | undefined;
  return {
    status: candidate.status,
    headers: candidate.response?.headers ?? {},
    message: typeof data?.message === 'string' ? data.message : (candidate.message ?? ''),
    responded: candidate.response !== undefined,
  };
}

/**
 * How long to wait before retrying a rate-limited request (ms), or undefined when the failure is not
 * a rate limit. GitHub: 403 or 429; `retry-after` seconds first; else `x-ratelimit-remaining: 0`
 * until `x-ratelimit-reset` (UTC epoch seconds); else a secondary limit: at least one minute.
 */
export function rateLimitWaitMs(failure: HttpFailure, nowMs: number): number | undefined {
  if (failure.status !== 403 && failure.status !== 429) return undefined;
  const retryAfter = Number(failure.headers['retry-after']);
  if (failure.headers['retry-after'] !== undefined && Number.isFinite(retryAfter)) {
    return Math.max(0, retryAfter * 1000);
  }
  if (String(failure.headers['x-ratelimit-remaining']) === '0') {
    const reset = Number(failure.headers['x-ratelimit-reset']);
    return Number.isFinite(reset) ? Math.max(0, reset * 1000 - nowMs) + 1000 : SECONDARY_LIMIT_WAIT_MS;
  }
  if (failure.status === 429 || /secondary rate limit|rate limit/i.test(failure.message)) {
    return SECONDARY_LIMIT_WAIT_MS;
  }
  return undefined;
}

/**
 * No answer from the API (refused, no such host, TLS, …): an ExternalError naming the URL, or a
 * UserError when no request can ever leave for it (a port fetch refuses).
 */
function unreachable(error: unknown, what: string, baseUrl: string): Error {
  const reason = (error as { message?: unknown } | undefined)?.message;
  const because = typeof reason === 'string' && reason !== '' ? `: ${reason}` : '';
  const source = baseUrl === PUBLIC_API ? '' : ' (from GITHUB_API_URL)';
  if (because === ': bad port') {
    return new UserError(
      `GITHUB_API_URL ${baseUrl} uses a port that fetch refuses to connect to (a blocked port)`,
      {
        hint: 'use the port the API listens on (https: 443), or unset GITHUB_API_URL for https://api.github.com',
      },
    );
  }
  return new ExternalError(`could not reach ${baseUrl}${source} to ${what}${because}`, {
    hint:
      source === ''
        ? 'check the network connection (and proxy settings), then try again'
        : 'check GITHUB_API_URL (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server) and the network',
    cause: error,
  });
}

/** Turns a failed API call into an error a person can act on; the token is never part of it. */
export function apiError(
  error: unknown,
  what: string,
  connection: Pick<CiConnection, 'baseUrl' | 'repository'>,
): Error {
  const failure = failureOf(error);
  if (failure === undefined || failure.responded === false)
    return unreachable(error, what, connection.baseUrl);
  const detail = failure.message === '' ? '' : `: ${failure.message}`;
  switch (failure.status) {
    case 401:
      return new UserError(`GitHub rejected the token (401${detail}) while trying to ${what}`, {
        hint: 'set GITHUB_TOKEN or GH_TOKEN to a valid token, or run `gh auth login`',
      });
    case 403:
      return new UserError(`GitHub refused to ${what} in ${connection.repository} (403${detail})`, {
        hint: 'the token needs the Actions (read and write) and Secrets (write) permissions on this repository',
      });
    case 404:
      return new UserError(
        `GitHub found no such thing while trying to ${what} in ${connection.repository} (404${detail})`,
        {
          hint: 'check --repo, that the token can see the repository, and that the workflow is committed and pushed (`stagecraft ci init`)',
        },
      );
    case 422:
      return new UserError(`GitHub did not accept the request to ${what} (422${detail})`, {
        hint: 'check --ref (a branch or tag that exists on GitHub) and that the workflow has a workflow_dispatch trigger',
      });
    default:
      return new ExternalError(`the GitHub API failed to ${what} (${failure.status}${detail})`, {
        hint:
          connection.baseUrl === PUBLIC_API
            ? 'try again later; https://www.githubstatus.com shows incidents'
            : `try again later; the API at ${connection.baseUrl} comes from GITHUB_API_URL: its administrators know its state`,
      });
  }
}

/** An Octokit client for the connection that waits out rate limits (bounded) and is silent. */
export function githubClient(connection: CiConnection, userAgent: string): GitHubClient {
  const client = new GitHub({
    auth: connection.token.reveal(),
    baseUrl: connection.baseUrl,
    userAgent,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  client.hook.wrap('request', async (request, options) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request(options);
      } catch (error) {
        const failure = failureOf(error);
        const wait = failure === undefined ? undefined : rateLimitWaitMs(failure, Date.now());
        if (wait === undefined || attempt >= RATE_LIMIT_RETRIES || wait > MAX_RATE_LIMIT_WAIT_MS) throw error;
        connection.log(
          `GitHub rate limit (${failure!.status}): waiting ${Math.ceil(wait / 1000)} s before retrying`,
        );
        await connection.sleep(wait);
      }
    }
  });
  return client;
}

function splitRepository(repository: string): { owner: string; repo: string } {
  const [owner, repo] = repository.split('/') as [string, string];
  return { owner, repo };
}

interface WorkflowRun {
  id: number;
  html_url: string;
  status: string | null;
  conclusion: string | null;
  created_at: string;
}

interface WorkflowJob {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
}

async function listRecentRunIds(
  client: GitHubClient,
  connection: CiConnection,
  request: CiRunRequest,
  since: string,
): Promise<WorkflowRun[]> {
  try {
    return (await client.paginate('GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs', {
      ...splitRepository(connection.repository),
      workflow_id: request.workflowFile,
      event: 'workflow_dispatch',
      branch: request.ref,
      created: `>=${since}`,
      per_page: 100,
    })) as WorkflowRun[];
  } catch (error) {
    throw apiError(error, `list the runs of ${request.workflowFile}`, connection);
  }
}

/** Dispatches the workflow; the run id when the API returns it (return_run_details), else undefined. */
async function dispatch(
  client: GitHubClient,
  connection: CiConnection,
  request: CiRunRequest,
): Promise<number | undefined> {
  const route = 'POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches';
  const parameters = {
    ...splitRepository(connection.repository),
    workflow_id: request.workflowFile,
    ref: request.ref,
    inputs: { environment: request.environment },
  };
  try {
    const response = await client.request(route, { ...parameters, return_run_details: true });
    const data = response.data as { workflow_run_id?: unknown } | undefined;
    return typeof data?.workflow_run_id === 'number' ? data.workflow_run_id : undefined;
  } catch (error) {
    const failure = failureOf(error);
    // GitHub Enterprise Server versions from before the parameter reject it: dispatch without it.
    if (
      failure !== undefined &&
      (failure.status === 400 || failure.status === 422) &&
      /return_run_details/.test(failure.message)
    ) {
      try {
        await client.request(route, parameters);
        return undefined;
      } catch (retryError) {
        throw apiError(retryError, `dispatch ${request.workflowFile}`, connection);
      }
    }
    throw apiError(error, `dispatch ${request.workflowFile}`, connection);
  }
}

/** Finds the run a dispatch started: the oldest run that was not there before it. */
async function findStartedRun(
  client: GitHubClient,
  connection: CiConnection,
  request: CiRunRequest,
  since: string,
  before: Set<number>,
): Promise<number> {
  const deadline = Date.now() + FIND_RUN_TIMEOUT_MS;
  for (;;) {
    const fresh = (await listRecentRunIds(client, connection, request, since)).filter(
      (run) => !before.has(run.id),
    );
    if (fresh.length > 0) return Math.min(...fresh.map((run) => run.id));
    if (Date.now() > deadline) {
      throw new ExternalError(
        `GitHub accepted the dispatch of ${request.workflowFile}, but no new run appeared within a minute`,
        {
          hint: `look at the Actions tab of ${connection.repository}`,
        },
      );
    }
    await connection.sleep(connection.pollIntervalMs);
  }
}

async function getRun(client: GitHubClient, connection: CiConnection, runId: number): Promise<WorkflowRun> {
  try {
    const response = await client.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}', {
      ...splitRepository(connection.repository),
      run_id: runId,
    });
    return response.data as WorkflowRun;
  } catch (error) {
    throw apiError(error, `read run ${runId}`, connection);
  }
}

async function listJobs(
  client: GitHubClient,
  connection: CiConnection,
  runId: number,
): Promise<WorkflowJob[]> {
  try {
    return (await client.paginate('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
      ...splitRepository(connection.repository),
      run_id: runId,
      filter: 'latest',
      per_page: 100,
    })) as WorkflowJob[];
  } catch (error) {
    throw apiError(error, `list the jobs of run ${runId}`, connection);
  }
}

function jobState(job: WorkflowJob): string {
  return job.status === 'completed' ? (job.conclusion ?? 'completed') : job.status;
}

/**
 * Starts the deploy workflow for an environment at a ref, finds its run and, with `watch`, reports
 * every job state change until the run completes. Errors: UserError (401/403/404/422), ExternalError.
 */
export async function runWorkflow(
  client: GitHubClient,
  connection: CiConnection,
  request: CiRunRequest,
): Promise<CiRunOutcome> {
  // Runs created from a minute before now (clock skew) that exist before the dispatch are not ours.
  const since = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  // Listed before the dispatch, to find our run if the API does not name it (older GHES).
  const before = new Set((await listRecentRunIds(client, connection, request, since)).map((run) => run.id));
  const runId =
    (await dispatch(client, connection, request)) ??
    (await findStartedRun(client, connection, request, since, before));
  let run = await getRun(client, connection, runId);
  connection.log(
    `started run ${runId} of ${request.workflowFile} for ${request.environment} on ${request.ref}: ${run.html_url}`,
  );
  if (!request.watch) return { runId, url: run.html_url, conclusion: undefined };
  const seen = new Map<number, string>();
  for (;;) {
    for (const job of await listJobs(client, connection, runId)) {
      const state = jobState(job);
      if (seen.get(job.id) !== state) {
        seen.set(job.id, state);
        connection.progress(`${job.name}: ${state}`);
      }
    }
    if (run.status === 'completed') break;
    await connection.sleep(connection.pollIntervalMs);
    run = await getRun(client, connection, runId);
  }
  return { runId, url: run.html_url, conclusion: run.conclusion ?? 'unknown' };
}

/**
 * Stores repository secrets: each value sealed with the repository's public key (libsodium sealed
 * box, as GitHub requires), then PUT; 201 means created, 204 updated. Values are never logged.
 */
export async function putSecrets(
  client: GitHubClient,
  connection: CiConnection,
  secrets: CiSecretValue[],
  seal: (value: string, publicKeyBase64: string) => Promise<string>,
): Promise<{ created: string[]; updated: string[] }> {
  const repository = splitRepository(connection.repository);
  let key: { key_id: string; key: string };
  try {
    key = (await client.request('GET /repos/{owner}/{repo}/actions/secrets/public-key', repository)).data;
  } catch (error) {
    throw apiError(error, 'read the repository public key for secrets', connection);
  }
  // A 32-byte Curve25519 key in base64 and its id, as the API documents; anything else is not GitHub.
  if (
    typeof key?.key_id !== 'string' ||
    typeof key.key !== 'string' ||
    Buffer.from(key.key, 'base64').length !== 32
  ) {
    throw new ExternalError(
      `the API at ${connection.baseUrl} answered the repository public key request without a key (expected {key_id, key})`,
      {
        hint: 'check GITHUB_API_URL: it must be the GitHub REST API (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise)',
      },
    );
  }
  const created: string[] = [];
  const updated: string[] = [];
  for (const secret of secrets) {
    const encrypted = await seal(secret.value.reveal(), key.key);
    try {
      const response = await client.request('PUT /repos/{owner}/{repo}/actions/secrets/{secret_name}', {
        ...repository,
        secret_name: secret.name,
        encrypted_value: encrypted,
        key_id: key.key_id,
      });
      ((response.status as number) === 201 ? created : updated).push(secret.name);
    } catch (error) {
      throw apiError(error, `set the secret ${secret.name}`, connection);
    }
  }
  return { created, updated };
}
