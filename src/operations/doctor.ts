// `stagecraft doctor`: is this machine (and every host of the environment) ready? Each check says what
// it found and, when something is wrong, one line of how to fix it. Required checks fail the command.

import { PROVIDER_KINDS, selectedProvider } from '../config/catalog.js';
import type { LoadedConfig } from '../config/load.js';
import type { HostEntry } from '../config/schema.js';
import { composeVersionArgs } from '../docker/compose.js';
import { dockerServerVersionArgs } from '../docker/container.js';
import { parseSwarmInfo, swarmInfoArgs } from '../docker/swarm.js';
import { type MeshModel, magicDnsName } from '../model/mesh.js';
import { type EnvironmentSettings, type ProjectModel, projectModel } from '../model/project.js';
import { createRunner } from '../runners/factory.js';
import { runLocal } from '../runners/local.js';
import type { Runner } from '../runners/types.js';
import { isStagecraftError } from '../util/errors.js';
import { TOOLS, type ToolName } from '../util/tools.js';
import { oneLine } from './fleet.js';
import { meshStateOf } from './mesh.js';
import type { Session } from './session.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  /** A failure of a required check fails `doctor`; an optional one is a warning. */
  required: boolean;
  detail: string;
  fix?: string;
}

/** Node.js the CLI supports (package.json engines). */
export const MIN_NODE = [20, 19] as const;

export function nodeSupported(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}

/** `2.29.7`, `v2.29.7-desktop.1` → major 2; compose v2 means major ≥ 2 (the plugin, not docker-compose v1). */
export function composeMajor(version: string): number | undefined {
  const match = /^v?(\d+)\./.exec(version.trim());
  return match === null ? undefined : Number(match[1]);
}

/** Runs a probe; resolves with its output, or the reason it could not run (never throws). */
async function probe(
  argv: string[],
  timeoutMs = 10_000,
): Promise<{ ok: boolean; output: string; missing: boolean }> {
  try {
    const result = await runLocal(argv, { allowFailure: true, timeoutMs });
    const output = `${result.stdout}\n${result.stderr}`.trim();
    return { ok: result.exitCode === 0, output, missing: false };
  } catch (error) {
    const message = oneLine(error);
    return { ok: false, output: message, missing: /not found on PATH/.test(message) };
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line !== '') ?? ''
  );
}

function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .at(-1) ?? ''
  );
}

async function dockerChecks(): Promise<Check[]> {
  const engine = await probe(dockerServerVersionArgs(), 20_000);
  const checks: Check[] = [];
  if (engine.missing) {
    checks.push({
      name: 'docker',
      status: 'fail',
      required: true,
      detail: 'docker was not found on PATH',
      fix: TOOLS.docker.install,
    });
  } else if (!engine.ok) {
    checks.push({
      name: 'docker',
      status: 'fail',
      required: true,
      detail: `the Docker engine did not answer: ${lastLine(engine.output)}`,
      fix: 'start Docker (`sudo systemctl start docker`, or open Docker Desktop), check DOCKER_HOST, and that your user may use it (`sudo usermod -aG docker $USER`, then log in again)',
    });
  } else {
    const where = process.env['DOCKER_HOST'];
    checks.push({
      name: 'docker',
      status: 'ok',
      required: true,
      detail: `engine ${firstLine(engine.output)}${where ? ` at ${where}` : ''}`,
    });
  }
  if (engine.missing) return checks;
  const compose = await probe(composeVersionArgs());
  const major = compose.ok ? composeMajor(firstLine(compose.output)) : undefined;
  checks.push(
    major !== undefined && major >= 2
      ? {
          name: 'compose',
          status: 'ok',
          required: true,
          detail: `v${firstLine(compose.output).replace(/^v/, '')}`,
        }
      : {
          name: 'compose',
          status: 'fail',
          required: true,
          detail: compose.ok
            ? `docker compose ${firstLine(compose.output)} is not compose v2`
            : 'the compose v2 plugin is missing (`docker compose` does not run)',
          fix: 'install the compose v2 plugin: `sudo apt-get install docker-compose-plugin` (Docker Desktop has it), https://docs.docker.com/compose/install/linux/',
        },
  );
  return checks;
}

interface ToolSpec {
  name: string;
  argv: string[];
  why: string;
  fix: string;
  required: boolean;
}

async function toolCheck(tool: ToolSpec): Promise<Check> {
  const result = await probe(tool.argv);
  if (result.ok) {
    return {
      name: tool.name,
      status: 'ok',
      required: tool.required,
      detail: firstLine(result.output) || 'found',
    };
  }
  return {
    name: tool.name,
    status: tool.required ? 'fail' : 'warn',
    required: tool.required,
    detail: `${result.missing ? 'not found' : `does not work: ${lastLine(result.output)}`} (${tool.why})`,
    fix: tool.fix,
  };
}

interface DoctorHost {
  environment: string;
  name: string;
  address: string | undefined;
  user: string | undefined;
  port: number | undefined;
  /** driver swarm: whether this host is the environment's manager (`manager:`, else the first host). */
  swarm?: { manager: boolean };
}

/**
 * The hosts of an ssh or swarm environment as it lists them (the project model's settings, or an
 * environment's config: no compose file needed, docker may be missing); with the mesh, a host without
 * an address gets its MagicDNS name. A swarm's hosts say which is its manager.
 */
export function environmentHosts(
  name: string,
  env: {
    driver: EnvironmentSettings['driver'];
    hosts?: EnvironmentSettings['hosts'];
    manager?: EnvironmentSettings['manager'];
  },
  mesh?: Pick<MeshModel, 'tailnetDomain'>,
): DoctorHost[] {
  if (env.driver !== 'ssh' && env.driver !== 'swarm') return [];
  let manager = env.manager;
  const seen = new Map<string, DoctorHost>();
  for (const entries of Object.values(env.hosts ?? {})) {
    for (const entry of entries as HostEntry[]) {
      const spec = typeof entry === 'string' ? { name: entry } : entry;
      if (seen.has(spec.name)) continue;
      manager ??= spec.name;
      seen.set(spec.name, {
        environment: name,
        name: spec.name,
        // With the mesh, a host without an address is reached by its MagicDNS name.
        address:
          spec.address ?? (mesh === undefined ? undefined : magicDnsName(spec.name, mesh.tailnetDomain)),
        user: spec.user,
        port: spec.port,
        ...(env.driver === 'swarm' ? { swarm: { manager: spec.name === manager } } : {}),
      });
    }
  }
  return [...seen.values()];
}

/**
 * A swarm host's place in the swarm (`docker info`'s Swarm): the manager must manage a swarm, the
 * others be nodes of one. Returns the detail and, when it is not so, the fix.
 */
async function swarmPlace(
  runner: Runner,
  host: DoctorHost & { swarm: { manager: boolean } },
): Promise<{ detail: string; fix?: string }> {
  const setup = `\`stagecraft setup -e ${host.environment}\` forms the swarm`;
  const read = await runner.exec(swarmInfoArgs(), { allowFailure: true, timeoutMs: 30_000 });
  if (read.exitCode !== 0) return { detail: `docker info failed: ${lastLine(read.stderr)}`, fix: setup };
  const info = parseSwarmInfo(read.stdout);
  if (info.state !== 'active') return { detail: `in no swarm (${info.state})`, fix: setup };
  if (host.swarm.manager && !info.controlAvailable) {
    return {
      detail: 'a worker of its swarm, not a manager',
      fix: `set manager: of ${host.environment} to a host that manages the swarm, or promote ${host.name} (\`docker node promote\`)`,
    };
  }
  return { detail: `swarm ${info.controlAvailable ? 'manager' : 'worker'}` };
}

async function hostCheck(project: ProjectModel, host: DoctorHost): Promise<Check> {
  const runner = createRunner(
    { name: host.name, address: host.address, user: host.user, port: host.port },
    { driver: 'ssh', ssh: project.environments[host.environment]?.ssh, rootDir: project.root },
  );
  const name = `${host.environment}/${host.name}`;
  const started = Date.now();
  try {
    const docker = await runner.exec(dockerServerVersionArgs(), {
      allowFailure: true,
      timeoutMs: 30_000,
    });
    const elapsed = Date.now() - started;
    if (docker.exitCode !== 0) {
      const missing = docker.exitCode === 127 || /not found/.test(docker.stderr);
      return {
        name,
        status: 'fail',
        required: true,
        detail: `ssh ok, but ${missing ? 'docker is not installed' : `the Docker engine did not answer: ${lastLine(docker.stderr)}`}`,
        fix: missing
          ? `${TOOLS.docker.install} on ${host.name}`
          : `start Docker on ${host.name} and add the ssh user to the docker group (\`sudo usermod -aG docker <user>\`)`,
      };
    }
    if (host.swarm !== undefined) {
      // Swarm nodes run stacks: no compose plugin needed, but each must be in the swarm.
      const place = await swarmPlace(runner, { ...host, swarm: host.swarm });
      const detail = `ssh ok (${elapsed} ms), docker ${firstLine(docker.stdout)}, ${place.detail}`;
      return place.fix === undefined
        ? { name, status: 'ok', required: true, detail }
        : { name, status: 'fail', required: true, detail, fix: place.fix };
    }
    const compose = await runner.exec(composeVersionArgs(), { allowFailure: true, timeoutMs: 30_000 });
    const major = compose.exitCode === 0 ? composeMajor(firstLine(compose.stdout)) : undefined;
    if (major === undefined || major < 2) {
      return {
        name,
        status: 'fail',
        required: true,
        detail: `ssh ok, docker ${firstLine(docker.stdout)}, but no compose v2`,
        fix: `install the compose v2 plugin on ${host.name}: \`sudo apt-get install docker-compose-plugin\``,
      };
    }
    const detail = `ssh ok (${elapsed} ms), docker ${firstLine(docker.stdout)}, compose v${firstLine(compose.stdout).replace(/^v/, '')}`;
    const { mesh } = project;
    if (mesh !== undefined) {
      const state = await meshStateOf(runner, host.name, mesh.tailnetDomain);
      return {
        name,
        status: state.joined ? 'ok' : 'warn',
        required: true,
        detail: `${detail}, mesh: ${state.detail}`,
        ...(state.joined
          ? {}
          : {
              fix: `join ${host.name} to ${mesh.tailnetDomain}: \`stagecraft setup -e ${host.environment}\``,
            }),
      };
    }
    return { name, status: 'ok', required: true, detail };
  } catch (error) {
    return {
      name,
      status: 'fail',
      required: true,
      detail: oneLine(error),
      fix:
        isStagecraftError(error) && error.hint !== undefined
          ? error.hint
          : 'check the host and its ssh settings',
    };
  } finally {
    await runner.close().catch(() => undefined);
  }
}

export interface DoctorReport {
  checks: Check[];
  /** The config that was checked, or why there was none. */
  config: string;
}

/** Every check, local ones and every host of the environment(s) in parallel. */
export async function runDoctor(context: Session): Promise<DoctorReport> {
  let loaded: LoadedConfig | undefined;
  let configNote: string;
  const checks: Check[] = [];
  try {
    loaded = await context.loadConfig('any');
    configNote = loaded.file;
  } catch (error) {
    const message = oneLine(error);
    if (/config not found/.test(message)) {
      configNote = 'no stagecraft.yml here: checked this machine only';
    } else {
      configNote = 'stagecraft.yml has problems';
      checks.push({
        name: 'stagecraft.yml',
        status: 'fail',
        required: true,
        detail: message,
        fix:
          isStagecraftError(error) && error.hint !== undefined
            ? error.hint
            : 'run `stagecraft config` to see the problems',
      });
    }
  }

  const project = loaded === undefined ? undefined : projectModel(loaded);
  const environments =
    project === undefined
      ? []
      : context.globals.env !== undefined && loaded?.envName !== undefined
        ? [loaded.envName]
        : Object.keys(project.environments);
  const hosts = environments.flatMap((name) =>
    environmentHosts(name, project!.environments[name]!, project!.mesh),
  );
  const usesSsh = hosts.length > 0;
  // Tools the selected providers need (e.g. encore for an Encore backend, tailscale for a mesh).
  const needs = new Map<ToolName, string>();
  for (const kind of PROVIDER_KINDS) {
    const section = project?.providers[kind];
    const selected = loaded === undefined ? undefined : selectedProvider(loaded.catalog, kind, section);
    for (const need of selected?.entry.doctorTools ?? [])
      if (!needs.has(need.tool)) needs.set(need.tool, need.why);
  }
  const tool = (name: ToolName, argv: string[], why: string, required = false): ToolSpec => ({
    name,
    argv,
    why: needs.get(name) ?? why,
    fix: TOOLS[name].install,
    required: required || needs.has(name),
  });

  const node = process.versions.node;
  checks.push(
    nodeSupported(node)
      ? { name: 'node', status: 'ok', required: true, detail: `v${node} (needs >= ${MIN_NODE.join('.')})` }
      : {
          name: 'node',
          status: 'fail',
          required: true,
          detail: `v${node} is too old (needs >= ${MIN_NODE.join('.')})`,
          fix: 'install Node.js 20.19 or newer (https://nodejs.org, or `nvm install 20`)',
        },
  );

  const tools: ToolSpec[] = [
    tool(
      'ssh',
      ['ssh', '-V'],
      usesSsh ? 'deploys reach the hosts with it' : 'for environments with driver: ssh',
      usesSsh,
    ),
    tool(
      'mkcert',
      ['mkcert', '-version'],
      'trusted HTTPS for `stagecraft dev`; `dev --no-https` works without it',
    ),
    tool('encore', ['encore', 'version'], 'for Encore.ts backends'),
    tool('tailscale', ['tailscale', 'version'], 'for the tailscale/headscale mesh'),
    tool('gh', ['gh', '--version'], '`stagecraft ci run` triggers GitHub Actions with it'),
    tool('git', ['git', '--version'], 'release versions default to the git commit'),
  ];

  const [docker, toolResults, hostResults] = await Promise.all([
    dockerChecks(),
    Promise.all(tools.map(toolCheck)),
    loaded === undefined ? Promise.resolve([]) : Promise.all(hosts.map((host) => hostCheck(project!, host))),
  ]);
  checks.push(...docker, toolResults[0]!, ...hostResults, ...toolResults.slice(1));
  return { checks, config: configNote };
}

/** The human report: one line per check, a fix line under each failure or warning. */
export function renderDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((check) => check.name.length));
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
  const lines = [`config: ${report.config}`, ''];
  for (const check of report.checks) {
    lines.push(`${mark[check.status]}  ${check.name.padEnd(width)}  ${check.detail}`);
    if (check.status !== 'ok' && check.fix !== undefined)
      lines.push(`${' '.repeat(6 + width + 2)}fix: ${check.fix}`);
  }
  const failures = report.checks.filter((check) => check.status === 'fail').length;
  const warnings = report.checks.filter((check) => check.status === 'warn').length;
  lines.push(
    '',
    failures === 0 && warnings === 0
      ? 'Everything is ready.'
      : `${failures} problem${failures === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`,
  );
  return lines.join('\n');
}
