/**
 * The dev stack for one project, decided by pure code from stagecraft.yml and the compose model:
 * which compose services run as containers, which dev processes run on the host (each app
 * provider decides its own through its `dev.plan` hook), and which domain routes where. Same input,
 * same output; no I/O.
 */
import { resolve } from 'node:path';
import {
  type DevComposeModel,
  type DevComposeService,
  type PublishedPort,
  wellKnownPort,
} from '../compose/dev-model.js';
import { type ProviderCatalog, selectedProvider } from '../config/catalog.js';
import type { Config } from '../config/schema.js';
import { composeProjectName } from '../model/environment.js';
import type {
  AppDevHooks,
  AppKind,
  AppProvider,
  DevProcessPlan as ProviderDevProcessPlan,
} from '../providers/app.js';
import { didYouMean } from '../util/did-you-mean.js';
import { UserError } from '../util/errors.js';
import { needsHostsEntry } from '../util/localhost.js';

export type DevProcessName = AppKind;

/** A planned dev process with the hooks of the provider that runs it. */
export interface DevProcessPlan extends ProviderDevProcessPlan {
  hooks: AppDevHooks;
}

export interface InfraPlan {
  name: string;
  image: string | undefined;
  /** Ports the dev override publishes (none when the compose file publishes its own). */
  publish: PublishedPort[];
  /** The host port where the service's main port is reachable, if any. */
  hostPort: number | undefined;
}

export interface RoutePlan {
  domain: string;
  /** backend, frontend, or a compose service name. */
  target: string;
  /** host:port the proxy dials. */
  upstream: string;
}

export interface DevTopology {
  /** `<project>-<env>` (`shop-dev`): the compose project of the dev containers. */
  composeProject: string;
  infra: InfraPlan[];
  processes: DevProcessPlan[];
  routes: RoutePlan[];
  /** Route domains outside `.localhost`: they get a managed hosts entry. */
  hostsDomains: string[];
  /** Compose services not started as containers, and why. */
  skipped: { name: string; reason: string }[];
  /** Things worth telling the user (a domain that cannot be routed, …). */
  notes: string[];
}

export interface TopologyInput {
  config: Config;
  /** The providers the config was loaded with (`loaded.catalog`): each app provider plans its own process. */
  catalog: ProviderCatalog;
  root: string;
  compose: DevComposeModel | undefined;
  /** --only: process names (backend, frontend), their compose aliases, or compose service names. */
  only: readonly string[] | undefined;
  /** Where published container ports are reachable from this machine (127.0.0.1 for a local engine). */
  dockerAddress: string;
  /** The host IP the dev override binds published ports to. */
  bindIp: string;
  /** The environment (`dev` unless --env says otherwise): names the compose project. */
  envName: string;
}

export const DEFAULT_DOMAINS: Record<DevProcessName, string> = {
  frontend: 'app.localhost',
  backend: 'api.localhost',
};

function builtFrom(compose: DevComposeModel | undefined, workdir: string): string | undefined {
  return compose?.services.find(
    (service) => service.buildContext !== undefined && resolve(service.buildContext) === workdir,
  )?.name;
}

function planProcesses(input: TopologyInput, notes: string[]): DevProcessPlan[] {
  const { config, root, compose } = input;
  const plans: DevProcessPlan[] = [];
  for (const name of ['backend', 'frontend'] as const) {
    const section = config[name];
    if (section === undefined) continue;
    const selected = selectedProvider(input.catalog, name, section);
    const hooks = (selected?.entry as AppProvider | undefined)?.dev;
    if (selected === undefined || hooks === undefined) {
      notes.push(`${name} provider ${section.provider} has no dev process; nothing is started for it`);
      continue;
    }
    const decision = hooks.plan({ kind: name, config: selected.config, root });
    if ('note' in decision) {
      notes.push(decision.note);
      continue;
    }
    plans.push({
      name,
      provider: section.provider,
      config: selected.config,
      workdir: decision.workdir,
      port: decision.port,
      alias: decision.service ?? builtFrom(compose, decision.workdir),
      hooks,
    });
  }
  return plans;
}

type Classified =
  | { kind: 'infra'; service: DevComposeService }
  | { kind: 'process'; service: DevComposeService; process: DevProcessName }
  | { kind: 'external'; service: DevComposeService };

function classify(input: TopologyInput, processes: readonly DevProcessPlan[]): Classified[] {
  return (input.compose?.services ?? []).map((service): Classified => {
    const mode = input.config.services?.[service.name]?.mode;
    if (mode === 'container') return { kind: 'infra', service };
    if (mode === 'external') return { kind: 'external', service };
    const process = processes.find((plan) => plan.alias === service.name);
    if (process !== undefined) return { kind: 'process', service, process: process.name };
    return { kind: 'infra', service };
  });
}

function containerPort(input: TopologyInput, service: DevComposeService): number | undefined {
  return input.config.services?.[service.name]?.port ?? service.expose[0] ?? wellKnownPort(service.image);
}

function planInfra(input: TopologyInput, service: DevComposeService): InfraPlan {
  const port = containerPort(input, service);
  if (service.published.length > 0) {
    const main = service.published.find((published) => published.target === port) ?? service.published[0];
    return { name: service.name, image: service.image, publish: [], hostPort: main?.published };
  }
  if (port === undefined)
    return { name: service.name, image: service.image, publish: [], hostPort: undefined };
  return {
    name: service.name,
    image: service.image,
    publish: [{ bindIp: input.bindIp, hostPort: port, containerPort: port }],
    hostPort: port,
  };
}

function selectedNames(
  only: readonly string[] | undefined,
  processes: readonly DevProcessPlan[],
  classified: readonly Classified[],
): Set<string> | undefined {
  if (only === undefined || only.length === 0) return undefined;
  const known = new Map<string, string>();
  for (const process of processes) {
    known.set(process.name, process.name);
    if (process.alias !== undefined) known.set(process.alias, process.name);
  }
  for (const entry of classified)
    if (entry.kind === 'infra') known.set(entry.service.name, entry.service.name);
  const selected = new Set<string>();
  for (const name of only) {
    const target = known.get(name);
    if (target === undefined) {
      const candidates = [...known.keys()].sort();
      const suggestion = didYouMean(name, candidates);
      throw new UserError(
        `--only: nothing named "${name}" runs in dev${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
        {
          hint: `choose from: ${candidates.join(', ') || 'nothing (no backend, frontend or compose services)'}`,
        },
      );
    }
    selected.add(target);
  }
  return selected;
}

function urlUpstream(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port !== '' ? parsed.port : parsed.protocol === 'https:' ? '443' : '80';
  return `${parsed.hostname.includes(':') ? `[${parsed.hostname}]` : parsed.hostname}:${port}`;
}

export function planDevTopology(input: TopologyInput): DevTopology {
  const notes: string[] = [];
  const allProcesses = planProcesses(input, notes);
  const classified = classify(input, allProcesses);
  const selected = selectedNames(input.only, allProcesses, classified);
  const isSelected = (name: string) => selected === undefined || selected.has(name);

  const processes = allProcesses.filter((process) => isSelected(process.name));
  const skipped: DevTopology['skipped'] = [];
  const infra: InfraPlan[] = [];
  for (const entry of classified) {
    const name = entry.service.name;
    if (entry.kind === 'process')
      skipped.push({ name, reason: `runs on the host as the ${entry.process} process` });
    else if (entry.kind === 'external') skipped.push({ name, reason: 'mode external' });
    else if (!isSelected(name)) skipped.push({ name, reason: 'not in --only' });
    else infra.push(planInfra(input, entry.service));
  }

  // Domains: explicit ones first, then the defaults for processes that have none.
  const explicit = Object.entries(input.config.dev?.domains ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const targets: { key: string; domain: string }[] = [];
  for (const [key, domain] of explicit) {
    const process = allProcesses.find((plan) => plan.name === key || plan.alias === key);
    targets.push({ key: process?.name ?? key, domain });
  }
  for (const process of allProcesses) {
    if (!targets.some((target) => target.key === process.name)) {
      targets.push({ key: process.name, domain: DEFAULT_DOMAINS[process.name] });
    }
  }

  const routes: RoutePlan[] = [];
  const seen = new Map<string, string>();
  for (const { key, domain } of targets) {
    const normalised = domain.trim().toLowerCase();
    const previous = seen.get(normalised);
    if (previous !== undefined) {
      throw new UserError(`dev.domains: ${domain} is given to both ${previous} and ${key}`, {
        hint: 'give every app its own domain',
      });
    }
    seen.set(normalised, key);
    const upstream = upstreamOf(key, normalised);
    if (upstream !== undefined) routes.push({ domain: normalised, target: key, upstream });
  }

  function upstreamOf(key: string, domain: string): string | undefined {
    const process = allProcesses.find((plan) => plan.name === key);
    if (process !== undefined) {
      if (!isSelected(process.name)) return undefined;
      if (process.port === undefined) {
        notes.push(
          `${domain} is not routed: the ${key} port is unknown (set ${key}.providers.${process.provider}.dev.port)`,
        );
        return undefined;
      }
      return `localhost:${process.port}`;
    }
    const entry = classified.find((candidate) => candidate.service.name === key);
    if (entry === undefined) {
      const candidates = ['backend', 'frontend', ...classified.map((candidate) => candidate.service.name)];
      const suggestion = didYouMean(key, candidates);
      throw new UserError(
        `dev.domains.${key}: there is no backend, frontend or compose service named "${key}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
        { hint: 'dev.domains maps backend, frontend or a compose service name to a domain' },
      );
    }
    if (entry.kind === 'external') {
      const url = input.config.services?.[key]?.url;
      if (url === undefined) {
        notes.push(`${domain} is not routed: services.${key} is mode external without a url`);
        return undefined;
      }
      return urlUpstream(url);
    }
    const plan = infra.find((candidate) => candidate.name === key);
    if (plan === undefined) return undefined;
    if (plan.hostPort === undefined) {
      notes.push(`${domain} is not routed: no port known for ${key} (set services.${key}.port)`);
      return undefined;
    }
    return `${input.dockerAddress.includes(':') ? `[${input.dockerAddress}]` : input.dockerAddress}:${plan.hostPort}`;
  }

  routes.sort((a, b) => a.domain.localeCompare(b.domain));
  return {
    composeProject: composeProjectName(input.config.project.name, input.envName),
    infra,
    processes,
    routes,
    hostsDomains: routes.map((route) => route.domain).filter(needsHostsEntry),
    skipped,
    notes,
  };
}
