import * as z from 'zod';
import type { ProviderCatalog } from './catalog.js';
import { buildConfigSchema } from './schema.js';

/** The JSON Schema of stagecraft.yml (draft-07, which yaml-language-server supports best). */
export function configJsonSchema(catalog: ProviderCatalog): Record<string, unknown> {
  const schema = z.toJSONSchema(buildConfigSchema(catalog), {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'any',
  });
  return {
    ...schema,
    $id: 'https://stagecraft.dev/schema/stagecraft.json',
    title: 'stagecraft.yml',
    patternProperties: { '^x-': {} },
  };
}
