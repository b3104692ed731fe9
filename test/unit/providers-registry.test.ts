import { describe, expect, it } from 'vitest';
import { PROVIDER_KINDS } from '../../src/config/catalog.js';
import { builtinProviders } from '../../src/providers/index.js';

describe('ProviderRegistry.catalog', () => {
  it("lists each kind's providers by id in code-unit order, as ids() does", () => {
    const registry = builtinProviders();
    const catalog = registry.catalog();
    for (const kind of PROVIDER_KINDS) {
      expect(catalog.providers[kind].map((entry) => entry.id)).toEqual(registry.ids(kind));
    }
    expect(catalog.providers.backend.map((entry) => entry.id)).toEqual(['encore-ts', 'generic']);
    expect(catalog.providers.network.map((entry) => entry.id)).toEqual(['headscale', 'none', 'tailscale']);
    expect(catalog.providers.secrets.map((entry) => entry.id)).toEqual(['encore', 'envfile']);
  });
});
