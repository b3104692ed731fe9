// Secret diffing and the remote scripts of `secrets sync` (run here with sh, as a host runs them), the
// resolution of values, and the compose patch that makes containers with old secrets show as outdated.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectHostCompose, renderCompose, renderEnvFile } from '../../src/compose/project.js';
import type { ComposeProject } from '../../src/compose/types.js';
import { buildEnvironmentModel } from '../../src/model/environment.js';
import {
  commandValue,
  pairsForKeys,
  patchCompose,
  resolveSecretValues,
  selectKeys,
} from '../../src/operations/secret-files.js';
import { hostsOutsideRelease } from '../../src/operations/secrets.js';
import { defaultSecretTypes, encoreSecretSetArgv } from '../../src/providers/secrets/encore.js';
import {
  diffKeys,
  envLineHashes,
  HASH_SCRIPT,
  hasChanges,
  MERGE_SCRIPT,
  mergeArgv,
  parseHashes,
  syncEnvFile,
} from '../../src/providers/secrets/envfile.js';
import { LocalRunner } from '../../src/runners/local.js';
import type { ReleaseRecord } from '../../src/state/types.js';
import { UserError } from '../../src/util/errors.js';
import { Secret } from '../../src/util/secret.js';
import { load } from '../support/config.js';

let dir: string;
const runner = () => new LocalRunner({ cwd: dir });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stagecraft-ops-secrets-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('diffKeys', () => {
  const wanted = envLineHashes(renderEnvFile({ A: 'one', B: 'two', C: 'three' }));

  it('reports added, changed, removed and unchanged keys by line hash', () => {
    const current = envLineHashes(renderEnvFile({ A: 'one', B: 'TWO', D: 'four' }));
    expect(diffKeys(wanted, current, false)).toEqual({
      added: ['C'],
      changed: ['B'],
      removed: ['D'],
      unchanged: ['A'],
    });
  });

  it('keeps other keys when merging (--keys) and treats a missing file as all added', () => {
    const current = envLineHashes(renderEnvFile({ A: 'one', D: 'four' }));
    expect(diffKeys(wanted, current, true).removed).toEqual([]);
    expect(diffKeys(wanted, undefined, false)).toEqual({
      added: ['A', 'B', 'C'],
      changed: [],
      removed: [],
      unchanged: [],
    });
    expect(hasChanges(diffKeys(wanted, wanted, false))).toBe(false);
  });

  it('lists keys a dry run did not resolve as unresolved, not as changed or unchanged', () => {
    const current = envLineHashes(renderEnvFile({ A: 'one', B: 'two' }));
    const changes = diffKeys(wanted, current, false, new Set(['B', 'C']));
    expect(changes).toEqual({ added: ['C'], changed: [], removed: [], unchanged: ['A'], unresolved: ['B'] });
    expect(hasChanges({ added: [], changed: [], removed: [], unchanged: ['A'], unresolved: ['B'] })).toBe(
      true,
    );
  });

  it('never carries a value: only names and 64-hex hashes', () => {
    const hashes = envLineHashes(renderEnvFile({ TOKEN: 'very-secret-value' }));
    expect([...hashes.keys()]).toEqual(['TOKEN']);
    expect([...hashes.values()][0]).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(diffKeys(hashes, undefined, false))).not.toContain('very-secret-value');
  });
});

describe('remote scripts (run with sh, as on a host)', () => {
  it('HASH_SCRIPT prints the same hashes as envLineHashes, and exits 44 without a file', async () => {
    const content = renderEnvFile({ A: 'x y $z "q"', B: 'multi\nline', EMPTY: '' });
    const path = join(dir, 'hash.env');
    await writeFile(path, content);
    const result = await runner().exec(['sh', '-c', HASH_SCRIPT, 'sh', path]);
    expect(parseHashes(result.stdout)).toEqual(envLineHashes(content));
    const missing = await runner().exec(['sh', '-c', HASH_SCRIPT, 'sh', join(dir, 'none.env')], {
      allowFailure: true,
    });
    expect(missing.exitCode).toBe(44);
  });

  it('MERGE_SCRIPT replaces the given keys, keeps the others, writes 0600 and prints the sha256', async () => {
    const path = join(dir, 'merge.env');
    await writeFile(path, renderEnvFile({ A: 'old', KEEP: 'kept' }), { mode: 0o644 });
    const lines = renderEnvFile({ A: 'new', B: 'added' });
    // A plan's merge step runs the provider's command: the same script, only the names in argv.
    expect(mergeArgv(path, new Secret(lines))).toEqual(['sh', '-c', MERGE_SCRIPT, 'sh', path, 'A,B']);
    const result = await runner().exec(mergeArgv(path, new Secret(lines)), {
      stdin: new Secret(lines),
    });
    const text = await readFile(path, 'utf8');
    expect(text).toBe(renderEnvFile({ A: 'new', B: 'added', KEEP: 'kept' }));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(result.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('syncEnvFile writes only when a key differs, 0600, and reports the keys', async () => {
    const path = join(dir, 'sync', 'app.env');
    const file = (pairs: Record<string, string>, merge = false) => ({
      path,
      service: 'api',
      content: new Secret(renderEnvFile(pairs)),
      merge,
    });
    const first = await syncEnvFile(runner(), file({ A: '1', B: '2' }));
    expect(first.written).toBe(true);
    expect(first.changes.added).toEqual(['A', 'B']);
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const again = await syncEnvFile(runner(), file({ A: '1', B: '2' }));
    expect(again).toMatchObject({ written: false, changes: { unchanged: ['A', 'B'], changed: [] } });

    const changed = await syncEnvFile(runner(), file({ A: '1', B: '3' }));
    expect(changed).toMatchObject({ written: true, changes: { changed: ['B'], unchanged: ['A'] } });
    expect(await readFile(path, 'utf8')).toBe(renderEnvFile({ A: '1', B: '3' }));

    const merged = await syncEnvFile(runner(), file({ C: '4' }, true));
    expect(merged.changes).toEqual({ added: ['C'], changed: [], removed: [], unchanged: [] });
    expect(await readFile(path, 'utf8')).toBe(renderEnvFile({ A: '1', B: '3', C: '4' }));
  });
});

describe('resolving values', () => {
  const yaml = `project: { name: shop }
secrets:
  provider: envfile
  keys:
    - API_TOKEN
    - { name: DB_PASSWORD, from_env: PG_PASS }
    - { name: FROM_COMMAND, command: [sh, -c, "printf 'cmd-value\\\\n'"] }
environments:
  production:
    driver: ssh
    env_file: .env.production
    hosts: { web: [h1] }
`;

  it('reads env files, process env (which wins), from_env and commands (one trailing newline dropped)', async () => {
    const loaded = load(yaml, {
      envName: 'production',
      env: { API_TOKEN: 'from-process' },
      files: { '.env.production': 'API_TOKEN=from-file\nPG_PASS=pg-secret\n' },
    });
    const values = await resolveSecretValues(loaded, ['API_TOKEN', 'DB_PASSWORD', 'FROM_COMMAND'], {
      API_TOKEN: 'from-process',
    });
    expect(Object.fromEntries([...values].map(([name, value]) => [name, value.reveal()]))).toEqual({
      API_TOKEN: 'from-process',
      DB_PASSWORD: 'pg-secret',
      FROM_COMMAND: 'cmd-value',
    });
    expect(String(values.get('API_TOKEN'))).toBe('[redacted]');
    expect(commandValue('abc\r\n')).toBe('abc');
    expect(commandValue('abc\n\n')).toBe('abc\n');
  });

  it('names every missing key at once, without values, and rejects unknown --keys', async () => {
    const loaded = load(yaml, { envName: 'production', files: { '.env.production': '' } });
    const error = await resolveSecretValues(loaded, ['API_TOKEN', 'DB_PASSWORD'], {}).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe('no value for secrets API_TOKEN, DB_PASSWORD (from PG_PASS)');
    expect(() => selectKeys(['API_TOKEN', 'DB_PASSWORD'], ['API_TOKN'])).toThrow(
      /not a secret of this project: API_TOKN \(did you mean "API_TOKEN"\?\)/,
    );
    expect(selectKeys(['A', 'B'], undefined)).toEqual(['A', 'B']);
  });

  it('a failing command reports its stderr, never its stdout', async () => {
    const failing = yaml.replace(
      `printf 'cmd-value\\\\n'`,
      `printf 'leaked-value'; echo 'not signed in' >&2; exit 3`,
    );
    const loaded = load(failing, { envName: 'production', files: { '.env.production': '' } });
    const error = (await resolveSecretValues(loaded, ['FROM_COMMAND'], {}).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('the command for secret FROM_COMMAND (sh) exited with code 3: not signed in');
    expect(error.message).not.toContain('leaked-value');
  });
});

describe('per-service pairs for --keys', () => {
  it('keeps the selected keys and the values built from them (a URL with the password)', () => {
    const values = new Map([['DB_PASSWORD', new Secret('s3cret-pw')]]);
    const pairs = {
      DB_PASSWORD: 's3cret-pw',
      DATABASE_URL: 'postgres://u:s3cret-pw@db/x',
      OTHER_TOKEN: 'zzz',
    };
    expect(pairsForKeys(pairs, ['DB_PASSWORD'], values)).toEqual({
      DB_PASSWORD: 's3cret-pw',
      DATABASE_URL: 'postgres://u:s3cret-pw@db/x',
    });
  });
});

describe('patchCompose', () => {
  const key = 'a1'.repeat(32);
  const local: ComposeProject = {
    name: 'shop',
    services: {
      api: { image: 'reg/api:v1', environment: { API_TOKEN: 'old-token-1', PORT: '3000' } },
      web: { image: 'reg/web:v1', labels: { team: 'shop' }, secrets: ['session_key'] },
    },
    secrets: { session_key: { environment: 'SESSION_KEY' } },
  };
  const variables = { SESSION_KEY: 'session-key-value' };
  /** What a deploy of `compose` (default `local`) with these values renders and records. */
  const deployed = (token: string, withWebSecret: boolean, compose: ComposeProject = local) =>
    projectHostCompose({
      compose: {
        ...compose,
        services: {
          ...compose.services,
          api: { ...compose.services['api']!, environment: { API_TOKEN: token, PORT: '3000' } },
        },
      },
      composeProjectName: 'shop-production',
      services: ['api', 'web'],
      images: {},
      secretValues: [token],
      secretNames: ['API_TOKEN', 'WEB_TOKEN'],
      remoteServices: {},
      releaseLabels: {},
      stagecraftServices: withWebSecret ? { web: { environment: { WEB_TOKEN: 'web-token-2' } } } : {},
      variables,
      specHashKey: key,
    });
  const before = deployed('old-token-1', false);
  const text = renderCompose(before.document).text;
  const hashInputs = { compose: local, variables, specHashKey: key };

  it('gives changed services the keyed spec hash a deploy with the new values records; others stay byte for byte', () => {
    const after = deployed('new-token-9', true);
    const patched = parse(
      patchCompose(
        text,
        { api: { API_TOKEN: 'new-token-9' }, web: { WEB_TOKEN: 'web-token-2' } },
        hashInputs,
      ),
    ) as { services: Record<string, { labels: Record<string, string>; env_file?: string[] }> };
    expect(patched.services['api']!.labels['stagecraft.spec-hash']).toBe(after.specHashes['api']);
    expect(patched.services['web']!.labels['stagecraft.spec-hash']).toBe(after.specHashes['web']);
    expect(patched.services['api']!.labels['stagecraft.spec-hash']).not.toBe(before.specHashes['api']);
    expect(patched.services['web']!.labels).toEqual({
      team: 'shop',
      'stagecraft.spec-hash': after.specHashes['web'],
    });
    expect(patched.services['api']!.env_file).toEqual(['secrets/api.env']);
    expect(patched.services['web']!.env_file).toEqual(['secrets/web.env']);
    expect(patchCompose(text, {}, hashInputs)).toBe(text);
  });

  it('a service restarted with a changed one (depends_on restart: true) gets the hash a deploy gives it', () => {
    const restarting: ComposeProject = {
      ...local,
      services: {
        ...local.services,
        web: {
          ...local.services['web']!,
          depends_on: { api: { condition: 'service_started', restart: true } },
        },
      },
    };
    const render = (token: string) => deployed(token, true, restarting);
    const old = render('old-token-1');
    const after = render('new-token-9');
    expect(after.specHashes['web']).not.toBe(old.specHashes['web']);
    const patched = parse(
      patchCompose(
        renderCompose(old.document).text,
        { web: { WEB_TOKEN: 'web-token-2' }, api: { API_TOKEN: 'new-token-9' } },
        { ...hashInputs, compose: restarting },
      ),
    ) as { services: Record<string, { labels: Record<string, string> }> };
    expect(patched.services['api']!.labels['stagecraft.spec-hash']).toBe(after.specHashes['api']);
    expect(patched.services['web']!.labels['stagecraft.spec-hash']).toBe(after.specHashes['web']);
  });

  it('with the same values the hash is the one already recorded; another key gives another hash', () => {
    const same = parse(patchCompose(text, { api: { API_TOKEN: 'old-token-1' } }, hashInputs)) as {
      services: Record<string, { labels: Record<string, string> }>;
    };
    expect(same.services['api']!.labels['stagecraft.spec-hash']).toBe(before.specHashes['api']);
    const other = parse(
      patchCompose(
        text,
        { api: { API_TOKEN: 'old-token-1' } },
        { ...hashInputs, specHashKey: 'b2'.repeat(32) },
      ),
    ) as { services: Record<string, { labels: Record<string, string> }> };
    expect(other.services['api']!.labels['stagecraft.spec-hash']).not.toBe(before.specHashes['api']);
  });
});

describe('encore', () => {
  it('puts the name in argv and nothing else; types follow the environment', () => {
    expect(encoreSecretSetArgv('API_TOKEN', ['prod'])).toEqual([
      'encore',
      'secret',
      'set',
      '--type',
      'prod',
      'API_TOKEN',
    ]);
    expect(defaultSecretTypes('production')).toEqual(['prod']);
    expect(defaultSecretTypes('dev')).toEqual(['local']);
    expect(defaultSecretTypes('staging')).toEqual(['dev']);
  });
});

describe('hostsOutsideRelease', () => {
  const config = `project: { name: shop, registry: reg/shop }
services:
  api: { role: web }
  db: { role: db }
environments:
  production:
    driver: ssh
    hosts:
      web: [{ name: h1, address: 10.0.0.1 }, { name: h2, address: 10.0.0.2 }]
      db: [{ name: h3, address: 10.0.0.3 }]
      spare: [{ name: h4, address: 10.0.0.4 }]
`;
  const compose = {
    services: { api: { image: 'api' }, db: { image: 'postgres' } },
  } as unknown as ComposeProject;
  const model = buildEnvironmentModel(load(config, { envName: 'production' }), compose);
  const release = (scope: ReleaseRecord['scope']): ReleaseRecord =>
    ({
      id: 'rel-20261201-100000000',
      hosts: { h1: { compose_sha256: 'a', services: ['api'] } },
      ...(scope === undefined ? {} : { scope }),
    }) as unknown as ReleaseRecord;

  it('names the hosts with services that a release limited to some hosts did not cover', () => {
    expect(hostsOutsideRelease(model, model.hosts, release({ hosts: ['h1'] }))).toEqual(['h2', 'h3']);
    expect(hostsOutsideRelease(model, model.hosts.slice(0, 1), release({ hosts: ['h1'] }))).toEqual([]);
  });

  it('names none for a release of the whole environment', () => {
    expect(hostsOutsideRelease(model, model.hosts, release(undefined))).toEqual([]);
  });
});
