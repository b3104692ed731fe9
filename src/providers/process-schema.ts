import * as z from 'zod';

/** The shape shared by providers that run a dev server as a host process (generic backend/frontend). */
export const devProcessSchema = z.strictObject({
  command: z.array(z.string().min(1)).min(1).describe('argv of the dev server, e.g. ["npm", "run", "dev"].'),
  workdir: z.string().optional().describe('Folder the command runs in, relative to the project root.'),
  env: z.record(z.string(), z.string()).optional(),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('Port the dev server listens on (for the proxy).'),
  ready_pattern: z
    .string()
    .refine(
      (pattern) => {
        try {
          new RegExp(pattern);
          return true;
        } catch {
          return false;
        }
      },
      { message: 'expected a valid regular expression' },
    )
    .optional()
    .describe('Regex matched per output line; the process is ready when it matches.'),
  required: z.boolean().optional().describe('Stop the whole dev stack when this process crashes.'),
  shutdown: z
    .strictObject({
      signal: z.enum(['SIGINT', 'SIGTERM', 'SIGKILL']).optional(),
      timeout_ms: z.number().int().min(0).optional(),
    })
    .optional(),
});

/** How an image is built with `docker build` for a provider-built service. */
export const dockerBuildSchema = z.strictObject({
  service: z.string().optional().describe('Compose service whose image this builds.'),
  dockerfile: z.string().optional(),
  context: z.string().optional(),
  target: z.string().optional(),
  args: z.record(z.string(), z.string()).optional(),
});
