/**
 * The operating system limits that decide whether the scale benchmark can
 * hold its connections: open files per process and local (ephemeral) ports.
 * The benchmark checks them first and stops with the reason, rather than
 * measuring fewer sessions than asked.
 */
import { readFileSync } from 'node:fs';
import { openFileLimit } from '../lib/children.js';

/** Descriptors a Node.js process uses besides its sockets: stdio, IPC, epoll, the listener, libuv. */
export const FD_MARGIN = 256;

/**
 * The local port range for outgoing connections (Linux), or undefined.
 * @returns {{ low: number, high: number } | undefined}
 */
export function localPortRange() {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return { low: Number(low), high: Number(high) };
  } catch {
    return undefined;
  }
}

/**
 * Checks that a server process can hold `serverSockets` sockets and each
 * client process `clientSockets`, and that the local port range has room for
 * every client connection. Throws an error that names the limit otherwise.
 * The hard open-file limit is what counts: Node.js raises its soft limit to
 * it at start-up (each process for itself, which is why the clients run in
 * processes of their own).
 *
 * @param {{ serverSockets: number, clientSockets: number, totalClientConnections: number }} need
 * @returns {{ openFiles: { soft: number, hard: number } | undefined, serverFds: number, clientFds: number, portRange: { low: number, high: number } | undefined }}
 */
export function checkLimits({ serverSockets, clientSockets, totalClientConnections }) {
  const serverFds = serverSockets + FD_MARGIN;
  const clientFds = clientSockets + FD_MARGIN;
  const openFiles = openFileLimit();
  const most = Math.max(serverFds, clientFds);
  if (openFiles && openFiles.hard < most) {
    throw new Error(
      `the open-file limit is too low: the hard limit is ${openFiles.hard} (soft ${openFiles.soft}), ` +
        `and the server process needs about ${serverFds} descriptors for ${serverSockets} connections ` +
        `(each client process about ${clientFds}). Raise the hard limit (as root: ulimit -Hn, or ` +
        `/etc/security/limits.conf), or ask for fewer sessions with --sessions.`,
    );
  }
  const portRange = localPortRange();
  if (portRange) {
    const ports = portRange.high - portRange.low + 1;
    if (ports < totalClientConnections + 100) {
      throw new Error(
        `the local port range ${portRange.low}-${portRange.high} (net.ipv4.ip_local_port_range) has ` +
          `${ports} ports, too few for ${totalClientConnections} connections from 127.0.0.1 to one ` +
          `server port. Widen it (sysctl), or ask for fewer sessions with --sessions.`,
      );
    }
  }
  return { openFiles, serverFds, clientFds, portRange };
}
