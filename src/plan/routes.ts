// The gateway routes of an environment's services, as a plan carries them (pure): everything a route
// needs travels with it (domains, port, path prefix, body limit, basic auth, maintenance), so the same
// routes can later be handed to a gateway shared by several apps.
import type { PlannedRoute } from '../ingress/basic-auth.js';
import type { CaddyRoute } from '../ingress/caddy.js';
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

/** The route settings beside domains and port, as a route carries them. */
function routeOptions(settings: {
  path?: string | undefined;
  stripPath?: boolean | undefined;
  maxBodyBytes?: number | undefined;
}): Pick<CaddyRoute, 'path' | 'stripPath' | 'maxBodyBytes'> {
  return {
    ...(settings.path === undefined ? {} : { path: settings.path, stripPath: settings.stripPath !== false }),
    ...(settings.maxBodyBytes === undefined ? {} : { maxBodyBytes: settings.maxBodyBytes }),
  };
}

/**
 * The routes of a routed service without basic auth or maintenance: its main route (`port`,
 * `domains`), then one per other port (`routes`, flagged `extra`). Pure.
 */
export function serviceRoutes(service: ServiceModel): CaddyRoute[] {
  return [
    { service: service.name, domains: service.domains, port: service.port!, ...routeOptions(service) },
    ...service.extraRoutes.map((extra) => ({
      service: service.name,
      extra: true,
      domains: extra.domains,
      port: extra.port,
      ...routeOptions(extra),
    })),
  ];
}

/**
 * The routes of one routed service as a plan carries them: `serviceRoutes`, each with the service's
 * basic auth (its password a Secret) and the maintenance switch. Throws InternalError when the basic
 * auth password was not resolved (the operation that plans must resolve every `password_secret`).
 */
export function plannedRoutes(service: ServiceModel, inputs: RouteInputs): PlannedRoute[] {
  let basicAuth: PlannedRoute['basicAuth'];
  if (service.basicAuth !== undefined) {
    const password = inputs.passwords?.[service.name];
    if (password === undefined) {
      throw new InternalError(`the basic_auth password of ${service.name} was not resolved before planning`);
    }
    basicAuth = { user: service.basicAuth.user, password };
  }
  return serviceRoutes(service).map(({ basicAuth: _none, ...route }) => ({
    ...route,
    ...(basicAuth === undefined ? {} : { basicAuth }),
    ...(inputs.maintenance === undefined ? {} : { maintenance: { ...inputs.maintenance } }),
  }));
}
