import * as z from 'zod';

export const caddyIngress = {
  id: 'caddy',
  description: 'Caddy, driven through its admin API so upstreams switch atomically.',
  schema: z.strictObject({ admin_port: z.number().int().min(1).max(65535).optional() }),
  unknownIdHint:
    'Caddy is the supported gateway (and the dev proxy): remove ingress.provider or set it to caddy',
};
