// The version of this build: set by the bundler (scripts/build.mjs defines __STAGECRAFT_VERSION__ from
// package.json); "0.0.0-dev" when the sources run unbundled (tests). Its own module so that commands
// can read it without importing cli/program.ts (which imports the commands).
declare const __STAGECRAFT_VERSION__: string;

/** The Stagecraft version, e.g. "0.1.0"; "0.0.0-dev" unbundled. */
export const VERSION: string =
  typeof __STAGECRAFT_VERSION__ === 'string' ? __STAGECRAFT_VERSION__ : '0.0.0-dev';
