import { writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type DevComposeModel, devComposeModel } from '../compose/dev-model.js';
import { findComposeFile, readCompose } from '../compose/read.js';
import type { LoadedConfig } from '../config/load.js';
import { type ComposeTarget, composeStopArgs, composeUpArgs } from '../docker/compose.js';
import { composeProjectName } from '../model/environment.js';
import { type DevTopology, planDevTopology } from '../plan/dev.js';
import { LocalRunner, runLocal } from '../runners/local.js';
import { CancelledError, ExternalError, UserError } from '../util/errors.js';
import { makeDirectory } from '../util/make-dir.js';
import type { Output } from '../util/output.js';
import { type Requirement, requireBinaries, STACK_REQUIREMENTS } from './binaries.js';
import { formatCaddyLine, renderCaddyConfig } from './caddy-config.js';
import { renderDevOverride } from './compose.js';
import { HostsFile } from './hosts-file.js';
import { LogMux } from './log-mux.js';
import { ensureCertificate } from './mkcert.js';
import { portsSharedWithOthers } from './port-sharers.js';
import { type ProcessSettings, processSpec } from './processes.js';
import { type DevFlags, type DevSettings, resolveDevSettings } from './settings.js';
import { type DevState, devDir, readState, removeState, writeState } from './state.js';
import { localPortOpen, ManagedProcess, type ProcessEvent } from './supervisor/managed-process.js';
import { processAlive, processIdentity, signalGroup, stopGroup } from './supervisor/process-group.js';

/** What `stagecraft dev` runs with. */
export interface DevRuntime {
  loaded: LoadedConfig;
  output: Output;
  /** The process environment. */
  env: Record<string, string | undefined>;
  verbose: boolean;
  json: boolean;
  color: boolean;
}

const PROXY = 'proxy';
/** What Caddy logs once every listener is bound and the configuration serves (Caddy 2, any version). */
const CADDY_SERVING = /"msg":"serving initial configuration"/;
const COMPOSE = 'compose';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function definedEnv(env: Record<string, string | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) result[key] = value;
  return result;
}

function dockerEnv(env: Record<string, string | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const key of [
    'DOCKER_HOST',
    'DOCKER_CONTEXT',
    'DOCKER_CONFIG',
    'DOCKER_CERT_PATH',
    'DOCKER_TLS_VERIFY',
  ]) {
    const value = env[key];
    if (value !== undefined && value !== '') result[key] = value;
  }
  return result;
}

/** The loopback addresses the front door listens on (::1 only where the machine has it). */
function loopbackAddresses(): string[] {
  const addresses = ['127.0.0.1'];
  const hasV6 = Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((entry) => entry.internal && entry.family === 'IPv6' && entry.address === '::1'),
  );
  if (hasV6) addresses.push('::1');
  return addresses;
}

/** A `docker …` argv from docker/ run with the docker binary `stagecraft dev` found (a full path). */
function withDocker(docker: string, argv: readonly string[]): string[] {
  return [docker, ...argv.slice(1)];
}

function url(https: boolean, domain: string, settings: DevSettings): string {
  const port = https ? settings.httpsPort : settings.httpPort;
  const standard = https ? 443 : 80;
  return `${https ? 'https' : 'http'}://${domain}${port === standard ? '' : `:${port}`}`;
}

/** Stops what a dev stack recorded in its state (processes, containers, hosts entries). */
export async function cleanupFromState(state: DevState, root: string, output: Output): Promise<void> {
  await Promise.all(
    state.processes.map(async (entry) => {
      // A live leader with another start time means the pid was reused: not ours.
      if (processAlive(entry.pid) && !processAlive(entry.pid, entry.identity)) return;
      const outcome = await stopGroup(entry.pgid, 'SIGTERM', 3000).catch(() => 'gone' as const);
      if (outcome !== 'gone') output.info(`stopped ${entry.name} (process group ${entry.pgid})`);
    }),
  );
  if (state.compose !== undefined && state.compose.services.length > 0) {
    const { docker, project, services } = state.compose;
    const result = await runLocal(withDocker(docker, composeStopArgs({ project }, services)), {
      cwd: tmpdir(),
      env: state.compose.docker_env,
      allowFailure: true,
      ownProcessGroup: true,
    }).catch((error: unknown) => ({ exitCode: 1, stderr: String(error), stdout: '', durationMs: 0 }));
    if (result.exitCode === 0) output.info(`stopped containers ${services.join(', ')} (${project})`);
    else
      output.warn(`could not stop the containers of ${project}: ${result.stderr.trim().split('\n').pop()}`);
  }
  if (state.hosts !== undefined) {
    try {
      if (await new HostsFile(state.hosts.file).remove(state.hosts.domains)) {
        output.info(
          `removed the hosts entries for ${state.hosts.domains.join(', ')} from ${state.hosts.file}`,
        );
      }
    } catch (error) {
      output.warn((error as Error).message);
    }
  }
  await removeState(root);
}

/** Refuses to start a second stack in the same project; cleans up after one that died uncleanly. */
export async function ensureNotRunning(root: string, output: Output): Promise<void> {
  const state = readState(root);
  if (state === undefined) return;
  if (processAlive(state.pid, state.identity)) {
    throw new UserError(
      `a dev stack is already running here (pid ${state.pid}, started ${state.started_at})`,
      {
        hint:
          state.mode === 'detached'
            ? 'stop it with `stagecraft dev down`'
            : 'stop it with Ctrl+C in its terminal, or with `stagecraft dev down`',
      },
    );
  }
  output.warn(`the previous dev stack (pid ${state.pid}) ended without cleaning up; cleaning up after it`);
  await cleanupFromState(state, root, output);
}

/**
 * One run of the dev stack: containers → backend → frontend → HTTPS front door, then wait for Ctrl+C,
 * SIGTERM or a required process to fail, then take everything down in reverse and exit.
 */
export class DevStack {
  readonly #runtime: DevRuntime;
  readonly #flags: DevFlags;
  readonly #root: string;
  readonly #mode: DevState['mode'];
  readonly #mux: LogMux;
  readonly #abort = new AbortController();
  readonly #processes: ManagedProcess[] = [];
  #signals = 0;
  #fatal: ExternalError | undefined;
  /** Settles when the stack must stop: a signal, or a fatal process event. */
  readonly #stopRequested: Promise<'stopped'>;
  #requestStop: () => void = () => undefined;
  /** Rejects on the third signal: run() gives up waiting for the teardown. */
  readonly #forced: Promise<never>;
  #forceStop: (error: CancelledError) => void = () => undefined;
  #state: DevState;
  #stateWrite: Promise<void> = Promise.resolve();
  /** Set once start-up got past its checks and recorded state: from then on there is something to undo. */
  #stateWritten = false;
  #composeTarget: ComposeTarget | undefined;
  #docker = 'docker';
  /** One-shot commands (docker compose, mkcert): in their own process group, Ctrl+C is ours. */
  readonly #local: LocalRunner;
  #composeEnv: Record<string, string> = {};

  constructor(runtime: DevRuntime, flags: DevFlags, mode: DevState['mode']) {
    this.#runtime = runtime;
    this.#flags = flags;
    this.#root = runtime.loaded.root;
    this.#mode = mode;
    this.#mux = new LogMux({ color: runtime.color, json: runtime.json });
    this.#local = new LocalRunner({ cwd: this.#root, ownProcessGroup: true });
    this.#stopRequested = new Promise((resolve) => {
      this.#requestStop = () => resolve('stopped');
    });
    this.#forced = new Promise<never>((_resolve, reject) => {
      this.#forceStop = reject;
    });
    this.#forced.catch(() => undefined);
    this.#state = {
      version: 1,
      pid: process.pid,
      identity: processIdentity(process.pid),
      mode,
      status: 'starting',
      started_at: new Date().toISOString(),
      processes: [],
      urls: [],
      ...(mode === 'detached' ? { log_file: join(devDir(this.#root), 'dev.log') } : {}),
    };
  }

  get #output(): Output {
    return this.#runtime.output;
  }

  #saveState(): Promise<void> {
    this.#stateWritten = true;
    const snapshot = structuredClone(this.#state);
    this.#stateWrite = this.#stateWrite
      .then(() => writeState(this.#root, snapshot))
      .catch((error: unknown) =>
        this.#output.warn(`cannot write the dev state: ${(error as Error).message}`),
      );
    return this.#stateWrite;
  }

  #checkAborted(): void {
    if (this.#fatal !== undefined) throw this.#fatal;
    if (this.#abort.signal.aborted) throw new CancelledError();
  }

  #onSignal = (signal: NodeJS.Signals) => {
    this.#signals += 1;
    if (this.#signals === 1) {
      this.#output.info(`\n${signal === 'SIGINT' ? 'Ctrl+C' : signal}: stopping the dev stack…`);
      this.#abort.abort();
      this.#requestStop();
    } else if (this.#signals === 2) {
      this.#output.info('stopping now (SIGKILL)');
      for (const managed of this.#processes) {
        if (managed.pgid !== undefined) signalGroup(managed.pgid, 'SIGKILL');
      }
    } else {
      // A third signal: give up on the clean stop (run() throws; the CLI exits 130).
      this.#forceStop(
        new CancelledError('stopped before the dev stack finished stopping', {
          hint: 'run `stagecraft dev down` to stop what is still running',
        }),
      );
    }
  };

  #onEvent = (event: ProcessEvent) => {
    switch (event.type) {
      case 'output':
        this.#mux.line(event.name, event.stream, event.line);
        break;
      case 'started': {
        const entry = {
          name: event.name,
          pid: event.pid,
          pgid: event.pid,
          identity: processIdentity(event.pid),
        };
        this.#state.processes = [...this.#state.processes.filter((p) => p.name !== event.name), entry];
        void this.#saveState();
        if (event.restart > 0) this.#output.info(`↻ ${event.name} restarted (pid ${event.pid})`);
        break;
      }
      case 'ready':
        this.#mux.event({ event: 'ready', service: event.name, after_ms: event.afterMs });
        this.#output.info(
          event.restarted
            ? `✓ ${event.name} is ready again`
            : `✓ ${event.name} ready in ${seconds(event.afterMs)}`,
        );
        break;
      case 'exited': {
        const how =
          event.signal === null ? `exited with code ${event.code}` : `was killed by ${event.signal}`;
        this.#mux.event({ event: 'exited', service: event.name, code: event.code, signal: event.signal });
        this.#output.warn(
          `${event.name} ${how}; restarting in ${seconds(event.restartInMs)} (attempt ${event.attempt})`,
        );
        break;
      }
      case 'fatal':
        this.#fatal ??= event.error;
        this.#requestStop();
        break;
    }
  };

  /**
   * Runs the stack until stopped; resolves to the exit code, throws the error that stopped it. A
   * third Ctrl+C/SIGTERM gives up on the clean stop: it throws CancelledError at once (exit 130),
   * whatever the teardown is still waiting for.
   */
  async run(): Promise<number> {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const signal of signals) process.on(signal, this.#onSignal);
    process.stdout.on('error', () => undefined);
    try {
      return await Promise.race([this.#runUntilStopped(), this.#forced]);
    } finally {
      for (const signal of signals) process.off(signal, this.#onSignal);
    }
  }

  async #runUntilStopped(): Promise<number> {
    let failure: unknown;
    try {
      await this.#startAll();
      await this.#stopRequested;
    } catch (error) {
      failure = error;
    }
    await this.#teardown();
    if (this.#fatal !== undefined) throw this.#fatal;
    // After Ctrl+C or SIGTERM, whatever start-up was doing was interrupted on purpose: exit 0.
    if (failure !== undefined && !this.#abort.signal.aborted && !(failure instanceof CancelledError))
      throw failure;
    return 0;
  }

  async #startAll(): Promise<void> {
    const started = Date.now();
    const { loaded, env } = this.#runtime;
    const { config, root } = loaded;
    const settings = resolveDevSettings(config, root, env, this.#flags);
    const baseEnv = { ...definedEnv(env), ...loaded.variables };
    delete baseEnv['STAGECRAFT_DEV_DAEMON'];

    // 1. What runs: the compose model (through the compose CLI) and the pure topology.
    const file = findComposeFile(root, config, loaded.locate?.(['compose', 'file']));
    const onlyProcesses = this.#flags.only?.every((name) => name === 'backend' || name === 'frontend');
    let compose: DevComposeModel | undefined;
    let docker: string | undefined;
    if (file !== undefined && !onlyProcesses) {
      docker = requireBinaries([STACK_REQUIREMENTS.docker], env).docker;
      const project = await readCompose({
        file,
        projectDir: dirname(file),
        variables: baseEnv,
        profiles: config.compose?.profiles,
        projectName: composeProjectName(config.project.name, loaded.envName ?? 'dev'),
        exec: (argv, options) =>
          this.#local.exec(withDocker(docker!, argv), { ...options, signal: this.#abort.signal }),
      });
      compose = devComposeModel(file, project);
    }
    const topology = planDevTopology({
      config,
      catalog: loaded.catalog,
      root,
      compose,
      only: this.#flags.only,
      dockerAddress: settings.dockerAddress,
      bindIp: settings.bindIp,
      envName: loaded.envName ?? 'dev',
    });
    for (const note of topology.notes) this.#output.warn(note);
    for (const skipped of topology.skipped)
      this.#output.debug(`compose service ${skipped.name}: ${skipped.reason}`);
    if (topology.infra.length === 0 && topology.processes.length === 0) {
      throw new UserError(
        'nothing to run: no compose infrastructure services and no backend or frontend dev process',
        {
          hint: 'configure backend/frontend providers with a dev command, or add services to the compose file',
        },
      );
    }

    // 2. Every tool first, so a missing one changes nothing.
    const needed: Requirement[] = [];
    if (topology.infra.length > 0) needed.push(STACK_REQUIREMENTS.docker);
    for (const plan of topology.processes) needed.push(...plan.hooks.tools);
    if (topology.routes.length > 0) {
      needed.push(STACK_REQUIREMENTS.caddy);
      if (settings.https) needed.push(STACK_REQUIREMENTS.mkcert);
    }
    const tools = requireBinaries(needed, env);
    docker ??= tools.docker;
    await this.#checkPorts(topology, settings);

    this.#mux.register([
      ...topology.processes.map((plan) => plan.name),
      ...(topology.infra.length > 0 ? [COMPOSE] : []),
      ...(topology.routes.length > 0 ? [PROXY] : []),
    ]);
    await makeDirectory(devDir(root));
    await this.#saveState();

    // 3. Hosts entries (recorded before the edit, so a crash in between still cleans up).
    if (settings.hostsFile !== undefined && topology.hostsDomains.length > 0) {
      this.#state.hosts = { file: settings.hostsFile, domains: topology.hostsDomains };
      await this.#saveState();
      if (await new HostsFile(settings.hostsFile).add(topology.hostsDomains)) {
        this.#output.info(
          `▸ hosts: ${topology.hostsDomains.join(', ')} → 127.0.0.1 in ${settings.hostsFile}`,
        );
      }
    } else if (topology.hostsDomains.length > 0) {
      this.#output.warn(
        `--no-hosts: make sure ${topology.hostsDomains.join(', ')} ${topology.hostsDomains.length === 1 ? 'resolves' : 'resolve'} to 127.0.0.1 (domains under .localhost need nothing)`,
      );
    }

    // 4. Certificates.
    let certificate: Awaited<ReturnType<typeof ensureCertificate>> | undefined;
    if (settings.https && topology.routes.length > 0 && tools.mkcert !== undefined) {
      certificate = await ensureCertificate({
        certDir: join(devDir(root), 'certs'),
        domains: topology.routes.map((route) => route.domain),
        mkcert: tools.mkcert,
        env: baseEnv,
        cwd: root,
        signal: this.#abort.signal,
      });
      this.#output.info(
        `▸ certificate for ${topology.routes.map((route) => route.domain).join(', ')}: ${certificate.reused ? 'reused' : 'made by mkcert'}`,
      );
    }
    this.#checkAborted();

    // 5. Infrastructure containers.
    if (topology.infra.length > 0 && docker !== undefined && file !== undefined) {
      const files = [file];
      const publishing = topology.infra.filter((plan) => plan.publish.length > 0);
      if (publishing.length > 0) {
        const override = join(devDir(root), 'compose.override.yml');
        await writeFile(override, renderDevOverride(publishing));
        files.push(override);
      }
      const names = topology.infra.map((plan) => plan.name);
      this.#composeTarget = {
        project: topology.composeProject,
        file,
        overrides: files.slice(1),
        projectDir: dirname(file),
        profiles: config.compose?.profiles,
      };
      this.#docker = docker;
      this.#composeEnv = baseEnv;
      this.#state.compose = {
        docker,
        project: topology.composeProject,
        services: names,
        docker_env: dockerEnv(env),
      };
      await this.#saveState();
      await this.#composeUp(names);
      const reachable = topology.infra
        .filter((plan) => plan.hostPort !== undefined)
        .map((plan) => `${plan.name} at ${settings.dockerAddress}:${plan.hostPort}`);
      this.#output.info(
        `✓ containers ${names.join(', ')} up${reachable.length > 0 ? ` (${reachable.join(', ')})` : ''}`,
      );
    }
    this.#checkAborted();

    // 6. Backend, then frontend.
    const processSettings: ProcessSettings = {
      baseEnv,
      readyTimeoutMs: settings.readyTimeoutMs,
      caFile: certificate?.caFile,
      color: this.#runtime.color,
      tools,
      warn: (message) => this.#output.warn(message),
    };
    for (const plan of topology.processes) {
      if (plan.hooks.prepare !== undefined) {
        const runner = new LocalRunner({ cwd: plan.workdir, ownProcessGroup: true });
        const lines = await plan.hooks.prepare(plan, processSettings, runner, this.#abort.signal);
        for (const line of lines) this.#output.info(line);
      }
      this.#checkAborted();
      const spec = processSpec(plan, processSettings);
      this.#output.info(`▸ starting ${plan.name}: ${spec.argv.join(' ')}`);
      await this.#startProcess(new ManagedProcess(spec, this.#onEvent));
    }

    // 7. The front door.
    if (topology.routes.length > 0 && tools.caddy !== undefined) {
      const caddyDir = join(devDir(root), 'caddy');
      await makeDirectory(caddyDir);
      const configFile = join(caddyDir, 'caddy.json');
      await writeFile(
        configFile,
        renderCaddyConfig({
          routes: topology.routes,
          https: certificate !== undefined,
          httpPort: settings.httpPort,
          httpsPort: settings.httpsPort,
          listen: loopbackAddresses(),
          certFile: certificate?.certFile,
          keyFile: certificate?.keyFile,
          storageDir: join(caddyDir, 'data'),
          // INFO always: readiness is Caddy's own "serving initial configuration" line (shown only with
          // --verbose); a port probe would take another program on the port for Caddy.
          logLevel: 'INFO',
        }),
      );
      const verbose = this.#runtime.verbose;
      const proxy = new ManagedProcess(
        {
          name: PROXY,
          argv: [tools.caddy, 'run', '--config', configFile],
          cwd: caddyDir,
          env: { ...definedEnv(env), HOME: caddyDir, XDG_DATA_HOME: caddyDir, XDG_CONFIG_HOME: caddyDir },
          readyPattern: CADDY_SERVING,
          readyTimeoutMs: settings.readyTimeoutMs ?? 15_000,
          required: true,
          stopSignal: 'SIGTERM',
          stopTimeoutMs: 3000,
          formatLine: (line) => formatCaddyLine(line, verbose),
          hint: `check the ports ${settings.httpPort}/${settings.httpsPort} (dev.proxy in stagecraft.yml) and ${configFile}`,
        },
        this.#onEvent,
      );
      await this.#startProcess(proxy);
      const ports = certificate !== undefined ? [settings.httpPort, settings.httpsPort] : [settings.httpPort];
      const shared = proxy.pgid === undefined ? [] : portsSharedWithOthers(ports, proxy.pgid);
      if (shared.length > 0) {
        throw new ExternalError(
          `another program listens on port ${shared.join(' and ')} beside the proxy (both bound with SO_REUSEPORT): connections would be split between them`,
          {
            hint: 'stop it (another `stagecraft dev` on the same dev.proxy ports?), or choose other ports in dev.proxy (http_port, https_port)',
          },
        );
      }
    }

    // 8. Ready.
    const https = certificate !== undefined;
    this.#state.urls = topology.routes.map((route) => ({
      name: route.target,
      url: url(https, route.domain, settings),
    }));
    this.#state.status = 'ready';
    this.#state.ready_at = new Date().toISOString();
    await this.#saveState();
    const width = Math.max(0, ...this.#state.urls.map((entry) => entry.name.length));
    this.#mux.event({ event: 'stack-ready', after_ms: Date.now() - started, urls: this.#state.urls });
    this.#output.info(`\n✓ dev stack ready in ${seconds(Date.now() - started)}`);
    for (const entry of this.#state.urls) this.#output.info(`  ${entry.name.padEnd(width)}  ${entry.url}`);
    if (this.#mode === 'foreground') this.#output.info('Press Ctrl+C to stop.');
  }

  async #checkPorts(topology: DevTopology, settings: DevSettings): Promise<void> {
    const ports: { port: number; what: string; hint: string }[] = [];
    for (const plan of topology.processes) {
      if (plan.port !== undefined) {
        ports.push({ port: plan.port, what: plan.name, hint: `is another dev server still running?` });
      }
    }
    if (topology.routes.length > 0) {
      const hint = 'stop what listens there, or choose other ports in dev.proxy (http_port, https_port)';
      ports.push({ port: settings.httpPort, what: 'the proxy (HTTP)', hint });
      if (settings.https) ports.push({ port: settings.httpsPort, what: 'the proxy (HTTPS)', hint });
    }
    for (const { port, what, hint } of ports) {
      if (await localPortOpen(port)) {
        throw new ExternalError(`port ${port}, needed by ${what}, is already in use`, { hint });
      }
    }
  }

  async #startProcess(managed: ManagedProcess): Promise<void> {
    this.#processes.push(managed);
    await Promise.race([managed.start(), this.#stopRequested]);
    this.#checkAborted();
  }

  async #composeUp(services: string[]): Promise<void> {
    const target = this.#composeTarget;
    if (target === undefined) return;
    // Not --no-deps: compose starts what these services depend on, and --wait honours health checks.
    const argv = withDocker(this.#docker, composeUpArgs(target, services, { wait: true, noDeps: false }));
    this.#output.info(`▸ starting containers: ${services.join(', ')}`);
    this.#output.debug(`$ ${argv.join(' ')}`);
    const tail: string[] = [];
    const result = await this.#local.exec(argv, {
      env: this.#composeEnv,
      signal: this.#abort.signal,
      allowFailure: true,
      onLine: (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (this.#runtime.verbose) this.#mux.line(COMPOSE, 'stderr', line);
      },
    });
    this.#checkAborted();
    if (result.exitCode !== 0) {
      const daemonDown = tail.some((line) =>
        /Cannot connect to the Docker daemon|Is the docker daemon running/i.test(line),
      );
      throw new ExternalError(
        `docker compose up failed for ${services.join(', ')} (exit ${result.exitCode})`,
        {
          details: tail.slice(-12),
          command: argv.join(' '),
          hint: daemonDown
            ? 'start Docker (the daemon is not running or DOCKER_HOST points nowhere)'
            : 'see the compose output above; `docker compose logs` shows the containers’ own logs',
        },
      );
    }
  }

  async #teardown(): Promise<void> {
    if (!this.#stateWritten) return; // failed before changing anything
    const started = Date.now();
    this.#state.status = 'stopping';
    await this.#saveState();
    const running = this.#processes.filter((managed) => managed.pgid !== undefined);
    if (running.length > 0) {
      this.#output.info(`▸ stopping ${running.map((managed) => managed.spec.name).join(', ')}`);
    }
    await Promise.all(
      [...this.#processes].reverse().map(async (managed) => {
        const outcome = await managed.stop(this.#signals >= 2).catch(() => 'killed' as const);
        if (outcome === 'killed') {
          this.#output.warn(
            `${managed.spec.name} did not stop within ${seconds(managed.spec.stopTimeoutMs)} of ${managed.spec.stopSignal}; killed`,
          );
        }
      }),
    );
    if (this.#state.compose !== undefined) {
      const { docker, project, services } = this.#state.compose;
      const argv = withDocker(docker, composeStopArgs({ project }, services));
      this.#output.info(`▸ stopping containers: ${services.join(', ')}`);
      const result = await runLocal(argv, {
        cwd: tmpdir(),
        env: this.#composeEnv,
        allowFailure: true,
        ownProcessGroup: true,
        onLine: (line) => {
          if (this.#runtime.verbose) this.#mux.line(COMPOSE, 'stderr', line);
        },
      }).catch((error: unknown) => ({ exitCode: 1, stderr: String(error), stdout: '', durationMs: 0 }));
      if (result.exitCode !== 0) {
        this.#output.warn(
          `docker compose stop failed: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`,
        );
      }
    }
    if (this.#state.hosts !== undefined) {
      try {
        await new HostsFile(this.#state.hosts.file).remove(this.#state.hosts.domains);
      } catch (error) {
        this.#output.warn((error as Error).message);
      }
    }
    await this.#stateWrite;
    await removeState(this.#root);
    this.#output.info(`✓ dev stack stopped in ${seconds(Date.now() - started)}`);
  }
}
