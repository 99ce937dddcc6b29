import type { CacheNode } from '../cluster/cache-node.js';
import type { CoordinatorConfig } from '../coord/coordinator.js';
import { CacheNodeBackend } from '../resp/cache-node-backend.js';
import { RespDirectory, respAddressKey } from '../resp/resp-directory.js';
import { RespServer } from '../resp/server.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/** The RESP (Redis protocol) options of `Shoal.start`. */
export interface ShoalRespOptions {
  /** Port of the Redis-protocol server; 0 picks a free one. Absent: no RESP server. */
  readonly respPort?: number;
  /** Interface the RESP server binds; default the node's `host` (else `127.0.0.1`). */
  readonly respHost?: string;
  /**
   * A password Redis clients may AUTH with instead of the cluster secret (so the
   * secret need not be handed to them). The cluster secret is always accepted.
   */
  readonly respPassword?: string;
  /**
   * Serve every key on this port like a standalone Redis (forwarding to the owners),
   * instead of answering -MOVED like a Redis Cluster node. Default false.
   */
  readonly respProxy?: boolean;
  /** Allow FLUSHALL/FLUSHDB, which empty the whole cache. Default false. */
  readonly respAllowFlush?: boolean;
}

/** What a started RESP endpoint needs from its node. */
export interface RespEndpointContext {
  readonly cache: CacheNode;
  readonly config: CoordinatorConfig;
  readonly secret: string | Buffer;
  /** The node's own listening host, the default bind address. */
  readonly host: string | undefined;
  /** Where other nodes dial this one (its host is announced when binding a wildcard). */
  readonly advertisedAddress: string;
  readonly logger: Logger;
}

/** The RESP server could not listen (port in use, no such address, ...). */
export class RespListenError extends ShoalError {
  constructor(host: string, port: number, reason: string) {
    super('ERR_RESP_LISTEN', `cannot listen for RESP on ${host}:${port} (${reason})`);
  }
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** Validates the RESP options (before anything starts). */
export function checkRespOptions(options: ShoalRespOptions): void {
  const { respPort, respHost, respPassword, respProxy, respAllowFlush } = options;
  if (respPort !== undefined && (!Number.isInteger(respPort) || respPort < 0 || respPort > 65535)) {
    throw new InvalidArgumentError(`respPort must be an integer 0..65535, got ${String(respPort)}`);
  }
  if (respHost !== undefined && (typeof respHost !== 'string' || respHost.length === 0)) {
    throw new InvalidArgumentError('respHost must be a non-empty string');
  }
  if (respPassword !== undefined && (typeof respPassword !== 'string' || respPassword === '')) {
    throw new InvalidArgumentError('respPassword must be a non-empty string');
  }
  for (const [name, flag] of [
    ['respProxy', respProxy],
    ['respAllowFlush', respAllowFlush],
  ] as const) {
    if (flag !== undefined && typeof flag !== 'boolean') {
      throw new InvalidArgumentError(`${name} must be a boolean`);
    }
  }
  const anyRespOption =
    respHost !== undefined ||
    respPassword !== undefined ||
    respProxy !== undefined ||
    respAllowFlush !== undefined;
  if (respPort === undefined && anyRespOption) {
    throw new InvalidArgumentError(
      'the resp options need respPort (the RESP server is off without it)',
    );
  }
}

/**
 * Starts the node's RESP server and publishes its address in the cluster config
 * (`resp.address.<id>`), so every member can route Redis clients to it. Resolves once
 * the address is committed.
 */
export async function startRespEndpoint(
  options: ShoalRespOptions & { readonly respPort: number },
  context: RespEndpointContext,
): Promise<RespServer> {
  const backend = new CacheNodeBackend({
    node: context.cache,
    directory: new RespDirectory(context.config),
  });
  const host = options.respHost ?? context.host ?? '127.0.0.1';
  const server = new RespServer({
    backend,
    host,
    port: options.respPort,
    mode: options.respProxy === true ? 'proxy' : 'cluster',
    password:
      options.respPassword === undefined
        ? [context.secret]
        : [context.secret, options.respPassword],
    allowFlush: options.respAllowFlush === true,
    logger: context.logger,
  });
  let bound: { host: string; port: number };
  try {
    bound = await server.listen();
  } catch (error) {
    await server.close();
    const code = (error as { code?: unknown }).code;
    throw new RespListenError(
      host,
      options.respPort,
      typeof code === 'string' ? code : String(error),
    );
  }
  try {
    const announced = WILDCARD_HOSTS.has(host)
      ? new URL(context.advertisedAddress).hostname
      : bound.host;
    await context.config.set(respAddressKey(context.cache.id), `${announced}:${bound.port}`);
    context.logger.info('RESP server listening', { host: announced, port: bound.port });
    return server;
  } catch (error) {
    await server.close();
    throw error;
  }
}
