import { Argument, Command } from '@commander-js/extra-typings';
import { Output } from '../util/output.js';
import type { CommandContext } from './context.js';
import { type RawGlobalFlags, resolveGlobals } from './globals.js';
import { reportError } from './report-error.js';

declare const __STAGECRAFT_VERSION__: string;
export const VERSION = typeof __STAGECRAFT_VERSION__ === 'string' ? __STAGECRAFT_VERSION__ : '0.0.0-dev';

type Handler = (context: CommandContext, ...args: never[]) => Promise<number | undefined>;
type Loader = () => Promise<{ run: Handler }>;

/**
 * Runs a lazily loaded command module: global flags resolved, errors mapped to exit codes in one place.
 */
function action(load: Loader) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const flags = command.optsWithGlobals() as RawGlobalFlags;
    let output = new Output({ color: false, quiet: false, verbose: flags.verbose === true, json: false });
    try {
      const globals = resolveGlobals(flags, process.env);
      const { createContext } = await import('./context.js');
      const context = createContext(globals);
      output = context.output;
      const module = await load();
      const code = await module.run(context, ...(args.slice(0, -1) as never[]));
      process.exitCode = code ?? 0;
    } catch (error) {
      process.exitCode = reportError(
        error,
        output,
        flags.verbose === true || process.env['STAGECRAFT_VERBOSE'] === 'true',
      );
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('stagecraft')
    .description(
      'Take a Docker Compose app from a laptop to one server and then to many: dev, plan, deploy, rollback.',
    )
    .version(VERSION, '--version', 'print the version')
    .option('-c, --config <path>', 'path to stagecraft.yml (env STAGECRAFT_CONFIG)')
    .option('-e, --env <name>', 'environment to act on (env STAGECRAFT_ENV)')
    .option('-v, --verbose', 'show detail, the cause chain of errors and failing commands')
    .option('-q, --quiet', 'print only results and errors')
    .option('--dry-run', 'show what would happen without changing anything')
    .option('--json', 'machine-readable output with a stable schema')
    .option('--no-color', 'no colours (also NO_COLOR)')
    .option('-y, --yes', 'answer yes to confirmations')
    .option('--hosts <list>', 'limit to these hosts (comma-separated, globs allowed)')
    .option('--roles <list>', 'limit to hosts with these roles')
    .option('--services <list>', 'limit to these services')
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .configureOutput({
      outputError: (text, write) => write(text),
    })
    .exitOverride();

  program
    .command('init')
    .description('detect the compose file, package scripts and Dockerfiles; write stagecraft.yml')
    .option('--non-interactive', 'never prompt; use detected values and defaults')
    .option('--project-name <name>', 'project name (default: the folder name)')
    .option('--force', 'overwrite an existing stagecraft.yml')
    .action(action(() => import('./commands/init.js')));

  program
    .command('config')
    .description('print the resolved, secret-redacted configuration of an environment')
    .action(action(() => import('./commands/config.js')));

  program
    .command('schema')
    .description('print the JSON Schema of stagecraft.yml (for editors)')
    .option('-o, --output <file>', 'write it to a file instead of stdout')
    .action(action(() => import('./commands/schema.js')));

  program
    .command('version')
    .description('print the version')
    .action(action(() => import('./commands/version.js')));

  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .action(action(() => import('./commands/completion.js')));

  return program;
}
