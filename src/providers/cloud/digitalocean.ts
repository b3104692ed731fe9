import * as z from 'zod';

const hostSpec = z.strictObject({
  role: z.string().min(1),
  size: z.string().optional(),
  region: z.string().optional(),
  volumes: z.array(z.strictObject({ name: z.string().min(1), size_gb: z.number().int().min(1) })).optional(),
});

export const digitalOceanCloud = {
  id: 'digitalocean',
  description: 'DigitalOcean droplets, volumes and a cloud firewall through the API v2.',
  schema: z
    .strictObject({
      token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
      ssh_key_name: z.string().min(1),
      image: z.string().optional(),
      default_region: z.string().optional(),
      default_size: z.string().optional(),
      regions: z.array(z.string()).optional(),
      sizes: z.array(z.string()).optional(),
      hosts: z
        .record(z.string(), z.record(z.string(), hostSpec))
        .refine((hosts) => Object.keys(hosts).length > 0, { message: 'hosts configuration is required' }),
    })
    .superRefine((config, ctx) => {
      for (const [env, hosts] of Object.entries(config.hosts)) {
        for (const [name, host] of Object.entries(hosts)) {
          const region = host.region ?? config.default_region;
          const size = host.size ?? config.default_size;
          if (config.regions && region !== undefined && !config.regions.includes(region)) {
            ctx.addIssue({
              code: 'custom',
              path: ['hosts', env, name, 'region'],
              message: `region '${region}' is not allowed`,
            });
          }
          if (config.sizes && size !== undefined && !config.sizes.includes(size)) {
            ctx.addIssue({
              code: 'custom',
              path: ['hosts', env, name, 'size'],
              message: `size '${size}' is not allowed`,
            });
          }
        }
      }
    }),
};
