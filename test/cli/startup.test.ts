import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LAZY_CHILD_PROCESS } from '../../scripts/lazy-builtins.mjs';
import { CLI } from '../support/cli.js';

const EXAMPLE = new URL('../../examples/shop/stagecraft.yml', import.meta.url).pathname;

/** Node's built-in modules the built CLI loaded for `args` (process.moduleLoadList), and its exit code. */
function builtinsLoaded(args: string[]): { code: number; builtins: string[] } {
  if (!existsSync(new URL('../../dist/cli.js', import.meta.url))) {
    throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does)');
  }
  const script = [
    `process.argv = [process.execPath, ${JSON.stringify(CLI)}, ...${JSON.stringify(args)}];`,
    "process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(process.moduleLoadList) + '\\n'));",
    `await import(${JSON.stringify(pathToFileURL(CLI).href)});`,
  ].join('\n');
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root', NO_COLOR: '1' },
  });
  const line = result.stderr.split('\n').find((text) => text.startsWith('LOADED ')) ?? 'LOADED []';
  const loaded = JSON.parse(line.slice('LOADED '.length)) as string[];
  return {
    code: result.status ?? -1,
    builtins: loaded.filter((entry) => entry.startsWith('NativeModule ')).map((entry) => entry.slice(13)),
  };
}

describe('start-up loads only what a command needs', () => {
  it('`--help` and `config` do not load child_process (commander gets it on first use)', () => {
    for (const args of [['--help'], ['-c', EXAMPLE, 'config']]) {
      const { code, builtins } = builtinsLoaded(args);
      expect(code).toBe(0);
      expect(builtins).toContain('fs');
      expect(builtins).not.toContain('child_process');
    }
  });

  it("commander's stand-in for child_process requires nothing until used, then gives the real module's members", () => {
    const required: string[] = [];
    const real = createRequire(import.meta.url);
    const module = { exports: {} as Record<string, unknown> };
    new Function('module', 'require', LAZY_CHILD_PROCESS)(module, (id: string) => {
      required.push(id);
      return real(id);
    });
    expect(required).toEqual([]);
    expect(module.exports['spawn']).toBe(real('node:child_process').spawn);
    expect(required).toEqual(['node:child_process']);
  });
});
