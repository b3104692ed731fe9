import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Inodes of the TCP sockets listening on `port` (any address, IPv4 and IPv6), read from Linux's
 * /proc/net/tcp and /proc/net/tcp6 (proc(5): `local_address` is `ADDR:PORT` in hex, `st` 0A is
 * LISTEN, `inode` the socket's inode). Undefined where there is no /proc/net (macOS).
 */
export function listeningSocketInodes(port: number): Set<string> | undefined {
  const inodes = new Set<string>();
  let read = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    read = true;
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (local === undefined || fields[3] !== '0A') continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) !== port) continue;
      const inode = fields[9];
      if (inode !== undefined && inode !== '0') inodes.add(inode);
    }
  }
  return read ? inodes : undefined;
}

/** Inodes of the sockets process `pid` holds open (/proc/<pid>/fd links `socket:[N]`); empty when unreadable. */
export function socketInodesOf(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match !== null) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * The ports of `ports` on which a socket other than process `pid`'s also listens: a program bound with
 * SO_REUSEPORT next to Caddy (which binds that way), such as a second `stagecraft dev` on the same
 * ports, gets part of the connections. Empty where /proc cannot tell (not Linux).
 */
export function portsSharedWithOthers(ports: readonly number[], pid: number): number[] {
  const own = socketInodesOf(pid);
  if (own.size === 0) return [];
  return ports.filter((port) => {
    const listening = listeningSocketInodes(port);
    return listening !== undefined && [...listening].some((inode) => !own.has(inode));
  });
}
