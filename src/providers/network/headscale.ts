import * as z from 'zod';
import { meshFields } from './mesh-schema.js';

export const headscaleNetwork = {
  id: 'headscale',
  description: 'A self-hosted Headscale control server with Tailscale clients.',
  schema: z.strictObject({ ...meshFields, login_server: z.url() }),
};
