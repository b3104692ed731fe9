// DigitalOcean's entry in the provider registry: the config schema of cloud.providers.digitalocean.
// The CloudProvider that reads and changes droplets (digitalocean.ts) is loaded only by the commands
// that create hosts: every command validates stagecraft.yml, few reach the API (start-up time).
import * as z from 'zod';
import type { ProviderSchemaEntry } from '../../config/catalog.js';

const hostSpec = z.strictObject({
  role: z.string().min(1),
  size: z.string().optional(),
  region: z.string().optional(),
  image: z.string().optional(),
  volumes: z
    .array(z.strictObject({ name: z.string().regex(/^[a-z0-9-]+$/), size_gb: z.number().int().min(1) }))
    .optional()
    .describe('Block storage volumes created and attached to this droplet (kept by `infra down`).'),
});

export const DEFAULT_API_URL = 'https://api.digitalocean.com';
export const DEFAULT_IMAGE = 'ubuntu-24-04-x64';

const schema = z
  .strictObject({
    token_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .describe('Name of the environment variable holding the API token (the token is never stored).'),
    ssh_key_name: z
      .string()
      .min(1)
      .describe('Name of an SSH key already in the account; droplets get it for root.'),
    api_url: z
      .url()
      .optional()
      .describe('API base URL (default https://api.digitalocean.com); for tests or compatible APIs.'),
    image: z.string().optional().describe(`Droplet image slug (default ${DEFAULT_IMAGE}).`),
    default_region: z.string().optional(),
    default_size: z.string().optional(),
    regions: z.array(z.string()).optional().describe('Allow-list of regions.'),
    sizes: z.array(z.string()).optional().describe('Allow-list of sizes.'),
    firewall: z
      .strictObject({
        enabled: z
          .boolean()
          .optional()
          .describe('Create a cloud firewall for the environment (default true).'),
        ssh_sources: z
          .array(z.string().min(1))
          .optional()
          .describe('Addresses or CIDRs allowed to reach SSH (your address, e.g. 203.0.113.7/32).'),
        public_ssh: z
          .boolean()
          .optional()
          .describe(
            'Keep SSH open to ssh_sources even when every host is reached over the mesh (default false: with a mesh, `infra up` closes it once this machine reaches every host as an online peer).',
          ),
      })
      .optional(),
    hosts: z
      .record(z.string(), z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/), hostSpec))
      .refine((hosts) => Object.keys(hosts).length > 0, { message: 'hosts configuration is required' })
      .describe('Environment → host name → droplet spec.'),
  })
  .superRefine((config, ctx) => {
    for (const [env, hosts] of Object.entries(config.hosts)) {
      for (const [name, host] of Object.entries(hosts)) {
        const region = host.region ?? config.default_region;
        const size = host.size ?? config.default_size;
        if (region === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['hosts', env, name, 'region'],
            message: 'region is required (or set default_region)',
          });
        }
        if (size === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['hosts', env, name, 'size'],
            message: 'size is required (or set default_size)',
          });
        }
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
  });

export type DigitalOceanConfig = z.output<typeof schema>;

export const digitalOceanCloudEntry: ProviderSchemaEntry = {
  id: 'digitalocean',
  description: 'DigitalOcean droplets, volumes and a cloud firewall through the API v2.',
  schema,
};
