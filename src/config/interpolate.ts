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

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$\{([^}]*)\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` (and `${VAR-default}`) in every string of `value`. `$$` is a
 * literal `$`. A variable that is unset and has no default is a problem naming the key path.
 * `variablesFor(path)` gives the variables in force for a key path (environments use their own).
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
    const result = text.replace(REFERENCE, (match, name?: string, fallback?: string, invalid?: string) => {
      if (match === '$$') return '$';
      if (name === undefined) {
        problems.push({
          path,
          message: `invalid variable reference "\${${invalid ?? ''}}": expected \${NAME} or \${NAME:-default}`,
        });
        return match;
      }
      const current = variables[name];
      const useDefault = match.includes(':-')
        ? current === undefined || current === ''
        : current === undefined;
      if (useDefault) {
        if (fallback !== undefined) return fallback;
        problems.push({
          path,
          message: `variable \${${name}} is not set: set it in the environment's env_file or the shell, or write \${${name}:-default}`,
        });
        return match;
      }
      if (isSecret(name)) secret = true;
      return current ?? '';
    });
    if (secret) secretPaths.push(path);
    return result;
  };

  return { value: visit(value, []), problems, secretPaths };
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
