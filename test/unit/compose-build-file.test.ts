import { describe, expect, it } from 'vitest';
import { renderBuildFile } from '../../src/compose/build-file.js';
import type { ComposeProject } from '../../src/compose/types.js';
import { composeConfigOfText } from '../support/compose-fixtures.js';

const composeConfig = (text: string) => composeConfigOfText<ComposeProject>(text);

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
