import { compareStrings } from '../compose/canonical.js';
import type { HostEntry } from '../config/schema.js';
import {
  deployedServices,
  interpolateCompose,
  keyValueEntries,
  mountsOf,
  parsePort,
  roleOf,
} from '../gov/compose-facts.js';
import { dockerfileHasHealthcheck } from '../gov/rules/services.js';
import type { GovProject, RawComposeService } from '../gov/types.js';
import { PHASES, type ReleaseRecord } from '../state/types.js';

/** A migration file as the context describes it: name, content hash, statements that drop or rename. */
export interface MigrationFileFacts {
  name: string;
  sha256: string;
  drops_or_renames: string[];
}

/** What `describeProject` needs beyond the gov project view: migration files and the local ledger. */
export interface ContextSources {
  project: GovProject;
  /** Database name → its migration files, sorted by name. */
  migrationFiles: Record<string, MigrationFileFacts[]>;
  /** Records of `.stagecraft/releases.json` (any order). */
  releases: ReleaseRecord[];
  /** How many releases per environment to describe. */
  releasesPerEnvironment: number;
}

const sortBy = <T>(items: T[], key: (item: T) => string): T[] =>
  [...items].sort((a, b) => compareStrings(key(a), key(b)));

function healthSource(project: GovProject, name: string, service: RawComposeService): string {
  if (project.config.services?.[name]?.health !== undefined) return 'stagecraft.yml health';
  const check = service['healthcheck'] as { test?: unknown; disable?: unknown } | undefined;
  if (check?.disable === true) return 'disabled';
  if (check?.test !== undefined) return 'compose healthcheck';
  if (service['build'] !== undefined) {
    const dockerfile = project.dockerfile(name);
    if (dockerfile !== undefined && dockerfileHasHealthcheck(dockerfile)) return 'Dockerfile HEALTHCHECK';
  }
  return 'none';
}

/** The rollout strategy a deploy uses when stagecraft.yml names none (compose/analyze's rule, on the file as written). */
function defaultStrategy(service: RawComposeService, variables: Record<string, string>): string {
  const ports = Array.isArray(service['ports']) ? service['ports'] : [];
  if (ports.some((entry) => parsePort(entry, variables)?.published !== undefined)) return 'stop-first';
  if (typeof service['container_name'] === 'string') return 'stop-first';
  const replicas = (service['deploy'] as { replicas?: number } | undefined)?.replicas ?? 1;
  if (
    replicas <= 1 &&
    mountsOf(service).some(({ mount }) => mount.type === 'volume' && mount.source !== undefined)
  )
    return 'stop-first';
  return 'start-first';
}

function hostName(entry: HostEntry): string {
  return typeof entry === 'string' ? entry : entry.name;
}

/**
 * The project as `.ai-context/project.json` states it: services, routes, databases and migrations,
 * per environment its hosts, a plan outline (phases, what runs on each host and how it is replaced)
 * and the last releases. Pure and deterministic (sorted); values of environment variables are never
 * included, only their names.
 */
export function describeProject(sources: ContextSources): Record<string, unknown> {
  const { project } = sources;
  const config = project.config;
  const firstEnv = project.environments[0] ?? '';
  const variables = project.variables(firstEnv);
  const services = deployedServices(project).map(([name, service]) => {
    const settings = config.services?.[name];
    const build = service['build'];
    const buildSpec =
      build === undefined
        ? undefined
        : typeof build === 'string'
          ? { context: build }
          : {
              context: String((build as Record<string, unknown>)['context'] ?? '.'),
              ...((build as Record<string, unknown>)['dockerfile'] === undefined
                ? {}
                : { dockerfile: String((build as Record<string, unknown>)['dockerfile']) }),
            };
    const image =
      typeof service['image'] === 'string'
        ? (interpolateCompose(service['image'], variables) ?? service['image'])
        : undefined;
    const dependsOn = service['depends_on'];
    return {
      name,
      role: settings?.role ?? null,
      ...(buildSpec === undefined ? {} : { build: buildSpec }),
      ...(image === undefined ? {} : { image }),
      port: settings?.port ?? null,
      domains: [...(settings?.domains ?? [])],
      health: healthSource(project, name, service),
      rollout: settings?.rollout ?? `${defaultStrategy(service, variables)} (default)`,
      replicas: settings?.replicas ?? (service['deploy'] as { replicas?: number } | undefined)?.replicas ?? 1,
      depends_on: (Array.isArray(dependsOn)
        ? dependsOn.map(String)
        : Object.keys((dependsOn ?? {}) as object)
      ).sort(compareStrings),
      volumes: mountsOf(service)
        .flatMap(({ mount }) => (mount.type === 'volume' && mount.source !== undefined ? [mount.source] : []))
        .sort(compareStrings),
      published_ports: (Array.isArray(service['ports']) ? service['ports'] : []).map((entry) =>
        typeof entry === 'object' ? JSON.stringify(entry) : String(entry),
      ),
      environment: [
        ...new Set([
          ...keyValueEntries(service['environment'], []).map((entry) => entry.name),
          ...keyValueEntries(settings?.environment, []).map((entry) => entry.name),
        ]),
      ].sort(compareStrings),
      secrets: [...(settings?.secrets ?? [])].sort(compareStrings),
    };
  });

  const routes = sortBy(
    services.flatMap((service) =>
      service.domains.map((domain) => ({ domain, service: service.name, port: service.port })),
    ),
    (route) => `${route.domain}\u0000${route.service}`,
  );

  const databases = Object.keys(config.databases ?? {})
    .sort(compareStrings)
    .map((name) => {
      const database = config.databases?.[name];
      const migrations = database?.migrations;
      return {
        name,
        connection_env: database?.connection_env ?? null,
        migrations:
          migrations === undefined
            ? null
            : {
                engine: migrations.engine,
                path: migrations.path,
                strategy: migrations.strategy,
                table: migrations.table,
                service: migrations.service ?? null,
                files: sources.migrationFiles[name] ?? [],
              },
      };
    });

  const environments = project.environments.map((env) => {
    const environment = config.environments[env];
    const hosts = new Map<
      string,
      { name: string; address: string | null; user: string | null; port: number | null; roles: string[] }
    >();
    for (const [role, entries] of Object.entries(environment?.hosts ?? {})) {
      for (const entry of entries) {
        const name = hostName(entry);
        const spec: { address?: string; user?: string; port?: number } =
          typeof entry === 'string' ? {} : entry;
        const existing = hosts.get(name);
        if (existing !== undefined) existing.roles.push(role);
        else
          hosts.set(name, {
            name,
            address: spec.address ?? null,
            user: spec.user ?? environment?.ssh?.user ?? null,
            port: spec.port ?? environment?.ssh?.port ?? null,
            roles: [role],
          });
      }
    }
    const placement =
      environment?.driver === 'local'
        ? [{ host: 'local', services: deployedServices(project).map(([name]) => name) }]
        : [...hosts.values()].map((host) => ({
            host: host.name,
            services: deployedServices(project)
              .filter(([name]) => host.roles.includes(roleOf(project, env, name) ?? ''))
              .map(([name]) => name),
          }));
    const strategyOf = (db: string) =>
      environment?.databases?.[db]?.strategy ?? config.databases?.[db]?.migrations?.strategy ?? 'pre_deploy';
    const withMigrations = databases.filter((database) => database.migrations !== null);
    const built = services.filter((service) => service.build !== undefined).map((service) => service.name);
    const phases = PHASES.map((phase) => {
      const does =
        phase === 'build'
          ? built.length === 0
            ? []
            : [`build ${built.join(', ')}`]
          : phase === 'push'
            ? built.length === 0
              ? []
              : [
                  config.project.registry === undefined
                    ? 'copy images to the hosts over SSH'
                    : `push to ${config.project.registry}`,
                ]
            : phase === 'migrate_pre' || phase === 'migrate_post'
              ? withMigrations
                  .filter(
                    (database) =>
                      strategyOf(database.name) === (phase === 'migrate_pre' ? 'pre_deploy' : 'post_deploy'),
                  )
                  .map((database) => `migrate ${database.name} (${database.migrations?.engine})`)
              : phase === 'rollout'
                ? placement
                    .filter((entry) => entry.services.length > 0)
                    .map((entry) => `${entry.host}: ${entry.services.join(', ')}`)
                : ['record the release'];
      return { phase, steps: does };
    });
    const releases = sortBy(
      sources.releases.filter((record) => record.environment === env),
      (record) => record.id,
    )
      .reverse()
      .slice(0, sources.releasesPerEnvironment)
      .map((record) => ({
        id: record.id,
        kind: record.kind,
        version: record.version,
        commit: record.commit_sha,
        timestamp: record.timestamp,
        status: PHASES.some((phase) => record.phases[phase] === 'failed')
          ? 'failed'
          : PHASES.every(
                (phase) => record.phases[phase] === 'completed' || record.phases[phase] === 'skipped',
              )
            ? 'completed'
            : 'incomplete',
        images: Object.fromEntries(Object.entries(record.images).sort(([a], [b]) => compareStrings(a, b))),
        deployer: record.deployer.user,
        ...(record.migrations === undefined ? {} : { migrations: record.migrations }),
      }));
    return {
      name: env,
      driver: environment?.driver ?? null,
      require_confirmation: environment?.require_confirmation === true,
      hosts: sortBy([...hosts.values()], (host) => host.name),
      plan: phases,
      releases,
    };
  });

  return {
    format: 1,
    project: {
      name: config.project.name,
      registry: config.project.registry ?? null,
      config_file: project.configFile,
      compose_file: project.compose?.file ?? null,
    },
    services,
    routes,
    ingress: {
      provider: config.ingress?.provider ?? 'caddy',
      tls: config.ingress?.tls?.mode ?? 'off',
      http_port: config.ingress?.http_port ?? 80,
      https_port: config.ingress?.https_port ?? 443,
    },
    databases,
    secrets: {
      provider: config.secrets?.provider ?? null,
      keys: (config.secrets?.keys ?? [])
        .map((key) => (typeof key === 'string' ? key : key.name))
        .sort(compareStrings),
    },
    hooks: project.hooks,
    environments,
  };
}
