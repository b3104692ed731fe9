/**
 * The name of the gateway container (and of its network) on a host: one gateway serves every
 * Stagecraft app and environment that listens on the same ports there. `stagecraft-gateway` on the
 * default ports 80 and 443, else `stagecraft-gateway-<http>-<https>` (e.g. `stagecraft-gateway-8080-8443`).
 * Ports are TCP port numbers (1–65535).
 */
export function gatewayName(httpPort: number, httpsPort: number): string {
  return httpPort === 80 && httpsPort === 443
    ? 'stagecraft-gateway'
    : `stagecraft-gateway-${httpPort}-${httpsPort}`;
}

/**
 * The container that holds a gateway's network namespace and published ports, `<gateway>-ports`:
 * the gateway runs inside it (`--network container:<it>`), so that a new gateway can listen on the
 * same ports beside the old one (Caddy's listeners set SO_REUSEPORT) while the old one drains
 * (rollout/ingress.ts).
 */
export function gatewayPortsContainer(gateway: string): string {
  return `${gateway}-ports`;
}
