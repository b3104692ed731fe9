import { encoreTsBackend } from './backend/encore-ts.js';
import { genericBackend } from './backend/generic.js';
import { githubCiEntry } from './ci/github-schema.js';
import { digitalOceanCloudEntry } from './cloud/digitalocean-schema.js';
import { genericFrontend } from './frontend/generic.js';
import { caddyIngress } from './ingress/caddy.js';
import { migrationEngines } from './migration/engines.js';
import { headscaleNetwork } from './network/headscale.js';
import { noNetwork } from './network/none.js';
import { tailscaleNetwork } from './network/tailscale.js';
import { ProviderRegistry } from './registry.js';
import { encoreSecrets } from './secrets/encore.js';
import { envfileSecrets } from './secrets/envfile.js';

/** The registry with every built-in provider. */
export function builtinProviders(): ProviderRegistry {
  const registry = new ProviderRegistry();
  registry.register('backend', genericBackend);
  registry.register('backend', encoreTsBackend);
  registry.register('frontend', genericFrontend);
  registry.register('network', noNetwork);
  registry.register('network', tailscaleNetwork);
  registry.register('network', headscaleNetwork);
  registry.register('cloud', digitalOceanCloudEntry);
  registry.register('ci', githubCiEntry);
  registry.register('secrets', envfileSecrets);
  registry.register('secrets', encoreSecrets);
  registry.register('ingress', caddyIngress);
  for (const engine of migrationEngines) registry.registerMigrationEngine(engine);
  return registry;
}
