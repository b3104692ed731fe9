#!/usr/bin/env node
// On Node 22.1 and newer, Node keeps the code it compiled from dist/ in its compile cache (in the
// system's temporary folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so the next start compiles
// less. Node 20 has no compile cache: there this does nothing.
import module from 'node:module';

module.enableCompileCache?.();
// dist/ is one bundle whose chunks import each other by relative path: on Node 22.15 and newer such
// an import is resolved here, without the file-system checks (stat, realpath) Node's resolver makes
// for each one (`plan` imports ~70 chunks: 6–8 % of its start on Node 24). Anything else, and
// Node 20, goes to Node's resolver.
const dist = new URL('../dist/', import.meta.url).href;
module.registerHooks?.({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('./') && context.parentURL?.startsWith(dist) === true)
      return { url: new URL(specifier, context.parentURL).href, format: 'module', shortCircuit: true };
    return nextResolve(specifier, context);
  },
});
await import('../dist/cli.js');
