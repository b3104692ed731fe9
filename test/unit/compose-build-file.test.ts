import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderBuildFile } from '../../src/compose/build-file.js';
import type { ComposeProject } from '../../src/compose/types.js';

/** `docker compose config --format json` of a compose file's text. */
function composeConfig(text: string): ComposeProject {
  const dir = mkdtempSync(join(tmpdir(), 'stagecraft-build-file-'));
  try {
    writeFileSync(join(dir, 'compose.yml'), text);
    return JSON.parse(
      execFileSync('docker', ['compose', '-f', join(dir, 'compose.yml'), 'config', '--format', 'json'], {
        encoding: 'utf8',
      }),
    ) as ComposeProject;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('renderBuildFile', () => {
  it('keeps a literal $ of a build label or arg key as compose reads it (keys are not interpolated)', () => {
    const written =
      'services:\n  api:\n    build:\n      context: /tmp\n      labels: { "org.example.price.$$usd": "4" }\n      args: { "A$$B": x }\n';
    const file = renderBuildFile(composeConfig(written), 'api', 'registry.test/api:v1');
    const build = (model: ComposeProject) => model.services['api']?.build as Record<string, unknown>;
    expect(build(composeConfig(file.text))['labels']).toEqual(build(composeConfig(written))['labels']);
    expect(build(composeConfig(file.text))['args']).toEqual(build(composeConfig(written))['args']);
  });
});
