import { describe, expect, it } from 'vitest';
import {
  composeArgs,
  composeConfigArgs,
  composePullArgs,
  composeRunArgs,
  composeStopArgs,
  composeUpArgs,
  composeVersionArgs,
} from '../../src/docker/compose.js';

const t = { project: 'shop-production', file: '.stagecraft/shop-production/compose.yml' };
const base = 'docker compose -p shop-production -f .stagecraft/shop-production/compose.yml';
const line = (argv: string[]) => argv.join(' ');

describe('docker compose argv', () => {
  it('composeArgs puts the project and file first', () => {
    expect(line(composeArgs('p', 'c.yml', 'ps'))).toBe('docker compose -p p -f c.yml ps');
    expect(composeArgs('p', 'c.yml')).toEqual(['docker', 'compose', '-p', 'p', '-f', 'c.yml']);
  });

  it('config --format json, with and without profiles', () => {
    expect(line(composeConfigArgs({ file: '/app/docker-compose.yml', projectDir: '/app' }))).toBe(
      'docker -H unix:///dev/null/stagecraft-compose-config compose -f /app/docker-compose.yml --project-directory /app config --format json',
    );
    expect(line(composeConfigArgs({ file: 'c.yml', projectDir: '.', profiles: ['app', 'ops'] }))).toBe(
      'docker -H unix:///dev/null/stagecraft-compose-config compose -f c.yml --project-directory . --profile app --profile ops config --format json',
    );
  });

  it('config passes the environment’s env files, and /dev/null when it has none (no .env)', () => {
    expect(
      line(composeConfigArgs({ file: 'c.yml', projectDir: '.', envFiles: ['/p/.env.a', '/p/.env.b'] })),
    ).toBe(
      'docker -H unix:///dev/null/stagecraft-compose-config compose -f c.yml --project-directory . --env-file /p/.env.a --env-file /p/.env.b config --format json',
    );
    expect(line(composeConfigArgs({ file: 'c.yml', projectDir: '.', envFiles: [] }))).toBe(
      'docker -H unix:///dev/null/stagecraft-compose-config compose -f c.yml --project-directory . --env-file /dev/null config --format json',
    );
  });

  it('version', () => {
    expect(line(composeVersionArgs())).toBe('docker compose version --short');
  });

  // The forms the house runs: rollout/replace.ts (start-first, stop-first/recreate) and dev/stack.ts.
  it('start-first scale-up keeps the old containers', () => {
    expect(line(composeUpArgs(t, ['api'], { noRecreate: true, scale: { api: 4 } }))).toBe(
      `${base} up -d --no-deps --no-recreate --scale api=4 api`,
    );
  });

  it('stop-first recreate at the replica count', () => {
    expect(line(composeUpArgs(t, ['db'], { forceRecreate: true, scale: { db: 1 } }))).toBe(
      `${base} up -d --no-deps --force-recreate --scale db=1 db`,
    );
  });

  it('dev: up --wait with dependencies', () => {
    expect(line(composeUpArgs(t, ['db', 'cache'], { wait: true, noDeps: false }))).toBe(
      `${base} up -d --wait db cache`,
    );
  });

  it('up with every option, in a fixed order', () => {
    expect(
      line(
        composeUpArgs(t, ['web', 'api'], {
          wait: true,
          waitTimeoutSeconds: 60,
          noRecreate: true,
          forceRecreate: true,
          pull: 'never',
          quietPull: true,
          removeOrphans: true,
          scale: { web: 2, api: 3 },
        }),
      ),
    ).toBe(
      `${base} up -d --wait --wait-timeout 60 --no-deps --no-recreate --force-recreate --pull never --quiet-pull --remove-orphans --scale api=3 --scale web=2 web api`,
    );
    expect(line(composeUpArgs(t, [], { noDeps: false }))).toBe(`${base} up -d`);
    expect(line(composeUpArgs(t, ['api'], { waitTimeoutSeconds: 5 }))).toBe(`${base} up -d --no-deps api`);
  });

  it('pull', () => {
    expect(line(composePullArgs(t, ['api', 'web']))).toBe(`${base} pull --quiet api web`);
    expect(line(composePullArgs(t, ['api'], { quiet: false, ignoreBuildable: true }))).toBe(
      `${base} pull --ignore-buildable api`,
    );
  });

  it('stop', () => {
    expect(line(composeStopArgs(t, ['api']))).toBe(`${base} stop api`);
    expect(line(composeStopArgs(t, ['api'], { timeoutSeconds: 30 }))).toBe(`${base} stop -t 30 api`);
    expect(line(composeStopArgs(t))).toBe(`${base} stop`);
  });

  it('run: one-off container, env names only, never values', () => {
    expect(line(composeRunArgs(t, 'api', ['node', 'migrate.mjs']))).toBe(
      `${base} run --rm --no-deps -T api node migrate.mjs`,
    );
    expect(
      line(
        composeRunArgs(t, 'api', ['sh', '-c', 'echo ok'], {
          envNames: ['DATABASE_URL', 'A'],
          name: 'shop-migrate-1',
          user: 'node',
          workdir: '/app',
          entrypoint: '',
          noTty: false,
        }),
      ),
    ).toBe(
      `${base} run --rm --no-deps --name shop-migrate-1 --user node --workdir /app --entrypoint  -e A -e DATABASE_URL api sh -c echo ok`,
    );
  });
});
