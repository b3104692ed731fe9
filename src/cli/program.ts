import { Argument, Command, type CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Output } from '../util/output.js';
import type { CommandContext } from './context.js';
import type { GlobalOptions, RawGlobalFlags } from './globals.js';

export { VERSION } from '../version.js';

type Handler = (context: CommandContext, ...args: never[]) => Promise<number | undefined>;
type Loader = () => Promise<{ run: Handler }>;

interface ActionOptions {
  /**
   * Set on a command that changes the whole environment and takes no --hosts/--roles/--services: what
   * it acts on ("takes the app off every host"). A scope flag (or STAGECRAFT_HOSTS, _ROLES,
   * _SERVICES) is then refused with exit 1 before anything is read, never silently widened.
   */
  wholeEnvironment?: string;
  /**
   * Set on a command that has no dry run (it runs a process or a shell): what it does ("runs the dev
   * stack"). --dry-run (or STAGECRAFT_DRY_RUN) is then refused with exit 1 before anything runs.
   */
  noDryRun?: string;
}

/**
 * Runs a lazily loaded command module: global flags resolved, errors mapped to exit codes in one place.
 */
function action(load: Loader, options: ActionOptions = {}) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const flags = command.optsWithGlobals() as RawGlobalFlags;
    // Loaded here, not at the top: `--help` and `--version` never need them (start-up time). The
    // error report is loaded only when there is an error to report.
    const [{ Output: OutputClass }, { resolveGlobals }] = await Promise.all([
      import('../util/output.js'),
      import('./globals.js'),
    ]);
    let output: Output = new OutputClass({
      color: false,
      quiet: false,
      verbose: flags.verbose === true,
      json: false,
    });
    // Resolved once; the error report falls back to the raw flags when they could not be resolved.
    let globals: GlobalOptions | undefined;
    try {
      globals = resolveGlobals(flags, process.env);
      if (options.wholeEnvironment !== undefined)
        await refuseScope(commandPath(command), options.wholeEnvironment, globals);
      if (options.noDryRun !== undefined && globals.dryRun)
        await refuseDryRun(commandPath(command), options.noDryRun);
      const { createContext } = await import('./context.js');
      const context = createContext(globals);
      output = context.output;
      const module = await load();
      const code = await module.run(context, ...(args.slice(0, -1) as never[]));
      process.exitCode = code ?? 0;
    } catch (error) {
      const { reportError } = await import('./report-error.js');
      process.exitCode = reportError(
        error,
        output,
        globals?.verbose ?? flags.verbose === true,
        (globals?.json ?? flags.json === true) || (flags as { format?: unknown }).format === 'json',
      );
    }
  };
}

/** Throws a UserError (exit 1) when --hosts, --roles or --services is set for a command that acts on the whole environment. */
async function refuseScope(
  path: string,
  acts: string,
  globals: { hosts?: string[] | undefined; roles?: string[] | undefined; services?: string[] | undefined },
): Promise<void> {
  const given = (['hosts', 'roles', 'services'] as const).filter((flag) => globals[flag] !== undefined);
  if (given.length === 0) return;
  const { UserError } = await import('../util/errors.js');
  const named = given.map((flag) => `--${flag}`);
  throw new UserError(
    `\`stagecraft ${path}\` ${acts}: ${named.join(' and ')} ${given.length === 1 ? 'does' : 'do'} not apply`,
    {
      hint: `leave ${named.join(' and ')} out (and unset ${given.map((flag) => `STAGECRAFT_${flag.toUpperCase()}`).join(', ')} if set)`,
    },
  );
}

/** Throws a UserError (exit 1): `stagecraft <path>` has no dry run, so --dry-run must not run it for real. */
async function refuseDryRun(path: string, does: string): Promise<void> {
  const { UserError } = await import('../util/errors.js');
  throw new UserError(`\`stagecraft ${path}\` ${does}: it has no dry run, and runs nothing with --dry-run`, {
    hint: 'leave --dry-run out (and unset STAGECRAFT_DRY_RUN if set); `stagecraft plan` shows what a deploy would do',
  });
}

/** The words after `stagecraft` that name a command: "ci init" for `stagecraft ci init`, "" for the program. */
function commandPath(command: CommandUnknownOpts): string {
  const names: string[] = [];
  for (let current: CommandUnknownOpts | null = command; current?.parent; current = current.parent) {
    names.unshift(current.name());
  }
  return names.join(' ');
}

/**
 * Makes every command's parse errors (unknown option, missing argument, …) carry the command they
 * belong to as `commandPath`, so that the hint can point at that command's --help.
 */
function tagUsageErrors(command: CommandUnknownOpts): void {
  const path = commandPath(command);
  command.exitOverride((error) => {
    throw Object.assign(error, { commandPath: path });
  });
  for (const sub of command.commands) tagUsageErrors(sub);
}

/**
 * Under a command with a default subcommand (`lock` runs `lock status`), a word that names no
 * subcommand is an unknown command with the parent's subcommands listed, as `stagecraft deploi` is
 * at the top; commander would hand it to the default as an excess argument. The default
 * subcommands take no arguments. Throws commander's CommanderError (code
 * `commander.unknownCommand`, exit 1) through the parent's `error`.
 */
function refuseUnknownSubcommands(parent: Command): void {
  parent.hook('preSubcommand', (command, subcommand) => {
    const typed = command.args[0];
    if (typed === undefined || typed.startsWith('-')) return;
    if (typed === subcommand.name() || subcommand.aliases().includes(typed)) return;
    const names = command.commands.map((sub) => sub.name());
    command.error(
      `error: unknown command '${typed}' for 'stagecraft ${command.name()}' (its commands: ${names.join(', ')})`,
      { code: 'commander.unknownCommand', exitCode: 1 },
    );
  });
}

/** One line after a command's help: what differs on a driver swarm environment. */
function swarmNote(text: string): string {
  return `\nOn driver swarm: ${text}`;
}

export function buildProgram(): Command {
  const program = new Command('stagecraft')
    .description(
      'Take a Docker Compose app from a laptop to one server and then to many: dev, plan, deploy, rollback.',
    )
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
    .command('new')
    .description('create a working project from an embedded template (platform, node-api)')
    .argument('<dir>', 'folder to create the project in')
    .requiredOption('-t, --template <name>', 'platform (Node API + Vite + PostgreSQL) or node-api')
    .option('--name <project>', 'project name (default: the folder name)')
    .option('--no-install', 'skip `npm install` of the frontend')
    .option('--force', 'overwrite files that exist')
    .action(action(() => import('./commands/new.js')));

  program
    .command('attach')
    .description('add Stagecraft to this repository: stagecraft.yml, .stagecraft/hooks, .gitignore, compose')
    .option('--project-name <name>', 'project name (default: the folder name)')
    .option('--force', 'overwrite files that exist')
    .action(action(() => import('./commands/attach.js')));

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
    .command('build')
    .description('build the images of services with build: (tag <registry>/<project>-<service>:<version>)')
    .option('--push', 'push the images to project.registry')
    .option('--version <version>', 'image tag (default: the git short SHA, +-dirty)')
    .action(action(() => import('./commands/build.js')));

  program
    .command('plan')
    .description('show the exact steps `deploy` would run, per phase and host; changes nothing')
    .option('--format <format>', 'text or json', 'text')
    .option('--version <version>', 'release version (default: the git short SHA, +-dirty)')
    .option('--skip-build', 'plan as if images already exist')
    .option('--skip-migrations', 'plan without pre/post-deploy migrations')
    .option('--refresh', "read the hosts' containers (read-only) to show each rollout's decided operations")
    .addHelpText(
      'after',
      swarmNote(
        '--hosts, --roles and --services are refused (Swarm places the tasks: the whole stack is deployed).',
      ),
    )
    .action(action(() => import('./commands/plan.js')));

  program
    .command('deploy')
    .description('build, push, migrate and roll out with zero downtime to every host; record the release')
    .option('--version <version>', 'release version (default: the git short SHA, +-dirty)')
    .option('--skip-build', 'do not build or push; the images must exist')
    .option('--skip-migrations', 'do not run pre/post-deploy migrations')
    .option('-m, --message <text>', 'a note recorded with the release and the lock')
    .option('--lock-wait <duration>', 'wait this long for another deploy to finish (e.g. 5m)')
    .option('--no-auto-rollback', 'keep hosts that switched when another host fails')
    .option('--setup', 'run `setup` on the hosts first (install Docker, deploy user, …) when they need it')
    .addHelpText(
      'after',
      swarmNote(
        '--hosts, --roles and --services are refused (Swarm places the tasks: the whole stack is deployed).',
      ),
    )
    .action(action(() => import('./commands/deploy.js')));

  program
    .command('rollback')
    .description("redeploy an earlier release's images and compose files (no build, no migrations)")
    .option('--to-previous', 'the last completed release before the current one')
    .option('--to-release <id>', 'a release id from `stagecraft releases list`')
    .option('--to-version <version>', 'the newest completed release of this version')
    .option('--lock-wait <duration>', 'wait this long for another deploy to finish')
    .addHelpText(
      'after',
      swarmNote(
        '--hosts, --roles and --services are refused (Swarm places the tasks: the whole stack is deployed).',
      ),
    )
    .action(action(() => import('./commands/rollback.js')));

  program
    .command('prune')
    .description(
      'keep the last `releases.retain` releases: remove older release folders, unused images, stopped containers and old build cache; report space freed per host',
    )
    .option('--lock-wait <duration>', 'wait this long for another deploy to finish')
    .action(
      action(() => import('./commands/prune.js'), {
        wholeEnvironment: 'keeps the same releases on every host of the environment',
      }),
    );

  program
    .command('remove')
    .description(
      'take the app off its hosts: containers, networks, its gateway, files (driver swarm: the stack and its job stacks, waited on; node role labels stay); volumes only with --volumes (asks first; --yes)',
    )
    .option('--volumes', "also remove the app's named volumes and their data (named in the confirmation)")
    .option('--lock-wait <duration>', 'wait this long for another deploy to finish')
    .action(
      action(() => import('./commands/remove.js'), {
        wholeEnvironment: 'takes the whole app off every host of the environment',
      }),
    );

  program
    .command('maintenance')
    .description(
      "switch the app's routes to a 503 maintenance page (on) and back (off); recorded on the lock host, so deploys keep it on",
    )
    .addArgument(new Argument('<state>', 'on or off').choices(['on', 'off'] as const))
    .option(
      '--retry-after <duration>',
      'the Retry-After of the 503 answers while on (default 5m, or the last one set)',
    )
    .option('-m, --message <text>', 'a note recorded with the switch and the lock')
    .option('--lock-wait <duration>', 'wait this long for another deploy to finish')
    .addHelpText(
      'after',
      swarmNote(
        "refused (a swarm's gateway has no maintenance switch yet); to stop serving a service, scale it to 0 on the manager.",
      ),
    )
    .action(
      action(() => import('./commands/maintenance.js'), {
        wholeEnvironment: 'switches every route of the app on every gateway',
      }),
    );

  const releases = program
    .command('releases')
    .description('release history of an environment (local and on the lock host)');
  releases
    .command('list', { isDefault: true })
    .description('every release, newest first')
    .action(action(async () => ({ run: (await import('./commands/releases.js')).list })));
  releases
    .command('show')
    .description('one release in detail')
    .argument('<id>', 'release id')
    .action(action(async () => ({ run: (await import('./commands/releases.js')).show })));
  releases
    .command('diff')
    .description('what changed between two releases')
    .argument('<from>', 'release id')
    .argument('<to>', 'release id')
    .action(action(async () => ({ run: (await import('./commands/releases.js')).diff })));

  const lock = program.command('lock').description('the deploy lock of an environment');
  lock
    .command('status', { isDefault: true })
    .description('who holds the lock, since when, for what')
    .action(action(async () => ({ run: (await import('./commands/lock.js')).status })));
  lock
    .command('acquire')
    .description('take the lock (e.g. during maintenance)')
    .option('-m, --message <text>', 'why')
    .option('--lock-wait <duration>', 'wait this long for it')
    .action(action(async () => ({ run: (await import('./commands/lock.js')).acquire })));
  lock
    .command('release')
    .description('release the lock, even if someone else holds it')
    .action(action(async () => ({ run: (await import('./commands/lock.js')).release })));

  program
    .command('audit')
    .description('who deployed what, when, from where')
    .action(action(async () => ({ run: (await import('./commands/releases.js')).audit })));

  program
    .command('version')
    .description('print the version')
    .action(action(() => import('./commands/version.js')));

  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .action(
      action(async () => {
        const { run } = await import('./commands/completion.js');
        // The program is handed over (not imported by completion.ts), so no import loop.
        return {
          run: (context: CommandContext, shell: 'bash' | 'zsh' | 'fish') => run(context, shell, program),
        };
      }),
    );

  program
    .command('migrate')
    .description('apply database migrations of every strategy (manual included), or show their real state')
    .addArgument(
      new Argument(
        '[action]',
        'run: apply pending migrations (default); plan: show applied / pending / changed',
      ).choices(['run', 'plan']),
    )
    .option('--database <name>', 'only this database (default: every database with migrations)')
    .option('--plan', 'same as `migrate plan`: read the state from the database, change nothing')
    .addHelpText(
      'after',
      swarmNote(
        'migrate connects from this machine (the URL must reach the database from here); `deploy` runs pre_deploy/post_deploy migrations on the swarm as replicated jobs.',
      ),
    )
    .action(action(() => import('./commands/migrate.js')));

  const dev = program
    .command('dev')
    .description('run the whole stack here: compose infrastructure, backend and frontend dev servers, HTTPS')
    .option('--no-https', 'plain HTTP: no mkcert certificates')
    .addOption(
      // Stored as `editHosts`: the global `--hosts <list>` owns the option key `hosts`.
      Object.assign(program.createOption('--no-hosts', 'leave the hosts file alone'), {
        attributeName: () => 'editHosts',
      }),
    )
    .option('--detach', 'start in the background; stop it with `stagecraft dev down`')
    .option('--only <list>', 'start only these (comma-separated): backend, frontend, compose services')
    .action(action(() => import('./commands/dev.js'), { noDryRun: 'runs the dev stack' }));
  dev
    .command('down')
    .description('stop the dev stack of this project (started with --detach, or in another terminal)')
    .action(
      action(async () => ({ run: (await import('./commands/dev.js')).runDown }), {
        noDryRun: 'stops the dev stack',
      }),
    );

  // Operating what is deployed: status, logs, ssh, exec, secrets sync, doctor.
  program
    .command('status')
    .description(
      "per host and service: containers, state, health, version, uptime, restarts, release (driver swarm: the stack's services, update state and tasks per node, from the manager)",
    )
    .action(action(() => import('./commands/status.js')));

  const mesh = program
    .command('mesh')
    .description('the private mesh between hosts (network.provider tailscale or headscale)');
  mesh
    .command('status', { isDefault: true })
    .description(
      'per host: backend state, mesh IP, MagicDNS name, tags and online (tailscale status --json) beside what the config wants; read-only',
    )
    .action(action(async () => ({ run: (await import('./commands/mesh.js')).status })));

  program
    .command('logs')
    .description(
      'logs of a service from every host that runs it, merged and prefixed with host and container (driver swarm: every task, through the manager, prefixed with node and task)',
    )
    .argument('<service>', 'compose service')
    .option('-f, --follow', 'keep printing new lines from every host until Ctrl+C')
    .option(
      '--since <time>',
      'only lines since a time (2025-05-01T10:00:00Z) or a duration ago (10m, 2h, 1d)',
    )
    .option('-n, --lines <n>', 'last lines per container or task (default 100, all with --since)')
    .option('--tail <n>', "the same as --lines (docker's name for it)")
    .option('--grep <regex>', 'only lines matching this regular expression')
    .option('-t, --timestamps', 'show the timestamp of each line')
    .action(action(() => import('./commands/logs.js')));

  program
    .command('ssh')
    .description('open a shell on a host (or the first host of a role); with -- CMD, run it there')
    .argument('<host|role>', 'host name or role')
    .argument('[command...]', 'after --: a command line (one word) or an argv to run instead of a shell')
    .action(action(() => import('./commands/ssh.js'), { noDryRun: 'runs a shell or a command on a host' }));

  program
    .command('exec')
    .description(
      'run a command in a running container of a service (first host that has one; driver swarm: a running task, on its node)',
    )
    .argument('<service>', 'compose service')
    .argument('[command...]', 'after --: the command and its arguments')
    .option('-i, --interactive', 'keep stdin open (and a terminal when this is one), e.g. for a shell')
    .option('--new', "run in a one-off container of the current release's image (compose run --rm)")
    .addHelpText(
      'after',
      swarmNote('--new is refused (no one-off container yet): exec enters a running task.'),
    )
    .action(action(() => import('./commands/exec.js'), { noDryRun: 'runs a command in a container' }));

  const secrets = program
    .command('secrets')
    .description('secrets of an environment (values are never printed)');
  secrets
    .command('sync')
    .description(
      'push secret values from env files, the environment or commands to the hosts or to Encore; changed service env files are a new release (kind restart)',
    )
    .option('--keys <list>', 'only these secrets (comma-separated names from secrets.keys)')
    .option(
      '--restart',
      'also replace the containers of the services that read secrets (zero-downtime rollout); recorded as a restart release',
    )
    .addHelpText(
      'after',
      swarmNote('refused; a deploy writes the secrets into the stack: run `stagecraft deploy`.'),
    )
    .action(action(async () => ({ run: (await import('./commands/secrets.js')).sync })));

  const commit = program.command('commit').description('Conventional Commits messages for the staged change');
  commit
    .command('suggest')
    .description('print a Conventional Commits message for the staged change (type and scope from the paths)')
    .option(
      '--check <msg-file>',
      'validate a commit message file instead (a commit-msg hook: docs/commit.md)',
    )
    .action(action(async () => ({ run: (await import('./commands/commit.js')).suggest })));

  const contextCommand = program
    .command('context')
    .description('offline descriptions of the project for reviewers and coding assistants');
  contextCommand
    .command('build')
    .description(
      'write .ai-context/: services, roles, hosts, routes, databases, migrations, releases, plan outline',
    )
    .option('--releases <n>', 'releases per environment (default 5)')
    .action(action(async () => ({ run: (await import('./commands/context.js')).build })));
  contextCommand
    .command('xray')
    .description(
      'scan the project: languages, lines, package managers, dependencies, Dockerfiles, compose files',
    )
    .action(action(async () => ({ run: (await import('./commands/context.js')).xray })));

  program
    .command('gov')
    .description(
      'deploy-policy checks on stagecraft.yml and the compose file; exit 1 on errors (docs/gov.md)',
    )
    .option('--format <format>', 'text, json (same as --json) or sarif (for code scanning)')
    .option('--list', 'print every rule: id, severity, what it wants')
    .action(action(() => import('./commands/gov.js')));

  const ci = program.command('ci').description('CI that deploys: GitHub Actions workflows, runs, secrets');
  ci.command('init')
    .description('write the plan (pull requests) and deploy workflows derived from stagecraft.yml')
    .option('--provider <id>', 'CI provider (default: ci.provider, else github)')
    .option('--branch <name>', 'branch whose pushes deploy (default: the remote default branch)')
    .option('--force', 'overwrite workflow files that were edited or not written by ci init')
    .action(action(async () => ({ run: (await import('./commands/ci.js')).init })));
  ci.command('run')
    .description('start the deploy workflow for an environment (-e) and find its run; --watch follows it')
    .option('--ref <ref>', 'branch or tag to deploy (default: the current branch)')
    .option('--watch', 'follow the jobs and exit with the run’s result')
    .option('--repo <owner/name>', 'repository (default: ci.providers.github.repository, else origin)')
    .option('--interval <duration>', 'how often to poll while watching (default 5s)')
    .action(action(async () => ({ run: (await import('./commands/ci.js')).run })));
  ci.command('secrets')
    .description("store the workflows' secrets in the repository from this machine's sources (never printed)")
    .option('--ssh-key <file>', 'deploy private key (default: the environment’s ssh.identity_file)')
    .option('--repo <owner/name>', 'repository (default: ci.providers.github.repository, else origin)')
    .action(action(async () => ({ run: (await import('./commands/ci.js')).secrets })));

  const infra = program
    .command('infra')
    .description('cloud hosts for an environment (DigitalOcean): droplets, volumes, firewall, then setup');
  infra
    .command('plan', { isDefault: true })
    .description('what `infra up` would create, keep, refuse or delete; reads the account, changes nothing')
    .action(action(async () => ({ run: (await import('./commands/infra.js')).plan })));
  infra
    .command('up')
    .description('create what the plan says, wait until active and reachable, record the hosts, run setup')
    .option('--no-setup', 'do not wait for SSH or run setup on the hosts (cloud-init still prepares them)')
    .action(action(async () => ({ run: (await import('./commands/infra.js')).up })));
  infra
    .command('down')
    .description("delete the environment's droplets and firewall after confirmation (volumes are kept)")
    .option('--delete-volumes', 'also delete the volumes and their data')
    .action(action(async () => ({ run: (await import('./commands/infra.js')).down })));

  program
    .command('setup')
    .description(
      'bring hosts to what a deploy needs: Docker + compose v2, a deploy user, log rotation, firewall ports (--dry-run: the plan)',
    )
    .addHelpText(
      'after',
      `
On a driver swarm environment, setup then forms the swarm: \`docker swarm init\` on the manager (unless it
manages one), the other hosts join as workers (the join token is read on the manager and sent only on
the worker's stdin, never in a command line, log or plan), and the nodes get their role labels. Where a
host firewall is active, Swarm's ports (2377/tcp to the manager, 7946/tcp+udp, 4789/udp) are opened to
the swarm's own hosts only. A host in another swarm stops setup before anything changes (exit 2).
${swarmNote('--hosts and --roles are refused (setup sets up every node).').trimStart()}`,
    )
    .action(action(() => import('./commands/setup.js')));

  program
    .command('doctor')
    .description(
      'check docker, compose v2, ssh to every host, mkcert, encore, tailscale, gh, node; print fixes',
    )
    .action(action(() => import('./commands/doctor.js')));

  for (const parent of [releases, lock, mesh, infra]) refuseUnknownSubcommands(parent);
  tagUsageErrors(program as unknown as CommandUnknownOpts);
  return program;
}
