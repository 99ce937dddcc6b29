/**
 * A throwaway `redis-server` for the benches' side-by-side figures: loopback only, no
 * persistence, on a free port, with an `ioredis` client that is connected and answered
 * PING before it is returned.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../test/support/node-processes.js';

/** Connect attempts while redis-server starts (50 ms apart) before giving up. */
const MAX_CONNECT_ATTEMPTS = 100;
const CONNECT_RETRY_MS = 50;

/** A running redis-server and a connected client of it. */
export interface RedisServer {
  readonly port: number;
  readonly client: Redis;
  readonly child: ChildProcess;
}

/**
 * Starts redis-server and pushes its process onto `children` (the bench kills them all
 * when it ends, also on failure). `extraArgs` are appended to the command line, e.g.
 * `['--maxmemory', '64mb']`.
 */
export async function startRedisServer(
  children: ChildProcess[],
  extraArgs: readonly string[] = [],
): Promise<RedisServer> {
  if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('redis-server not found: install it (Debian: apt-get install -y redis-server)');
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      ...extraArgs,
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 20,
  });
  // Refused connects while redis-server starts are expected; the loop retries them.
  client.on('error', () => {});
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      await client.ping();
      return { port, client, child };
    } catch (error) {
      if (attempt >= MAX_CONNECT_ATTEMPTS) throw error;
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
    }
  }
}
