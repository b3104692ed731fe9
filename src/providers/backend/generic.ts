import * as z from 'zod';
import type { AppProvider } from '../app.js';
import { genericAppHooks } from '../generic-app.js';
import { devProcessSchema, dockerBuildSchema } from '../process-schema.js';

export const genericBackend: AppProvider = {
  id: 'generic',
  description: 'Any backend: a dev command on the host, a Dockerfile for deploys.',
  schema: z.strictObject({ dev: devProcessSchema.optional(), build: dockerBuildSchema.optional() }),
  ...genericAppHooks,
};
