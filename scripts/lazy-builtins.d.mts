import type { Plugin } from 'esbuild';

/** The stand-in's source (CommonJS): every property read goes to the real `node:child_process`, required then. */
export const LAZY_CHILD_PROCESS: string;
/** esbuild plugin: `node:child_process` required from commander resolves to LAZY_CHILD_PROCESS. */
export const lazyBuiltins: Plugin;
