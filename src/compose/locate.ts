// Where a key of the project's compose file is, as `file:line:column` (the form of the config's own
// errors and the compose guard's), for errors about what compose resolved from it.
import { formatPath, type PathSegment } from '../config/issues.js';
import { MAX_YAML_BYTES } from '../config/yaml-guard.js';
import { YamlSource } from '../config/yaml-source.js';
import { readUserFile } from '../util/user-file.js';
import type { ComposeFileRead } from './guard.js';

/** Positions in the compose file as written (not as `docker compose config` resolved it). */
export interface ComposeLocator {
  /**
   * `file:line:column` of a key path (`['services', 'web', 'container_name']`: the key itself), or
   * undefined when the file does not have that path (it came from an included or extended file).
   */
  key(path: readonly PathSegment[]): string | undefined;
  /**
   * key(), or where the file does not write that path as such (a list compose printed as a map, a
   * value from a merge key), the nearest key above it that it has (at least two segments deep).
   */
  nearest(path: readonly PathSegment[]): string | undefined;
  /**
   * The variables the file (and the files it includes or extends) interpolates in a service's
   * `build` section (args, target, dockerfile_inline, …), sorted: what a build takes from outside
   * the commit.
   */
  buildVariables(): string[];
  /**
   * Whether the file, or a file it includes, writes the key path itself (aliases and merge keys
   * resolved): `['volumes', 'pgdata', 'name']` for a pinned volume name. False where compose alone
   * made the value up (a default name).
   */
  writes(path: readonly PathSegment[]): boolean;
  /** `file:line:column` of the entry of `services.<service>.volumes` that mounts at `target`. */
  mount(service: string, target: string): string | undefined;
  /**
   * Where the file interpolates one of `names` (`${NAME}`, `${NAME:-…}`, `$NAME`) outside a service's
   * `environment` (Stagecraft moves those values to a 0600 env file) and outside `x-` extension keys:
   * `{ at: "file:line:column", path: "services.api.command[2]", name }`, in file order, then those of
   * the files it includes or extends. Such a value would be written in clear into the compose file on
   * the hosts, whatever its length.
   */
  secretReferences(names: readonly string[]): SecretReference[];
}

/** A secret variable interpolated where its value would be written in clear (secretReferences). */
export interface SecretReference {
  /** `file:line:column` of the value. */
  at: string;
  /** The key path, e.g. `services.api.command[2]`, and as segments. */
  path: string;
  keyPath: PathSegment[];
  /** The variable. */
  name: string;
  /** Set when the file is reached through `extends.file`: its services are templates for others. */
  extended?: true;
}

/** `${NAME…}` or `$NAME` in a compose value (after `$$` escapes are taken out). */
const VARIABLE_REFERENCE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Where a value interpolated at `path` reaches the host's compose file in clear. */
function inClearAt(path: readonly PathSegment[]): boolean {
  if (typeof path[0] === 'string' && path[0].startsWith('x-')) return false;
  if (path[0] === 'services' && path[2] === 'environment') return false;
  // Build settings go to `docker compose build` on this machine, not to the hosts; build args and
  // labels have their own checks (operations/build-args.ts).
  if (path[0] === 'services' && path[2] === 'build') return false;
  return true;
}

/** The target of a `volumes:` entry as written: `src:target[:mode]`, or the long form's `target`. */
function mountTarget(entry: unknown): string | undefined {
  if (typeof entry === 'string') {
    const parts = entry.split(':');
    return parts.length === 1 ? parts[0] : parts[1];
  }
  if (entry !== null && typeof entry === 'object') {
    const target = (entry as { target?: unknown }).target;
    return typeof target === 'string' ? target : undefined;
  }
  return undefined;
}

/**
 * A locator over the compose file at `path`, named `displayName` in what it returns. The file is read
 * and parsed on the first question only; one that cannot be read or parsed locates nothing.
 * `others` are the files it includes or extends: secretReferences looks in them too.
 */
export function composeLocator(
  path: string,
  displayName: string,
  others: readonly ComposeFileRead[] = [],
): ComposeLocator {
  let text: string | null | undefined;
  const raw = (): string | null => {
    if (text === undefined) {
      try {
        text = readUserFile(path, { maxBytes: MAX_YAML_BYTES }) ?? null;
      } catch {
        text = null;
      }
    }
    return text;
  };
  let source: YamlSource | null | undefined;
  const parsed = (): YamlSource | null => {
    if (source === undefined) {
      try {
        const read = raw() === null ? null : YamlSource.parse(displayName, raw()!);
        // A key named like an object internal is located (compose's model is refused for it), not
        // read into plain data here: only the other guard issues (alias bombs) make it unusable.
        source =
          read === null ||
          read.syntaxIssues().length > 0 ||
          read.guardIssues().some((issue) => !issue.message.startsWith('key "'))
            ? null
            : read;
      } catch {
        source = null;
      }
    }
    return source;
  };
  const key = (keyPath: readonly PathSegment[]): string | undefined => {
    // A key the text does not contain is not in the file: most questions (is the default network's
    // `name` pinned?) are answered without parsing (10-30 ms for 30 services). A backslash may be an
    // escape that spells a key (`"n\x61me"`): then the file is parsed.
    const written = raw();
    if (written === null) return undefined;
    if (
      !written.includes('\\') &&
      keyPath.some((segment) => typeof segment === 'string' && !written.includes(segment))
    )
      return undefined;
    const yaml = parsed();
    if (yaml === null || !yaml.document.hasIn(keyPath)) return undefined;
    const { line, column } = yaml.position(keyPath, { key: typeof keyPath.at(-1) === 'string' });
    return `${displayName}:${line}:${column}`;
  };
  const ownSecretReferences = (names: readonly string[]): SecretReference[] => {
    // Most files name no secret after a `$`: they are not parsed (5-30 ms for 30 services).
    const written = raw();
    if (
      written === null ||
      !names.some((name) => written.includes(`$${name}`) || written.includes(`\${${name}`))
    )
      return [];
    const yaml = parsed();
    if (yaml === null) return [];
    const escaped = names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    // `$$` is compose's escaped dollar, not a reference.
    const pattern = new RegExp(
      `(?<!\\$)\\$(?:\\{(${escaped.join('|')})(?=[}:?+-])|(${escaped.join('|')})(?![A-Za-z0-9_]))`,
    );
    const found: SecretReference[] = [];
    // The document with its aliases and merge keys resolved (a reference in an `x-` anchor counts
    // where it is merged in); the guard has refused alias bombs already.
    const walk = (value: unknown, path: PathSegment[]) => {
      if (typeof value === 'string') {
        if (!value.includes('$') || !inClearAt(path)) return;
        const match = pattern.exec(value.replaceAll('$$', '\0\0'));
        if (match === null) return;
        // Through an alias the path is not in the file as written: the nearest key that is.
        let written = path;
        while (written.length > 0 && !yaml.document.hasIn(written)) written = written.slice(0, -1);
        const { line, column } = yaml.position(written);
        found.push({
          at: `${displayName}:${line}:${column}`,
          path: formatPath(path),
          keyPath: path,
          name: (match[1] ?? match[2])!,
        });
      } else if (Array.isArray(value)) {
        for (const [index, item] of value.entries()) walk(item, [...path, index]);
      } else if (value !== null && typeof value === 'object') {
        for (const [key, item] of Object.entries(value)) {
          walk(key, [...path, key]);
          walk(item, [...path, key]);
        }
      }
    };
    walk(yaml.document.toJS({ maxAliasCount: -1 }), []);
    return found;
  };
  // The included and extended files' own locators, made once: each reads and parses its file once.
  let children: Map<string, ComposeLocator> | undefined;
  const nested = (): Map<string, ComposeLocator> => {
    children ??= new Map(others.map((other) => [other.path, composeLocator(other.path, other.displayName)]));
    return children;
  };
  let data: unknown;
  const plain = (): unknown => {
    if (data === undefined) {
      const yaml = parsed();
      data = yaml === null ? null : (yaml.document.toJS({ maxAliasCount: -1 }) ?? null);
    }
    return data;
  };
  const ownBuildVariables = (): string[] => {
    const text = raw();
    if (text === null || !/build/.test(text) || !text.includes('$')) return [];
    const root = plain();
    const services =
      root !== null && typeof root === 'object' ? (root as Record<string, unknown>)['services'] : undefined;
    if (services === null || typeof services !== 'object') return [];
    const names = new Set<string>();
    const walk = (value: unknown) => {
      if (typeof value === 'string') {
        for (const match of value.replaceAll('$$', '').matchAll(VARIABLE_REFERENCE))
          names.add((match[1] ?? match[2])!);
      } else if (Array.isArray(value)) value.forEach(walk);
      else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
    };
    for (const service of Object.values(services)) {
      if (service !== null && typeof service === 'object')
        walk((service as Record<string, unknown>)['build']);
    }
    return [...names];
  };
  return {
    key,
    buildVariables() {
      const names = new Set(ownBuildVariables());
      for (const other of others)
        for (const name of nested().get(other.path)!.buildVariables()) names.add(name);
      return [...names].sort();
    },
    writes(keyPath) {
      // Most questions are answered from the text (the key is not in it at all).
      const text = raw();
      const mayHave =
        text !== null &&
        (text.includes('\\') ||
          keyPath.every((segment) => typeof segment !== 'string' || text.includes(segment)));
      let node: unknown = mayHave ? plain() : null;
      for (const segment of keyPath) {
        node =
          node !== null && typeof node === 'object' && Object.hasOwn(node, segment)
            ? (node as Record<string | number, unknown>)[segment]
            : undefined;
      }
      if (node !== undefined) return true;
      return others.some((other) => other.via === 'include' && nested().get(other.path)!.writes(keyPath));
    },
    nearest(keyPath) {
      for (let length = keyPath.length; length >= Math.min(2, keyPath.length); length--) {
        const found = key(keyPath.slice(0, length));
        if (found !== undefined) return found;
      }
      return undefined;
    },
    secretReferences(names) {
      const inOthers = others.flatMap((other) =>
        nested()
          .get(other.path)!
          .secretReferences(names)
          .map(
            (reference): SecretReference =>
              other.via === 'extends' ? { ...reference, extended: true } : reference,
          ),
      );
      return [...ownSecretReferences(names), ...inOthers];
    },
    mount(service, target) {
      const volumes = parsed()?.document.getIn(['services', service, 'volumes']) as unknown;
      const list = (volumes as { toJSON?: () => unknown } | undefined)?.toJSON?.();
      if (!Array.isArray(list)) return undefined;
      const index = list.findIndex((entry) => mountTarget(entry) === target);
      return index === -1 ? undefined : key(['services', service, 'volumes', index]);
    },
  };
}

/** `message` after its place when there is one: `compose.yml:5:9 message`, the form config errors take. */
export function located(at: string | undefined, message: string): string {
  return at === undefined ? message : `${at} ${message}`;
}
