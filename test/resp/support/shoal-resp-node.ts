import { Shoal, type ShoalNode, type ShoalOptions } from '../../../src/api/index.js';
import { RawRespClient } from './raw-client.js';

/** The cluster secret of the test nodes; AUTH accepts it on their RESP ports. */
export const TEST_SECRET = 'resp-test-secret';

/**
 * Starts a real single shoal node (RF 1) on 127.0.0.1 with its RESP server on an
 * ephemeral port. The caller stops it.
 */
export async function startShoalRespNode(
  options: Partial<ShoalOptions> = {},
): Promise<ShoalNode & { readonly respPort: number }> {
  const node = await Shoal.start({
    secret: TEST_SECRET,
    host: '127.0.0.1',
    port: 0,
    replicationFactor: 1,
    respPort: 0,
    ...options,
  });
  if (node.respPort === undefined) throw new Error('the node has no RESP port');
  return node as ShoalNode & { readonly respPort: number };
}

/** A raw client that has already authenticated with {@link TEST_SECRET}. */
export async function connectAuthenticated(port: number): Promise<RawRespClient> {
  const client = await RawRespClient.connect(port);
  const reply = await client.call(['AUTH', TEST_SECRET]);
  if (reply.type !== 'simple' || reply.value !== 'OK') {
    client.close();
    throw new Error(`AUTH failed: ${JSON.stringify(reply)}`);
  }
  return client;
}
