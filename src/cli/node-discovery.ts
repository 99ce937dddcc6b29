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
        failures.push(`${node.url} (${reasonOf(error, timeoutMs)})`);
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

async function fetchNodeId(wsUrl: string, timeoutMs: number): Promise<string> {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = NODE_ID_PATH;
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const id = (await response.text()).trim();
  if (!response.ok) throw new Error(`HTTP ${response.status}; is it a shoal node?`);
  if (id.length === 0 || id.length > MAX_NODE_ID_CHARS) throw new Error('not a shoal node id');
  return id;
}

/** The innermost useful reason of a failed fetch (`ECONNREFUSED`, a timeout, ...). */
function reasonOf(error: unknown, timeoutMs: number): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code === 'ECONNREFUSED' ? 'connection refused' : code;
    if (current.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
    if (current.cause === undefined) return current.message;
    current = current.cause;
  }
  return String(current);
}
