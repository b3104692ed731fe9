import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../scripts/config-docs.mjs';
import { stagecraft } from '../support/cli.js';

describe('docs/config.md', () => {
  it('is generated from the current schema (run `node scripts/config-docs.mjs` after changing it)', () => {
    const schema = JSON.parse(stagecraft(['schema']).stdout);
    const current = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    expect(current).toBe(renderConfigDocs(schema));
    expect(current).toContain('| `environments.<name>.driver` | `"local"` \\| `"ssh"` \\| `"swarm"` | yes |');
  });
});
