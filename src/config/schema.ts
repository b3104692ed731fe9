import * as z from 'zod';
import { VERSION_PATTERN } from '../util/build-info.js';
import { BYTE_SIZE } from '../util/byte-size.js';
import { parseDuration } from '../util/duration.js';
import type { ProviderCatalog, ProviderKind } from './catalog.js';

// A CLI validates one document per run: compiling zod's fast paths costs more than it saves.
z.config({ jitless: true });

/**
 * The one schema of stagecraft.yml. Validation, the TypeScript types, the JSON Schema written by
 * `stagecraft schema` and the reference in docs/config.md all come from here.
 */

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;

/** The longest wait a duration may set: Node's timers hold at most 2^31 - 1 ms (24.8 days). */
const MAX_WAIT_MS = 2 ** 31 - 1;

/** A duration of any length (an age, such as the build cache's). */
export const age = z
  .string()
  .regex(DURATION, { message: 'expected a duration such as "500ms", "30s", "2m" or "1m30s"' })
  .describe('A duration: a number followed by ms, s, m or h, e.g. "30s" or "1m30s".');

/** A duration Stagecraft waits for (a timeout, an interval): at most MAX_WAIT_MS. */
export const duration = age.refine((value) => !DURATION.test(value) || parseDuration(value) <= MAX_WAIT_MS, {
  message: 'expected at most 596h (24.8 days): a longer wait cannot be timed',
});

/**
 * Values that end up in argv, in files on hosts or in /etc/hosts: checked at load time so that no
 * value can start an option ("-o…"), carry a newline or whitespace, or grow without bound.
 */
export const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** A DNS name, an IPv4 address, an IPv6 address (optionally in brackets) or an ssh config alias. */
export const HOST_ADDRESS =
  /^(\[[0-9A-Fa-f:.%A-Za-z]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.%A-Za-z]*|[A-Za-z0-9_][A-Za-z0-9_.-]*)$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** `[user@]host[:port]`, comma-separated (ssh -J). */
const JUMP_HOST =
  /^([A-Za-z0-9_][A-Za-z0-9_.-]*@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_][A-Za-z0-9_.-]*)(:\d{1,5})?$/;
/** A domain name: labels of letters, digits, "-" and "_", optionally "*." first; at most 253 characters. */
const DOMAIN =
  /^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

const hostName = z.string().min(1).max(253).regex(HOST_NAME, {
  message: 'expected a host name: letters, digits, ".", "-" and "_", starting with a letter or digit',
});
const hostAddress = z.string().min(1).max(253).regex(HOST_ADDRESS, {
  message:
    'expected an address: a DNS name, an IP address or an ssh config alias (no spaces, not starting with "-")',
});
const userName = z.string().min(1).max(64).regex(USER_NAME, {
  message: 'expected a user name: letters, digits, ".", "-" and "_", not starting with "-"',
});
const jumpHosts = z
  .string()
  .min(1)
  .max(1024)
  .refine((value) => value.split(',').every((hop) => JUMP_HOST.test(hop)), {
    message:
      'expected [user@]host[:port], comma-separated for several jumps (no spaces, not starting with "-")',
  });
/** A local file path: no newline or NUL, bounded. */
const filePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((value) => !/[\0\n\r]/.test(value), { message: 'a path must not contain newlines or NUL' });
/** A URL path prefix: one or more `/segment`, no trailing slash, no `*` (Caddy's wildcard). */
const PATH_PREFIX = /^(\/[A-Za-z0-9._~%!$&'()+,;=:@-]+)+$/;
/** A route's domain: `*` or a domain name, optionally followed by a path prefix (`example.com/api`). */
const ROUTE_DOMAIN = new RegExp(`^(\\*|${DOMAIN.source.slice(1, -1)})(${PATH_PREFIX.source.slice(1, -1)})?$`);

/** The host part and the path prefix of a route domain (`example.com/api` → example.com, /api). */
export function splitRouteDomain(entry: string): { host: string; path: string | undefined } {
  const slash = entry.indexOf('/');
  return slash < 0
    ? { host: entry, path: undefined }
    : { host: entry.slice(0, slash), path: entry.slice(slash) };
}

const pathPrefix = z.string().min(1).max(1024).regex(PATH_PREFIX, {
  message: 'expected a path prefix such as /api or /app/v2: "/" and segments, no trailing "/", no "*"',
});

const routeDomain = z
  .string()
  .min(1)
  .max(1280)
  .regex(ROUTE_DOMAIN, {
    message:
      'expected a domain name such as shop.test, optionally with a path prefix (shop.test/api), or "*" for every other request',
  })
  .refine((entry) => splitRouteDomain(entry).host.length <= 253, {
    message: 'a domain name has at most 253 characters',
  });

const byteSize = z.union([
  z.number().int().min(1),
  z.string().regex(BYTE_SIZE, {
    message: 'expected a size such as 10MB, 512KiB or 1GB (MB = 1000², MiB = 1024²), or a number of bytes',
  }),
]);

export const domainName = z.string().min(1).max(253).regex(DOMAIN, {
  message:
    'expected a domain name such as shop.test or api.example.com (letters, digits, "-", "_" and dots; no spaces or newlines)',
});

const envVarName = z
  .string()
  .regex(ENV_VAR, { message: 'expected an environment variable name (letters, digits, underscores)' });

const port = z.number().int().min(1).max(65535);

const relativePath = (what: string) =>
  z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.startsWith('~'), { message: `${what} must be a relative path` })
    .refine((p) => !p.split(/[\\/]/).includes('..'), { message: `${what} must not contain '..' segments` });

const healthOverride = z
  .strictObject({
    path: z
      .string()
      .startsWith('/')
      .optional()
      .describe(
        'HTTP path probed inside the container on 127.0.0.1 (wget, curl or node in the image; a 2xx answer is healthy), every 2s unless interval says otherwise; replaces the compose health check.',
      ),
    port: port.optional().describe('Container port probed; defaults to the service port.'),
    interval: duration.optional(),
    timeout: duration.optional(),
    retries: z.number().int().min(1).optional(),
    start_period: duration.optional(),
    stable_for: duration
      .optional()
      .describe('Without a health check: how long a new container must keep running to count as ready.'),
  })
  .describe('Overrides or supplies the health check of a service (the compose healthcheck otherwise).');

const serviceFields = {
  role: z
    .string()
    .regex(NAME)
    .optional()
    .describe('Host role that runs this service; without one it runs on every host of the first role.'),
  rollout: z
    .enum(['start-first', 'stop-first', 'recreate'])
    .optional()
    .describe(
      'How new containers replace old ones; start-first by default, stop-first for what two containers cannot share (a fixed host port, container_name, IP or MAC address) and for one replica writing to a named volume or a host folder.',
    ),
  health: healthOverride.optional(),
  mode: z
    .enum(['container', 'external'])
    .optional()
    .describe('In `stagecraft dev`: run the compose container, or route to a process on the host.'),
  url: z.url().optional().describe('In `stagecraft dev`, mode external: where the proxy sends requests.'),
  port: port.optional().describe('Container port the ingress routes to.'),
  domains: z
    .array(routeDomain)
    .max(100)
    .optional()
    .describe(
      'Domains the ingress serves for this service ("*": every other request); `example.com/api` routes only /api and /api/… of example.com (see path).',
    ),
  path: pathPrefix
    .optional()
    .describe(
      'Path prefix routed to this service on its domains, e.g. /api: the gateway sends /api and /api/… here, longer prefixes first (the same as writing the domains as example.com/api).',
    ),
  strip_path: z
    .boolean()
    .optional()
    .describe(
      "With a path prefix: remove it before the request reaches the service, so /api/users arrives as /users (default true, as Kamal's strip_path_prefix); false passes the path unchanged.",
    ),
  max_body: byteSize
    .optional()
    .describe(
      'Largest request body the gateway lets through to this service, e.g. 10MB (MB = 1000², MiB = 1024²) or a number of bytes; a larger one is refused (413; Caddy 2.6 answers 502).',
    ),
  routes: z
    .array(
      z
        .strictObject({
          port: port.describe('Container port this route sends requests to.'),
          domains: z
            .array(routeDomain)
            .min(1)
            .max(100)
            .describe(
              'Domains of this route ("*": every other request); `example.com/ws` routes only /ws and /ws/….',
            ),
          path: pathPrefix
            .optional()
            .describe('Path prefix of this route on its domains (see the service’s path).'),
          strip_path: z
            .boolean()
            .optional()
            .describe('With a path prefix: remove it before the request reaches the port (default true).'),
          max_body: byteSize
            .optional()
            .describe('Largest request body on this route (see the service’s max_body).'),
        })
        .superRefine(routeSettingsProblems),
    )
    .max(20)
    .optional()
    .describe(
      'More routes to other container ports of this service (an admin port, a websocket server), each with its own domains; the main route is port and domains, and basic_auth protects every route of the service.',
    ),
  basic_auth: z
    .strictObject({
      user: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[^:\s]+$/, { message: 'expected a user name without ":" or spaces' })
        .describe('The user name asked for.'),
      password_secret: envVarName.describe(
        'The secret holding the password (a name of secrets.keys, or an environment variable): hashed with bcrypt on the deploying machine, never written anywhere else.',
      ),
    })
    .optional()
    .describe(
      'HTTP basic auth in front of this service at the gateway (a staging site, say): requests without the user and password get 401.',
    ),
  replicas: z.number().int().min(1).optional(),
  secrets: z.array(envVarName).optional().describe('Names from `secrets.keys` given to this service.'),
  environment: z
    .record(envVarName, z.string().max(65_536))
    .optional()
    .describe(
      "Variables set on the service's containers over the compose file's environment (an environment's block over the project's, key by key); secret ones (by name, or holding a secret's value) go to the service's 0600 env file on the hosts.",
    ),
  stop_timeout: duration
    .optional()
    .describe(
      "How long a container gets to stop before it is killed (the compose file's stop_grace_period).",
    ),
};

/**
 * One service's route settings within one block of stagecraft.yml: its domains take one path prefix
 * (all the same, and the same as `path`). The merged blocks (project and environment) are checked
 * again by the model.
 */
function routeSettingsProblems(
  service: { domains?: string[] | undefined; path?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  const domains = service.domains ?? [];
  const first = domains[0] === undefined ? undefined : splitRouteDomain(domains[0]).path;
  domains.forEach((entry, index) => {
    const { path } = splitRouteDomain(entry);
    if (service.path !== undefined && path !== undefined && path !== service.path) {
      ctx.addIssue({
        code: 'custom',
        path: ['domains', index],
        message: `${entry} has path prefix ${path}, but path is ${service.path}: a service has one path prefix (route another prefix to another service)`,
      });
    } else if (service.path === undefined && path !== first) {
      ctx.addIssue({
        code: 'custom',
        path: ['domains', index],
        message: `${entry} has ${path === undefined ? 'no path prefix' : `path prefix ${path}`}, but ${domains[0]} has ${first === undefined ? 'none' : first}: every domain of a service takes the same path prefix (route another prefix to another service)`,
      });
    }
  });
}

const serviceSchema = z.strictObject(serviceFields).superRefine(routeSettingsProblems);

const hostEntry = z.union([
  hostName,
  z.strictObject({
    name: hostName,
    address: hostAddress.optional(),
    user: userName.optional(),
    port: port.optional(),
  }),
]);

const sshSettings = z
  .strictObject({
    user: userName.optional(),
    port: port.optional(),
    identity_file: filePath.optional(),
    known_hosts_file: filePath.optional(),
    config_file: filePath.optional(),
    proxy_jump: jumpHosts.optional(),
    connect_timeout: duration.optional(),
  })
  .describe('How hosts are reached; ~/.ssh/config is honoured, host keys are always verified.');

const rolloutSettings = z.strictObject({
  parallel_hosts: z.number().int().min(1).optional().describe('How many hosts roll out at once (default 4).'),
  parallel_services: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "How many services roll out at once on one host when depends_on allows (default 16); they share one compose up and their reads, and at most 8 commands run at once over the host's SSH connection.",
    ),
  canary: z.boolean().optional().describe('Roll out to the first host alone, then to the rest.'),
  auto_rollback: z.boolean().optional().describe('Switch hosts back when another host fails (default true).'),
  health_timeout: duration
    .optional()
    .describe('How long new containers may take to become healthy (default 2m).'),
  stable_for: duration.optional(),
  drain_timeout: duration
    .optional()
    .describe(
      'The longest old containers drain after the switch: they stop as soon as the gateway has no request in flight to them (default 1s).',
    ),
});

const releaseSettings = z
  .strictObject({
    retain: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe(
        'Releases kept per environment (default 5): at the end of each deploy and by `stagecraft prune`, release folders, images and stopped containers of older releases are removed from the hosts and the build machine, unless a kept release or a container uses them.',
      ),
    build_cache: age
      .optional()
      .describe(
        'Build cache on the build machine unused for this long is removed with the releases (`docker builder prune --filter until=…`, default 168h).',
      ),
  })
  .describe('Retention: how many releases stay on the hosts to roll back to (`stagecraft prune`).');

const strategy = z.enum(['pre_deploy', 'post_deploy', 'manual']);

/**
 * What driver swarm cannot do, as config errors at the key: Swarm schedules tasks itself (no
 * per-host canary or parallel_hosts: its `update_config.parallelism` says how many tasks update at
 * once), updates start-first or stop-first only (no recreate), stops tasks with their
 * stop_grace_period (no drain_timeout), and a failed update pauses (auto_rollback is not supported).
 */
function swarmRefinements(
  env: {
    manager?: string | undefined;
    hosts?: Record<string, z.output<typeof hostEntry>[]> | undefined;
    rollout?: z.output<typeof rolloutSettings> | undefined;
    services?: Record<string, z.output<typeof serviceSchema>> | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  const names = Object.values(env.hosts ?? {})
    .flat()
    .map((entry) => (typeof entry === 'string' ? entry : entry.name));
  if (env.manager !== undefined && env.hosts !== undefined && !names.includes(env.manager)) {
    ctx.addIssue({
      code: 'custom',
      path: ['manager'],
      message: `manager ${env.manager} is not one of this environment's hosts (${[...new Set(names)].join(', ')}); name a host listed under hosts`,
    });
  }
  const refused: Record<string, string> = {
    canary:
      'driver swarm: Swarm updates task by task; set deploy.update_config.parallelism in the compose file instead of rollout.canary',
    parallel_hosts:
      'driver swarm: Swarm schedules tasks, not hosts; set deploy.update_config.parallelism in the compose file instead of rollout.parallel_hosts',
    drain_timeout:
      'driver swarm: Swarm stops a task with its stop_grace_period; set that in the compose file instead of rollout.drain_timeout',
    auto_rollback:
      'driver swarm: a failed update pauses and leaves the old tasks serving; roll back with `stagecraft rollback` (rollout.auto_rollback is not supported on swarm)',
  };
  for (const [key, message] of Object.entries(refused)) {
    if (env.rollout?.[key as keyof typeof env.rollout] !== undefined)
      ctx.addIssue({ code: 'custom', path: ['rollout', key], message });
  }
  for (const [name, service] of Object.entries(env.services ?? {})) {
    if (service.rollout === 'recreate') {
      ctx.addIssue({
        code: 'custom',
        path: ['services', name, 'rollout'],
        message: 'driver swarm updates start-first or stop-first; recreate is not a Swarm update order',
      });
    }
  }
}

const environmentSchema = z
  .strictObject({
    driver: z
      .enum(['local', 'ssh', 'swarm'])
      .describe(
        "local: this machine's Docker engine, no SSH; ssh: the hosts below; swarm: a Docker Swarm of the hosts below, driven through its manager.",
      ),
    manager: hostName
      .optional()
      .describe(
        'driver swarm: the host (a name under hosts) Stagecraft reaches over SSH to run the swarm; default the first host listed.',
      ),
    hosts: z
      .record(z.string().regex(NAME), z.array(hostEntry).min(1))
      .optional()
      .describe('Role → hosts (names, or {name, address, user, port}).'),
    env_file: z.union([z.string(), z.array(z.string())]).optional(),
    ssh: sshSettings.optional(),
    services: z.record(z.string().regex(SERVICE_NAME), serviceSchema).optional(),
    databases: z.record(z.string().regex(NAME), z.strictObject({ strategy: strategy.optional() })).optional(),
    rollout: rolloutSettings.optional(),
    releases: releaseSettings.optional(),
    require_confirmation: z.boolean().optional(),
    lock_expiry: duration
      .optional()
      .describe('How long a deploy lock lives before it may be broken (default 30m).'),
  })
  .superRefine((env, ctx) => {
    if (env.driver !== 'local' && env.hosts !== undefined && Object.keys(env.hosts).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['hosts'],
        message: `driver ${env.driver} needs at least one host role`,
      });
    }
    if (env.driver === 'swarm') swarmRefinements(env, ctx);
    else if (env.manager !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['manager'],
        message: `manager belongs to driver swarm; driver ${env.driver} reaches every host itself`,
      });
    }
    if (env.driver === 'local' && env.hosts !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['hosts'],
        message: "driver local deploys to this machine's Docker engine; hosts belong to driver ssh",
      });
    }
  });

function providerSection(catalog: ProviderCatalog, kind: ProviderKind, defaultProvider?: string) {
  const entries = catalog.providers[kind];
  const ids = entries.map((entry) => entry.id) as [string, ...string[]];
  const providerShape = Object.fromEntries(entries.map((entry) => [entry.id, entry.schema.optional()]));
  const hints = entries.flatMap((entry) => (entry.unknownIdHint === undefined ? [] : [entry.unknownIdHint]));
  const provider = z
    .enum(ids, hints.length === 0 ? undefined : { error: () => hints.join('; ') })
    .describe(`Selects the ${kind} provider.`);
  return {
    provider: defaultProvider === undefined ? provider : provider.default(defaultProvider),
    providers: z
      .strictObject(providerShape)
      .optional()
      .describe('Per-provider configuration; only the selected one is used.'),
  };
}

type SelectedProvider = { provider: string; providers?: Record<string, unknown> | undefined };

function requireSelectedProviderConfig(kind: ProviderKind, catalog: ProviderCatalog) {
  return (
    section: { provider: string; providers?: Record<string, unknown> | undefined },
    ctx: z.RefinementCtx,
  ) => {
    const entry = catalog.providers[kind].find((candidate) => candidate.id === section.provider);
    if (entry === undefined || section.providers?.[section.provider] !== undefined) return;
    if (!entry.schema.safeParse({}).success) {
      ctx.addIssue({
        code: 'custom',
        path: ['providers', section.provider],
        message: `${kind}.providers.${section.provider} is missing; provider-specific config is required`,
      });
    }
  };
}

function section<Extra extends z.ZodRawShape = Record<never, never>>(
  catalog: ProviderCatalog,
  kind: ProviderKind,
  extra?: Extra,
  fallback?: string,
) {
  return z
    .strictObject({ ...providerSection(catalog, kind, fallback), ...(extra ?? ({} as Extra)) })
    .superRefine((value, ctx) =>
      requireSelectedProviderConfig(kind, catalog)(value as SelectedProvider, ctx),
    );
}

const migrationSelection = z
  .strictObject({
    all: z.boolean().optional(),
    ids: z.array(z.string().trim().min(1)).optional(),
    tags: z.array(z.string().trim().min(1)).optional(),
  })
  .superRefine((selection, ctx) => {
    if (selection.all === true && ((selection.ids?.length ?? 0) > 0 || (selection.tags?.length ?? 0) > 0)) {
      ctx.addIssue({ code: 'custom', message: 'all=true cannot be combined with ids or tags' });
    }
    for (const key of ['ids', 'tags'] as const) {
      const list = selection[key] ?? [];
      if (new Set(list).size !== list.length) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} must not contain duplicates` });
      }
    }
  });

const migrationSources = z.strictObject({
  raw_sql_dir: relativePath('raw_sql_dir').optional(),
  raw_sql_files: z.array(relativePath('raw_sql_files entry')).optional(),
});

function globalMigrations(engineIds: [string, ...string[]]) {
  const override = z.strictObject({
    enabled: z.boolean().optional(),
    default_engine: z.enum(engineIds).optional(),
    sources: migrationSources.optional(),
    selection: migrationSelection.optional(),
    engine_config: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  });
  return override
    .extend({ env: z.record(z.string(), override).optional() })
    .superRefine((block, ctx) => {
      if (block.enabled !== false && block.default_engine === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['default_engine'],
          message: 'migrations.default_engine is required when migrations.enabled is true',
        });
      }
    })
    .describe(
      'Global migration selection (original design §1.4.9); per-database blocks are under databases.',
    );
}

function databaseSchema(catalog: ProviderCatalog) {
  const engineIds = catalog.migrationEngines.map((engine) => engine.id) as [string, ...string[]];
  const migrations = z
    .strictObject({
      engine: z.enum(engineIds),
      path: z.string().min(1).describe('Folder of migration files, relative to the project root.'),
      strategy: strategy.default('pre_deploy'),
      table: z
        .string()
        .regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/)
        .default('stagecraft_migrations'),
      timeout: duration.optional().describe('How long a migration run may take in a deploy (default 10m).'),
      service: z
        .string()
        .regex(SERVICE_NAME)
        .optional()
        .describe('Compose service whose new image, networks and env run deploy-time migrations.'),
      command: z.array(z.string()).min(1).optional().describe('argv of a command-based engine.'),
    })
    .superRefine((block, ctx) => {
      const engine = catalog.migrationEngines.find((candidate) => candidate.id === block.engine);
      if (engine?.requiresCommand === true && block.command === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['command'],
          message: `migration engine "${block.engine}" needs command: the argv that applies migrations`,
        });
      }
    });
  return z.strictObject({
    connection_env: envVarName.describe('Environment variable holding the connection URL.'),
    migrations: migrations.optional(),
  });
}

const secretKey = z.union([
  envVarName,
  z
    .strictObject({
      name: envVarName,
      from_env: envVarName.optional().describe('Read the value from this variable instead of `name`.'),
      command: z.array(z.string()).min(1).optional().describe('Read the value from this command’s stdout.'),
    })
    .refine((key) => !(key.from_env !== undefined && key.command !== undefined), {
      message: 'a secret takes its value from from_env or from command, not both',
    }),
]);

export function buildConfigSchema(catalog: ProviderCatalog) {
  const engineIds = catalog.migrationEngines.map((engine) => engine.id) as [string, ...string[]];
  return z
    .strictObject({
      $schema: z.string().optional(),
      minimum_version: z
        .string()
        .regex(VERSION_PATTERN, { message: 'expected a version such as "0.3.0"' })
        .optional()
        .describe(
          'Oldest Stagecraft that may use this file, e.g. "0.3.0"; an older CLI stops with the upgrade command.',
        ),
      project: z.strictObject({
        name: z
          .string()
          .regex(NAME, {
            message:
              'expected lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters',
          })
          .describe('Names images, compose projects (<name>-<env>) and locks.'),
        registry: z
          .string()
          .regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, {
            message: 'expected a registry prefix such as ghcr.io/acme/shop or 127.0.0.1:5000/shop',
          })
          .optional()
          .describe(
            'Prefix of the images Stagecraft builds, e.g. ghcr.io/acme/shop: builds are pushed there and hosts pull them. Unset or `none` (driver ssh): each host gets the images over its SSH connection, only the layers it lacks (docs/no-registry.md). driver swarm needs one.',
          ),
        registry_cache: z
          .boolean()
          .optional()
          .describe(
            "Default true (with a registry and remote hosts): each build reuses the layers of the last build from `<image>:buildcache` in the registry (BuildKit inline cache), so a fresh CI runner or build machine rebuilds only what changed. false: only the build machine's own cache. A build whose compose file sets cache_from or cache_to keeps its own.",
          ),
        type: z.string().optional(),
      }),
      compose: z
        .strictObject({
          file: z
            .string()
            .min(1)
            .optional()
            .describe(
              'Canonical compose file; default the first of docker-compose.yml, docker-compose.yaml, compose.yaml, compose.yml (with two of them, plan warns: docker compose takes compose.yaml first).',
            ),
          profiles: z.array(z.string()).optional(),
          strict: z
            .boolean()
            .optional()
            .describe(
              "Make compose's warnings (e.g. a variable that is not set) errors that stop plan and deploy; default false: they are shown.",
            ),
        })
        .optional(),
      backend: section(catalog, 'backend').optional(),
      frontend: section(catalog, 'frontend').optional(),
      dev: z
        .strictObject({
          domains: z
            .record(z.string().regex(SERVICE_NAME), domainName)
            .optional()
            .describe('App → domain; defaults frontend: app.localhost, backend: api.localhost.'),
          https: z.boolean().optional(),
          proxy: z.strictObject({ http_port: port.optional(), https_port: port.optional() }).optional(),
          hosts_file: filePath.optional(),
        })
        .optional(),
      services: z.record(z.string().regex(SERVICE_NAME), serviceSchema).optional(),
      databases: z.record(z.string().regex(NAME), databaseSchema(catalog)).optional(),
      migrations: globalMigrations(engineIds).optional(),
      network: section(catalog, 'network', undefined, 'none').optional(),
      cloud: section(catalog, 'cloud').optional(),
      infra: z
        .strictObject({
          bootstrap: z
            .strictObject({
              ssh_user: userName
                .optional()
                .describe('User `setup` connects as: root or a passwordless sudoer (default root).'),
              deploy_user: userName
                .regex(/^[a-z_][a-z0-9_-]*$/)
                .optional()
                .describe(
                  "Non-root user `setup` creates in the docker group with the operator's key (default: the environment's non-root ssh.user, else deploy).",
                ),
              public_key_file: z
                .string()
                .optional()
                .describe(
                  "The operator's OpenSSH public key given to the deploy user (default: ssh.identity_file + .pub, else ~/.ssh/id_ed25519.pub).",
                ),
              log_max_size: z
                .string()
                .regex(/^\d+[kmg]$/)
                .optional()
                .describe('json-file log rotation: size of one container log file (default 10m).'),
              log_max_file: z
                .number()
                .int()
                .min(1)
                .optional()
                .describe('json-file log rotation: files kept per container (default 3).'),
              docker: z
                .strictObject({
                  enabled: z.boolean().optional(),
                  install_method: z.enum(['apt', 'script', 'skip']).optional(),
                })
                .optional(),
            })
            .optional(),
        })
        .optional(),
      ci: section(catalog, 'ci').optional(),
      secrets: section(catalog, 'secrets', {
        keys: z.array(secretKey).optional().describe('Secret names and where their values come from.'),
      }).optional(),
      ingress: section(
        catalog,
        'ingress',
        {
          image: z.string().min(1).optional().describe('Gateway image on deploy hosts (default caddy:2).'),
          http_port: port.optional(),
          https_port: port.optional(),
          tls: z
            .strictObject({
              mode: z.enum(['off', 'acme', 'custom']).default('off'),
              email_env: envVarName.optional(),
              cert_file: filePath.optional(),
              key_file: filePath.optional(),
              acme_ca: z
                .string()
                .regex(/^https:\/\/[^\s/]+(\/\S*)?$/, {
                  message: 'expected the https:// URL of an ACME directory',
                })
                .optional()
                .describe(
                  "mode acme: the ACME directory the certificates come from (default Let's Encrypt, with ZeroSSL as fallback), e.g. https://acme-staging-v02.api.letsencrypt.org/directory or a private ACME CA.",
                ),
              acme_ca_root: filePath
                .optional()
                .describe(
                  "mode acme: a PEM file (relative to the project folder) of the CA that signs the ACME directory's own HTTPS certificate, for a private ACME CA.",
                ),
            })
            .superRefine((tls, ctx) => {
              if (tls.mode === 'custom' && (tls.cert_file === undefined || tls.key_file === undefined)) {
                ctx.addIssue({ code: 'custom', message: 'tls mode custom needs cert_file and key_file' });
              }
              for (const key of ['acme_ca', 'acme_ca_root'] as const) {
                if (tls.mode !== 'acme' && tls[key] !== undefined) {
                  ctx.addIssue({
                    code: 'custom',
                    path: [key],
                    message: `${key} applies only to mode acme (this tls block has mode ${tls.mode})`,
                  });
                }
              }
            })
            .optional(),
        },
        'caddy',
      ).optional(),
      gov: z
        .strictObject({
          disable: z
            .array(z.string().regex(/^[a-z0-9-]+$/, { message: 'expected a rule id such as image-latest' }))
            .optional()
            .describe('Rule ids that `stagecraft gov` skips; docs/gov.md lists every rule.'),
        })
        .optional()
        .describe('Deploy-policy checks (`stagecraft gov`).'),
      environments: z
        .record(z.string().regex(NAME), environmentSchema)
        .refine((envs) => Object.keys(envs).length > 0, { message: 'at least one environment is required' }),
    })
    .superRefine((config, ctx) => {
      // A driver ssh environment lists its hosts, or gets them from `infra up` (the cloud provider's hosts.<env>).
      const cloudHosts = (
        config.cloud?.providers as Record<string, { hosts?: Record<string, unknown> } | undefined> | undefined
      )?.[config.cloud?.provider ?? '']?.hosts;
      for (const [name, env] of Object.entries(config.environments)) {
        if (env.driver === 'ssh' && env.hosts === undefined && cloudHosts?.[name] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['environments', name, 'hosts'],
            message: 'driver ssh needs at least one host role',
          });
        }
        if (env.driver === 'swarm' && env.hosts === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['environments', name, 'hosts'],
            message: 'driver swarm needs its hosts (role → hosts): the swarm nodes, labelled by role',
          });
        }
        if (env.driver === 'swarm') {
          for (const [service, settings] of Object.entries(config.services ?? {})) {
            if (settings.rollout === 'recreate' && env.services?.[service]?.rollout === undefined) {
              ctx.addIssue({
                code: 'custom',
                path: ['services', service, 'rollout'],
                message: `environment ${name} uses driver swarm, which updates start-first or stop-first; recreate is not a Swarm update order (override it under environments.${name}.services.${service}.rollout)`,
              });
            }
          }
        }
      }
    })
    .superRefine((config, ctx) => meshRoleTagProblems(config, ctx))
    .describe('Stagecraft configuration (stagecraft.yml).');
}

type SectionShape = { provider: string; providers?: Record<string, unknown> | undefined };

/**
 * `network.providers.<tailscale|headscale>.role_tags`: each key must be a host role of some
 * environment (environments.<env>.hosts, or a cloud host's role), else the tags would never apply.
 */
function meshRoleTagProblems(
  config: {
    network?: Record<string, unknown> | undefined;
    cloud?: Record<string, unknown> | undefined;
    environments: Record<string, { hosts?: Record<string, unknown> | undefined }>;
  },
  ctx: z.RefinementCtx,
): void {
  const network = config.network as SectionShape | undefined;
  const cloudSection = config.cloud as SectionShape | undefined;
  const provider = network?.provider;
  if (provider !== 'tailscale' && provider !== 'headscale') return;
  const roleTags = (network?.providers?.[provider] as { role_tags?: Record<string, unknown> } | undefined)
    ?.role_tags;
  if (roleTags === undefined) return;
  const roles = new Set<string>();
  for (const env of Object.values(config.environments))
    for (const role of Object.keys(env.hosts ?? {})) roles.add(role);
  const cloud = (
    cloudSection?.providers?.[cloudSection.provider] as
      | { hosts?: Record<string, Record<string, { role?: string }>> }
      | undefined
  )?.hosts;
  for (const hosts of Object.values(cloud ?? {}))
    for (const host of Object.values(hosts)) roles.add(host.role ?? 'app');
  for (const role of Object.keys(roleTags)) {
    if (roles.has(role)) continue;
    ctx.addIssue({
      code: 'custom',
      path: ['network', 'providers', provider, 'role_tags', role],
      message: `"${role}" is not a host role of any environment (roles: ${[...roles].sort().join(', ') || 'none'})`,
    });
  }
}

export type ConfigSchema = ReturnType<typeof buildConfigSchema>;
export type Config = z.output<ConfigSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type HostEntry = z.output<typeof hostEntry>;
export type SshSettings = z.output<typeof sshSettings>;
export type RolloutSettings = z.output<typeof rolloutSettings>;
export type DatabaseConfig = z.output<ReturnType<typeof databaseSchema>>;
export type SecretKeyConfig = z.output<typeof secretKey>;
