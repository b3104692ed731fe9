#!/usr/bin/env node
// Renders docs/config.md from the JSON Schema that `stagecraft schema` prints (itself generated from
// the one zod schema). `node scripts/config-docs.mjs` rewrites the file; a test checks it is current.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function typeOf(node) {
  if (node.enum) return node.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ');
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.anyOf || node.oneOf) return (node.anyOf ?? node.oneOf).map(typeOf).join(' or ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  if (
    node.type === 'object' &&
    node.additionalProperties &&
    typeof node.additionalProperties === 'object' &&
    !node.properties
  ) {
    return `map of name → ${typeOf(node.additionalProperties)}`;
  }
  if (node.type === 'integer') return 'whole number';
  return node.type ?? 'any';
}

function rows(node, path, required, out) {
  if (!node || typeof node !== 'object') return;
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      const details = [
        child.description ?? '',
        child.default !== undefined ? `Default: \`${JSON.stringify(child.default)}\`.` : '',
      ]
        .filter(Boolean)
        .join(' ');
      out.push(
        `| \`${childPath}\` | ${typeOf(child)} | ${(node.required ?? []).includes(key) ? 'yes' : ''} | ${details.replace(/\|/g, '\\|')} |`,
      );
      rows(child, childPath, node.required ?? [], out);
    }
  }
  if (node.type === 'object' && node.additionalProperties && typeof node.additionalProperties === 'object') {
    rows(node.additionalProperties, `${path}.<name>`, [], out);
  }
  if (node.type === 'array' && node.items) rows(node.items, `${path}[]`, [], out);
  for (const option of node.anyOf ?? node.oneOf ?? [])
    if (option.properties) rows(option, path, required, out);
}

/** The Markdown reference for a JSON Schema of stagecraft.yml. */
export function renderConfigDocs(schema) {
  const out = [
    '# stagecraft.yml reference',
    '',
    'Generated from the schema by `node scripts/config-docs.mjs`; do not edit by hand. The same schema',
    'validates the file (every error with file:line:column), gives the TypeScript types, and is printed by',
    '`stagecraft schema` for editors (`# yaml-language-server: $schema=…`). Keys starting with `x-` are',
    'allowed anywhere (for YAML anchors). String values are interpolated as compose interpolates its file:',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's syntax, written out
    '`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`,',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's syntax, written out
    '`${VAR:+value}`, `${VAR+value}` (a default or value may hold references), `$$` for a literal `$`',
    '(`$$NAME` in a command that a shell expands later). A variable with neither value nor default is an',
    "error, where compose takes ''. Values come from the shell, then the environment's `env_file`s.",
    '',
    '| key | type | required | meaning |',
    '|---|---|---|---|',
  ];
  rows(schema, '', schema.required ?? [], out);
  return `${out.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cli = fileURLToPath(new URL('../bin/stagecraft.js', import.meta.url));
  const result = spawnSync(process.execPath, [cli, 'schema'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`stagecraft schema failed: ${result.stderr}`);
  writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDocs(JSON.parse(result.stdout)));
}
