import * as z from 'zod';
import { devProcessSchema, dockerBuildSchema } from '../process-schema.js';

export const genericFrontend = {
  id: 'generic',
  description: 'Any frontend dev server (Vite, Next, …) on the host; a Dockerfile for deploys.',
  schema: z.strictObject({ dev: devProcessSchema.optional(), build: dockerBuildSchema.optional() }),
};
