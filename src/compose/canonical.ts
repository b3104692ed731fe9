import { sha256Hex } from '../util/hash.js';

/**
 * A deep copy of a JSON-like value with every mapping's keys sorted (by UTF-16 code unit, the same
 * order in every locale); lists keep their order; `undefined` members are dropped.
 */
export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => sortKeysDeep(item)) as T;
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(source).sort(compareStrings)) {
      const member = source[key];
      if (member !== undefined) sorted[key] = sortKeysDeep(member);
    }
    return sorted as T;
  }
  return value;
}

/** JSON with sorted keys and no whitespace: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value));
}

/** Re-exported: the one sha256 helper lives in util/hash.ts. */
export { sha256Hex };

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
