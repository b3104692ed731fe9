import type { PathSegment } from '../config/issues.js';
import type { ComposeLocator } from './locate.js';

/**
 * The key path a `docker compose config` error names, as compose-go (v2) writes it, split into
 * tokens: `services.api.ports must be a list` → [services, api, ports]; `services.api Additional
 * property foo is not allowed` → [services, api, foo]; `error decoding 'services[my.api].mem_limit'`
 * → [services, my.api, mem_limit] (a bracketed name is one token); `error while interpolating
 * services.api.ports.[].target` → [services, api, ports] (`[]` is any item: the list itself);
 * `service "api" depends on undefined service "db"` → [services, api, depends_on]. A dotted name
 * (`my.api`) outside brackets is split at its dots: resolveComposeErrorPath joins them again against
 * the file. Undefined when the message names no path.
 */
export function composeErrorPath(message: string): string[] | undefined {
  const dependsOn = /^service "([^"]+)" depends on undefined service/.exec(message);
  if (dependsOn !== null) return ['services', dependsOn[1]!, 'depends_on'];
  const quoted = /^error decoding '([^']+)'/.exec(message);
  const interpolating = /^error while interpolating (\S+?):/.exec(message);
  const leading = /^((?:services|networks|volumes|secrets|configs|models|include)(?:\.\S+)?)(?= |$)/.exec(
    message,
  );
  const raw = quoted?.[1] ?? interpolating?.[1] ?? leading?.[1];
  if (raw === undefined) return undefined;
  const tokens: string[] = [];
  for (const part of raw.matchAll(/\[([^\]]*)\]|[^.[\]]+/g)) {
    if (part[1] !== undefined) {
      if (part[1] === '') break;
      tokens.push(part[1]);
    } else tokens.push(part[0]);
  }
  const property = /^\S+ Additional property (\S+) is not allowed/.exec(message);
  if (property !== null && leading !== null) tokens.push(property[1]!);
  return tokens.length > 0 ? tokens : undefined;
}

/**
 * `file:line:column` of the tokens of composeErrorPath in the file `locator` reads: each step takes
 * the longest run of tokens that, joined with dots, is a key there (a service named `my.api`), or a
 * list index; where the file stops having the path (an included file, a value compose made), the
 * nearest key above it. Undefined when the file has not even the first key.
 */
export function resolveComposeErrorPath(
  locator: ComposeLocator,
  tokens: readonly string[],
): string | undefined {
  const path: PathSegment[] = [];
  let at = 0;
  while (at < tokens.length) {
    let next: PathSegment | undefined;
    let used = 0;
    for (let length = tokens.length - at; length >= 1 && next === undefined; length--) {
      const candidate = tokens.slice(at, at + length).join('.');
      const forms: PathSegment[] = /^\d+$/.test(candidate) ? [Number(candidate), candidate] : [candidate];
      next = forms.find((form) => locator.key([...path, form]) !== undefined);
      used = length;
    }
    if (next === undefined) break;
    path.push(next);
    at += used;
  }
  if (path.length === 0) return undefined;
  return locator.key(path);
}
