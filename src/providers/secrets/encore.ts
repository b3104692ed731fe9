import * as z from 'zod';

export const encoreSecrets = {
  id: 'encore',
  description: 'Secrets set with `encore secret set`, values on stdin.',
  schema: z.strictObject({
    types: z.array(z.enum(['dev', 'preview', 'local', 'prod'])).optional(),
    workdir: z.string().optional(),
  }),
};
