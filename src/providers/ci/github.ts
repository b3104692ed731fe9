import * as z from 'zod';

export const githubCi = {
  id: 'github',
  description: 'GitHub Actions workflows.',
  schema: z.strictObject({
    workflow_file: z.string().optional(),
    token_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
    repository: z
      .string()
      .regex(/^[^/\s]+\/[^/\s]+$/, { message: 'expected owner/name' })
      .optional(),
  }),
};
