import { looksSecretName } from '../util/secret.js';
import type { PathSegment } from './issues.js';

export interface InterpolationProblem {
  path: PathSegment[];
  message: string;
}

export interface InterpolationResult {
  value: unknown;
  problems: InterpolationProblem[];
  /** Paths whose value includes a variable that holds a secret; `config` prints them redacted. */
  secretPaths: PathSegment[][];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
/** `${NAME}`, or `${NAME` + one of compose's operators + its argument `}`. */
const BRACED = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/;

/**
 * Replaces variable references in every string of `value` with compose's interpolation grammar
 * (https://docs.docker.com/reference/compose-file/interpolation/): `$NAME` and `${NAME}`;
 * `${NAME:-default}` / `${NAME-default}` (unset or empty / unset); `${NAME:?message}` /
 * `${NAME?message}` (required); `${NAME:+other}` / `${NAME+other}` (other when set); a default or
 * other value may hold references itself. `$$` is a literal `$`, as is a `$` that starts no name.
 * Stricter than compose where a plain reference is unset: a problem naming the key path (compose
 * takes ''), and a required one's message. `variablesFor(path)` gives the variables in force for a
 * key path (environments use their own). Returns the new value (the input is not changed), the
 * problems, and the paths whose value took a secret variable's value (`isSecret`).
 */
export function interpolate(
  value: unknown,
  variablesFor: (path: readonly PathSegment[]) => Record<string, string | undefined>,
  isSecret: (name: string) => boolean = looksSecretName,
): InterpolationResult {
  const problems: InterpolationProblem[] = [];
  const secretPaths: PathSegment[][] = [];

  const visit = (node: unknown, path: PathSegment[]): unknown => {
    if (typeof node === 'string') return replace(node, path);
    if (Array.isArray(node)) return node.map((item, index) => visit(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = visit(child, [...path, key]);
      return out;
    }
    return node;
  };

  const replace = (text: string, path: PathSegment[]): string => {
    if (!text.includes('$')) return text;
    const variables = variablesFor(path);
    let secret = false;
    const problem = (message: string) => problems.push({ path, message });
    const substitute = (name: string): string => {
      if (isSecret(name)) secret = true;
      return variables[name] ?? '';
    };
    const braced = (body: string, written: string): string => {
      const match = BRACED.exec(body);
      if (match === null) {
        problem(
          `invalid variable reference "${written}": expected \${NAME}, \${NAME:-default}, \${NAME:?message} or \${NAME:+value} (write $$ for a literal $)`,
        );
        return written;
      }
      const [, name = '', operator, argument = ''] = match;
      const current = variables[name];
      const missing = operator?.startsWith(':')
        ? current === undefined || current === ''
        : current === undefined;
      switch (operator) {
        case undefined:
          if (current !== undefined) return substitute(name);
          problem(
            `variable \${${name}} is not set: set it in the environment's env_file or the shell, or write \${${name}:-default}`,
          );
          return written;
        case ':-':
        case '-':
          return missing ? expand(argument) : substitute(name);
        case ':?':
        case '?':
          if (!missing) return substitute(name);
          problem(
            `required variable \${${name}} is ${current === undefined ? 'not set' : 'empty'}${argument === '' ? '' : `: ${expand(argument)}`}`,
          );
          return written;
        default:
          return missing ? '' : expand(argument);
      }
    };
    const expand = (template: string): string => {
      let out = '';
      let at = 0;
      while (at < template.length) {
        const dollar = template.indexOf('$', at);
        if (dollar === -1) return out + template.slice(at);
        out += template.slice(at, dollar);
        const next = template[dollar + 1];
        if (next === '$') {
          out += '$';
          at = dollar + 2;
        } else if (next === '{') {
          const close = closingBrace(template, dollar + 2);
          if (close === -1) {
            problem(
              `unterminated variable reference "${template.slice(dollar)}": close it with } (write $$ for a literal $)`,
            );
            return out + template.slice(dollar);
          }
          out += braced(template.slice(dollar + 2, close), template.slice(dollar, close + 1));
          at = close + 1;
        } else {
          const name = NAME.exec(template.slice(dollar + 1))?.[0];
          if (name === undefined) {
            out += '$';
            at = dollar + 1;
          } else if (variables[name] === undefined) {
            problem(
              `variable $${name} is not set: set it in the environment's env_file or the shell, write \${${name}:-default}, or $$${name} for a literal $`,
            );
            out += `$${name}`;
            at = dollar + 1 + name.length;
          } else {
            out += substitute(name);
            at = dollar + 1 + name.length;
          }
        }
      }
      return out;
    };
    const result = expand(text);
    if (secret) secretPaths.push(path);
    return result;
  };

  return { value: visit(value, []), problems, secretPaths };
}

/** Index of the `}` that closes a `${` whose body starts at `from` (nested `${…}` skipped), or -1. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let at = from; at < text.length; at++) {
    const char = text[at];
    if (char === '$' && (text[at + 1] === '$' || text[at + 1] === '{')) {
      if (text[at + 1] === '{') depth += 1;
      at += 1;
    } else if (char === '}') {
      if (depth === 0) return at;
      depth -= 1;
    }
  }
  return -1;
}

/** Drops every mapping key that starts with `x-` (YAML anchors' home), at any depth. */
export function stripExtensionKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripExtensionKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (!key.startsWith('x-')) out[key] = stripExtensionKeys(child);
    }
    return out;
  }
  return value;
}
