import * as z from 'zod';
import { devProcessSchema, dockerBuildSchema } from '../process-schema.js';

export const genericBackend = {
  id: 'generic',
  description: 'Any backend: a dev command on the host, a Dockerfile for deploys.',
  schema: z.strictObject({ dev: devProcessSchema.optional(), build: dockerBuildSchema.optional() }),
};
