// The gateway routes of an environment's services, as a plan carries them (pure): everything a route
// needs travels with it (domains, port, path prefix, body limit, basic auth, maintenance), so the same
// routes can later be handed to a gateway shared by several apps.
import type { PlannedRoute } from '../ingress/basic-auth.js';
import type { ServiceModel } from '../model/environment.js';
import { InternalError } from '../util/errors.js';
import type { Secret } from '../util/secret.js';

/** Maintenance as recorded on the lock host (state/maintenance.ts): on, with the Retry-After it sends. */
export interface MaintenanceSetting {
  retryAfterSeconds: number;
}

/** What the routes are made with beyond the model: the resolved passwords and the maintenance switch. */
export interface RouteInputs {
  /** Service → its basic auth password (`basic_auth.password_secret` resolved; a placeholder in a plan). */
  passwords?: Record<string, Secret>;
  /** Set while maintenance is on: every route answers 503. */
  maintenance?: MaintenanceSetting;
}

/** True when the gateway routes requests to the service: it has a port and domains. */
export function isRouted(service: ServiceModel): boolean {
  return service.port !== undefined && service.domains.length > 0;
}

/**
 * The route of one routed service. Throws InternalError when its basic auth password was not
 * resolved (the operation that plans must resolve every `password_secret`).
 */
export function plannedRoute(service: ServiceModel, inputs: RouteInputs): PlannedRoute {
  const route: PlannedRoute = { service: service.name, domains: service.domains, port: service.port! };
  if (service.path !== undefined) {
    route.path = service.path;
    route.stripPath = service.stripPath !== false;
  }
  if (service.maxBodyBytes !== undefined) route.maxBodyBytes = service.maxBodyBytes;
  if (service.basicAuth !== undefined) {
    const password = inputs.passwords?.[service.name];
    if (password === undefined) {
      throw new InternalError(`the basic_auth password of ${service.name} was not resolved before planning`);
    }
    route.basicAuth = { user: service.basicAuth.user, password };
  }
  if (inputs.maintenance !== undefined) route.maintenance = { ...inputs.maintenance };
  return route;
}
