import * as z from 'zod';

const SECRET_TYPES = ['dev', 'preview', 'local', 'prod'] as const;

export const encoreTsBackend = {
  id: 'encore-ts',
  description: 'Encore.ts: `encore run` in dev, `encore build docker` for deploys.',
  schema: z.strictObject({
    dev: z
      .strictObject({
        listen: z.string().regex(/^[^:]*:\d+$/, { message: 'expected host:port, e.g. "0.0.0.0:4000"' }),
        env_file: z.string().optional(),
        workdir: z.string().optional(),
        entrypoint: z.string().optional(),
        disable_telemetry: z.boolean().optional(),
        node_extra_ca_certs: z.string().optional(),
        encore_secrets: z
          .strictObject({
            types: z.array(z.enum(SECRET_TYPES)).optional(),
            from_env: z.array(z.string().min(1)),
          })
          .optional(),
      })
      .optional(),
    build: z
      .strictObject({
        service: z.string().optional(),
        workdir: z.string().optional(),
        image_name: z.string().optional(),
        docker_tag_suffix: z.string().optional(),
      })
      .optional(),
  }),
};
