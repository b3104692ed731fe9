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
