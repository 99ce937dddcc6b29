import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { NODE_ID_PATH } from '../api/shoal-client.js';
import { ShoalError } from '../util/errors.js';
import { type KnownNode, MAX_NODE_ID_CHARS, type NodeAddress } from './node-address.js';

/** No node answered at any of the addresses given. */
export class NodesUnreachableError extends ShoalError {
  constructor(message: string) {
    super('ERR_CLI_UNREACHABLE', message);
  }
}

/**
 * Learns the ids of nodes given as bare addresses by asking each one over HTTP
 * (`GET /shoal/id` on its port), all at once. Addresses that do not answer are left
 * out, so one dead seed among live ones does not stop a command; when none answers
 * the error names them with the reason.
 */
export async function discoverNodes(
  nodes: readonly NodeAddress[],
  timeoutMs: number,
): Promise<KnownNode[]> {
  const failures: string[] = [];
  const found = await Promise.all(
    nodes.map(async (node): Promise<KnownNode | undefined> => {
      if (node.id !== undefined) return { id: node.id, url: node.url };
      try {
        return { id: await fetchNodeId(node.url, timeoutMs), url: node.url };
      } catch (error) {
        failures.push(`${node.url} (${reasonOf(error)})`);
        return undefined;
      }
    }),
  );
  const known = found.filter((node): node is KnownNode => node !== undefined);
  if (known.length === 0) {
    throw new NodesUnreachableError(`no shoal node answers at ${failures.join(', ')}`);
  }
  return known;
}

/** Most bytes read of an id answer (ids are at most 256 characters). */
const MAX_ID_RESPONSE_BYTES = 4 * MAX_NODE_ID_CHARS;

/**
 * `GET /shoal/id` over node:http rather than `fetch`: fetch loads undici on first use,
 * which costs a short-lived command more CPU than the rest of its start-up.
 */
function fetchNodeId(wsUrl: string, timeoutMs: number): Promise<string> {
  const url = new URL(wsUrl);
  const secure = url.protocol === 'wss:';
  url.protocol = secure ? 'https:' : 'http:';
  url.pathname = NODE_ID_PATH;
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsGet : httpGet)(url, { timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > MAX_ID_RESPONSE_BYTES) {
          request.destroy(new Error('not a shoal node id'));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        const id = Buffer.concat(chunks).toString('utf8').trim();
        if (response.statusCode !== 200) {
          reject(new Error(`HTTP ${response.statusCode}; is it a shoal node?`));
        } else if (id.length === 0 || id.length > MAX_NODE_ID_CHARS) {
          reject(new Error('not a shoal node id'));
        } else {
          resolve(id);
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/** The most useful reason of a failed request (`connection refused`, a timeout, ...). */
function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}
