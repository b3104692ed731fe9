import { createHash } from 'node:crypto';
import { healthcheckTimings } from '../compose/analyze.js';
import { composeBuildArgs, renderBuildFile } from '../compose/build-file.js';
import { type ComposeLocator, located } from '../compose/locate.js';
import {
  type HostComposeInput,
  projectHostCompose,
  renderCompose,
  renderEnvFile,
  type StagecraftServiceOverrides,
} from '../compose/project.js';
import type { ComposeProject, HostCompose } from '../compose/types.js';
import { composeArgs, composePullArgs } from '../docker/compose.js';
import {
  buildArgs,
  buildCacheRef,
  imageExistsArgs,
  inspectRepoDigestArgs,
  manifestInspectArgs,
  pushArgs,
  tagArgs,
} from '../docker/image.js';
import { gatewayPortsContainer } from '../ingress/gateway-name.js';
import type { EnvironmentModel, HostModel, ServiceModel } from '../model/environment.js';
import { PHASES, type PhaseName } from '../state/types.js';
import { formatDurationSetting } from '../util/duration.js';
import { UserError, UserFileError } from '../util/errors.js';
import { Secret } from '../util/secret.js';
import { lockAcquireStep, lockReleaseStep, recordStep } from './lock-steps.js';
import { type Retention, retainSteps } from './prune.js';
import { isRouted, plannedRoutes, type RouteInputs } from './routes.js';
import type { HealthSpec, PhasePlan, Plan, PlannedTls, Step, StepHost } from './types.js';

type BuildAction = Extract<Step['action'], { kind: 'build' }>;

export interface MigrationStep {
  database: string;
  strategy: 'pre_deploy' | 'post_deploy';
  engine: string;
  service?: string;
  /** Services that must run before it (the migration service's dependencies; itself when stateful). */
  needs: string[];
}

/** A compose file of an earlier release, read back from a host, with the spec hash of each service. */
export interface ReusedCompose {
  releaseId: string;
  text: string;
  sha256: string;
  specHashes: Record<string, string>;
  /** Service → its `stagecraft.files-hash` label, for the services that carry one. */
  filesHashes?: Record<string, string>;
  /** The compose services the file defines (a swarm stack file: the gateway included). */
  services?: string[];
}

/** A file uploaded beside a host's compose file: path relative to the project folder. */
export interface ProjectFile {
  path: string;
  content: Buffer;
  /** Permission bits to keep (0644, or 0755 for an executable). */
  mode: number;
  /**
   * An empty folder (no content): created on the hosts as it is here, since a container sees the
   * bind-mounted tree as it is (an app's `uploads/`), and a long-syntax bind needs its source to exist.
   */
  folder?: true;
}

/** The most a host's project files (bind-mounted files and folders) may weigh together, in bytes. */
export const PROJECT_FILES_LIMIT_BYTES = 50 * 1024 * 1024;

export const HOOKS = ['pre-build', 'pre-deploy', 'post-deploy'] as const;
export type HookName = (typeof HOOKS)[number];

/**
 * A host's gateway as a deploy read it before planning (`docker container inspect`): the image it was
 * created from (rollout/ingress.ts gatewayImage), whether it runs in its ports container
 * (INGRESS_PORTS_CONTAINER_LABEL; gateways made before ports containers publish their ports
 * themselves), and the other apps whose routes its live config holds (read only when that image is
 * not the configured one).
 */
export interface RunningGateway {
  image: string;
  inPortsContainer: boolean;
  others: string[];
}

/**
 * How long requests to a host are refused while a gateway made before ports containers moves into
 * one (the old container stopped, the new one started with its config), in words: 0.9–2.0 s measured
 * on the harness under load, 3.7 s and 5.2 s in two full CI runs at load (docs/routes.md). It
 * happens once per host: later replacements start beside the old gateway and refuse nothing.
 */
export const GATEWAY_REPLACE_GAP = '1–6 s';

/** The plan's words for a gateway replaced for its image, or '' when `running` has `image` (or is unknown). */
export function gatewayReplacement(
  model: EnvironmentModel,
  host: StepHost,
  running: RunningGateway | undefined,
): string {
  if (running === undefined || running.image === model.ingress.image) return '';
  const replaces = `replaces the gateway ${model.ingress.container} (${running.image} → ${model.ingress.image})`;
  return running.inPortsContainer
    ? `${replaces} beside the old one, which drains: no request refused`
    : `${replaces} and moves its ports into ${gatewayPortsContainer(model.ingress.container)}: requests to ${host.name} are refused for ${GATEWAY_REPLACE_GAP}, this once`;
}

/**
 * The gateway step of one host: the gateway runs, and its routes are those of `routed` (loaded only
 * when they differ from the live ones). `deploy`, `rollback` and `maintenance` plan it alike.
 * `running`: the host's gateway as read before the plan; when it runs another image than
 * `ingress.image` the title says it is replaced and for how long requests are refused.
 */
export function ingressStep(
  model: EnvironmentModel,
  host: StepHost,
  routed: ServiceModel[],
  tls: PlannedTls | undefined,
  routeInputs: RouteInputs,
  dependsOn: string[],
  running?: RunningGateway,
): Step {
  const ports =
    (tls?.mode ?? 'off') === 'off'
      ? `port ${model.ingress.httpPort}`
      : `ports ${model.ingress.httpPort} → ${model.ingress.httpsPort} (TLS ${tls!.mode})`;
  const routes = routed.flatMap((service) => plannedRoutes(service, routeInputs));
  const maintenance =
    routeInputs.maintenance === undefined
      ? ''
      : `; maintenance on: every route answers 503 (Retry-After ${routeInputs.maintenance.retryAfterSeconds} s)`;
  const replacement = gatewayReplacement(model, host, running);
  return {
    id: `ingress:${host.name}`,
    phase: 'rollout',
    host,
    title: `ensure ${model.ingress.provider} ingress on ${ports}${maintenance}${replacement === '' ? '' : `; ${replacement}`}`,
    action: {
      kind: 'ingress',
      image: model.ingress.image,
      httpPort: model.ingress.httpPort,
      container: model.ingress.container,
      network: model.ingress.network,
      routes,
      httpsPort: model.ingress.httpsPort,
      tls: tls ?? { mode: 'off' },
    },
    dependsOn,
  };
}

export interface DeployPlanInput {
  model: EnvironmentModel;
  compose: ComposeProject;
  version: string;
  /**
   * The version names one state of the code (a clean commit): a build whose tag exists already is
   * skipped. Otherwise (`--version`, uncommitted changes, no git) every build runs.
   */
  immutableVersion?: boolean;
  releaseId: string;
  kind: 'deploy' | 'rollback';
  /** Service → image reference to deploy. Built services default to `<image>:<version>`. */
  images?: Record<string, string>;
  /** Skip build and push: images exist already (`--skip-build`, rollback). */
  skipBuild: string | undefined;
  /** Host name → IP address, for services that reach a service on another host. */
  hostAddresses: Record<string, string>;
  /** Values that must never land in a compose file (they go to 0600 env files). */
  secretValues: string[];
  /** The environment's variables (env files and process): build secrets from `environment:` read them. */
  variables?: Record<string, string>;
  /** Names of the variables that hold secrets. */
  secretNames: string[];
  /** Service → the secrets it declares (`services.<name>.secrets`), resolved: they go to its 0600 env file. */
  serviceSecrets?: Record<string, Record<string, string>>;
  /** The project folder: bind mounts and files under it are uploaded beside the compose file. */
  projectDir: string;
  /**
   * The files of a project path the compose file references (a bind-mount source or secret file):
   * the file itself, or every file under a folder, with paths relative to projectDir; undefined when
   * nothing is there.
   */
  readProjectPath: (relativePath: string) => ProjectFile[] | undefined;
  /** Bind-mount sources the compose file wrote as relative paths (absolute, as compose printed them). */
  relativeBindSources?: ReadonlySet<string>;
  /** Where keys are in the compose file as written, for errors about them (`file:line:column`). */
  locateCompose?: ComposeLocator;
  migrations: MigrationStep[];
  message: string;
  /** Executable hooks found in `.stagecraft/hooks/` (pre-build, pre-deploy, post-deploy), by name → path. */
  hooks?: Partial<Record<HookName, string>>;
  /** TLS at the gateway (`ingress.tls`), with the certificate read and the key kept secret. */
  ingressTls?: PlannedTls;
  /** The routes' basic auth passwords and the maintenance switch (plan/routes.ts). */
  routes?: RouteInputs;
  /** Host → its gateway as read before the plan (a deploy, `plan --refresh`); absent: not read. */
  gateways?: Record<string, RunningGateway>;
  /** Rollback: per host, the target release's compose file to deploy again as it was. */
  reuse?: Record<string, ReusedCompose>;
  /**
   * Rollback: per host, the services the target release ran there (its ledger record). A host whose
   * compose file cannot be reused renders these, not today's; a host it did not run on renders today's.
   */
  releaseServices?: Record<string, string[]>;
  /** The environment's spec-hash key (state/spec-key.ts); a plan has none (secrets hash as names only). */
  specHashKey?: string;
  /** Limit the rollout to these hosts / services (scope flags); others are left as they are. */
  onlyHosts?: string[];
  onlyServices?: string[];
  /**
   * What the environment keeps (plan/prune.ts retention, with this release): the last steps remove
   * the rest on every host and the build machine. Absent, or with a scope flag: no retention steps.
   */
  retention?: Retention;
}

/** A secret file's bytes as a Secret (registered for redaction); bytes that are not UTF-8 stay bytes. */
function secretContent(bytes: Buffer): Secret | Buffer {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? new Secret(text) : bytes;
}

/** Folder of an environment's files on a host, relative to the deploy user's home. */
export function remoteDir(model: EnvironmentModel): string {
  return `.stagecraft/${model.composeProject}`;
}

export function releaseDir(model: EnvironmentModel, releaseId: string): string {
  return `${remoteDir(model)}/releases/${releaseId}`;
}

export function imageRefs(
  model: EnvironmentModel,
  version: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const refs: Record<string, string> = {};
  for (const service of model.services) {
    if (service.build !== undefined)
      refs[service.name] = overrides[service.name] ?? `${service.image}:${version}`;
  }
  for (const service of model.services) {
    if (service.imageFrom !== undefined)
      refs[service.name] = overrides[service.name] ?? refs[service.imageFrom]!;
  }
  return refs;
}

/** Hosts in rollout order: hosts of stateful roles first (by the earliest service they run), then by name. */
function orderedHosts(model: EnvironmentModel): HostModel[] {
  const rank = (host: HostModel) => {
    const index = model.services.findIndex((service) => service.hosts.includes(host.name));
    return index === -1 ? Number.MAX_SAFE_INTEGER : index;
  };
  return [...model.hosts].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** The service whose build makes `service`'s image: itself when it builds, its imageFrom, else none. */
function imageBuilder(service: ServiceModel | undefined): string | undefined {
  return service?.build !== undefined ? service.name : service?.imageFrom;
}

/**
 * True when `--services` (`onlyServices`; undefined: all) builds service `name`: it is in scope, or a
 * service in scope runs its image (imageFrom).
 */
export function inBuildScope(
  model: EnvironmentModel,
  onlyServices: readonly string[] | undefined,
  name: string,
): boolean {
  if (onlyServices === undefined || onlyServices.includes(name)) return true;
  return model.services.some((service) => service.imageFrom === name && onlyServices.includes(service.name));
}

/**
 * A build step for each service Stagecraft builds (all, or those in `onlyServices`), in model order.
 * Compose `build:` sections are built with `docker compose build` on the section as `compose` has it;
 * build secrets read from `variables`. Throws UserError for a build secret whose variable is not set.
 */
export function buildSteps(
  model: EnvironmentModel,
  images: Record<string, string>,
  immutable: boolean,
  onlyServices: string[] | undefined,
  compose: ComposeProject,
  variables: Record<string, string> = {},
): Step[] {
  // Remote hosts (ssh, swarm nodes) pull from the registry: an existing tag is looked up there.
  // Without one the image goes from this machine's engine, so it is looked up there.
  const needsRegistry = !sendsImagesOverSsh(model) && model.driver !== 'local';
  const built = model.services
    .filter(
      (service): service is ServiceModel & { build: NonNullable<ServiceModel['build']> } =>
        service.build !== undefined,
    )
    .filter((service) => inBuildScope(model, onlyServices, service.name));
  // A build that uses another's image goes after it (BuildSpec.after); a cycle keeps name order.
  const order: typeof built = [];
  const pending = [...built];
  while (pending.length > 0) {
    const next =
      pending.find((service) =>
        (service.build.after ?? []).every(
          (name) => !pending.some((other) => other.name === name && other !== service),
        ),
      ) ?? pending[0]!;
    order.push(next);
    pending.splice(pending.indexOf(next), 1);
  }
  return order.map((service, index) => {
    const image = images[service.name]!;
    const cacheRef = model.registryCache ? buildCacheRef(image) : undefined;
    const exists = immutable
      ? { existsArgv: needsRegistry ? manifestInspectArgs(image) : imageExistsArgs(image) }
      : {};
    let how: Pick<BuildAction, 'argv' | 'stdin' | 'env'>;
    if (service.build.fromCompose) {
      const file = renderBuildFile(compose, service.name, image, cacheRef);
      const env: Record<string, Secret> = {};
      for (const name of file.secretVariables) {
        const value = variables[name];
        if (value === undefined) {
          throw new UserError(`a build secret of service ${service.name} reads ${name}, which is not set`, {
            hint: `set ${name} in the environment's env_file or the shell`,
          });
        }
        env[name] = new Secret(value);
      }
      how = {
        argv: composeBuildArgs(service.name),
        stdin: file.text,
        ...(Object.keys(env).length > 0 ? { env } : {}),
      };
    } else {
      how = {
        argv: buildArgs({
          tags: [image],
          context: service.build.context,
          dockerfile: service.build.dockerfile,
          target: service.build.target,
          buildArgs: service.build.args,
          ...(service.build.platform === undefined ? {} : { platform: service.build.platform }),
          ...(cacheRef === undefined ? {} : { cacheFrom: cacheRef, cacheTo: 'type=inline' }),
        }),
      };
    }
    return {
      id: `build:${service.name}`,
      phase: 'build',
      title: `build ${image} from ${service.build.context}`,
      action: {
        kind: 'build',
        service: service.name,
        image,
        ...how,
        ...exists,
        ...(cacheRef === undefined ? {} : { cacheRef }),
      },
      dependsOn: (service.build.after ?? [])
        .filter((name) => order.slice(0, index).some((earlier) => earlier.name === name))
        .map((name) => `build:${name}`),
    };
  });
}

/** A push step for each build step. */
export function pushSteps(builds: Step[]): Step[] {
  return builds.map((build) => {
    const action = build.action as BuildAction;
    const cache = action.cacheRef;
    return {
      id: `push:${action.service}`,
      phase: 'push',
      title:
        cache === undefined ? `push ${action.image}` : `push ${action.image}, and as ${cache} (build cache)`,
      action: {
        kind: 'push',
        service: action.service,
        image: action.image,
        argv: pushArgs(action.image),
        digestArgv: inspectRepoDigestArgs(action.image),
        ...(cache === undefined ? {} : { cacheArgv: [tagArgs(action.image, cache), pushArgs(cache)] }),
      },
      dependsOn: [build.id],
    };
  });
}

/**
 * True when built images travel to the hosts over SSH (driver ssh, no `project.registry` or
 * `registry: none`): save steps on the build machine, transfer steps per host, no push or pull.
 */
export function sendsImagesOverSsh(model: EnvironmentModel): boolean {
  return model.driver === 'ssh' && model.registry === undefined;
}

/** A save step (`save:<service>`, push phase) for each built service when images go over SSH. */
export function saveSteps(
  model: EnvironmentModel,
  images: Record<string, string>,
  builds: Step[],
  onlyServices: string[] | undefined,
): Step[] {
  return model.services
    .filter((service) => service.build !== undefined)
    .filter((service) => inBuildScope(model, onlyServices, service.name))
    .map((service) => {
      const build = builds.find((step) => step.id === `build:${service.name}`);
      const image = images[service.name]!;
      return {
        id: `save:${service.name}`,
        phase: 'push',
        title: `save ${image} from the build engine (docker save) for the hosts, which have no registry`,
        action: { kind: 'image-save', service: service.name, image },
        dependsOn: build === undefined ? [] : [build.id],
      };
    });
}

interface HostFiles {
  /** The compose file's bytes, its sha256, and each service's spec hash and files hash. */
  text: string;
  sha256: string;
  specHashes: Record<string, string>;
  filesHashes: Record<string, string>;
  /** Steps that put the other files (secrets, project files) beside it; they run after `prepare`. */
  extra: (prepare: string) => Step[];
}

/** With the mesh: every host's MagicDNS name → its mesh address (as deploy found it). */
export function meshHostsOf(
  model: EnvironmentModel,
  addresses: Record<string, string>,
): Record<string, string> {
  const names: Record<string, string> = {};
  for (const host of model.hosts) {
    const address = addresses[host.name];
    if (host.mesh !== undefined && address !== undefined) names[host.mesh.name] = address;
  }
  return names;
}

/** Per plan input: what readProjectPath gave for each project path (each path read once). */
const projectPathReads = new WeakMap<DeployPlanInput, Map<string, ProjectFile[] | undefined>>();

/** input.readProjectPath(path), read once per plan input (the spec and the upload steps both need it). */
function readProjectPathOnce(input: DeployPlanInput, path: string): ProjectFile[] | undefined {
  let reads = projectPathReads.get(input);
  if (reads === undefined) {
    reads = new Map();
    projectPathReads.set(input, reads);
  }
  if (!reads.has(path)) reads.set(path, input.readProjectPath(path));
  return reads.get(path);
}

/** sha256 (hex) of a project path's files (path, mode, content of each), or undefined when unreadable. */
function projectPathDigest(input: DeployPlanInput, path: string): string | undefined {
  let files: ProjectFile[] | undefined;
  try {
    files = readProjectPathOnce(input, path);
  } catch {
    return undefined;
  }
  if (files === undefined) return undefined;
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(
      `\0${file.path}\0${file.mode.toString(8)}\0${file.folder ? 'folder' : file.content.length}\0`,
    );
    hash.update(file.content);
  }
  return hash.digest('hex');
}

/**
 * What projectHostCompose takes from a plan input as it is: the compose model, the secrets (values of
 * the env files and of each service's `secrets` settings, and their names), the project folder and its
 * checks, the spec-hash key, the variables.
 */
export function projectionOf(
  input: DeployPlanInput,
): Pick<
  HostComposeInput,
  | 'compose'
  | 'secretValues'
  | 'secretNames'
  | 'projectDir'
  | 'specHashKey'
  | 'relativeBindSources'
  | 'locate'
  | 'variables'
  | 'projectFileDigest'
> {
  return {
    compose: input.compose,
    secretValues: [
      ...input.secretValues,
      ...Object.values(input.serviceSecrets ?? {}).flatMap((pairs) => Object.values(pairs)),
    ],
    secretNames: input.secretNames,
    projectDir: input.projectDir,
    ...(input.specHashKey === undefined ? {} : { specHashKey: input.specHashKey }),
    ...(input.relativeBindSources ? { relativeBindSources: input.relativeBindSources } : {}),
    ...(input.locateCompose ? { locate: input.locateCompose } : {}),
    ...(input.variables ? { variables: input.variables } : {}),
    projectFileDigest: (path) => projectPathDigest(input, path),
  };
}

/**
 * What stagecraft.yml sets on a service's compose spec: its replicas, its environment (the config's,
 * then the values of its declared secrets) and its stop timeout.
 */
export function stagecraftOverrides(
  service: ServiceModel,
  input: Pick<DeployPlanInput, 'serviceSecrets'>,
): StagecraftServiceOverrides {
  return {
    replicas: service.replicas,
    environment: { ...service.environment, ...input.serviceSecrets?.[service.name] },
    ...(service.stopTimeout === undefined ? {} : { stop_timeout: service.stopTimeout }),
  };
}

/** Per plan input: rendered host files by (services, remote addresses, images). */
const renderCache = new WeakMap<DeployPlanInput, Map<string, ReturnType<typeof renderHostCompose>>>();

function renderHostCompose(
  input: DeployPlanInput,
  services: ServiceModel[],
  images: Record<string, string>,
  remoteServices: Record<string, string>,
) {
  const { model } = input;
  const hostCompose = projectHostCompose({
    ...projectionOf(input),
    composeProjectName: model.composeProject,
    services: services.map((service) => service.name),
    images,
    remoteServices,
    ...(model.mesh === undefined ? {} : { meshHosts: meshHostsOf(model, input.hostAddresses) }),
    releaseLabels: {},
    stagecraftServices: Object.fromEntries(
      services.map((service) => [service.name, stagecraftOverrides(service, input)]),
    ),
  });
  return { hostCompose, rendered: renderCompose(hostCompose.document) };
}

/** The files a host gets for this release: rendered from the compose file and the model. */
function renderedHostFiles(
  input: DeployPlanInput,
  host: HostModel,
  services: ServiceModel[],
  images: Record<string, string>,
  dir: string,
): HostFiles {
  const { model } = input;
  const remoteServices: Record<string, string> = {};
  const here = new Set(services.map((service) => service.name));
  for (const service of model.services) {
    if (here.has(service.name) || service.hosts.includes(host.name) || service.hosts.length === 0) continue;
    const address = input.hostAddresses[service.hosts[0]!];
    if (address !== undefined) remoteServices[service.name] = address;
  }
  // Hosts that run the same services and see the same remote addresses get the same file: project and
  // render it once per plan (at 50 hosts the YAML rendering dominates planning).
  const key = JSON.stringify([services.map((service) => service.name), remoteServices, images]);
  let cache = renderCache.get(input);
  if (cache === undefined) {
    cache = new Map();
    renderCache.set(input, cache);
  }
  const cached = cache.get(key);
  const { hostCompose, rendered } = cached ?? renderHostCompose(input, services, images, remoteServices);
  if (cached === undefined) cache.set(key, { hostCompose, rendered });
  const h = { name: host.name };
  return {
    text: rendered.text,
    sha256: rendered.sha256,
    specHashes: hostCompose.specHashes,
    filesHashes: hostCompose.filesHashes,
    extra: (prepare) => [
      ...projectFileSteps(input, host, hostCompose.projectMounts, dir, prepare),
      ...Object.entries(hostCompose.secretFiles)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([path, value]): Step => ({
            id: `secrets:${host.name}:${path}`,
            phase: 'rollout',
            host: h,
            title: `write ${path} (0600)`,
            action: {
              kind: 'upload',
              path: `${dir}/${path}`,
              content: new Secret(value),
              mode: 0o600,
              file: 'secrets',
            },
            dependsOn: [prepare],
          }),
        ),
      ...Object.entries(hostCompose.secretEnv)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([service, pairs]): Step => ({
            id: `secrets:${host.name}:${service}`,
            phase: 'rollout',
            host: h,
            title: `write secrets/${service}.env (0600, ${Object.keys(pairs).length} ${Object.keys(pairs).length === 1 ? 'key' : 'keys'})`,
            action: {
              kind: 'upload',
              path: `${dir}/secrets/${service}.env`,
              content: new Secret(renderEnvFile(pairs)),
              mode: 0o600,
              file: 'secrets',
            },
            dependsOn: [prepare],
          }),
        ),
    ],
  };
}

/**
 * Upload steps for the project files and folders a host's compose file uses (bind mounts, secret and
 * config files), one per file. A source that is not there, or more than PROJECT_FILES_LIMIT_BYTES in
 * all, is a UserError naming the service and the mount. Secret files are written 0600.
 */
export function projectFileSteps(
  input: DeployPlanInput,
  host: HostModel,
  mounts: HostCompose['projectMounts'],
  dir: string,
  prepare: string,
): Step[] {
  const steps = new Map<string, Step>();
  let total = 0;
  for (const mount of mounts) {
    const where =
      mount.service === ''
        ? mount.target
        : `service ${mount.service}: the bind mount ./${mount.path}:${mount.target}`;
    // A top-level secret or config (`secrets.<name>`) is located at its `file:` key.
    const at = () =>
      mount.service === ''
        ? input.locateCompose?.key([...mount.target.split('.'), 'file'])
        : input.locateCompose?.mount(mount.service, mount.target);
    let files: ProjectFile[] | undefined;
    try {
      files = readProjectPathOnce(input, mount.path);
    } catch (error) {
      if (!(error instanceof UserFileError)) throw error;
      throw new UserError(located(at(), `${where}: ${error.message}`), { hint: error.hint, cause: error });
    }
    if (files === undefined) {
      throw new UserError(located(at(), `${where}: ./${mount.path} does not exist in the project folder`), {
        hint: `create ./${mount.path} (Stagecraft uploads it to the hosts), or mount an absolute path that exists on every host, or use a named volume`,
      });
    }
    for (const file of files) {
      if (steps.has(file.path)) continue;
      if (file.folder) {
        steps.set(file.path, {
          id: `folder:${host.name}:${file.path}`,
          phase: 'rollout',
          host: { name: host.name },
          title: `create the empty folder ${file.path}`,
          action: {
            kind: 'exec',
            argv: ['mkdir', '-p', '-m', file.mode.toString(8).padStart(4, '0'), '--', `${dir}/${file.path}`],
          },
          dependsOn: [prepare],
        });
        continue;
      }
      total += file.content.length;
      if (total > PROJECT_FILES_LIMIT_BYTES) {
        throw new UserError(
          `${where}: the project files for ${host.name} weigh more than ${PROJECT_FILES_LIMIT_BYTES / 1024 / 1024} MB`,
          {
            hint: `bind-mounted files are uploaded on every deploy: put large content in the image (COPY) or a named volume, and mount only small configuration`,
          },
        );
      }
      steps.set(file.path, {
        id: `file:${host.name}:${file.path}`,
        phase: 'rollout',
        host: { name: host.name },
        title: `upload ${file.path}${mount.secret ? ' (0600)' : ''}`,
        action: {
          kind: 'upload',
          path: `${dir}/${file.path}`,
          content: mount.secret ? secretContent(file.content) : file.content,
          mode: mount.secret ? 0o600 : file.mode,
          file: mount.secret ? 'secrets' : 'project-file',
        },
        dependsOn: [prepare],
      });
    }
  }
  return [...steps.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * The migrate steps of one strategy (`migrate:<database>:pre|post`), each run on `host` after `after`
 * (a step id list). Pure.
 */
export function migrateSteps(
  migrations: MigrationStep[],
  strategy: 'pre_deploy' | 'post_deploy',
  at: { phase: PhaseName; host: StepHost; after: string[] },
): Step[] {
  return migrations
    .filter((migration) => migration.strategy === strategy)
    .map((migration) => ({
      id: `migrate:${migration.database}:${strategy === 'pre_deploy' ? 'pre' : 'post'}`,
      phase: at.phase,
      host: at.host,
      title: `run ${strategy} ${migration.engine} migrations of database ${migration.database}`,
      action: {
        kind: 'migrate',
        database: migration.database,
        strategy: migration.strategy,
        engine: migration.engine,
        ...(migration.service ? { service: migration.service } : {}),
      },
      dependsOn: at.after,
    }));
}

/** The files a host gets for a rollback: the target release's own compose file and the files beside it. */
function reusedHostFiles(
  input: DeployPlanInput,
  host: HostModel,
  reused: ReusedCompose,
  dir: string,
): HostFiles {
  const from = releaseDir(input.model, reused.releaseId);
  return {
    text: reused.text,
    sha256: reused.sha256,
    specHashes: reused.specHashes,
    filesHashes: reused.filesHashes ?? {},
    extra: (prepare) => [
      {
        id: `copy:${host.name}`,
        phase: 'rollout',
        host: { name: host.name },
        title: `copy the secrets and files of release ${reused.releaseId}`,
        action: {
          kind: 'exec',
          // compose.yml comes along too: the same bytes `prepare` wrote.
          argv: ['cp', '-a', `${from}/.`, `${dir}/`],
        },
        dependsOn: [prepare],
      },
    ],
  };
}

/**
 * `{ intervalMs, start? }` of a service's compose health check (`start` only when it sets
 * `start_interval`), or nothing when it has none.
 */
function healthInterval(compose: ComposeProject, service: string): Pick<HealthSpec, 'intervalMs' | 'start'> {
  const definition = compose.services[service];
  const timings = definition === undefined ? undefined : healthcheckTimings(definition);
  if (timings === undefined) return {};
  const start =
    definition?.healthcheck?.start_interval !== undefined && timings.startPeriodMs > 0
      ? { start: { intervalMs: timings.startIntervalMs, periodMs: timings.startPeriodMs } }
      : {};
  return { intervalMs: timings.intervalMs, ...start };
}

/**
 * Each service → the services it waits for on a host: its compose `depends_on`, followed through
 * services the host does not roll out (so a dependency two hops away still orders them). Services
 * with no path between them are independent: the engine rolls them out at the same time.
 */
function rolloutOrder(input: DeployPlanInput, services: ServiceModel[]): Map<string, Set<string>> {
  const here = new Set(services.map((service) => service.name));
  const direct = (name: string) => Object.keys(input.compose.services[name]?.depends_on ?? {}).sort();
  const order = new Map<string, Set<string>>();
  for (const service of services) {
    const needs = new Set<string>();
    const seen = new Set<string>([service.name]);
    const queue = direct(service.name);
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (seen.has(name)) continue;
      seen.add(name);
      if (here.has(name)) needs.add(name);
      else queue.push(...direct(name));
    }
    order.set(service.name, needs);
  }
  return order;
}

/**
 * The step ids a service's rollout waits for: those of the services it needs (rolloutOrder) that have
 * a step on this host already (the model lists services in dependency order). Dependencies already
 * reached through another one are left out, so each edge of the graph is listed once.
 */
function serviceDeps(
  order: Map<string, Set<string>>,
  service: string,
  serviceStep: Map<string, string>,
): string[] {
  const needs = [...(order.get(service) ?? [])].filter((name) => serviceStep.has(name));
  const implied = new Set(needs.flatMap((name) => [...(order.get(name) ?? [])]));
  return needs
    .filter((name) => !implied.has(name))
    .map((name) => serviceStep.get(name)!)
    .sort();
}

function hostSteps(
  input: DeployPlanInput,
  host: HostModel,
  images: Record<string, string>,
  previous: string[],
): Step[] {
  const { model } = input;
  const reused = input.reuse?.[host.name];
  /** The image reference a service runs: the release's build, else its compose image. */
  const imageOf = (name: string): string | undefined => images[name] ?? input.compose.services[name]?.image;
  const recorded = input.kind === 'rollback' ? input.releaseServices?.[host.name] : undefined;
  const services = model.services.filter((service) =>
    reused !== undefined
      ? reused.specHashes[service.name] !== undefined
      : recorded !== undefined
        ? recorded.includes(service.name)
        : service.hosts.includes(host.name),
  );
  if (services.length === 0) return [];
  const dir = releaseDir(model, input.releaseId);
  const files =
    reused === undefined
      ? renderedHostFiles(input, host, services, images, dir)
      : reusedHostFiles(input, host, reused, dir);
  const composeFile = `${dir}/compose.yml`;
  const h = { name: host.name };
  const prepare = `prepare:${host.name}`;
  const steps: Step[] = [
    {
      id: prepare,
      phase: 'rollout',
      host: h,
      title: `upload compose.yml (sha256 ${files.sha256.slice(0, 12)}${reused ? `, from release ${reused.releaseId}` : ''}) for ${services.map((service) => service.name).join(', ')}`,
      action: {
        kind: 'upload',
        path: composeFile,
        content: files.text,
        mode: 0o644,
        sha256: files.sha256,
        file: 'compose',
        services: services.map((service) => service.name),
        ...(Object.keys(files.filesHashes).length === 0 ? {} : { filesHashes: files.filesHashes }),
      },
      dependsOn: previous,
    },
    ...files.extra(prepare),
  ];
  const extraIds = steps.slice(1).map((step) => step.id);
  // Without a registry, built images come from the build machine (a rollback uses those on the host).
  const overSsh = sendsImagesOverSsh(model);
  const transfers: string[] = [];
  if (overSsh && input.kind === 'deploy') {
    // A service that runs another's built image (imageFrom) needs that image here too.
    const builders = new Set<string>();
    for (const service of services) {
      if (input.onlyServices !== undefined && !input.onlyServices.includes(service.name)) continue;
      // Built (and saved) for it even when --services leaves the builder out (inBuildScope).
      const builder = imageBuilder(service);
      if (builder !== undefined) builders.add(builder);
    }
    for (const builder of builders) {
      const id = `transfer:${host.name}:${builder}`;
      steps.push({
        id,
        phase: 'rollout',
        host: h,
        title: `send ${images[builder]} over SSH (docker load of the layers ${host.name} lacks)`,
        action: { kind: 'image-transfer', service: builder, image: images[builder]! },
        dependsOn: [...previous, `save:${builder}`],
      });
      transfers.push(id);
    }
  }
  const pulled = services
    .filter(
      (service) =>
        (model.driver !== 'local' && !overSsh) ||
        (service.build === undefined && service.imageFrom === undefined),
    )
    .map((service) => service.name);
  if (pulled.length > 0) {
    steps.push({
      id: `pull:${host.name}`,
      phase: 'rollout',
      host: h,
      title: `pull images of ${pulled.join(', ')}`,
      action: {
        kind: 'exec',
        argv: composePullArgs({ project: model.composeProject, file: composeFile }, pulled),
      },
      // compose reads the env files the secrets steps write: it pulls once they are there.
      dependsOn: [prepare, ...extraIds],
    });
  }
  const routed = services.filter(isRouted);
  if (routed.length > 0) {
    steps.push(
      ingressStep(
        model,
        h,
        routed,
        input.ingressTls,
        input.routes ?? {},
        [prepare],
        input.gateways?.[host.name],
      ),
    );
  }
  // What every service's rollout waits for: the files (and images) on the host; routed ones, the gateway.
  const ready = pulled.length > 0 ? [`pull:${host.name}`] : [prepare, ...extraIds];
  const ingressId = routed.length > 0 ? [`ingress:${host.name}`] : [];
  const order = rolloutOrder(input, services);
  // A service that waits for another one's step waits for `ready` through it: listed once.
  // Without a registry each built service also waits for its own image (not through another service:
  // that one may run early, in migrate_pre, before the transfers), and one that runs another's built
  // image (imageFrom) for that one.
  const after = (service: string, services: string[], gateway: string[] = []) => [
    ...(services.length > 0 ? [...gateway, ...services] : [...ready, ...gateway]),
    ...transfers.filter(
      (id) =>
        id ===
        `transfer:${host.name}:${imageBuilder(model.services.find((candidate) => candidate.name === service))}`,
    ),
  ];
  /** Service → the id of the step that rolls it out (or runs it, for a job) on this host. */
  const serviceStep = new Map<string, string>();
  for (const service of services) {
    if (input.onlyServices !== undefined && !input.onlyServices.includes(service.name)) continue;
    if (service.job) {
      // A rollback deploys images again without migrating: its jobs (migrations, seeds) do not run.
      // A job scaled to 0 (compose `scale: 0`) does not run either, as with `docker compose up`.
      if (input.kind === 'rollback' || service.replicas === 0) continue;
      const id = `job:${host.name}:${service.name}`;
      steps.push({
        id,
        phase: 'rollout',
        host: h,
        title: `run job ${service.name} to completion (exit 0 = success; services after it wait for it)`,
        action: {
          kind: 'job',
          service: service.name,
          composeFile,
          argv: composeArgs(
            model.composeProject,
            composeFile,
            'run',
            '--rm',
            '--no-deps',
            '-T',
            service.name,
          ),
        },
        dependsOn: after(service.name, serviceDeps(order, service.name, serviceStep)),
      });
      serviceStep.set(service.name, id);
      continue;
    }
    const id = `rollout:${host.name}:${service.name}`;
    steps.push({
      id,
      phase: 'rollout',
      host: h,
      title:
        service.replicas === 0
          ? `scale ${service.name} to 0 replicas (compose scale or deploy.replicas): nothing starts`
          : `${service.strategy} ${service.name} (${service.replicas} replica${service.replicas === 1 ? '' : 's'})${service.domains.length > 0 ? ` → ${service.domains.map((domain) => `${domain}${service.path ?? ''}`).join(', ')}` : ''}; ${service.hasHealthcheck ? 'healthy' : `running ${formatDurationSetting(service.stableForMs)}`} within ${formatDurationSetting(service.healthTimeoutMs)}`,
      action: {
        kind: 'rollout',
        service: service.name,
        strategy: service.strategy,
        replicas: service.replicas,
        specHash: files.specHashes[service.name]!,
        composeFile,
        health: {
          timeoutMs: service.healthTimeoutMs,
          stableForMs: service.stableForMs,
          ...healthInterval(input.compose, service.name),
        },
        ...(service.port !== undefined && service.domains.length > 0
          ? { route: { domains: service.domains, port: service.port } }
          : {}),
        ...(imageOf(service.name) === undefined ? {} : { image: imageOf(service.name)! }),
      },
      dependsOn: after(
        service.name,
        serviceDeps(order, service.name, serviceStep),
        service.port !== undefined && service.domains.length > 0 ? ingressId : [],
      ),
    });
    serviceStep.set(service.name, id);
  }
  if (input.onlyServices === undefined) {
    // After every rollout here (the gateway routes only to this release's services by then). A
    // rollback too: a service added since the release it returns to stops.
    const keep = services.map((service) => service.name);
    steps.push({
      id: `prune:${host.name}`,
      phase: 'rollout',
      host: h,
      title: `stop and remove containers of services not in this release (${host.name} runs ${keep.join(', ')})`,
      action: { kind: 'prune', keep },
      dependsOn: serviceStep.size > 0 ? [...serviceStep.values()] : [...ready, ...ingressId],
    });
  }
  return steps;
}

/**
 * The step that runs the hook `name` (from `.stagecraft/hooks/`) with the STAGECRAFT_* variables, or
 * none when the project has no such hook. A failing hook is the user's error (`allowFailure`).
 */
export function hookSteps(
  input: {
    model: EnvironmentModel;
    hooks: Partial<Record<HookName, string>> | undefined;
    kind: string;
    version: string;
    releaseId: string | undefined;
  },
  name: HookName,
  phaseName: PhaseName,
  after: string[],
): Step[] {
  const { model } = input;
  const path = input.hooks?.[name];
  if (path === undefined) return [];
  const env: Record<string, string> = {
    STAGECRAFT_HOOK: name,
    STAGECRAFT_KIND: input.kind,
    STAGECRAFT_PROJECT: model.project,
    STAGECRAFT_ENV: model.environment,
    STAGECRAFT_VERSION: input.version,
    ...(input.releaseId !== undefined ? { STAGECRAFT_RELEASE: input.releaseId } : {}),
    STAGECRAFT_HOSTS: model.hosts.map((host) => host.name).join(','),
  };
  return [
    {
      id: `hook:${name}`,
      phase: phaseName,
      title: `run .stagecraft/hooks/${name}`,
      action: { kind: 'exec', argv: [path], env },
      dependsOn: after,
      allowFailure: true,
    },
  ];
}

/** A phase with its steps, or skipped (with the reason) when it has none. */
export function phase(name: PhaseName, steps: Step[], skipped?: string): PhasePlan {
  return skipped !== undefined || steps.length === 0
    ? { name, skipped: skipped ?? 'nothing to do', steps: [] }
    : { name, steps };
}

/** The exact steps a deploy (or rollback) runs, phase by phase and host by host. Pure. */
export function planDeploy(input: DeployPlanInput): Plan {
  const { model } = input;
  const images = imageRefs(model, input.version, input.images);
  const builds =
    input.skipBuild === undefined
      ? buildSteps(
          model,
          images,
          input.immutableVersion === true,
          input.onlyServices,
          input.compose,
          input.variables,
        )
      : [];
  const overSsh = sendsImagesOverSsh(model);
  const pushes = overSsh
    ? input.kind === 'deploy'
      ? saveSteps(model, images, builds, input.onlyServices)
      : []
    : model.driver !== 'local'
      ? pushSteps(builds)
      : [];
  const lockHost = { name: model.lockHost };
  const hook = (name: HookName, phaseName: PhaseName, after: string[]): Step[] =>
    hookSteps(
      { model, hooks: input.hooks, kind: input.kind, version: input.version, releaseId: input.releaseId },
      name,
      phaseName,
      after,
    );

  const lock = lockAcquireStep(lockHost, model.composeProject, input.message);
  const migrationSteps = (strategy: 'pre_deploy' | 'post_deploy', phaseName: PhaseName, after: string[]) =>
    migrateSteps(input.migrations, strategy, { phase: phaseName, host: lockHost, after });
  const planned: Step[] = [];
  const idle: HostModel[] = [];
  for (const host of orderedHosts(model)) {
    if (input.onlyHosts !== undefined && !input.onlyHosts.includes(host.name)) continue;
    const steps = hostSteps(input, host, images, [lock.id]);
    if (steps.length === 0) idle.push(host);
    planned.push(...steps);
  }
  // A host that runs no service of this release may still run an earlier one's (a service removed
  // from it, or moved away): it is pruned too, as `docker compose up --remove-orphans` would, once
  // every other host has rolled out.
  if (input.onlyServices === undefined) {
    const rolledOut = planned.filter((step) => step.action.kind === 'prune').map((step) => step.id);
    for (const host of idle) {
      planned.push({
        id: `prune:${host.name}`,
        phase: 'rollout',
        host: { name: host.name },
        title: `stop and remove containers of services not in this release (${host.name} runs none of them)`,
        action: { kind: 'prune', keep: [] },
        dependsOn: rolledOut.length > 0 ? rolledOut : [lock.id],
      });
    }
  }
  // Pre-deploy migrations need their database running: on a first deploy, the hosts' files and the
  // services they need are rolled out in migrate_pre, before the migrations (stateful infra first).
  const needed = new Set(
    input.migrations.filter((migration) => migration.strategy === 'pre_deploy').flatMap((m) => m.needs),
  );
  const early = new Set<string>();
  for (const step of planned) {
    const action = step.action;
    const hostName = step.host?.name ?? '';
    const hostNeedsIt = model.services.some(
      (service) => needed.has(service.name) && service.hosts.includes(hostName),
    );
    if (!hostNeedsIt) continue;
    if (
      action.kind === 'rollout' || action.kind === 'image-transfer'
        ? needed.has(action.service)
        : action.kind === 'upload' || action.kind === 'exec'
    )
      early.add(step.id);
  }
  // A host whose every step runs early (a database host) prunes early too: a rollout-phase step there
  // would count the host as switched, and a failed rollout elsewhere would roll it back for nothing.
  for (const step of planned) {
    if (step.action.kind !== 'prune') continue;
    const hostName = step.host?.name ?? '';
    const others = planned.filter((other) => other.host?.name === hostName && other.id !== step.id);
    if (others.length > 0 && others.every((other) => early.has(other.id))) early.add(step.id);
  }
  // An early step keeps only the dependencies that run before it (the lock, earlier early steps); one
  // that depended on a later step (the ingress of its host) follows the previous early step there.
  const lastEarly = new Map<string, string>();
  const earlySteps = planned
    .filter((step) => early.has(step.id))
    .map((step) => {
      const host = step.host?.name ?? '';
      const kept = step.dependsOn.filter((id) => id === lock.id || early.has(id));
      const dependsOn = kept.length > 0 ? kept : [lastEarly.get(host) ?? lock.id];
      lastEarly.set(host, step.id);
      return { ...step, phase: 'migrate_pre' as const, dependsOn };
    });
  const pre = migrationSteps('pre_deploy', 'migrate_pre', [lock.id, ...earlySteps.map((step) => step.id)]);
  const rollout = planned
    .filter((step) => !early.has(step.id))
    .map((step) => ({ ...step, dependsOn: [...step.dependsOn, ...pre.map((migration) => migration.id)] }));
  const post = migrationSteps(
    'post_deploy',
    'migrate_post',
    rollout.length > 0 ? [rollout[rollout.length - 1]!.id] : [lock.id],
  );
  return releasePlan(input, {
    hook,
    lockHost,
    lock,
    builds,
    push: phase(
      'push',
      pushes,
      overSsh
        ? input.kind === 'rollback'
          ? 'no registry: the hosts keep the images of kept releases'
          : undefined
        : (input.skipBuild ??
            (model.driver === 'local' ? 'driver local: images stay in this engine' : undefined)),
    ),
    early: earlySteps,
    pre,
    rollout,
    post,
  });
}

/** The steps of a release plan, by phase, as planDeploy and planSwarmDeploy make them. */
export interface ReleaseParts {
  /** hookSteps bound to the release (its model, hooks, kind, version and id). */
  hook: (name: HookName, phaseName: PhaseName, after: string[]) => Step[];
  /** Where the lock is taken and released (the lock host; a swarm's manager). */
  lockHost: StepHost;
  lock: Step;
  builds: Step[];
  push: PhasePlan;
  /** Steps moved before the pre-deploy migrations (the services those need, on a first deploy). */
  early: Step[];
  pre: Step[];
  rollout: Step[];
  post: Step[];
}

/**
 * Assembles a release's plan from its parts: the `pre-build` hook before the builds, the lock and the
 * `pre-deploy` hook first in migrate_pre, then `early` and `pre`; finalize records the release,
 * applies retention (input.retention, not for a deploy limited by --hosts or --services), runs the
 * `post-deploy` hook and releases the lock. Pure.
 */
export function releasePlan(input: DeployPlanInput, parts: ReleaseParts): Plan {
  const { model } = input;
  const { hook, lock } = parts;
  const finalize: Step[] = [
    recordStep(`record release ${input.releaseId} (version ${input.version})`),
    ...(input.retention === undefined || input.onlyHosts !== undefined || input.onlyServices !== undefined
      ? []
      : retainSteps(model, input.retention, {
          phase: 'finalize',
          after: ['record'],
          bestEffort: true,
          measure: false,
        })),
    ...hook('post-deploy', 'finalize', ['record']),
    lockReleaseStep(parts.lockHost),
  ];
  const byPhase: Record<PhaseName, PhasePlan> = {
    build: phase(
      'build',
      parts.builds.length > 0 ? [...hook('pre-build', 'build', []), ...parts.builds] : [],
      input.skipBuild,
    ),
    push: parts.push,
    migrate_pre: phase('migrate_pre', [
      lock,
      ...hook('pre-deploy', 'migrate_pre', [lock.id]),
      ...parts.early,
      ...parts.pre,
    ]),
    rollout: phase('rollout', parts.rollout),
    migrate_post: phase(
      'migrate_post',
      parts.post,
      parts.post.length === 0 ? 'no post_deploy migrations' : undefined,
    ),
    finalize: phase('finalize', finalize),
  };
  return {
    kind: input.kind,
    project: model.project,
    environment: model.environment,
    version: input.version,
    releaseId: input.releaseId,
    hosts: model.hosts.map((host) => ({ name: host.name, roles: host.roles })),
    phases: PHASES.map((name) => byPhase[name]),
  };
}
