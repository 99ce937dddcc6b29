import { ShoalClient } from '../api/shoal-client.js';
import { AuthFailureWatch, unlessRefused } from './auth-failure-watch.js';
import type { ClientTarget } from './client-target.js';
import { formatNode } from './node-address.js';
import { discoverNodes } from './node-discovery.js';

/** Longest single request a command sends (the whole command is bounded by its timeout). */
const MAX_REQUEST_TIMEOUT_MS = 5_000;

/**
 * Connects a `ShoalClient` for one command. Seeds given as bare addresses have their
 * ids looked up first (skipping dead ones), and a refused secret fails at once
 * instead of after the whole timeout.
 */
export async function connectClient(target: ClientTarget): Promise<ShoalClient> {
  const seeds = await discoverNodes(target.seeds, target.timeoutMs);
  const watch = new AuthFailureWatch();
  const connecting = ShoalClient.connect({
    seeds: seeds.map(formatNode),
    ...(target.clientRole === true ? { clientSecret: target.secret } : { secret: target.secret }),
    connectTimeoutMs: target.timeoutMs,
    operationTimeoutMs: target.timeoutMs,
    requestTimeoutMs: Math.min(target.timeoutMs, MAX_REQUEST_TIMEOUT_MS),
    logger: watch,
  });
  try {
    return await unlessRefused(connecting, watch);
  } catch (error) {
    // The losing connect may still finish; its connections must not outlive the command.
    connecting.then(
      (client) => client.stop(),
      () => {},
    );
    throw error;
  }
}
