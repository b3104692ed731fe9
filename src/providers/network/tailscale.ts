import * as z from 'zod';
import { meshFields } from './mesh-schema.js';

export const tailscaleNetwork = {
  id: 'tailscale',
  description: 'Tailscale mesh between hosts; MagicDNS names as addresses.',
  schema: z.strictObject(meshFields),
};
