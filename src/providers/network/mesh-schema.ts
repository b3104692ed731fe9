import * as z from 'zod';

/**
 * A Tailscale ACL tag: "tag:" and a name of letters, digits, "-" or "_" that starts with a letter or
 * digit (Tailscale's tagOwners keys, e.g. "tag:web"). Source: tailscale.com/kb/1068/tags.
 */
export const TAG_PATTERN = /^tag:[A-Za-z0-9][A-Za-z0-9_-]*$/;

const tag = z
  .string()
  .startsWith('tag:', { message: 'a tag must start with "tag:"', abort: true })
  .regex(TAG_PATTERN, {
    message: 'a tag is "tag:" and a name of letters, digits, "-" or "_" (e.g. tag:web)',
  });

/** Shared by the tailscale and headscale providers: both join hosts to a tailnet with tags. */
export const meshFields = {
  auth_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .describe(
      'Env var holding the auth key `setup` joins hosts with (a reusable or per-host key; never stored, sent to the host on stdin).',
    ),
  tailnet_domain: z
    .string()
    .includes('.', { message: 'expected a MagicDNS domain such as acme.ts.net' })
    .describe('MagicDNS suffix of the tailnet: hosts are reached as `<host>.<tailnet_domain>`.'),
  default_tags: z.array(tag).optional().describe('Tags every host advertises (`tag:` names).'),
  role_tags: z
    .record(z.string(), z.array(tag))
    .optional()
    .describe('Role → tags the hosts of that role advertise in addition to default_tags.'),
  install: z
    .strictObject({
      method: z
        .enum(['auto', 'skip'])
        .optional()
        .describe('auto (default): `setup` installs the tailscale package; skip: it must be installed.'),
      min_version: z
        .string()
        .regex(/^\d+\.\d+\.\d+$/)
        .optional()
        .describe('Lowest `tailscale version` setup accepts (x.y.z).'),
    })
    .optional(),
};
