import * as z from 'zod';
import type { ProviderSchemaEntry } from '../../config/catalog.js';
import { meshFields } from './mesh-schema.js';

export const tailscaleNetwork: ProviderSchemaEntry = {
  id: 'tailscale',
  description: 'Tailscale mesh between hosts; MagicDNS names as addresses.',
  schema: z.strictObject(meshFields),
  doctorTools: [
    { tool: 'tailscale', why: 'network.provider is tailscale: `stagecraft ssh` and the mesh use it' },
  ],
};
