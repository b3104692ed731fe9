// Bundles the CLI into dist/: one small entry plus lazily loaded chunks per command.

import { rmSync } from 'node:fs';
import { build } from 'esbuild';
import { buildDefines } from './build-defines.mjs';
import { lazyBuiltins } from './lazy-builtins.mjs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

await build({
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: false,
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  define: buildDefines('npm'),
  banner: {
    js: "import { createRequire as __scCreateRequire } from 'node:module'; const require = __scCreateRequire(import.meta.url);",
  },
  plugins: [lazyBuiltins],
  logLevel: 'warning',
});
