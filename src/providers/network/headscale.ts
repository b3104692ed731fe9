import * as z from 'zod';
import type { ProviderSchemaEntry } from '../../config/catalog.js';
import { meshFields } from './mesh-schema.js';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

export const headscaleNetwork: ProviderSchemaEntry = {
  id: 'headscale',
  description: 'A self-hosted Headscale control server with Tailscale clients.',
  schema: z
    .strictObject({
      ...meshFields,
      auth_key_env: meshFields.auth_key_env.optional(),
      login_server: z.url().describe('The Headscale server (`tailscale up --login-server`).'),
      api_key_env: envName
        .optional()
        .describe(
          'Env var holding a Headscale API key: setup creates a single-use pre-auth key per host for the run (when auth_key_env is not set).',
        ),
      user: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Headscale user the created pre-auth keys belong to (its id or name, as your Headscale expects).',
        ),
    })
    .superRefine((value, ctx) => {
      if (value.auth_key_env === undefined && value.api_key_env === undefined)
        ctx.addIssue({
          code: 'custom',
          message:
            'set auth_key_env (a pre-auth key) or api_key_env and user (setup creates keys through the API)',
        });
      if (value.api_key_env !== undefined && value.auth_key_env === undefined && value.user === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['user'],
          message: 'api_key_env needs user: the Headscale user the pre-auth keys are created for',
        });
    }),
  doctorTools: [
    { tool: 'tailscale', why: 'network.provider is headscale: `stagecraft ssh` and the mesh use it' },
  ],
};
