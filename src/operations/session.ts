// What an operation gets from whoever runs it (the CLI today): the scope and mode flags, an output
// for what it reports, the environment variables, and a way to load the config. Defined here, below
// cli/, so that operations never import the CLI; cli/context.ts builds one per command.
import type { EnvironmentPurpose } from '../config/environment.js';
import type { LoadedConfig } from '../config/load.js';
import type { Output } from '../util/output.js';

/** The flags every command accepts (SPEC §2), resolved from argv and STAGECRAFT_* variables. */
export interface SessionFlags {
  config: string | undefined;
  env: string | undefined;
  verbose: boolean;
  quiet: boolean;
  dryRun: boolean;
  json: boolean;
  color: boolean;
  yes: boolean;
  hosts: string[] | undefined;
  roles: string[] | undefined;
  services: string[] | undefined;
}

/** One command's session: flags, output (results to stdout, the rest to stderr), environment, config loader. */
export interface Session {
  globals: SessionFlags;
  output: Output;
  cwd: string;
  env: Record<string, string | undefined>;
  /** Loads and validates stagecraft.yml for `purpose`; throws UserError with positions. */
  loadConfig(purpose: EnvironmentPurpose): Promise<LoadedConfig>;
}
