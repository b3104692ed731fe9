// The labels Stagecraft puts on what it runs, in one place.

/** On each service of a rendered compose file (and so its containers): the hash of its spec. */
export const SPEC_HASH_LABEL = 'stagecraft.spec-hash';

/**
 * On each service that mounts files of the project (bind mounts, compose secret and config files):
 * a digest of their contents, part of its spec, so a changed file is a changed service. Keyed like
 * the spec hash's secret part (an HMAC under the environment's spec-hash key).
 */
export const FILES_HASH_LABEL = 'stagecraft.files-hash';

/** On the gateway container and network: the compose project it routes for. */
export const INGRESS_LABEL = 'stagecraft.ingress';

/** On the gateway container: the named volume mounted at its data folder (certificates, ACME account). */
export const INGRESS_DATA_LABEL = 'stagecraft.ingress-data';

/**
 * On the gateway container and its ports container: the ports published (`8080:80,8443:443`); a
 * change needs a new gateway.
 */
export const INGRESS_PORTS_LABEL = 'stagecraft.ingress-ports';

/**
 * On the gateway container: the image configured for it (`ingress.image`) when it was created; a
 * change needs a new gateway. Gateways made before this label: their container's `Config.Image`.
 */
export const INGRESS_IMAGE_LABEL = 'stagecraft.ingress-image';

/**
 * On the gateway container: its ports container (`<gateway>-ports`), whose network namespace and
 * published ports it runs in. Gateways made before ports containers publish their ports themselves.
 */
export const INGRESS_PORTS_CONTAINER_LABEL = 'stagecraft.ingress-ports-container';
