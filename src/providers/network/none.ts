import * as z from 'zod';

export const noNetwork = {
  id: 'none',
  description: 'No mesh: hosts reach each other by their configured addresses.',
  schema: z.strictObject({}),
};
