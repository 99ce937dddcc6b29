/**
 * A fault-injecting TCP proxy for chaos tests: one listener in front of each node
 * process. Every other node and every client dials the node through it (the node
 * advertises the proxy's address, and the voter lists name proxies), so the test can
 * cut, black-hole or slow any link between two named endpoints while the node
 * processes keep their real sockets.
 *
 * Modes of a link (dialer -> node, applied to both directions of its connections):
 * - `pass`: bytes flow as they come.
 * - `drop`: a black hole. New connections are accepted and existing ones stay open,
 *   but nothing is forwarded, like a partition that drops packets: the endpoints only
 *   notice through their own timeouts. Bytes lost mid-stream cannot be resumed by a
 *   real TCP stream either, so when the link heals its black-holed connections are
 *   reset and the endpoints reconnect.
 * - `close`: connections are reset at once and new ones refused (accepted, then reset).
 * - `delay`: every chunk is held `delayMs` before it is forwarded, in order.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { invariant } from '../../src/util/assert.js';

/** What a link does with its traffic; see the file comment. */
export type LinkMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'close' }
  | { readonly kind: 'delay'; readonly delayMs: number };

/** The pass-through mode. */
export const PASS: LinkMode = { kind: 'pass' };

/** Most bytes a forwarded direction buffers before the sending side is paused. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Most connections one proxy carries at once; more are reset (a node needs a handful). */
const MAX_CONNECTIONS = 512;

/** One proxied connection: the dialer's socket and the one to the node. */
interface ProxiedConnection {
  readonly source: string;
  readonly downstream: Socket;
  readonly upstream: Socket;
  /** Bytes were discarded while the link dropped; the stream cannot continue. */
  tainted: boolean;
  /** When the last delayed chunk of each direction is due, so order is kept. */
  dueMs: [number, number];
}

/**
 * A TCP proxy in front of one node (`target`). `identify` names the dialer of a new
 * connection from its port (see `ownerOfConnection`); unknown dialers are `client`.
 */
export class ChaosProxy {
  readonly target: string;
  private targetPort: number;
  private readonly identify: (dialerPort: number, proxyPort: number) => string;
  private readonly server: Server;
  private readonly modes = new Map<string, LinkMode>();
  private readonly connections = new Set<ProxiedConnection>();
  private listeningPort = 0;
  /** Connections accepted, by the mode their link had then. */
  readonly accepted = { pass: 0, drop: 0, close: 0, delay: 0 };
  /** Connections accepted, by the dialer they were attributed to. */
  readonly acceptedBySource = new Map<string, number>();

  private constructor(
    target: string,
    targetPort: number,
    identify: (dialerPort: number, proxyPort: number) => string,
  ) {
    this.target = target;
    this.targetPort = targetPort;
    this.identify = identify;
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  /** Starts a proxy on 127.0.0.1 (ephemeral port) forwarding to `127.0.0.1:targetPort`. */
  static async start(
    target: string,
    targetPort: number,
    identify: (dialerPort: number, proxyPort: number) => string,
  ): Promise<ChaosProxy> {
    const proxy = new ChaosProxy(target, targetPort, identify);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = proxy.server.address();
    invariant(address !== null && typeof address !== 'string', 'proxy has a TCP address');
    proxy.listeningPort = address.port;
    return proxy;
  }

  /** The port nodes and clients dial to reach {@link target}. */
  get port(): number {
    return this.listeningPort;
  }

  /** Points new connections at `port` (a restarted node may listen elsewhere). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  /** The mode of the link from `source` to this proxy's node. */
  modeOf(source: string): LinkMode {
    return this.modes.get(source) ?? PASS;
  }

  /** Sets the mode of the link from `source`, applying it to open connections at once. */
  setMode(source: string, mode: LinkMode): void {
    if (mode.kind === 'pass') this.modes.delete(source);
    else this.modes.set(source, mode);
    for (const connection of [...this.connections]) {
      if (connection.source !== source) continue;
      if (mode.kind === 'close' || (mode.kind !== 'drop' && connection.tainted)) {
        this.reset(connection);
      }
    }
  }

  /** Resets every link to `pass` (black-holed connections are reset, see above). */
  healAll(): void {
    for (const source of [...this.modes.keys()]) this.setMode(source, PASS);
  }

  /** Stops listening and resets every connection. */
  async close(): Promise<void> {
    for (const connection of [...this.connections]) this.reset(connection);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(downstream: Socket): void {
    const dialerPort = downstream.remotePort;
    const source =
      dialerPort === undefined ? 'client' : this.identify(dialerPort, this.listeningPort);
    const mode = this.modeOf(source);
    this.accepted[mode.kind]++;
    this.acceptedBySource.set(source, (this.acceptedBySource.get(source) ?? 0) + 1);
    if (mode.kind === 'close' || this.connections.size >= MAX_CONNECTIONS) {
      downstream.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const connection: ProxiedConnection = {
      source,
      downstream,
      upstream,
      tainted: false,
      dueMs: [0, 0],
    };
    this.connections.add(connection);
    const finish = (): void => this.reset(connection);
    downstream.on('error', finish);
    upstream.on('error', finish);
    downstream.on('close', finish);
    upstream.on('close', finish);
    downstream.on('data', (chunk: Buffer) => this.forward(connection, 0, chunk));
    upstream.on('data', (chunk: Buffer) => this.forward(connection, 1, chunk));
    downstream.resume();
  }

  /** Forwards `chunk` in direction 0 (dialer -> node) or 1 (node -> dialer). */
  private forward(connection: ProxiedConnection, direction: 0 | 1, chunk: Buffer): void {
    const mode = this.modeOf(connection.source);
    const [from, to] =
      direction === 0
        ? [connection.downstream, connection.upstream]
        : [connection.upstream, connection.downstream];
    if (mode.kind === 'drop' || mode.kind === 'close') {
      connection.tainted = true;
      return;
    }
    const write = (): void => {
      if (to.destroyed) return;
      if (!to.write(chunk) && to.writableLength > MAX_BUFFERED_BYTES) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    };
    const now = Date.now();
    const delayMs = mode.kind === 'delay' ? mode.delayMs : 0;
    const due = Math.max(now + delayMs, connection.dueMs[direction]);
    if (due <= now) {
      write();
      return;
    }
    connection.dueMs[direction] = due;
    setTimeout(write, due - now);
  }

  private reset(connection: ProxiedConnection): void {
    if (!this.connections.delete(connection)) return;
    connection.downstream.resetAndDestroy();
    connection.upstream.resetAndDestroy();
  }
}
