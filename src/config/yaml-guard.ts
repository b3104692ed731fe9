import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type Node } from 'yaml';

/**
 * Checks of a parsed YAML document that must run before it is turned into plain data (`toJS`): a
 * hostile file must be refused with a position, never expanded, hung on or dropped silently.
 *
 * - Alias expansion: the nodes the document stands for once every alias is replaced by its anchor
 *   (a "billion laughs" file is a few hundred bytes and 9^9 nodes). Counted with memoised sizes, so
 *   the check is linear in the file, not in the expansion.
 * - Aliases inside the node they refer to (`x: &r [*r]`): infinite data.
 * - Merge keys (`<<:`) whose value is not a mapping, an alias of one, or a list of those.
 * - Keys that name object internals (`__proto__`, `constructor`, `prototype`): a plain-object reader
 *   drops or misreads them, so they are refused instead.
 */

/** One problem at a character offset of the text. */
export interface YamlGuardProblem {
  offset: number;
  message: string;
}

/** Most nodes a document may stand for after alias expansion (stagecraft.yml and compose files are far smaller). */
export const MAX_EXPANDED_NODES = 100_000;

/** Keys refused anywhere: they are object internals in JavaScript. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Problems of `document` (in document order): alias bombs, bad merge sources, forbidden keys.
 * `maxNodes` defaults to MAX_EXPANDED_NODES.
 */
export function guardYamlDocument(document: Document, maxNodes = MAX_EXPANDED_NODES): YamlGuardProblem[] {
  const problems: YamlGuardProblem[] = [];
  const sizes = new Map<Node, number>();
  const resolving = new Set<Node>();
  let blamed = false;
  let aliases = false;

  /** Nodes `node` stands for, aliases expanded (capped just above maxNodes so sums stay small). */
  const sizeOf = (node: unknown): number => {
    if (node === null || node === undefined || typeof node !== 'object') return 0;
    const known = sizes.get(node as Node);
    if (known !== undefined) return known;
    if (resolving.has(node as Node)) return 1; // a cycle: yaml reports it; count it once
    resolving.add(node as Node);
    let size = 1;
    if (isAlias(node)) {
      aliases = true;
      const target = node.resolve(document);
      if (target !== undefined && resolving.has(target)) {
        // The alias stands inside its own anchor: the data would be infinite.
        problems.push({
          offset: node.range?.[0] ?? 0,
          message: `YAML alias *${node.source} is inside the node it refers to (a recursive alias): refused`,
        });
        resolving.delete(node);
        sizes.set(node, 1);
        return 1;
      }
      size = target === undefined ? 1 : sizeOf(target);
      if (!blamed && size > maxNodes / 10 && node.range) {
        // The first alias that stands for a large part of the budget is where the expansion explodes.
        blamed = true;
        problems.push({
          offset: node.range[0],
          message: `YAML alias *${node.source} expands to more than ${Math.floor(maxNodes / 10)} nodes: aliases that multiply other aliases are refused (an "alias bomb")`,
        });
      }
    } else if (isMap(node) || isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) size += sizeOf(item.key) + sizeOf(item.value);
        else size += sizeOf(item);
        if (size > maxNodes) break;
      }
    }
    size = Math.min(size, maxNodes + 1);
    resolving.delete(node as Node);
    sizes.set(node as Node, size);
    return size;
  };

  const total = sizeOf(document.contents);
  if (total > maxNodes && !blamed) {
    problems.push({
      offset: (document.contents as Node | null)?.range?.[0] ?? 0,
      message: aliases
        ? `the YAML document expands to more than ${maxNodes} nodes through aliases: refused (an "alias bomb")`
        : `the YAML document has more than ${maxNodes} nodes (keys, values and list items): refused (a stagecraft.yml or compose file is far smaller)`,
    });
  }
  if (total > maxNodes) return problems;

  const visit = (node: unknown): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = pair.key;
        if (isMergeKey(key) && !isMergeSource(pair.value, document)) {
          const at = (pair.value as Node | null)?.range?.[0] ?? (key as Node).range?.[0] ?? 0;
          problems.push({
            offset: at,
            message:
              'merge key "<<" needs a mapping, an alias of a mapping (<<: *base) or a list of them (<<: [*a, *b])',
          });
        }
        if (isScalar(key) && typeof key.value === 'string' && FORBIDDEN_KEYS.has(key.value)) {
          problems.push({
            offset: key.range?.[0] ?? 0,
            message: `key "${key.value}" is not allowed: it names an object internal, not a setting; rename it`,
          });
        }
        visit(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) visit(item);
    }
  };
  visit(document.contents);
  return problems.sort((a, b) => a.offset - b.offset);
}

/** A `<<` key: the yaml library gives merge keys a symbol value (with `merge: true`), else the string. */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  return key.value === '<<' || (typeof key.value === 'symbol' && key.source === '<<');
}

function isMergeSource(value: unknown, document: Document): boolean {
  const one = (node: unknown): boolean => {
    if (isMap(node)) return true;
    if (isAlias(node)) return isMap(node.resolve(document));
    return false;
  };
  if (isSeq(value)) return value.items.length > 0 && value.items.every(one);
  return one(value);
}

/** Longest config or compose file read (bytes): far above any real file, far below a memory problem. */
export const MAX_YAML_BYTES = 2 * 1024 * 1024;

/** Deepest nesting of flow collections (`[`, `{`) a compose file or stagecraft.yml may have. */
export const MAX_FLOW_DEPTH = 64;
/** Widest indentation a compose file or stagecraft.yml may have, in columns (block nesting: a level takes at least one). */
export const MAX_INDENT = 256;

/**
 * The first place where `text` nests deeper than MAX_FLOW_DEPTH flow collections or indents more than
 * MAX_INDENT columns, as a character offset and a message; undefined for a file of ordinary depth.
 * Quoted strings and comments are skipped. One pass over the text, no parsing: `docker compose config`
 * spent 51 s on 9,900 nested `[` (20 kB), and the yaml library runs out of stack at ~800 levels.
 */
export function tooDeep(text: string): { offset: number; message: string } | undefined {
  let depth = 0;
  let quote: '"' | "'" | undefined;
  let lineStart = true;
  let indent = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') index++;
      else if (char === quote) quote = undefined;
      continue;
    }
    if (lineStart) {
      if (char === ' ') {
        indent++;
        if (indent > MAX_INDENT)
          return { offset: index, message: `is indented more than ${MAX_INDENT} columns` };
        continue;
      }
      lineStart = false;
    }
    if (char === '\n') {
      lineStart = true;
      indent = 0;
    } else if (char === '#' && (index === 0 || /\s/.test(text[index - 1]!))) {
      const end = text.indexOf('\n', index);
      index = end === -1 ? text.length : end - 1;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '[' || char === '{') {
      depth++;
      if (depth > MAX_FLOW_DEPTH)
        return { offset: index, message: `nests more than ${MAX_FLOW_DEPTH} flow collections ([ or {)` };
    } else if (char === ']' || char === '}') {
      depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}
