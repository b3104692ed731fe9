import * as z from 'zod';

const tag = z.string().startsWith('tag:', { message: 'a tag must start with "tag:"' });

/** Shared by the tailscale and headscale providers: both join hosts to a tailnet with tags. */
export const meshFields = {
  auth_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .describe('Env var holding the auth key (never stored).'),
  tailnet_domain: z.string().includes('.', { message: 'expected a MagicDNS domain such as acme.ts.net' }),
  default_tags: z.array(tag).optional(),
  role_tags: z.record(z.string(), z.array(tag)).optional(),
  install: z
    .strictObject({
      method: z.enum(['auto', 'skip']).optional(),
      min_version: z
        .string()
        .regex(/^\d+\.\d+\.\d+$/)
        .optional(),
    })
    .optional(),
};
