#!/usr/bin/env node
// On Node 22.1 and newer, Node keeps the code it compiled from dist/ in its compile cache (in the
// system's temporary folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so the next start compiles
// less. Node 20 has no compile cache: there this does nothing.
import module from 'node:module';

module.enableCompileCache?.();
await import('../dist/cli.js');
