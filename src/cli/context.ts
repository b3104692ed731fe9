import type { Session } from '../operations/session.js';
import { Output, shouldUseColor } from '../util/output.js';
import type { GlobalOptions } from './globals.js';

/** What every command gets: its global options, the output, and a way to load the config (an operations Session). */
export type CommandContext = Session;

export function createContext(globals: GlobalOptions): CommandContext {
  const output = new Output({
    color: shouldUseColor(process.stderr, !globals.color),
    quiet: globals.quiet,
    verbose: globals.verbose,
    json: globals.json,
  });
  const cwd = process.cwd();
  return {
    globals,
    output,
    cwd,
    env: process.env,
    async loadConfig(purpose) {
      const [{ loadConfig }, { builtinProviders }] = await Promise.all([
        import('../config/load.js'),
        import('../providers/index.js'),
      ]);
      const loaded = loadConfig({
        cwd,
        path: globals.config,
        envName: globals.env,
        purpose,
        processEnv: process.env,
        catalog: builtinProviders().catalog(),
      });
      output.debug(`config: ${loaded.file}${loaded.envName ? ` (environment ${loaded.envName})` : ''}`);
      if (loaded.config.compose?.strict !== true) for (const warning of loaded.warnings) output.warn(warning);
      return loaded;
    },
  };
}
