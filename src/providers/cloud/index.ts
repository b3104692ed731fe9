import { UserError } from '../../util/errors.js';
import { digitalOceanCloud } from './digitalocean.js';
import type { CloudProvider } from './types.js';

const BUILTIN: CloudProvider[] = [digitalOceanCloud.cloud];

/** The cloud provider `cloud.provider` selects. Throws a UserError for an id without one. */
export function cloudProvider(id: string): CloudProvider {
  const provider = BUILTIN.find((candidate) => candidate.id === id);
  if (provider === undefined) {
    throw new UserError(`cloud provider "${id}" cannot create hosts`, {
      hint: `providers: ${BUILTIN.map((candidate) => candidate.id).join(', ')}`,
    });
  }
  return provider;
}
