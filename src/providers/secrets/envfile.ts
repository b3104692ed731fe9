import * as z from 'zod';

export const envfileSecrets = {
  id: 'envfile',
  description: 'Secrets written to 0600 env files on the hosts.',
  schema: z.strictObject({
    source_file: z.string().optional().describe('Local env file the values come from.'),
    target_file: z.string().optional().describe('Path of the env file on the hosts.'),
  }),
};
