import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type LoadedConfig, loadConfig } from '../../src/config/load.js';
import { builtinProviders } from '../../src/providers/index.js';

/** Writes files into a fresh temp folder and returns its path. */
export function projectWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'stagecraft-test-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
  return root;
}

/**
 * A project folder whose environment `production` is a swarm of one node m1 at 192.0.2.1 (which
 * does not exist): `services` and `more` are YAML lines under `services:` and beside it (e.g.
 * `databases:`), `environments` more environments; `files` go beside stagecraft.yml.
 */
export function swarmProject(options: {
  compose: string;
  services: string;
  more?: string;
  environments?: string;
  files?: Record<string, string>;
}): string {
  return projectWith({
    'docker-compose.yml': options.compose,
    'stagecraft.yml': `project:
  name: shop
  registry: registry.example/shop
services:
${options.services}${options.more ?? ''}environments:
  production:
    driver: swarm
    manager: m1
    hosts:
      web: [{ name: m1, address: 192.0.2.1 }]
${options.environments ?? ''}`,
    ...options.files,
  });
}

export function load(
  yaml: string,
  options: { envName?: string; env?: Record<string, string>; files?: Record<string, string> } = {},
): LoadedConfig {
  const root = projectWith({ 'stagecraft.yml': yaml, ...options.files });
  return loadConfig({
    cwd: root,
    envName: options.envName,
    purpose: 'any',
    processEnv: options.env ?? {},
    catalog: builtinProviders().catalog(),
  });
}

/** The formatted problems of a config that must not load. */
export function problems(yaml: string, options: Parameters<typeof load>[1] = {}): string[] {
  try {
    load(yaml, options);
  } catch (error) {
    if (error instanceof ConfigError) return error.details;
    throw error;
  }
  throw new Error('expected the config to fail');
}
