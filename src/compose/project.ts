import { createHmac } from 'node:crypto';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { looksSecretName, RESOLVED_AT_DEPLOY, registerSecretValue } from '../util/secret.js';
import { dependencyOrder } from './analyze.js';
import { canonicalJson, compareStrings, sha256Hex } from './canonical.js';
import { type ComposeLocator, located } from './locate.js';
import type { ComposeProject, ComposeService, HostCompose } from './types.js';

export { type RenderedFile, renderCompose, renderEnvFile } from './render.js';

/** Label holding the hash of a service's desired state; equal hash = nothing to roll out. */
import { FILES_HASH_LABEL, SPEC_HASH_LABEL } from '../docker/labels.js';

export { SPEC_HASH_LABEL };

/** Per-service settings from stagecraft.yml (and the environment's overrides). */
export interface StagecraftServiceOverrides {
  /** Becomes `stop_grace_period`. */
  stop_timeout?: string;
  /** Becomes `deploy.replicas`. */
  replicas?: number;
  /** Literal values (no compose `$$` escaping) merged over the compose environment; the lead puts a
   *  service's secrets (`services.<svc>.secrets`) here and the projection moves them to its env file. */
  environment?: Record<string, string>;
}

export interface HostComposeInput {
  /** The normalised model from `readCompose`. */
  compose: ComposeProject;
  /** `<project>-<env>`: the `name` of the rendered document. */
  composeProjectName: string;
  /** The services this host runs. */
  services: string[];
  /** Service → pinned image reference, for the services Stagecraft built; others keep their image. */
  images: Record<string, string>;
  /** Values that must never land in the compose document. Empty strings are ignored. */
  secretValues: string[];
  /** Variable names whose values are secret wherever they appear in an environment. */
  secretNames?: string[];
  /** Service on another host → that host's address, added as extra_hosts to the services that use it. */
  remoteServices: Record<string, string>;
  /**
   * With the mesh: each host's MagicDNS name → its mesh address, added as extra_hosts to every service so
   * containers resolve `<host>.<tailnet_domain>` without MagicDNS inside Docker's resolver.
   */
  meshHosts?: Record<string, string>;
  /** Labels of the release (e.g. stagecraft.release, stagecraft.version); not part of the spec hash. */
  releaseLabels: Record<string, string>;
  stagecraftServices: Record<string, StagecraftServiceOverrides>;
  /**
   * The local project folder. Bind-mount sources and secret/config files under it (compose prints
   * them absolute) become `./relative` paths, listed in `projectFiles` for upload beside the file.
   */
  projectDir?: string;
  /**
   * The environment's spec-hash key (state/spec-key.ts): secret env values enter the spec hash only
   * through an HMAC with it, so a published hash cannot be checked against a wordlist. Without a key
   * (a plan, which reads nothing from hosts) the hash covers the secret names only.
   */
  specHashKey?: string;
  /**
   * Bind-mount sources, secret/config files and volume devices (absolute, as compose printed them)
   * that the compose file wrote as relative paths: one outside `projectDir` cannot be carried to a
   * host and is refused.
   */
  relativeBindSources?: ReadonlySet<string>;
  /** Where keys are in the compose file as written: a refused mount is named `file:line:column`. */
  locate?: ComposeLocator;
  /** The environment's variables: compose secrets with `environment: NAME` take their value here. */
  variables?: Record<string, string>;
  /**
   * sha256 (hex) of a project path's files (a file, or every file under a folder), relative to
   * `projectDir` with `/`; undefined when it cannot be read. With it, a service that mounts project
   * files gets FILES_HASH_LABEL.
   */
  projectFileDigest?: (path: string) => string | undefined;
}

/**
 * Secret values shorter than this are moved out of environments but not searched for elsewhere (a
 * 4-letter password is also a word of the file: `pg_isready -U shop`); where the compose file
 * references a secret variable outside an environment is found by name (ComposeLocator.secretReferences).
 */
const MIN_LEAK_CHECK_LENGTH = 8;

/**
 * The compose document for one host: only its services, `build:` removed, images pinned, secrets
 * moved into per-service env files (`secrets/<service>.env`, relative to the compose file),
 * depends_on limited to services on the host, other hosts' services reachable through extra_hosts,
 * only the networks/volumes/secrets/configs those services use, labels `stagecraft.spec-hash` and the
 * release labels. Pure and deterministic.
 */
export function projectHostCompose(input: HostComposeInput): HostCompose {
  const onHost = [...new Set(input.services)].sort(compareStrings);
  for (const name of onHost) {
    if (input.compose.services[name] === undefined) {
      throw new UserError(`service "${name}" is not in the compose file`, {
        hint: `services in the compose file: ${Object.keys(input.compose.services).sort(compareStrings).join(', ')}`,
      });
    }
  }
  const onHostSet = new Set(onHost);
  // A plan's stand-in for a secret it does not resolve is no secret (an address shows it too).
  const secretValues = [
    ...new Set(input.secretValues.filter((value) => value !== '' && value !== RESOLVED_AT_DEPLOY)),
  ];
  const secretNames = new Set(input.secretNames ?? []);
  const projectFiles = new Set<string>();
  const projectMounts: HostCompose['projectMounts'] = [];
  const secretFiles: Record<string, string> = {};
  // Values moved to a secret env file by their name (APP_SECRET: ${SEED}): searched for elsewhere too.
  const movedValues = new Set<string>();

  const services: Record<string, ComposeService> = {};
  const secretEnv: Record<string, Record<string, string>> = {};
  const specHashes: Record<string, string> = {};
  const filesHashes: Record<string, string> = {};

  // Dependencies first: a service restarted with one (depends_on restart: true) hashes its hash in.
  for (const name of dependencyOrder(input.compose, onHost)) {
    const original = input.compose.services[name] as ComposeService;
    // compose prints every `$` as `$$`, mapping keys too, but reads keys literally (it interpolates
    // values only): a label key `a$$b` would reach the host as `a$$$$b`.
    const spec = literalKeys(original) as ComposeService;
    const overrides = input.stagecraftServices[name] ?? {};
    delete spec.build;
    delete spec.profiles;
    // `develop.watch` is for `docker compose watch` on the laptop, and names the laptop's paths.
    delete spec['develop'];
    // A built image is on the host already (pulled by the plan, or sent over SSH without a registry,
    // where `always` would make compose pull a tag no registry has).
    if (spec.pull_policy === 'build' || input.images[name] !== undefined) delete spec.pull_policy;

    const image = input.images[name] ?? spec.image;
    if (image === undefined || image === '') {
      throw new UserError(`service "${name}" has no image to run`, {
        hint: 'give it an image: in the compose file, or build it with Stagecraft (a build: section)',
      });
    }
    spec.image = image;

    // Environment: literal values (compose prints `$` as `$$`), overrides on top, secrets out.
    const environment: Record<string, string | null> = {};
    for (const [key, value] of Object.entries(original.environment ?? {})) {
      environment[key] = value === null ? null : unescapeDollars(String(value));
    }
    for (const [key, value] of Object.entries(overrides.environment ?? {})) environment[key] = value;
    const kept: Record<string, string | null> = {};
    const secrets: Record<string, string> = {};
    for (const key of Object.keys(environment).sort(compareStrings)) {
      const value = environment[key] ?? null;
      // A value named like a secret (DB_PASSWORD, API_TOKEN, …) is moved too, wherever compose took it
      // from (the compose file itself, a service env_file): the compose file on the host is 0644.
      const secret =
        value !== null &&
        (secretNames.has(key) ||
          looksSecretName(key) ||
          secretValues.some((secretValue) => value.includes(secretValue)));
      if (secret) {
        secrets[key] = value;
        if (value !== RESOLVED_AT_DEPLOY) movedValues.add(value);
      } else kept[key] = value === null ? null : escapeDollars(value);
    }
    if (Object.keys(kept).length > 0) spec.environment = kept;
    else delete spec.environment;
    if (Object.keys(secrets).length > 0) {
      secretEnv[name] = secrets;
      spec.env_file = [`secrets/${name}.env`];
    } else {
      delete spec.env_file;
    }

    // Other hosts' services this one uses (depends_on, or named as a host in its environment).
    const dependsOn = Object.keys(original.depends_on ?? {});
    const remote = Object.keys(input.remoteServices)
      .filter((other) => !onHostSet.has(other) && other !== name)
      .filter((other) => dependsOn.includes(other) || referencesHost(Object.values(environment), other))
      .sort(compareStrings);
    if (remote.length > 0) spec.extra_hosts = addExtraHosts(spec.extra_hosts, remote, input.remoteServices);
    const meshNames = Object.keys(input.meshHosts ?? {}).sort(compareStrings);
    if (meshNames.length > 0) spec.extra_hosts = addExtraHosts(spec.extra_hosts, meshNames, input.meshHosts!);

    if (spec.depends_on !== undefined) {
      const local = Object.fromEntries(Object.entries(spec.depends_on).filter(([dep]) => onHostSet.has(dep)));
      if (Object.keys(local).length > 0) spec.depends_on = local;
      else delete spec.depends_on;
    }

    if (overrides.stop_timeout !== undefined) spec.stop_grace_period = overrides.stop_timeout;
    if (overrides.replicas !== undefined) {
      spec.deploy = { ...(spec.deploy ?? {}), replicas: overrides.replicas };
      // compose refuses a `scale` that differs from deploy.replicas: the count is said once.
      delete spec.scale;
    }

    if (input.projectDir !== undefined) {
      for (const mount of spec.volumes ?? []) {
        if (mount.type !== 'bind' || typeof mount.source !== 'string') continue;
        const source = mount.source;
        if (relative(input.projectDir, source) === '') {
          throw new UserError(
            located(
              input.locate?.mount(name, mount.target),
              `service ${name}: the bind mount at ${mount.target} mounts the whole project folder, which is not uploaded to the hosts`,
            ),
            {
              hint: 'mount the subfolders the container needs (they are uploaded), or build them into the image',
            },
          );
        }
        mount.source = localizePath(source, input.projectDir, projectFiles);
        if (mount.source !== source) {
          projectMounts.push({
            // The file keeps compose's `$$`; the folder here is named with a `$`.
            path: unescapeDollars(mount.source.slice(2)),
            service: name,
            target: mount.target,
            secret: false,
          });
        } else if (input.relativeBindSources?.has(source) === true) {
          const home = input.variables?.['HOME'] ?? process.env['HOME'];
          if (home !== undefined && home !== '/' && source.startsWith(`${home}/`)) {
            const written = `~/${source.slice(home.length + 1)}`;
            throw new UserError(
              located(
                input.locate?.mount(name, mount.target),
                `service ${name}: the bind mount ${written}:${mount.target} is in this machine's home folder (${home}), which the hosts do not have`,
              ),
              {
                hint: `mount a folder of the hosts by its absolute path (for example ${mount.target}), or give the container what it needs another way (a compose secret, an environment variable)`,
              },
            );
          }
          const shown = relative(input.projectDir, source).split(sep).join('/');
          throw new UserError(
            located(
              input.locate?.mount(name, mount.target),
              `service ${name}: the bind mount ${shown}:${mount.target} is outside the project folder, so it cannot be uploaded to the hosts`,
            ),
            {
              hint: `move ${shown} into the project folder (Stagecraft uploads files and folders under it), or mount an absolute path that exists on every host`,
            },
          );
        }
      }
    }

    // The hash covers the final spec and the secret values, not the release labels or the replica count.
    const labels: Record<string, string> = { ...(spec.labels ?? {}) };
    delete labels[SPEC_HASH_LABEL];
    delete labels[FILES_HASH_LABEL];
    const filesHash = projectFilesHash(name, spec, projectMounts, input);
    if (filesHash !== undefined) {
      labels[FILES_HASH_LABEL] = filesHash;
      filesHashes[name] = filesHash;
    }
    for (const key of Object.keys(input.releaseLabels)) delete labels[key];
    if (Object.keys(labels).length > 0) spec.labels = labels;
    else delete spec.labels;
    const hash = specHash(
      spec,
      { ...secrets, ...secretFileValues(spec, input.compose, input.variables) },
      input.specHashKey,
      restartDependencies(original, onHostSet).map((dependency) => [
        dependency,
        specHashes[dependency] ?? '',
      ]),
    );
    specHashes[name] = hash;
    spec.labels = { ...labels, ...input.releaseLabels, [SPEC_HASH_LABEL]: hash };
    services[name] = spec;
  }

  const document: ComposeProject = {
    name: input.composeProjectName,
    services: Object.fromEntries(onHost.map((name) => [name, services[name] as ComposeService])),
  };
  const projectName = input.compose.name;
  for (const [key, value] of Object.entries(input.compose)) {
    if (key === 'name' || key === 'services' || key.startsWith('x-')) continue;
    if (key === 'networks' || key === 'volumes' || key === 'secrets' || key === 'configs') continue;
    document[key] = structuredClone(value);
  }
  const used = usedResources(services);
  for (const kind of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    const section = input.compose[kind];
    if (section === null || typeof section !== 'object') continue;
    const kept: Record<string, unknown> = {};
    for (const key of Object.keys(section).sort(compareStrings)) {
      if (!used[kind].has(key)) continue;
      const entry = structuredClone((section as Record<string, unknown>)[key]);
      if (entry !== null && typeof entry === 'object') {
        const record = entry as Record<string, unknown>;
        // Compose prints the derived name `<project>_<key>`; drop it so names follow the host's project,
        // unless the file pins that name itself (the volume an earlier `docker compose up` made).
        if (
          record['external'] !== true &&
          projectName !== undefined &&
          record['name'] === `${projectName}_${key}` &&
          input.locate?.writes([kind, key, 'name']) !== true
        ) {
          delete record['name'];
        }
        if (kind === 'volumes') refuseLaptopDevice(key, record, input);
        if ((kind === 'secrets' || kind === 'configs') && typeof record['environment'] === 'string') {
          // A secret or config from a variable of this machine's environment (the host's compose would
          // read its own, where the variable is not): a 0600 file beside the compose file.
          const variable = record['environment'];
          const value = input.variables?.[variable];
          const noun = kind === 'secrets' ? 'secret' : 'config';
          if (value === undefined) {
            throw new UserError(
              located(
                input.locate?.nearest([kind, key, 'environment']),
                `compose ${noun} ${key} reads the variable ${variable}, which is not set`,
              ),
              { hint: `set ${variable} in the environment's env_file or the shell` },
            );
          }
          delete record['environment'];
          record['file'] = `./secrets/${key}.${noun}`;
          secretFiles[`secrets/${key}.${noun}`] = value;
        } else if (input.projectDir !== undefined && typeof record['file'] === 'string') {
          const before = record['file'];
          if (input.relativeBindSources?.has(before) === true) {
            const shown = relative(input.projectDir, before).split(sep).join('/');
            throw new UserError(
              located(
                input.locate?.key([kind, key, 'file']),
                `compose ${kind === 'secrets' ? 'secret' : 'config'} ${key}: ${shown} is outside the project folder, so it cannot be uploaded to the hosts`,
              ),
              {
                hint: `move ${shown} into the project folder (Stagecraft uploads files under it), or name an absolute path that exists on every host`,
              },
            );
          }
          if (relative(input.projectDir, before) === '') {
            throw new UserError(
              located(
                input.locate?.key([kind, key, 'file']),
                `compose ${kind === 'secrets' ? 'secret' : 'config'} ${key}: its file is the whole project folder, which is not uploaded to the hosts`,
              ),
              { hint: 'name the one file it holds (Stagecraft uploads files under the project folder)' },
            );
          }
          record['file'] = localizePath(before, input.projectDir, projectFiles);
          if (record['file'] !== before) {
            projectMounts.push({
              path: unescapeDollars((record['file'] as string).slice(2)),
              service: '',
              target: `${kind}.${key}`,
              secret: kind === 'secrets',
            });
          }
        }
      }
      kept[key] = entry;
    }
    if (Object.keys(kept).length > 0) document[kind] = kept;
  }

  // A plain lowercase word (`postgres`, `redis-server`) is also an image, a user or a command of the
  // file: searching for it refuses ordinary projects. Where such a secret is interpolated outside an
  // environment is found by name instead (ComposeLocator.secretReferences).
  for (const value of movedValues) registerSecretValue(value);
  const long = [...new Set([...secretValues, ...movedValues])].filter(
    (value) => value.length >= MIN_LEAK_CHECK_LENGTH && !/^[a-z]+(?:[-_.][a-z]+)*$/.test(value),
  );
  const leak = findLeak(
    document,
    long.length === 0 ? undefined : (text) => long.some((secret) => text.includes(secret)),
  );
  if (leak !== undefined) {
    throw new UserError(`a secret value appears in the compose file at ${leak}`, {
      hint: 'secrets reach a container only through environment variables; reference the secret there',
    });
  }

  return {
    document,
    secretEnv,
    specHashes,
    filesHashes,
    projectFiles: [...projectFiles].sort(compareStrings),
    projectMounts,
    secretFiles,
  };
}

/**
 * sha256 over the canonical JSON of the spec (without deploy.replicas or scale: like compose's own config
 * hash, scaling is not a change of the containers), the secret names, and the HMAC-SHA256 of the
 * sorted secret env pairs under the environment's spec-hash key. The secret values never enter the
 * plain hash: without the key (kept on the hosts) nobody can test a guess against a published hash.
 * Without a key the secret part is the fixed text "(resolved at deploy)".
 */
function specHash(
  spec: ComposeService,
  secrets: Record<string, string>,
  key: string | undefined,
  restartWith: [string, string][] = [],
): string {
  const hashed = structuredClone(spec);
  delete hashed.scale;
  if (hashed.deploy !== undefined) {
    delete hashed.deploy.replicas;
    if (Object.keys(hashed.deploy).length === 0) delete hashed.deploy;
  }
  const pairs = Object.entries(secrets).sort(([a], [b]) => compareStrings(a, b));
  const names = pairs.map(([name]) => name);
  const digest =
    pairs.length === 0
      ? ''
      : key === undefined
        ? '(resolved at deploy)'
        : createHmac('sha256', key).update(canonicalJson(pairs)).digest('hex');
  return sha256Hex(
    canonicalJson({
      spec: hashed,
      secretNames: names,
      secretDigest: digest,
      ...(restartWith.length > 0 ? { restartWith } : {}),
    }),
  );
}

/**
 * The services `service` is restarted with (`depends_on: {x: {restart: true}}`: compose restarts it
 * when it replaces x) among `onHost`, sorted. Their spec hashes are part of its own, so a new x
 * rolls it out after x.
 */
function restartDependencies(service: ComposeService, onHost: ReadonlySet<string>): string[] {
  const dependsOn = (service.depends_on ?? {}) as Record<string, { restart?: unknown } | null>;
  return Object.entries(dependsOn)
    .filter(([name, condition]) => onHost.has(name) && condition?.restart === true)
    .map(([name]) => name)
    .sort(compareStrings);
}

/**
 * The spec hash a deploy records for a service, recomputed from the service as a rendered host
 * compose file holds it (`renderCompose` output parsed back; its spec-hash label is ignored) and the
 * pairs its secret env file holds now: what `secrets sync` writes after changing that file, so that
 * the label equals the one a deploy of the same release with these values would give. `compose` and
 * `variables` are the project's (compose secrets read from variables are part of the hash); `key` is
 * the environment's spec-hash key (state/spec-key.ts). Pure.
 */
export function renderedServiceSpecHash(
  rendered: ComposeService,
  secretEnv: Record<string, string>,
  inputs: {
    compose: ComposeProject;
    variables?: Record<string, string>;
    specHashKey: string;
    /** The spec hashes of the file's other services (service → hash): restart dependencies' count. */
    specHashes?: Record<string, string>;
  },
): string {
  const spec = structuredClone(rendered);
  const labels: Record<string, string> = { ...(spec.labels ?? {}) };
  delete labels[SPEC_HASH_LABEL];
  if (Object.keys(labels).length > 0) spec.labels = labels;
  else delete spec.labels;
  const hashes = inputs.specHashes ?? {};
  return specHash(
    spec,
    { ...secretEnv, ...secretFileValues(spec, inputs.compose, inputs.variables) },
    inputs.specHashKey,
    restartDependencies(spec, new Set(Object.keys(hashes))).map((dependency) => [
      dependency,
      hashes[dependency] ?? '',
    ]),
  );
}

/**
 * Throws UserError for a volume whose `driver_opts.device` is a folder of the project (`device: ./data`,
 * which compose makes this machine's absolute path): the hosts have no such folder, and Stagecraft
 * uploads bind mounts only.
 */
function refuseLaptopDevice(key: string, volume: Record<string, unknown>, input: HostComposeInput): void {
  const given = (volume['driver_opts'] as Record<string, unknown> | undefined)?.['device'];
  if (typeof given !== 'string' || input.projectDir === undefined || given === '') return;
  if (input.relativeBindSources?.has(given) === true) {
    throw new UserError(
      located(
        input.locate?.key(['volumes', key, 'driver_opts', 'device']),
        `volume ${key}: driver_opts.device is a relative path, which compose made this machine's ${given}: the hosts do not have it`,
      ),
      { hint: 'give device an absolute path that exists on every host, or use a plain named volume' },
    );
  }
  // Compose makes it absolute with `driver: local`; without, a relative path is the host's own folder's.
  const device = isAbsolute(given) ? given : resolve(input.projectDir, given);
  const rel = relative(input.projectDir, device);
  if (rel.startsWith('..') || isAbsolute(rel) || (!isAbsolute(given) && !given.startsWith('.'))) return;
  const shown = `./${rel.split(sep).join('/')}`;
  throw new UserError(
    located(
      input.locate?.key(['volumes', key, 'driver_opts', 'device']),
      `volume ${key}: driver_opts.device ${shown} is a folder of this machine's project (${device}), which the hosts do not have`,
    ),
    {
      hint: `mount ${shown} as a bind mount (Stagecraft uploads it), or give device an absolute path that exists on every host`,
    },
  );
}

/**
 * FILES_HASH_LABEL's value for a service: over the project files it mounts (its bind mounts in
 * `mounts`, the files of the compose secrets and configs it uses), each path with its digest, as an
 * HMAC under the spec-hash key; without a key (a plan) the fixed text "(keyed at deploy)".
 * Undefined when it mounts none or no digest is given.
 */
function projectFilesHash(
  name: string,
  spec: ComposeService,
  mounts: HostCompose['projectMounts'],
  input: HostComposeInput,
): string | undefined {
  const digest = input.projectFileDigest;
  if (digest === undefined || input.projectDir === undefined) return undefined;
  const paths = new Set(mounts.filter((mount) => mount.service === name).map((mount) => mount.path));
  for (const kind of ['secrets', 'configs'] as const) {
    const declared = (input.compose[kind] ?? {}) as Record<string, { file?: unknown }>;
    for (const ref of spec[kind] ?? []) {
      const key = typeof ref === 'string' ? ref : String((ref as { source?: unknown }).source);
      const file = declared[key]?.file;
      if (typeof file !== 'string' || !isAbsolute(file)) continue;
      const rel = relative(input.projectDir, file);
      if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel))
        paths.add(unescapeDollars(rel.split(sep).join('/')));
    }
  }
  if (paths.size === 0) return undefined;
  // Not "(resolved at deploy)": a plan gives that text to secrets it does not resolve, and the leak
  // check below would find it here.
  if (input.specHashKey === undefined) return '(keyed at deploy)';
  const entries = [...paths].sort(compareStrings).map((path) => [path, digest(path) ?? '(unreadable)']);
  return createHmac('sha256', input.specHashKey).update(canonicalJson(entries)).digest('hex');
}

/**
 * The values of the compose secrets and configs a service uses that live in no project file (their
 * change is a new spec): environment-sourced ones' values and inline configs' `content`.
 */
function secretFileValues(
  spec: ComposeService,
  compose: ComposeProject,
  variables: Record<string, string> | undefined,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const kind of ['secrets', 'configs'] as const) {
    const declared = (compose[kind] ?? {}) as Record<string, { environment?: unknown; content?: unknown }>;
    for (const ref of spec[kind] ?? []) {
      const key = typeof ref === 'string' ? ref : String((ref as { source?: unknown }).source);
      const variable = declared[key]?.environment;
      const noun = kind === 'secrets' ? 'secret' : 'config';
      if (typeof variable === 'string' && variables?.[variable] !== undefined) {
        values[`\0${noun}:${key}`] = variables[variable];
      }
      const content = declared[key]?.content;
      if (typeof content === 'string') values[`\0${noun}-content:${key}`] = content;
    }
  }
  return values;
}

/** Compose's escape of a literal `$` is `$$`. */
function unescapeDollars(value: string): string {
  return value.replace(/\$\$/g, '$');
}

/**
 * A copy of `value` (JSON data) with `$$` in every mapping key, at any depth, read back as the literal
 * `$` it stands for. Keys such as `__proto__` stay own keys.
 */
export function literalKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(literalKeys);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    Object.defineProperty(copy, unescapeDollars(key), {
      value: literalKeys(child),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

/** A literal string as a compose file must spell it: each `$` as `$$` (else it is interpolated). */
export function escapeDollars(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

function referencesHost(values: (string | null)[], host: string): boolean {
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(^|[^A-Za-z0-9_.-])${escaped}($|[^A-Za-z0-9_.-])`);
  return values.some((value) => value !== null && pattern.test(value));
}

function addExtraHosts(existing: unknown, remote: string[], addresses: Record<string, string>): unknown {
  if (existing !== null && typeof existing === 'object' && !Array.isArray(existing)) {
    const map = { ...(existing as Record<string, unknown>) };
    for (const host of remote) if (map[host] === undefined) map[host] = addresses[host];
    return map;
  }
  const list = Array.isArray(existing) ? existing.map(String) : [];
  const named = new Set(list.map((entry) => entry.split(/[=:]/, 1)[0]));
  for (const host of remote) if (!named.has(host)) list.push(`${host}:${addresses[host]}`);
  return list;
}

function usedResources(services: Record<string, ComposeService>) {
  const used = {
    networks: new Set<string>(),
    volumes: new Set<string>(),
    secrets: new Set<string>(),
    configs: new Set<string>(),
  };
  for (const spec of Object.values(services)) {
    if (spec.network_mode === undefined) {
      const networks = spec.networks;
      if (networks === undefined) used.networks.add('default');
      else if (Array.isArray(networks)) for (const network of networks) used.networks.add(String(network));
      else if (networks !== null && typeof networks === 'object') {
        for (const network of Object.keys(networks)) used.networks.add(network);
      }
    }
    for (const mount of spec.volumes ?? []) {
      if (mount.type === 'volume' && typeof mount.source === 'string') used.volumes.add(mount.source);
    }
    for (const kind of ['secrets', 'configs'] as const) {
      const refs = spec[kind];
      if (!Array.isArray(refs)) continue;
      for (const ref of refs) {
        if (typeof ref === 'string') used[kind].add(ref);
        else if (
          ref !== null &&
          typeof ref === 'object' &&
          typeof (ref as { source?: unknown }).source === 'string'
        ) {
          used[kind].add((ref as { source: string }).source);
        }
      }
    }
  }
  return used;
}

function localizePath(path: string, projectDir: string, files: Set<string>): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(projectDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return path;
  const posix = rel.split(sep).join('/');
  files.add(posix);
  return `./${posix}`;
}

/** The first path of `value` (`services.web.command[2]`) whose key or string `holds` a secret. */
function findLeak(
  value: unknown,
  holds: ((text: string) => boolean) | undefined,
  path = '',
): string | undefined {
  if (holds === undefined) return undefined;
  if (typeof value === 'string') return holds(unescapeDollars(value)) ? path || '(document)' : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findLeak(item, holds, `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value).sort(compareStrings)) {
      const child = path === '' ? key : `${path}.${key}`;
      if (holds(key)) return child;
      const found = findLeak((value as Record<string, unknown>)[key], holds, child);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
