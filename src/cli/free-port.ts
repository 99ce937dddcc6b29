import { createServer, type Server } from 'node:net';

/**
 * Finds `count` distinct free ports on `host` by binding port 0 that many times at
 * once, then releasing them. Another process could take one before it is used; the
 * caller reports that as a failed start rather than retrying blindly.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === 'string') {
        throw new Error('a TCP server bound no port');
      }
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}
