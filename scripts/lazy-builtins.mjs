// An esbuild plugin for start-up time: commander requires `node:child_process` when it is loaded, for
// executable subcommands that Stagecraft does not have. Loading it pulls in net, dgram and the child
// process internals (7-20 ms of `--help`, about a tenth of Node's own start-up). In commander only, it
// becomes a stand-in that requires the real module on first use.

/** The stand-in's source: every property read goes to the real module, required then. */
export const LAZY_CHILD_PROCESS = `module.exports = new Proxy({}, {
  get: (_target, key) => require('node:child_process')[key],
});
`;

/** esbuild plugin: `node:child_process` required from commander resolves to LAZY_CHILD_PROCESS. */
export const lazyBuiltins = {
  name: 'stagecraft-lazy-builtins',
  setup(build) {
    build.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'stagecraft-lazy' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'stagecraft-lazy' }, () => ({
      contents: LAZY_CHILD_PROCESS,
      loader: 'js',
    }));
  },
};
