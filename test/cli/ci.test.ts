// `stagecraft ci init|run|secrets`, the built CLI run as a user runs it, against a local server that
// speaks the GitHub REST API (test/support/github-api.ts). Every command a run starts goes through
// recording shims on PATH, so the token is shown to be in no argv as well as in no output.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../support/dev.js';
import { FakeGitHub, type FakeGitHubOptions } from '../support/github-api.js';

const SHOP = fileURLToPath(new URL('../../examples/shop/', import.meta.url));
const TOKEN = 'ghp_test0token0that0must0never0show0up';
const SECRET_VALUES = ['shop-demo-password', 'postgres://shop:shop-demo-password@db:5432/shop'];

let root: string;
let project: string;
let shims: string;
let argvLog: string;
let github: FakeGitHub | undefined;

function which(binary: string): string {
  return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim();
}

/** Shims that record every argv (one line each) and run the real binary; `gh` prints the token. */
function makeShims(): void {
  shims = join(root, 'shims');
  mkdirSync(shims);
  argvLog = join(root, 'argv.log');
  writeFileSync(argvLog, '');
  for (const binary of ['git', 'ssh-keygen']) {
    const path = join(shims, binary);
    writeFileSync(
      path,
      `#!/bin/sh\nprintf '%s %s\\n' "${binary}" "$*" >> '${argvLog}'\nexec '${which(binary)}' "$@"\n`,
    );
    chmodSync(path, 0o755);
  }
  const gh = join(shims, 'gh');
  writeFileSync(
    gh,
    `#!/bin/sh\nprintf 'gh %s\\n' "$*" >> '${argvLog}'\n[ "$1 $2" = "auth token" ] && [ -n "$FAKE_GH_TOKEN" ] && { printf '%s\\n' "$FAKE_GH_TOKEN"; exit 0; }\necho "not logged in" >&2; exit 1\n`,
  );
  chmodSync(gh, 0o755);
}

function git(args: string[]): void {
  execFileSync('git', args, { cwd: project, stdio: 'ignore' });
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-ci-'));
  project = join(root, 'shop');
  cpSync(SHOP, project, {
    recursive: true,
    filter: (path) => !path.includes('node_modules') && !path.includes('.stagecraft'),
  });
  // The deploy key and pinned host keys `ci secrets` reads: real OpenSSH key files.
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'deploy',
    '-f',
    join(project, 'deploy_key'),
  ]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(root, 'hostkey')]);
  const hostKey = readFileSync(join(root, 'hostkey.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(
    join(project, 'known_hosts'),
    ['h1', 'h2', 'h3', 'other'].map((host) => `${host} ${hostKey}`).join('\n') + '\n',
  );
  const config = readFileSync(join(project, 'stagecraft.yml'), 'utf8').replace(
    '    ssh:\n      user: root\n',
    '    ssh:\n      user: root\n      identity_file: ./deploy_key\n      known_hosts_file: ./known_hosts\n',
  );
  writeFileSync(join(project, 'stagecraft.yml'), config);
  git(['init', '-q', '-b', 'main']);
  git(['remote', 'add', 'origin', 'git@github.com:acme/shop.git']);
  makeShims();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

afterEach(async () => {
  await github?.stop();
  github = undefined;
});

beforeEach(() => {
  writeFileSync(argvLog, '');
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv({ PATH: `${shims}:${process.env['PATH'] ?? ''}`, ...extra });
}

async function stagecraft(args: string[], extra: Record<string, string> = {}) {
  const result = await runCli(args, { cwd: project, env: env(extra), timeoutMs: 60_000 });
  const all = result.stdout + result.stderr;
  // The token never shows: not in output, not in any command's argv.
  expect(all).not.toContain(TOKEN);
  expect(readFileSync(argvLog, 'utf8')).not.toContain(TOKEN);
  return { ...result, all };
}

async function startGitHub(options: Partial<FakeGitHubOptions> = {}): Promise<FakeGitHub> {
  github = await FakeGitHub.start({
    token: TOKEN,
    repository: 'acme/shop',
    workflows: ['stagecraft-plan.yml', 'stagecraft-deploy.yml'],
    runDetails: true,
    maxPerPage: 100,
    conclusion: 'success',
    jobs: ['deploy (production)'],
    ...options,
  });
  return github;
}

function requestLines(fake: FakeGitHub): string[] {
  return fake.requests.map((request) => `${request.method} ${decodeURIComponent(request.url)}`);
}

describe('stagecraft ci init', () => {
  const plan = () => join(project, '.github/workflows/stagecraft-plan.yml');
  const deploy = () => join(project, '.github/workflows/stagecraft-deploy.yml');

  it('--dry-run lists the files it would create with their lines, and writes nothing', async () => {
    const dry = await stagecraft(['ci', 'init', '--dry-run']);
    expect(dry.code, dry.all).toBe(0);
    expect(existsSync(join(project, '.github'))).toBe(false);
    const counts = [...dry.stdout.matchAll(/^✓ (\S+) would be created \((\d+) lines\): /gm)].map((match) => [
      match[1],
      Number(match[2]),
    ]);
    expect(counts.map(([path]) => path)).toEqual([
      '.github/workflows/stagecraft-plan.yml',
      '.github/workflows/stagecraft-deploy.yml',
    ]);
    expect(dry.stderr).toContain(
      'nothing was written (--dry-run); run it without --dry-run to write the files\n',
    );
    expect((await stagecraft(['ci', 'init'])).code).toBe(0);
    for (const [path, lines] of counts) {
      expect(readFileSync(join(project, path as string), 'utf8').split('\n')).toHaveLength(
        (lines as number) + 1,
      );
    }
    rmSync(join(project, '.github'), { recursive: true });
  });

  it('refuses a --branch that is not a branch name, writing nothing', async () => {
    for (const branch of ['', 'main..x', 'feature branch', '-main', 'main.lock']) {
      const result = await stagecraft(['ci', 'init', '--branch', branch]);
      expect(result.code, result.all).toBe(1);
      expect(result.stderr).toContain(`error: --branch ${JSON.stringify(branch)} is not a branch name`);
    }
    expect(existsSync(join(project, '.github'))).toBe(false);
  });

  it('writes both workflows at the repository root and lists the secrets to create', async () => {
    const result = await stagecraft(['ci', 'init']);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toContain('✓ .github/workflows/stagecraft-plan.yml created');
    expect(result.stdout).toContain('✓ .github/workflows/stagecraft-deploy.yml created');
    expect(result.stdout).toMatch(/^ {2}STAGECRAFT_SSH_PRIVATE_KEY {2}/m);
    expect(result.stdout).toMatch(/^ {2}STAGECRAFT_SSH_KNOWN_HOSTS +known_hosts lines of h1, h2, h3$/m);
    // The env file is git-ignored: the deploy job writes it back from this secret.
    expect(result.stdout).toMatch(
      /^ {2}STAGECRAFT_ENV_FILE_PRODUCTION +content of \.env\.production \(environments\.production\.env_file; git-ignored\)$/m,
    );
    expect(result.stdout).toMatch(/^ {2}POSTGRES_PASSWORD +POSTGRES_PASSWORD \(secrets\.keys\[0\]\)$/m);
    expect(result.stdout).toMatch(/^ {2}DATABASE_URL +DATABASE_URL \(databases\.main\.connection_env\)$/m);
    expect(result.stderr).toContain('project.registry 127.0.0.1:5000/shop is on this machine');
    const text = readFileSync(deploy(), 'utf8');
    expect(text).toContain('      - main\n');
    expect(text).toContain('known_hosts=./known_hosts');
    for (const value of SECRET_VALUES) expect(text + readFileSync(plan(), 'utf8')).not.toContain(value);
  });

  it('a second run changes nothing', async () => {
    const before = readFileSync(deploy(), 'utf8');
    const result = await stagecraft(['ci', 'init']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('= .github/workflows/stagecraft-deploy.yml unchanged');
    expect(readFileSync(deploy(), 'utf8')).toBe(before);
  });

  it('refuses to overwrite an edited workflow without --force, and changes nothing', async () => {
    const edited = readFileSync(deploy(), 'utf8').replace('timeout-minutes: 30', 'timeout-minutes: 45');
    writeFileSync(deploy(), edited);
    const refused = await stagecraft(['ci', 'init', '--branch', 'release']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'not overwriting .github/workflows/stagecraft-deploy.yml (edited since `stagecraft ci init` wrote it)',
    );
    expect(refused.stderr).toContain('pass --force');
    expect(readFileSync(deploy(), 'utf8')).toBe(edited);
    expect(readFileSync(plan(), 'utf8')).toContain('Stagecraft plan');

    const forced = await stagecraft(['ci', 'init', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('✓ .github/workflows/stagecraft-deploy.yml updated');
    expect(readFileSync(deploy(), 'utf8')).toContain('timeout-minutes: 30');
  });

  it('--dry-run shows the unified diff of an edited workflow it would refuse, and changes nothing', async () => {
    const generated = readFileSync(deploy(), 'utf8');
    const lines = generated.split('\n');
    const at = lines.indexOf('    timeout-minutes: 30');
    expect(at).toBeGreaterThan(3);
    const edited = generated.replace('    timeout-minutes: 30', '    timeout-minutes: 45');
    writeFileSync(deploy(), edited);
    const result = await stagecraft(['ci', 'init', '--dry-run']);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toContain(
      [
        '= .github/workflows/stagecraft-plan.yml would be unchanged: pull requests: config check and deploy plan per environment',
        '✗ .github/workflows/stagecraft-deploy.yml would be refused (edited since `stagecraft ci init` wrote it): pass --force to replace it with the diff below',
        '--- a/.github/workflows/stagecraft-deploy.yml',
        '+++ b/.github/workflows/stagecraft-deploy.yml',
        `@@ -${at - 2},7 +${at - 2},7 @@`,
        ...lines.slice(at - 3, at).map((line) => ` ${line}`),
        '-    timeout-minutes: 45',
        '+    timeout-minutes: 30',
        ...lines.slice(at + 1, at + 4).map((line) => ` ${line}`),
        '',
      ].join('\n'),
    );
    expect(result.stderr).toContain(', with --force to replace the refused ones\n');
    expect(readFileSync(deploy(), 'utf8')).toBe(edited);
    writeFileSync(deploy(), generated);
  });

  it('rewrites an unedited workflow when the config changed (here: the deploy branch)', async () => {
    const result = await stagecraft(['ci', 'init', '--branch', 'release']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('✓ .github/workflows/stagecraft-deploy.yml updated');
    expect(readFileSync(deploy(), 'utf8')).toContain('      - release\n');
    await stagecraft(['ci', 'init', '--branch', 'main']);
  });

  it('refuses a workflow file it did not write', async () => {
    writeFileSync(plan(), 'name: mine\non: push\n');
    const result = await stagecraft(['ci', 'init']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stagecraft-plan.yml (not written by `stagecraft ci init`)');
    expect(readFileSync(plan(), 'utf8')).toBe('name: mine\non: push\n');
    expect((await stagecraft(['ci', 'init', '--force'])).code).toBe(0);
  });

  it('rejects an unknown provider with the list', async () => {
    const result = await stagecraft(['ci', 'init', '--provider', 'gitlab']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown CI provider "gitlab"');
    expect(result.stderr).toContain('available: github');
  });
});

describe('stagecraft ci run', () => {
  it('dispatches the deploy workflow, follows its job and exits 0 when the run succeeds', async () => {
    const fake = await startGitHub();
    const result = await stagecraft(['ci', 'run', '-e', 'production', '--watch', '--interval', '20ms'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(0);
    const since = /created=>=(\S+?)&/.exec(decodeURIComponent(fake.requests[0]!.url))?.[1];
    expect(since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(requestLines(fake)).toEqual([
      `GET /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/runs?event=workflow_dispatch&branch=main&created=>=${since}&per_page=100`,
      'POST /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/dispatches',
      'GET /repos/acme/shop/actions/runs/5000',
      'GET /repos/acme/shop/actions/runs/5000/jobs?filter=latest&per_page=100',
      'GET /repos/acme/shop/actions/runs/5000',
      'GET /repos/acme/shop/actions/runs/5000/jobs?filter=latest&per_page=100',
      'GET /repos/acme/shop/actions/runs/5000',
      'GET /repos/acme/shop/actions/runs/5000/jobs?filter=latest&per_page=100',
    ]);
    expect(fake.requests[1]!.body).toEqual({
      ref: 'main',
      inputs: { environment: 'production' },
      return_run_details: true,
    });
    for (const request of fake.requests) {
      expect(request.authorization).toBe(`token ${TOKEN}`);
      expect(request.accept).toBe('application/vnd.github.v3+json');
    }
    expect(result.stderr).toContain('started run 5000 of stagecraft-deploy.yml for production on main');
    expect(result.stderr).toContain('  deploy (production): queued');
    expect(result.stderr).toContain('  deploy (production): in_progress');
    expect(result.stderr).toContain('  deploy (production): success');
    expect(result.stdout).toContain('✓ Run 5000 succeeded: https://github.com/acme/shop/actions/runs/5000');
  });

  it('exits 2 with the conclusion when the run fails', async () => {
    const fake = await startGitHub({ conclusion: 'failure' });
    const result = await stagecraft(['ci', 'run', '-e', 'production', '--watch', '--interval', '20ms'], {
      GITHUB_API_URL: fake.url,
      GH_TOKEN: TOKEN,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('run 5000 of the deploy workflow finished: failure');
    expect(result.stderr).toContain('deploy (production): failure');
  });

  it('on a GitHub without run details: retries the dispatch without them and finds the new run across pages', async () => {
    const fake = await startGitHub({ runDetails: false, maxPerPage: 2, existingRuns: 0 });
    const result = await stagecraft(
      ['ci', 'run', '-e', 'production', '--ref', 'main', '--interval', '20ms'],
      {
        GITHUB_API_URL: fake.url,
        GITHUB_TOKEN: TOKEN,
      },
    );
    expect(result.code, result.all).toBe(0);
    expect(requestLines(fake).map((line) => line.replace(/created=>=\S+?&/, 'created=>=T&'))).toEqual([
      'GET /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/runs?event=workflow_dispatch&branch=main&created=>=T&per_page=100',
      'POST /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/dispatches',
      'POST /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/dispatches',
      'GET /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/runs?event=workflow_dispatch&branch=main&created=>=T&per_page=100',
      'GET /repos/acme/shop/actions/runs/5000',
    ]);
    expect(fake.requests[2]!.body).toEqual({ ref: 'main', inputs: { environment: 'production' } });
    expect(result.stdout).toContain('✓ Started run 5000: https://github.com/acme/shop/actions/runs/5000');
  });

  it('follows Link pagination to find the run among recent ones', async () => {
    const fake = await startGitHub({ runDetails: false, maxPerPage: 2 });
    // Three recent runs before ours: the listing spans two pages before and after the dispatch.
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const id of [4001, 4002, 4003]) {
      fake.runs.push({
        id,
        workflow: 'stagecraft-deploy.yml',
        branch: 'main',
        event: 'workflow_dispatch',
        created_at: now,
        conclusion: 'success',
        polls: 0,
      });
    }
    const result = await stagecraft(['ci', 'run', '-e', 'production', '--ref', 'main'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(0);
    const lines = requestLines(fake).map((line) => line.replace(/created=>=\S+?&/, 'created=>=T&'));
    const list =
      'GET /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/runs?event=workflow_dispatch&branch=main&created=>=T&per_page=100';
    expect(lines).toEqual([
      list,
      `${list}&page=2`,
      'POST /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/dispatches',
      'POST /repos/acme/shop/actions/workflows/stagecraft-deploy.yml/dispatches',
      list,
      `${list}&page=2`,
      'GET /repos/acme/shop/actions/runs/5000',
    ]);
    expect(result.stdout).toContain('✓ Started run 5000');
  });

  it('waits out a primary rate limit (403, x-ratelimit-remaining 0, until x-ratelimit-reset)', async () => {
    const fake = await startGitHub();
    fake.failures.push({
      status: 403,
      headers: {
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000)),
      },
      body: {
        message: 'API rate limit exceeded for user ID 1.',
        documentation_url: 'https://docs.github.com/rest',
      },
    });
    const started = Date.now();
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(result.stderr).toMatch(/GitHub rate limit \(403\): waiting [12] s before retrying/);
    expect(requestLines(fake)[0]).toBe(requestLines(fake)[1]);
    expect(requestLines(fake)).toHaveLength(4);
  });

  it('waits out a secondary rate limit (429 with retry-after)', async () => {
    const fake = await startGitHub();
    fake.failures.push(
      { status: 200, headers: {}, body: { total_count: 0, workflow_runs: [] } },
      {
        status: 429,
        headers: { 'retry-after': '1' },
        body: {
          message: 'You have exceeded a secondary rate limit.',
          documentation_url: 'https://docs.github.com/rest',
        },
      },
    );
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(0);
    expect(result.stderr).toContain('GitHub rate limit (429): waiting 1 s before retrying');
    expect(requestLines(fake).filter((line) => line.startsWith('POST'))).toHaveLength(2);
  });

  it('a bad token: exit 1, "Bad credentials", and nothing dispatched', async () => {
    const fake = await startGitHub();
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: 'ghp_wrong',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('GitHub rejected the token (401: Bad credentials)');
    expect(result.stderr).toContain('set GITHUB_TOKEN or GH_TOKEN');
    expect(requestLines(fake).filter((line) => line.startsWith('POST'))).toEqual([]);
  });

  it('a repository or workflow GitHub does not know: exit 1 with what to check', async () => {
    const fake = await startGitHub({ workflows: ['stagecraft-plan.yml'] });
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'GitHub found no such thing while trying to list the runs of stagecraft-deploy.yml in acme/shop (404: Not Found)',
    );
    const other = await stagecraft(['ci', 'run', '-e', 'production', '--repo', 'acme/other'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('in acme/other (404: Not Found)');
  });

  it('takes the token from `gh auth token` when no variable holds one', async () => {
    const fake = await startGitHub();
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      FAKE_GH_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(0);
    expect(readFileSync(argvLog, 'utf8')).toContain('gh auth token\n');
    expect(fake.requests[0]!.authorization).toBe(`token ${TOKEN}`);
  });

  it('without any token: exit 1 and how to get one, no request made', async () => {
    const fake = await startGitHub();
    const result = await stagecraft(['ci', 'run', '-e', 'production'], { GITHUB_API_URL: fake.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no github token: GITHUB_TOKEN and GH_TOKEN are unset');
    expect(fake.requests).toEqual([]);
  });

  it('a malformed GITHUB_API_URL: exit 1 naming it and the expected form, no request', async () => {
    for (const [value, why] of [
      ['not a url', '"not a url" is not a URL'],
      ['ftp://github.example', 'ftp://github.example is not an http(s) URL'],
    ]) {
      const result = await stagecraft(['ci', 'run', '-e', 'production'], {
        GITHUB_TOKEN: TOKEN,
        GITHUB_API_URL: value!,
      });
      expect(result.code, result.all).toBe(1);
      expect(result.stderr).toBe(
        `error: GITHUB_API_URL ${why}: expected https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server\n` +
          'hint: fix GITHUB_API_URL, or unset it to use https://api.github.com\n',
      );
    }
  });

  it('a port fetch refuses (http://127.0.0.1:1): exit 1 naming GITHUB_API_URL', async () => {
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: 'http://127.0.0.1:1',
    });
    expect(result.code, result.all).toBe(1);
    expect(result.stderr).toContain(
      'error: GITHUB_API_URL http://127.0.0.1:1 uses a port that fetch refuses to connect to (a blocked port)\n',
    );
  });

  it('nothing listening at GITHUB_API_URL: exit 2, "could not reach" the URL, not an outage', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: `http://127.0.0.1:${port}/`,
    });
    expect(result.code, result.all).toBe(2);
    expect(result.stderr).toBe(
      `error: could not reach http://127.0.0.1:${port} (from GITHUB_API_URL) to list the runs of stagecraft-deploy.yml: connect ECONNREFUSED 127.0.0.1:${port}\n` +
        'hint: check GITHUB_API_URL (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server) and the network\n',
    );
  });

  it('a 5xx from the API at GITHUB_API_URL: exit 2, and no githubstatus.com hint for a server that is not github.com', async () => {
    const fake = await startGitHub();
    fake.failures.push({ status: 502, headers: {}, body: { message: 'Bad Gateway' } });
    const result = await stagecraft(['ci', 'run', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(2);
    expect(result.stderr).toBe(
      'error: the GitHub API failed to list the runs of stagecraft-deploy.yml (502: Bad Gateway)\n' +
        `hint: try again later; the API at ${fake.url} comes from GITHUB_API_URL: its administrators know its state\n`,
    );
  });

  it('refuses an environment CI does not deploy', async () => {
    const result = await stagecraft(['ci', 'run', '-e', 'local'], {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: 'http://127.0.0.1:9',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('local is not an environment CI deploys');
  });
});

describe('stagecraft ci secrets', () => {
  it('stores every secret the workflows read, sealed for the repository key; values never printed', async () => {
    const fake = await startGitHub();
    const result = await stagecraft(['ci', 'secrets', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(0);
    expect(requestLines(fake)).toEqual([
      'GET /repos/acme/shop/actions/secrets/public-key',
      'PUT /repos/acme/shop/actions/secrets/DATABASE_URL',
      'PUT /repos/acme/shop/actions/secrets/POSTGRES_PASSWORD',
      'PUT /repos/acme/shop/actions/secrets/STAGECRAFT_ENV_FILE_PRODUCTION',
      'PUT /repos/acme/shop/actions/secrets/STAGECRAFT_SSH_KNOWN_HOSTS',
      'PUT /repos/acme/shop/actions/secrets/STAGECRAFT_SSH_PRIVATE_KEY',
    ]);
    expect(fake.decrypted('POSTGRES_PASSWORD')).toBe('shop-demo-password');
    expect(fake.decrypted('STAGECRAFT_ENV_FILE_PRODUCTION')).toBe(
      readFileSync(join(project, '.env.production'), 'utf8'),
    );
    expect(fake.decrypted('DATABASE_URL')).toBe('postgres://shop:shop-demo-password@db:5432/shop');
    expect(fake.decrypted('STAGECRAFT_SSH_PRIVATE_KEY')).toBe(
      readFileSync(join(project, 'deploy_key'), 'utf8'),
    );
    const knownHosts = fake.decrypted('STAGECRAFT_SSH_KNOWN_HOSTS')!;
    expect(
      knownHosts
        .trim()
        .split('\n')
        .map((line) => line.split(' ')[0]),
    ).toEqual(['h1', 'h2', 'h3']);
    for (const request of fake.requests.filter((entry) => entry.method === 'PUT')) {
      expect(request.body).toEqual({ encrypted_value: expect.any(String), key_id: '568250167242549743' });
      for (const value of SECRET_VALUES) expect(JSON.stringify(request.body)).not.toContain(value);
    }
    expect(result.stdout).toMatch(/✓ POSTGRES_PASSWORD +created +from secrets\.keys\[0\] \(production\)/);
    expect(result.stdout).toMatch(/✓ STAGECRAFT_SSH_KNOWN_HOSTS +created +from .*known_hosts \(3 hosts\)/);
    for (const value of [...SECRET_VALUES, 'PRIVATE KEY']) expect(result.all).not.toContain(value);

    const again = await stagecraft(['ci', 'secrets', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/✓ POSTGRES_PASSWORD +updated/);
  });

  it('--dry-run names the sources and sends nothing', async () => {
    const fake = await startGitHub();
    const result = await stagecraft(['ci', 'secrets', '-e', 'production', '--dry-run'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
    });
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(
      /✓ DATABASE_URL +would set +from DATABASE_URL \(production env_file or environment\)/,
    );
    expect(fake.requests).toEqual([]);
  });

  it('an API that answers 200 without a public key: exit 2 naming GITHUB_API_URL, nothing stored', async () => {
    const requests: string[] = [];
    const server = createHttpServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"message":"not GitHub"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await stagecraft(['ci', 'secrets', '-e', 'production'], {
        GITHUB_API_URL: url,
        GITHUB_TOKEN: TOKEN,
      });
      expect(result.code, result.all).toBe(2);
      expect(result.stderr).toContain(
        `error: the API at ${url} answered the repository public key request without a key (expected {key_id, key})`,
      );
      expect(requests).toEqual(['GET /repos/acme/shop/actions/secrets/public-key']);
      for (const value of SECRET_VALUES) expect(result.all).not.toContain(value);
    } finally {
      server.close();
    }
  });

  it('refuses a public key as the deploy key (file or variable), before anything is sent', async () => {
    const fake = await startGitHub();
    const env = { GITHUB_API_URL: fake.url, GITHUB_TOKEN: TOKEN };
    const publicKey = readFileSync(join(project, 'deploy_key.pub'), 'utf8');
    const fromFile = await stagecraft(
      ['ci', 'secrets', '-e', 'production', '--ssh-key', 'deploy_key.pub'],
      env,
    );
    expect(fromFile.code, fromFile.all).toBe(1);
    expect(fromFile.stderr).toBe(
      `error: ${project}/deploy_key.pub is a public key, not the SSH private key the deploy workflow needs\n` +
        `hint: pass --ssh-key ${project}/deploy_key (the same name without .pub)\n`,
    );
    const fromVariable = await stagecraft(['ci', 'secrets', '-e', 'production'], {
      ...env,
      STAGECRAFT_SSH_PRIVATE_KEY: publicKey,
    });
    expect(fromVariable.code, fromVariable.all).toBe(1);
    expect(fromVariable.stderr).toContain(
      'error: $STAGECRAFT_SSH_PRIVATE_KEY is a public key, not the SSH private key the deploy workflow needs\n',
    );
    writeFileSync(join(root, 'not-a-key'), 'hello\n');
    const other = await stagecraft(
      ['ci', 'secrets', '-e', 'production', '--ssh-key', join(root, 'not-a-key')],
      env,
    );
    expect(other.code, other.all).toBe(1);
    expect(other.stderr).toContain(
      `error: ${join(root, 'not-a-key')} is not an SSH private key: it has no "-----BEGIN ... PRIVATE KEY-----" line\n`,
    );
    for (const result of [fromFile, fromVariable, other])
      expect(result.all).not.toContain(publicKey.split(' ')[1]);
    expect(fake.requests).toEqual([]);
  });

  it('STAGECRAFT_SSH_KNOWN_HOSTS without a key for every deploy host: exit 1 naming them, nothing sent', async () => {
    const fake = await startGitHub();
    const lines = readFileSync(join(project, 'known_hosts'), 'utf8').split('\n');
    const result = await stagecraft(['ci', 'secrets', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
      STAGECRAFT_SSH_KNOWN_HOSTS: `${lines[0]}\n`,
    });
    expect(result.code, result.all).toBe(1);
    expect(result.stderr).toBe(
      'error: $STAGECRAFT_SSH_KNOWN_HOSTS has no host key for h2, h3\n' +
        "hint: add them with `ssh-keyscan -H h2 >> known_hosts`, `ssh-keyscan -H h3 >> known_hosts`, check the fingerprints (`ssh-keygen -lf known_hosts`) against each host's own, then set STAGECRAFT_SSH_KNOWN_HOSTS from that file (or unset it to read the environment's known_hosts_file) and run this again\n",
    );
    expect(fake.requests).toEqual([]);

    const complete = await stagecraft(['ci', 'secrets', '-e', 'production'], {
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: TOKEN,
      STAGECRAFT_SSH_KNOWN_HOSTS: lines.slice(0, 3).join('\n'),
    });
    expect(complete.code, complete.all).toBe(0);
    expect(fake.decrypted('STAGECRAFT_SSH_KNOWN_HOSTS')).toBe(lines.slice(0, 3).join('\n'));
  });

  it('a known_hosts file without a key for a deploy host: exit 1 with the ssh-keyscan line to add it', async () => {
    const fake = await startGitHub();
    const file = join(project, 'known_hosts');
    const saved = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      saved
        .split('\n')
        .filter((line) => !line.startsWith('h3 '))
        .join('\n'),
    );
    try {
      const result = await stagecraft(['ci', 'secrets', '-e', 'production'], {
        GITHUB_API_URL: fake.url,
        GITHUB_TOKEN: TOKEN,
      });
      expect(result.code, result.all).toBe(1);
      expect(result.stderr).toBe(
        `error: ${file} has no host key for h3\n` +
          `hint: add it with \`ssh-keyscan -H h3 >> ${file}\`, check the fingerprints (\`ssh-keygen -lf ${file}\`) against each host's own, then run this again\n`,
      );
      expect(fake.requests).toEqual([]);
    } finally {
      writeFileSync(file, saved);
    }
  });

  it('a missing value stops everything before anything is sent', async () => {
    const fake = await startGitHub();
    const envFile = join(project, '.env.production');
    const saved = readFileSync(envFile, 'utf8');
    writeFileSync(envFile, 'DATABASE_URL=postgres://x@db/shop\n');
    try {
      const result = await stagecraft(['ci', 'secrets', '-e', 'production'], {
        GITHUB_API_URL: fake.url,
        GITHUB_TOKEN: TOKEN,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('no value for POSTGRES_PASSWORD');
      expect(result.stderr).toContain('nothing was sent');
      expect(fake.requests).toEqual([]);
    } finally {
      writeFileSync(envFile, saved);
    }
  });
});
