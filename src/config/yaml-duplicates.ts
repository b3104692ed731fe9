import { type Alias, type Document, isAlias, isCollection, isMap, isScalar, type Node, visit } from 'yaml';

/**
 * Offsets (UTF-16 code units into the source text) of every mapping key that repeats an earlier key of
 * the same mapping, in document order. Keys are equal as the yaml library's own `uniqueKeys: true` check
 * has them (yaml 2.x, compose/util-map-includes): two scalars with the same resolved value (so `1` and
 * `"1"` differ; NaN never equals itself); a collection key equals only itself. Unlike the library, an
 * alias key is the node it names (YAML 1.2 §3.2.2.2), so `*p :` after `&p production:` is a
 * duplicate, and so is a second merge key `<<`. Linear in the document's size (with a binary search per alias key), where the library
 * compares each key with every earlier one (20,000 keys: 3.9 s against 0.4 s).
 */
export function duplicateKeyOffsets(document: Document): number[] {
  const resolve = anchorResolver(document);
  const offsets: number[] = [];
  visit(document, {
    Map(_key, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isAlias(pair.key) ? resolve(pair.key) : pair.key;
        if (!isScalar(key)) continue;
        // Each merge key `<<` is a Symbol of its own; a second one in a mapping is a duplicate (as for
        // compose, whose YAML reader refuses it): several mappings merge as <<: [*a, *b].
        const value = typeof key.value === 'symbol' ? MERGE : key.value;
        // The library's `===` never finds NaN equal to itself; a Set would.
        if (typeof value === 'number' && Number.isNaN(value)) continue;
        if (seen.has(value)) offsets.push((pair.key as Node).range?.[0] ?? 0);
        else seen.add(value);
      }
    },
  });
  return offsets.sort((a, b) => a - b);
}

const MERGE = Symbol('merge key');

/** Resolves an alias to the last node anchored with its name before it, from one pass over the document. */
function anchorResolver(document: Document): (alias: Alias) => Node | undefined {
  const anchors = new Map<string, { at: number; node: Node }[]>();
  visit(document, (_key, node) => {
    if ((isScalar(node) || isCollection(node)) && node.anchor !== undefined) {
      const list = anchors.get(node.anchor) ?? [];
      list.push({ at: node.range?.[0] ?? 0, node });
      anchors.set(node.anchor, list);
    }
  });
  return (alias) => {
    const list = anchors.get(alias.source);
    const at = alias.range?.[0] ?? 0;
    if (list === undefined) return undefined;
    let low = 0;
    let high = list.length - 1;
    let found: Node | undefined;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (list[middle]!.at < at) {
        found = list[middle]!.node;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found;
  };
}
