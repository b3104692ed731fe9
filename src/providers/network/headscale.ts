import * as z from 'zod';
import type { ProviderSchemaEntry } from '../../config/catalog.js';
import { meshFields } from './mesh-schema.js';

export const headscaleNetwork: ProviderSchemaEntry = {
  id: 'headscale',
  description: 'A self-hosted Headscale control server with Tailscale clients.',
  schema: z.strictObject({ ...meshFields, login_server: z.url() }),
  doctorTools: [
    { tool: 'tailscale', why: 'network.provider is headscale: `stagecraft ssh` and the mesh use it' },
  ],
};
