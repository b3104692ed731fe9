// HTTP basic auth at the gateway: Caddy's `http_basic` provider takes a bcrypt hash of the password,
// never the password. The hash is made here, on the machine that deploys, and travels only inside the
// config sent on stdin (rollout/ingress.ts). bcrypt salts every hash anew, so a config made twice
// from one password differs: a route keeps the hash its gateway already has while the password still
// matches it (bcrypt.compare), and the config is not reloaded for nothing.
import { UserError } from '../util/errors.js';
import type { Secret } from '../util/secret.js';
import { type CaddyRoute, sameOwner } from './caddy.js';

/**
 * bcrypt's cost: 2^10 rounds (OWASP's minimum for bcrypt), 0.1–0.3 s in plain JavaScript on a small
 * machine, paid once per host and deploy when the password is compared with the live hash. Caddy
 * checks a user and password once and then remembers the result (`hash_cache`), so the cost does not
 * fall on every request.
 */
export const BCRYPT_COST = 10;

/** bcrypt reads at most 72 bytes of a password; Go's bcrypt (Caddy) refuses longer ones. */
const MAX_PASSWORD_BYTES = 72;

/** bcryptjs, loaded on first use: only a deploy to routes with basic auth hashes (start-up time). */
async function bcrypt() {
  return (await import('bcryptjs')).default;
}

/** A route as planned: a CaddyRoute whose basic auth holds the password (a Secret) instead of its hash. */
export type PlannedRoute = Omit<CaddyRoute, 'basicAuth'> & {
  basicAuth?: { user: string; password: Secret };
};

/**
 * The bcrypt hash of a password (cost BCRYPT_COST, a fresh salt). Throws UserError for an empty
 * password or one longer than 72 bytes (the message names the service, never the value).
 */
export async function hashPassword(service: string, password: string): Promise<string> {
  checkPassword(service, password);
  return (await bcrypt()).hash(password, BCRYPT_COST);
}

function checkPassword(service: string, password: string): void {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes === 0 || bytes > MAX_PASSWORD_BYTES) {
    throw new UserError(
      `the basic_auth password of ${service} is ${bytes === 0 ? 'empty' : `${bytes} bytes long`}: bcrypt takes 1 to ${MAX_PASSWORD_BYTES} bytes`,
      {
        hint: `set a password of at most ${MAX_PASSWORD_BYTES} bytes in the secret services.${service}.basic_auth.password_secret names`,
      },
    );
  }
}

/**
 * Planned routes as the gateway's routes: each basic auth password becomes a bcrypt hash, the hash of
 * the live route of the same app and service when its user is the same and the password still matches it
 * (so an unchanged password leaves the config unchanged), else a new one. Pure but for the hashing.
 */
export async function withPasswordHashes(
  planned: readonly PlannedRoute[],
  live: readonly CaddyRoute[],
): Promise<CaddyRoute[]> {
  return Promise.all(
    planned.map(async (route): Promise<CaddyRoute> => {
      const { basicAuth, ...rest } = route;
      if (basicAuth === undefined) return rest;
      const password = basicAuth.password.reveal();
      checkPassword(route.service, password);
      const current = live.find((candidate) => sameOwner(candidate, route))?.basicAuth;
      const keep =
        current !== undefined &&
        current.user === basicAuth.user &&
        (await (await bcrypt()).compare(password, current.hash).catch(() => false));
      return {
        ...rest,
        basicAuth: {
          user: basicAuth.user,
          hash: keep ? current.hash : await hashPassword(route.service, password),
        },
      };
    }),
  );
}
