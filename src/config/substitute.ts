/**
 * Compose's variable substitution (compose-spec/compose-go `template`), used for the values of env
 * files exactly as docker compose v2 expands them:
 *
 * - `$$` is a literal `$`;
 * - `$NAME` and `${NAME}` are the variable's value (unset: empty, and a warning);
 * - `${NAME:-default}` / `${NAME-default}`: the default when unset or empty / unset;
 * - `${NAME:+alt}` / `${NAME+alt}`: `alt` when set and not empty / set;
 * - `${NAME:?message}` / `${NAME?message}`: an error when unset or empty / unset;
 * - defaults, alternatives and messages are substituted themselves (`${A:-${B}}`);
 * - a `$` before anything else stays a literal `$`; `${` with no valid name is an invalid template.
 *
 * Names are `[_A-Za-z][_A-Za-z0-9]*`. Pure.
 */

/** Raised for `${NAME:?…}` on a missing value and for an invalid `${…}`; the message is compose's. */
export class SubstitutionError extends Error {}

/** Looks a variable up: its value, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

const NAME = /^[_A-Za-z][_A-Za-z0-9]*/;
const OPERATORS = [':?', '?', ':-', '-', ':+', '+'] as const;

/**
 * `template` with every variable reference replaced. `onUnset(name)` is called for each plain
 * reference (`$NAME`, `${NAME}`) to an unset variable, which becomes the empty string, as compose's
 * "The "NAME" variable is not set. Defaulting to a blank string." warning. Throws SubstitutionError.
 */
export function substitute(template: string, lookup: Lookup, onUnset?: (name: string) => void): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar === -1) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, dollar);
    const next = template[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
      continue;
    }
    if (next === '{') {
      const close = closingBrace(template, dollar);
      if (close === -1) throw new SubstitutionError(`Invalid template: "${template}"`);
      out += braced(template.slice(dollar + 2, close), template, lookup, onUnset);
      i = close + 1;
      continue;
    }
    const name = NAME.exec(template.slice(dollar + 1))?.[0];
    if (name === undefined) {
      out += '$';
      i = dollar + 1;
      continue;
    }
    out += plain(name, lookup, onUnset);
    i = dollar + 1 + name.length;
  }
  return out;
}

function plain(name: string, lookup: Lookup, onUnset?: (name: string) => void): string {
  const value = lookup(name);
  if (value === undefined) onUnset?.(name);
  return value ?? '';
}

/** The index of the `}` that closes the `${` at `start` (nested `${…}` counted), or -1. */
function closingBrace(text: string, start: number): number {
  let open = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '}') {
      open--;
      if (open === 0) return i;
    }
    if (text[i] === '{') {
      open++;
      i++;
    }
  }
  return -1;
}

function braced(inner: string, template: string, lookup: Lookup, onUnset?: (name: string) => void): string {
  const name = NAME.exec(inner)?.[0];
  if (name === undefined) throw new SubstitutionError(`Invalid template: "${template}"`);
  const rest = inner.slice(name.length);
  if (rest === '') return plain(name, lookup, onUnset);
  // The operator that appears first in the text wins (compose sorts them by position).
  const operator = OPERATORS.filter((op) => inner.includes(op)).sort(
    (a, b) => inner.indexOf(a) - inner.indexOf(b) || b.length - a.length,
  )[0];
  if (operator === undefined || !rest.startsWith(operator)) {
    throw new SubstitutionError(`Invalid template: "${template}"`);
  }
  const argument = rest.slice(operator.length);
  const value = lookup(name);
  const empty = value === undefined || value === '';
  switch (operator) {
    case ':-':
      return empty ? substitute(argument, lookup, onUnset) : value;
    case '-':
      return value === undefined ? substitute(argument, lookup, onUnset) : value;
    case ':+':
      return empty ? (value ?? '') : substitute(argument, lookup, onUnset);
    case '+':
      return value === undefined ? '' : substitute(argument, lookup, onUnset);
    case ':?':
    case '?': {
      if (operator === ':?' ? empty : value === undefined) {
        const reason = substitute(argument, lookup, onUnset);
        throw new SubstitutionError(
          `required variable ${name} is missing a value${reason === '' ? '' : `: ${reason}`}`,
        );
      }
      return value ?? '';
    }
  }
  return value ?? '';
}
