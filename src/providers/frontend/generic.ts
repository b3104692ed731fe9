import * as z from 'zod';
import type { AppProvider } from '../app.js';
import { genericAppHooks } from '../generic-app.js';
import { devProcessSchema, dockerBuildSchema } from '../process-schema.js';

export const genericFrontend: AppProvider = {
  id: 'generic',
  description: 'Any frontend dev server (Vite, Next, …) on the host; a Dockerfile for deploys.',
  schema: z.strictObject({ dev: devProcessSchema.optional(), build: dockerBuildSchema.optional() }),
  ...genericAppHooks,
};
