// --hosts, --roles and --services on plan/deploy: globs match, both host flags narrow, and a pattern
// that matches nothing is an error before anything is planned (never "deploy to no host").
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stagecraft } from '../support/cli.js';

const SHOP = fileURLToPath(new URL('../../examples/shop/', import.meta.url));
let root: string;
let project: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'stagecraft-scope-'));
  project = join(root, 'shop');
  cpSync(SHOP, project, {
    recursive: true,
    filter: (path) => !path.includes('node_modules') && !path.includes('.stagecraft'),
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The hosts of the plan's `prepare:<host>` and `rollout:<host>:<service>` steps, sorted. */
function hostsOfSteps(stdout: string): string[] {
  const hosts = stdout
    .split('\n')
    .map((line) => /^(?:prepare|rollout):(h\d)\b/.exec(line.trim())?.[1])
    .filter((host) => host !== undefined);
  return [...new Set(hosts)].sort();
}

const plan = (...flags: string[]) =>
  stagecraft(['plan', '-e', 'production', '--version', 'v1', '--skip-migrations', ...flags], {
    cwd: project,
  });

describe('scope flags on plan', () => {
  it('--roles db plans only the db host; --hosts takes globs; both narrow', () => {
    const db = plan('--roles', 'db');
    expect(db.code, db.stderr).toBe(0);
    expect(hostsOfSteps(db.stdout)).toEqual(['h3']);
    expect(db.stdout).toMatch(/run `stagecraft deploy -e production --roles db [^`]*` to apply/);

    const web = plan('--hosts', 'h*');
    expect(web.code, web.stderr).toBe(0);
    expect(hostsOfSteps(web.stdout)).toEqual(['h1', 'h2', 'h3']);

    const one = plan('--hosts', 'h?', '--roles', 'web');
    expect(one.code, one.stderr).toBe(0);
    expect(hostsOfSteps(one.stdout)).toEqual(['h1', 'h2']);
  });

  it('--services takes globs: only the matching services roll out', () => {
    const result = plan('--services', 'w*');
    expect(result.code, result.stderr).toBe(0);
    const services = result.stdout
      .split('\n')
      .map((line) => /^rollout:h\d:(\w+)/.exec(line.trim())?.[1])
      .filter((name) => name !== undefined);
    expect([...new Set(services)]).toEqual(['web']);
  });

  it('a host, role or service that matches nothing stops with exit 1 and names what there is', () => {
    const host = plan('--hosts', 'h9');
    expect(host.code).toBe(1);
    expect(host.stderr).toBe(
      'error: no host matches "h9" (did you mean "h1"?); hosts of production: h1, h2, h3\nhint: check --hosts and --roles against the hosts of the environment in stagecraft.yml\n',
    );
    const role = plan('--roles', 'dbs');
    expect(role.code).toBe(1);
    expect(role.stderr).toContain('error: no role matches "dbs"; roles of production: web, db');
    const service = plan('--services', 'wbe');
    expect(service.code).toBe(1);
    expect(service.stderr).toBe(
      'error: no service matches "wbe" (did you mean "web"?); services of production: db, api, web\nhint: check --services against the services of the compose file\n',
    );
  });
});

describe('scope flags on the commands that act on the whole environment', () => {
  it('remove, prune and maintenance refuse them with exit 1 before reading anything, never widening to every host', () => {
    const remove = stagecraft(['remove', '-e', 'production', '--services', 'web', '--dry-run'], {
      cwd: project,
    });
    expect(remove.code).toBe(1);
    expect(remove.stdout).toBe('');
    expect(remove.stderr).toBe(
      'error: `stagecraft remove` takes the whole app off every host of the environment: --services does not apply\nhint: leave --services out (and unset STAGECRAFT_SERVICES if set)\n',
    );
    const prune = stagecraft(['prune', '-e', 'production', '--hosts', 'h1', '--roles', 'web', '--dry-run'], {
      cwd: project,
    });
    expect(prune.code).toBe(1);
    expect(prune.stderr).toContain(
      'error: `stagecraft prune` keeps the same releases on every host of the environment: --hosts and --roles do not apply',
    );
    // The variables are the flags' defaults: refused the same way.
    const maintenance = stagecraft(['maintenance', 'on', '-e', 'production', '--dry-run'], {
      cwd: project,
      env: { STAGECRAFT_HOSTS: 'h2' },
    });
    expect(maintenance.code).toBe(1);
    expect(maintenance.stderr).toContain(
      'error: `stagecraft maintenance` switches every route of the app on every gateway: --hosts does not apply',
    );
  });
});

describe('flags that would widen what a command does', () => {
  it('an empty --hosts, --roles or --services is refused, never read as "all"', () => {
    for (const [flag, value] of [
      ['--hosts', ''],
      ['--roles', ' , '],
      ['--services', ','],
    ] as const) {
      const result = plan(flag, value);
      expect(result.stderr).toContain(`error: ${flag} ${JSON.stringify(value)} names nothing`);
      expect(result.code).toBe(1);
    }
  });

  it('an empty --env or --config is refused, never read as the default (`-e "$UNSET"`)', () => {
    for (const [flag, value] of [
      ['--env', ''],
      ['-c', ' '],
    ] as const) {
      const result = stagecraft(['plan', flag, value, '--version', 'v1'], { cwd: project });
      const shown = flag === '-c' ? '--config' : flag;
      expect(result.stderr).toContain(`error: ${shown} ${JSON.stringify(value)} names nothing`);
      expect(result.code).toBe(1);
    }
  });

  it('--dry-run is refused by commands that have no dry run, before anything runs', () => {
    for (const [args, does] of [
      [['dev', '--only', 'backend'], 'dev` runs the dev stack'],
      [['dev', 'down'], 'dev down` stops the dev stack'],
      [['exec', 'api', '-e', 'production', '--', 'true'], 'exec` runs a command in a container'],
      [['ssh', 'h1', '-e', 'production', '--', 'true'], 'ssh` runs a shell or a command on a host'],
    ] as const) {
      const result = stagecraft(['--dry-run', ...args], { cwd: project });
      expect(result.stderr).toContain(
        `error: \`stagecraft ${does}: it has no dry run, and runs nothing with --dry-run`,
      );
      expect(result.code).toBe(1);
    }
  });
});
