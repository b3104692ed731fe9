import * as z from 'zod';

export const traefikIngress = {
  id: 'traefik',
  description: 'Traefik with its file provider.',
  schema: z.strictObject({ dynamic_dir: z.string().optional() }),
};
