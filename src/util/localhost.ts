// Which domains resolve to this machine by themselves, without an /etc/hosts line.

/** Domains that need a hosts entry: everything not under `.localhost` (which resolves to loopback). */
export function needsHostsEntry(domain: string): boolean {
  const name = domain.toLowerCase().replace(/\.$/, '');
  return name !== 'localhost' && !name.endsWith('.localhost');
}
