/**
 * Finds which local process owns the far end of a loopback TCP connection, by the
 * socket inode in `/proc/net/tcp` and the `socket:[inode]` links under `/proc/<pid>/fd`
 * (Linux only). The chaos proxy needs this because shoal's transport dials each
 * member at the address the view advertises, so every node dials a given node at the
 * same proxy port: the dialer's port, not the port it dialed, says who is calling.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Most fd entries inspected per process; a node holds far fewer sockets than this. */
const MAX_FDS_PER_PROCESS = 4096;

/** The inode of the socket whose local port is `localPort` and remote port `remotePort`. */
function socketInode(localPort: number, remotePort: number): string | undefined {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const remote = fields[2];
      const inode = fields[9];
      if (local === undefined || remote === undefined || inode === undefined) continue;
      const lp = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      const rp = Number.parseInt(remote.slice(remote.lastIndexOf(':') + 1), 16);
      if (lp === localPort && rp === remotePort && inode !== '0') return inode;
    }
  }
  return undefined;
}

/**
 * Which of `candidates` (name -> pid) holds the socket bound to `dialerPort` and
 * connected to `dialedPort` on loopback; `undefined` when none does (for example an
 * in-process client of the test itself).
 */
export function ownerOfConnection(
  dialerPort: number,
  dialedPort: number,
  candidates: ReadonlyMap<string, number>,
): string | undefined {
  const inode = socketInode(dialerPort, dialedPort);
  if (inode === undefined) return undefined;
  const target = `socket:[${inode}]`;
  for (const [name, pid] of candidates) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`).slice(0, MAX_FDS_PER_PROCESS);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return name;
      } catch {
        // The fd closed while we looked; it is not the one we want.
      }
    }
  }
  return undefined;
}
