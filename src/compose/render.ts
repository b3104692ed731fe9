import { Document, isScalar, visit } from 'yaml';
import { UserError } from '../util/errors.js';
import { compareStrings, sha256Hex, sortKeysDeep } from './canonical.js';
import type { ComposeProject } from './types.js';

/** A rendered file: its exact bytes (UTF-8) and their sha256 hex. */
export interface RenderedFile {
  text: string;
  sha256: string;
}

/**
 * Renders a compose document deterministically: mapping keys sorted at every level, lists in their
 * order, 2-space YAML, every string value double-quoted (so no value can be read back as a number,
 * a boolean or null by any YAML 1.1 or 1.2 parser), no line folding, no anchors. A key is written
 * plain only where go-yaml (compose's reader, YAML 1.1 rules) reads it back as the same string
 * (`2001-12-14`, `1_000`, `0b11` or `yes` are quoted); the line-break and control characters YAML
 * treats as breaks or refuses raw (NEL, U+2028, U+2029, DEL, C1) are escaped. Same document → same
 * bytes, whatever the key order of the input.
 */
export function renderCompose(document: ComposeProject): RenderedFile {
  const header = '# Rendered by Stagecraft. Do not edit: the next deploy replaces this file.\n';
  const yaml = new Document(sortKeysDeep(document), { aliasDuplicateObjects: false });
  visit(yaml, {
    Pair(_, pair) {
      if (isScalar(pair.key) && typeof pair.key.value === 'string' && !plainKey(pair.key.value))
        pair.key.type = 'QUOTE_DOUBLE';
    },
  });
  const body = yaml
    .toString({
      indent: 2,
      lineWidth: 0,
      minContentWidth: 0,
      defaultStringType: 'QUOTE_DOUBLE',
      defaultKeyType: 'PLAIN',
    })
    .replace(BREAKING_CHARACTERS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const text = header + body;
  return { text, sha256: sha256Hex(text) };
}

/** Characters a YAML reader folds into a line break or refuses raw: written as `\uXXXX` escapes. */
const BREAKING_CHARACTERS = /[\u007f-\u009f\u2028\u2029]/g;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
/** YAML 1.1 booleans and nulls: a plain key spelled so is not the string it looks like. */
const YAML11_WORDS =
  /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/;

function plainKey(key: string): boolean {
  return PLAIN_KEY.test(key) && !YAML11_WORDS.test(key);
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Renders `KEY="value"` lines, sorted by key, for compose's `env_file`. Values are literal (what the
 * container sees) and always double-quoted; inside the quotes `\` `"` `$` newline and carriage return
 * are escaped, which compose v2's env_file parser turns back into exactly the original value (no
 * variable expansion happens). Not for `docker run --env-file`, which does not unquote.
 */
export function renderEnvFile(pairs: Record<string, string>): string {
  const lines: string[] = [];
  for (const key of Object.keys(pairs).sort(compareStrings)) {
    if (!ENV_KEY.test(key)) {
      throw new UserError(`environment variable name "${key}" cannot be written to an env file`, {
        hint: 'use letters, digits and underscores in variable names that hold secrets',
      });
    }
    lines.push(`${key}="${escapeEnvValue(pairs[key] ?? '')}"`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function escapeEnvValue(value: string): string {
  return value.replace(/[\\"$\n\r]/g, (char) => {
    switch (char) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      default:
        return `\\${char}`;
    }
  });
}

/**
 * Renders `KEY=value` lines for Docker's own env files (`docker run --env-file`, and `env_file:` as
 * `docker stack deploy` reads it), which take each line's value verbatim (no quotes, no escapes, no
 * comments): what is written is exactly what the container sees.
 * A value with a newline cannot be written there and is a UserError naming the key (never the value).
 */
export function renderDockerEnvFile(pairs: Record<string, string>): string {
  const lines: string[] = [];
  for (const key of Object.keys(pairs).sort(compareStrings)) {
    const value = pairs[key] ?? '';
    if (!ENV_KEY.test(key)) {
      throw new UserError(`environment variable name "${key}" cannot be written to an env file`, {
        hint: 'use letters, digits and underscores in variable names',
      });
    }
    if (/[\n\r]/.test(value)) {
      throw new UserError(`the value of ${key} has a line break, which Docker's env files cannot carry`, {
        hint: `keep ${key} on one line (e.g. base64-encode it), or pass it to the service as a compose secret file`,
      });
    }
    lines.push(`${key}=${value}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
