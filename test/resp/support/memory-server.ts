import { RespServer, type RespServerOptions } from '../../../src/resp/server.js';
import {
  MemoryRespBackend,
  type MemoryRespBackendOptions,
} from '../../support/memory-resp-backend.js';

/** A RESP server over a fresh in-memory backend, listening on a loopback ephemeral port. */
export interface MemoryServer {
  readonly server: RespServer;
  readonly backend: MemoryRespBackend;
  readonly port: number;
}

/**
 * Starts a {@link RespServer} over a {@link MemoryRespBackend} on 127.0.0.1:0 and
 * records the bound port in the backend's layout (CLUSTER SLOTS / MOVED need it).
 */
export async function startMemoryServer(
  options: Partial<Omit<RespServerOptions, 'backend'>> = {},
  backendOptions: MemoryRespBackendOptions = {},
): Promise<MemoryServer> {
  const backend = new MemoryRespBackend(backendOptions);
  const server = new RespServer({ ...options, backend, host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  backend.layout.setAddress(backend.selfId, '127.0.0.1', port);
  return { server, backend, port };
}
