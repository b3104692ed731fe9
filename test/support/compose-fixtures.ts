// Compose fixtures shared by tests: what the planners build with as the tests expect it (the `docker
// compose build` argv of one service and the compose file it reads on stdin: the service's `build:`
// section and the image to tag; literal on purpose, the tests compare the plan against these, not
// against src/), copies of the compose-fidelity cases, and whether the compose CLI is here.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

/** `docker compose -p stagecraft-build -f - --env-file /dev/null build <service>`. */
export function composeBuildArgv(service: string): string[] {
  return [
    'docker',
    'compose',
    '-p',
    'stagecraft-build',
    '-f',
    '-',
    '--env-file',
    '/dev/null',
    'build',
    service,
  ];
}

/** The build file of one service: project `stagecraft-build`, the image to tag, its `build:` (and more keys). */
export function composeBuildFile(
  service: string,
  image: string,
  build: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): { name: string; services: Record<string, Record<string, unknown>> } {
  return { name: 'stagecraft-build', services: { [service]: { image, ...extra, build } } };
}

/** The case folders of test/fixtures/compose-fidelity (issue 11's inputs). */
export const COMPOSE_FIDELITY_CASES = resolve(import.meta.dirname, '../fixtures/compose-fidelity');

/**
 * Copies of compose-fidelity case folders a test may change, under one temp folder (prefix) that is
 * removed after the file's tests. Call at the top of a test file.
 */
export function caseCopies(prefix: string): (name: string) => string {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  return (name) => {
    const dir = join(scratch, `${name}-${Math.random().toString(36).slice(2, 8)}`);
    cpSync(join(COMPOSE_FIDELITY_CASES, name), dir, { recursive: true });
    return dir;
  };
}

/**
 * Whether `docker compose` runs here (the compose-fidelity tests need it). In CI its absence is a
 * failing test, not a skip. Call at the top of a test file.
 */
export function composeCliAvailable(): boolean {
  const available = spawnSync('docker', ['compose', 'version']).status === 0;
  if (!available && process.env['CI'] === 'true') {
    it('docker compose is installed', () => expect.fail('CI must install the compose v2 plugin'));
  }
  return available;
}

/**
 * What `docker compose config --format json` reads from a compose file's `text` (written to a scratch
 * folder, removed again): the reference a rendered file is compared with. Throws what compose prints.
 */
export function composeConfigOfText<T = Record<string, unknown>>(text: string): T {
  const dir = mkdtempSync(join(tmpdir(), 'stagecraft-compose-text-'));
  try {
    writeFileSync(join(dir, 'compose.yml'), text);
    return JSON.parse(
      execFileSync('docker', ['compose', '-f', join(dir, 'compose.yml'), 'config', '--format', 'json'], {
        encoding: 'utf8',
      }),
    ) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
